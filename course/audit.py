"""The data audit: the course's first lab, made a command.

It tells the story a student must know before training anything: how the merge
map and the 113-label list reshape the raw labels, how long the tail is, how
much of the text is redacted, and how much a `max_length` truncates. The result
is a plain JSON-serialisable dict; `format_report` and `plot` render it, so a
saved audit can be re-rendered without the data.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

import course.slices as slices
from course.contract import clean_merge_map

HISTOGRAM_BIN_WORDS = 5


def _merge_story(
    raw_labels: dict[str, pd.Series], labels: list[str], merge_map: dict[str, str]
) -> tuple[dict, dict[str, pd.Series]]:
    """Merge-map and label-list numbers on the raw rows, plus the merged labels per split."""
    mapping = clean_merge_map(merge_map)
    merged = {split: raw.map(mapping).fillna(raw) for split, raw in raw_labels.items()}
    raw_all = pd.concat(list(raw_labels.values()), ignore_index=True)
    merged_all = pd.concat(list(merged.values()), ignore_index=True)
    in_list = merged_all.isin(labels)
    dropped = merged_all[~in_list].value_counts()
    story = {
        "raw_labels": int(raw_all.nunique()),
        "merged_labels": int(merged_all.nunique()),
        "kept_labels": int(merged_all[in_list].nunique()),
        "dropped_labels": [{"label": str(k), "rows": int(v)} for k, v in dropped.items()],
        "rows_merged": int((merged_all != raw_all).sum()),
        "rows_lost": {split: int((~m.isin(labels)).sum()) for split, m in merged.items()},
        "map_entries": len(mapping),
        "noop_entries": sorted(k for k, v in mapping.items() if k == v),
    }
    return story, merged


def _histogram(words: np.ndarray) -> dict:
    """Word-count histogram in 5-word bins up to the 99th percentile; the last bin holds the rest."""
    top = max(slices.LENGTH_BINS[1] + HISTOGRAM_BIN_WORDS, float(np.percentile(words, 99)))
    edges = np.arange(0, top + HISTOGRAM_BIN_WORDS, HISTOGRAM_BIN_WORDS)
    counts, _ = np.histogram(np.minimum(words, edges[-1]), bins=edges)
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def audit(
    raw_train: pd.DataFrame,
    labels: list[str],
    merge_map: dict[str, str],
    *,
    raw_test: pd.DataFrame | None = None,
    train_index: Sequence[int] | None = None,
    tokenizer=None,
    max_length: int = 128,
    label_column: str = "Issue",
    text_column: str = "Consumer Complaint",
) -> dict:
    """Audit the raw data the way the course builds its splits.

    The merge story is told on all raw rows (train and test). Everything else is
    on the kept TRAIN rows: raw train rows at `train_index` (labels of the frame's
    index, which `course.sources.read_raw` keeps as file row numbers; all rows if None),
    merged, and restricted to `labels`. `under_50`/`under_10` count the course's
    labels with fewer than 50/10 train rows, absent labels included, because an
    absent label is the extreme of the long tail, not a label to ignore.
    """
    raws = {"train": raw_train} if raw_test is None else {"train": raw_train, "test": raw_test}
    merge, merged = _merge_story({s: r[label_column] for s, r in raws.items()}, labels, merge_map)

    selected = raw_train.index.isin(train_index) if train_index is not None else np.ones(len(raw_train), bool)
    keep = selected & merged["train"].isin(labels).to_numpy()
    texts = raw_train.loc[keep, text_column].astype(str)
    train_labels = merged["train"][keep]
    if texts.empty:
        raise ValueError("no train rows are left after selecting train_index and dropping unlisted labels")

    counts = train_labels.value_counts().reindex(labels, fill_value=0)
    class_ids = train_labels.map({label: i for i, label in enumerate(labels)}).to_numpy()
    class_tiers = slices.frequency_tiers(class_ids, len(labels))
    top_label = counts.idxmax()
    frame = slices.slice_frame(texts, class_ids, class_tiers)
    words = slices.word_counts(texts)

    result = {
        "rows": {split: len(raw) for split, raw in raws.items()},
        "empty_texts": {split: int((raw[text_column].str.strip() == "").sum()) for split, raw in raws.items()},
        "merge": merge,
        "labels": {
            "train_rows": len(texts),
            "num_labels": len(labels),
            "present": int((counts > 0).sum()),
            "top_label": str(top_label),
            "top_share": float(counts[top_label] / len(texts)),
            "under_50": int((counts < 50).sum()),
            "under_10": int((counts < 10).sum()),
            "counts": {label: int(n) for label, n in counts.items()},
            "tiers": dict(zip(labels, class_tiers)),
        },
        "redaction": {
            "xxxx_share": float(frame["redacted"].mean()),
            "dollar_share": float(texts.str.contains("{$", regex=False).mean()),
        },
        "length_words": {
            "median": float(np.median(words)),
            "mean": float(words.mean()),
            "p90": float(np.percentile(words, 90)),
            "p99": float(np.percentile(words, 99)),
            "max": int(words.max()),
            "histogram": _histogram(words),
        },
        "slices": {
            "tier": {t: int((frame["tier"] == t).sum()) for t in slices.TIERS},
            "length": {b: int((frame["length"] == b).sum()) for b in slices.LENGTHS},
            "redacted": {"true": int(frame["redacted"].sum()), "false": int((~frame["redacted"]).sum())},
            "numeric": {"true": int(frame["numeric"].sum()), "false": int((~frame["numeric"]).sum())},
        },
    }
    if tokenizer is not None:
        ids = tokenizer(texts.tolist(), add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        tokens = np.array([len(x) for x in ids])
        result["length_tokens"] = {
            "median": float(np.median(tokens)),
            "p90": float(np.percentile(tokens, 90)),
            "share_truncated": float((tokens > max_length).mean()),
            "max_length": max_length,
        }
    return result


def _pct(share: float) -> str:
    return f"{100 * share:.1f}%"


def format_report(result: dict) -> str:
    """Plain-text report with the numbers a student would quote."""
    merge, lab, words = result["merge"], result["labels"], result["length_words"]
    n, total = lab["train_rows"], lab["num_labels"]
    lines = ["Rows"]
    for split, rows in result["rows"].items():
        empty = result["empty_texts"].get(split, 0)
        lines.append(f"  {split:<6} {rows:>9,} raw rows" + (f" ({empty:,} with empty text)" if empty else ""))

    noop = ", ".join(repr(k) for k in merge["noop_entries"]) or "none"
    lost = ", ".join(f"{split} {k:,}" for split, k in merge["rows_lost"].items())
    lines += [
        "",
        "Label merge",
        f"  merge map             {merge['map_entries']} entries ({len(merge['noop_entries'])} no-op: {noop})",
        f"  raw labels            {merge['raw_labels']}",
        f"  after merge           {merge['merged_labels']}",
        f"  in the label list     {merge['kept_labels']} of {total}",
        f"  rows relabelled       {merge['rows_merged']:,}",
        f"  rows lost             {lost}",
    ]
    lines += [f"    dropped {d['rows']:>7,} rows of {d['label']!r}" for d in merge["dropped_labels"]]

    ranked = sorted(lab["counts"].items(), key=lambda kv: -kv[1])[:10]
    width = max(len(label) for label, _ in ranked)
    lines += [
        "",
        f"Long tail ({n:,} kept train rows)",
        f"  top class {lab['top_label']!r} holds {_pct(lab['top_share'])} of train",
        f"  {lab['present']} of {total} labels appear in train",
        f"  {lab['under_50']} of {total} labels have fewer than 50 train examples (absent ones included)",
        f"  {lab['under_10']} of {total} labels have fewer than 10 train examples (absent ones included)",
        f"  tiers (pinned: top {slices.TIER_SIZES[0]} / next {slices.TIER_SIZES[1]} / rest by train count): "
        + ", ".join(f"{t} {list(lab['tiers'].values()).count(t)}" for t in slices.TIERS),
        "  top 10 labels:",
    ]
    lines += [f"    {label:<{width}}  {c:>8,}  {_pct(c / n):>6}" for label, c in ranked]

    lines += [
        "",
        "Redaction",
        f"  {_pct(result['redaction']['xxxx_share'])} of train texts contain XXXX",
        f"  {_pct(result['redaction']['dollar_share'])} of train texts contain a {{$...}} dollar amount",
        "",
        "Length in words",
        f"  median {words['median']:g}, mean {words['mean']:.1f}, p90 {words['p90']:.1f}, "
        f"p99 {words['p99']:.1f}, max {words['max']:,}",
    ]
    if "length_tokens" in result:
        tok = result["length_tokens"]
        lines += [
            "",
            "Length in tokens",
            f"  median {tok['median']:g}, p90 {tok['p90']:g}",
            f"  {_pct(tok['share_truncated'])} of train texts are longer than max_length={tok['max_length']} tokens",
        ]

    lines += ["", f"Slices ({n:,} kept train rows)"]
    for name, values in result["slices"].items():
        cells = "  ".join(f"{value} {c:,} ({_pct(c / n)})" for value, c in values.items())
        lines.append(f"  {name:<9} {cells}")
    return "\n".join(lines) + "\n"


TIER_COLOURS = {"head": "tab:blue", "mid": "tab:orange", "tail": "tab:red"}


def plot(result: dict, out_dir: Path) -> list[Path]:
    """Write label_distribution.png and length_histogram.png into `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lab = result["labels"]

    ranked = sorted(lab["counts"].items(), key=lambda kv: -kv[1])
    fig = Figure(figsize=(12, 5))
    ax = fig.subplots()
    ax.bar(range(len(ranked)), [c for _, c in ranked], color=[TIER_COLOURS[lab["tiers"][k]] for k, _ in ranked])
    ax.set_yscale("log")
    ax.axhline(50, color="grey", linestyle="--", linewidth=1, label="50 examples")
    handles = [Patch(color=colour, label=tier) for tier, colour in TIER_COLOURS.items()]
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0], title="tier: top 20 / next 40 / rest")
    ax.annotate(
        f"top class {lab['top_label']!r}: {_pct(lab['top_share'])} of train",
        xy=(0, ranked[0][1]),
        xytext=(0.25, 0.92),
        textcoords="axes fraction",
        arrowprops={"arrowstyle": "->"},
    )
    ax.set_title(
        f"Train examples per label: {lab['present']} of {lab['num_labels']} present, "
        f"{lab['under_50']} with fewer than 50"
    )
    ax.set_xlabel("labels, sorted by train count")
    ax.set_ylabel("train examples (log scale)")
    fig.tight_layout()
    label_path = out_dir / "label_distribution.png"
    fig.savefig(label_path, dpi=100)

    hist = result["length_words"]["histogram"]
    fig = Figure(figsize=(10, 5))
    ax = fig.subplots()
    ax.stairs(hist["counts"], hist["edges"], fill=True, color="tab:blue")
    for cut in slices.LENGTH_BINS:
        ax.axvline(cut, color="black", linestyle="--", linewidth=1)
    title = f"Words per train text (median {result['length_words']['median']:g}; short < 35, long > 65)"
    if "length_tokens" in result:
        tok = result["length_tokens"]
        title += f"\n{_pct(tok['share_truncated'])} longer than max_length={tok['max_length']} tokens"
    ax.set_title(title)
    ax.set_xlabel("words (last bin holds everything above the 99th percentile)")
    ax.set_ylabel("train texts")
    fig.tight_layout()
    length_path = out_dir / "length_histogram.png"
    fig.savefig(length_path, dpi=100)
    return [label_path, length_path]
