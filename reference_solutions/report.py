"""The semester's recommendation report: every recorded model on one table, its Pareto front, and
the recommendation, rendered with Jinja2 to HTML and markdown.

It reads run records only (`<root>/**/runs/*.json`), so it covers whatever weeks have been run into
one folder (`course reference weekN` writes under `reference_runs/<profile>/weekN`). Columns, each from
the record, with where it comes from when a week measured it more carefully:

* val macro-F1, tail F1, accuracy: the record's val metrics.
* ECE: after temperature scaling where the week fitted a T (`extra.summary.ece_after`), else ECE of the
  recorded val probabilities (blank for label-only runs such as TF-IDF's SGD without probabilities).
* latency: ms per example at batch 32 where the week timed it, else the record's own timing of the
  final val prediction (batched, tokenization included).
* memory: the weights' size where the week measured it, else 4 bytes per parameter (fp32).
* training cost: seconds of training (epochs' sum), where the run trained.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from course import api, metrics
from course.runrecord import RecordError, RunRecord, read_record
from reference_solutions import analysis

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
MAX_MS_PER_EXAMPLE = 10.0  # the week-5 latency constraint, applied to the recommendation


def _val_ece(record: RunRecord, path: Path) -> float | None:
    summary = record.extra.get("summary", {})
    if "ece_after" in summary:
        return float(summary["ece_after"])
    scores = record.scores
    if not scores or not (path.parent / scores["file"]).is_file():
        return None
    with np.load(path.parent / scores["file"]) as npz:
        probs = npz["val"] if "val" in npz else None
    if probs is None or probs.ndim != 2 or not np.allclose(probs.sum(1), 1, atol=1e-3) or (probs < 0).any():
        return None
    return metrics.ece(analysis.val_truth(record.predictions["val"].ids), probs, 15)


def _train_seconds(extra: dict) -> float | None:
    summary = extra.get("summary", {})
    if "train_seconds" in summary:
        return float(summary["train_seconds"])
    history = extra.get("history") or (extra.get("base_run") or {}).get("history")
    return float(sum(h["seconds"] for h in history)) if history else None


def collect(root: Path) -> tuple[pd.DataFrame, list[str]]:
    """One row per run record under `root` for the configured course, and a note per skipped file."""
    course, rows, skipped = api.store().data.config.name, [], []
    for path in sorted(Path(root).rglob("runs/*.json")):
        try:
            record = read_record(path)
        except RecordError as err:
            skipped.append(str(err))
            continue
        if record.course.get("name") != course:
            skipped.append(f"{path}: course {record.course.get('name')!r}, not {course!r}")
            continue
        extra, val = record.extra, record.metrics["val"]
        summary = extra.get("summary", {})
        rows.append(
            {
                "run": record.run,
                "week": record.run.split("_")[0],
                "val_macro_f1": val["macro_f1"],
                "tail_f1": (val.get("tier_f1") or {}).get("tail"),
                "accuracy": val["accuracy"],
                "ece": _val_ece(record, path),
                "latency_ms": summary.get("latency_bs32_ms", record.ms_per_example("val")),
                "latency_source": "batch 32" if "latency_bs32_ms" in summary else "final val prediction",
                "memory_mb": summary.get(
                    "weight_mb", 4 * extra["total_parameters"] / 2**20 if "total_parameters" in extra else None
                ),
                "memory_source": "weights"
                if "weight_mb" in summary
                else ("fp32 parameters" if "total_parameters" in extra else ""),
                "train_seconds": _train_seconds(extra),
            }
        )
    return pd.DataFrame(rows), skipped


def pareto_front(
    frame: pd.DataFrame, maximise: str = "val_macro_f1", minimise: tuple[str, ...] = ("latency_ms",)
) -> list:
    """Index labels of the rows no other row beats (`course.metrics.pareto_front`) on `maximise` and
    the `minimise` columns: the report and week 5 name runs, the metric works on positions."""
    columns = [maximise, *minimise]
    on_front = metrics.pareto_front(frame[columns].to_numpy(dtype=float), [True] + [False] * len(minimise))
    return [frame.index[i] for i in on_front]


def pareto_plot(
    frame: pd.DataFrame, on_front: list[str], out: Path, x: str = "latency_ms", y: str = "val_macro_f1", title: str = ""
) -> Path:
    """Scatter of `y` against `x` (log scale), front points joined and labelled."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    names = list(frame.index)
    ax.scatter(frame[x], frame[y], c=["tab:red" if n in on_front else "tab:gray" for n in names])
    for name in names:
        ax.annotate(
            str(name), (frame.loc[name, x], frame.loc[name, y]), fontsize=7, xytext=(3, 3), textcoords="offset points"
        )
    edge = frame.loc[[n for n in names if n in on_front]].sort_values(x)
    ax.plot(edge[x], edge[y], color="tab:red", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel(f"{x} (log scale)")
    ax.set_ylabel(y)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return analysis.save_png(fig, out)


def recommend(table: pd.DataFrame, on_front: list[str]) -> dict:
    """The highest val macro-F1 on the front within the latency constraint, and the two extremes."""
    best = table.loc[table["val_macro_f1"].idxmax(), "run"]
    fastest = table.loc[table["latency_ms"].idxmin(), "run"]
    fits = table[table["run"].isin(on_front) & (table["latency_ms"] <= MAX_MS_PER_EXAMPLE)]
    chosen = fits.loc[fits["val_macro_f1"].idxmax(), "run"] if len(fits) else best
    return {
        "chosen": chosen,
        "most_accurate": best,
        "fastest": fastest,
        "within_latency": bool(len(fits)),
        "max_ms": MAX_MS_PER_EXAMPLE,
    }


def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def write_report(root: Path, out_dir: Path, now: datetime | None = None) -> tuple[Path, Path]:
    """Render `recommendation.html` and `recommendation.md` (and the Pareto plot) into `out_dir`."""
    table, skipped = collect(root)
    if table.empty:
        raise ValueError(f"no run records for course {api.store().data.config.name!r} under {root}")
    table = table.sort_values(["week", "run"]).reset_index(drop=True)
    on_front = pareto_front(table.set_index("run"))
    out_dir = Path(out_dir)
    png = pareto_plot(
        table.set_index("run"),
        on_front,
        out_dir / "recommendation_pareto.png",
        title="every model: val macro-F1 against latency",
    )
    columns = [
        "run",
        "val_macro_f1",
        "tail_f1",
        "accuracy",
        "ece",
        "latency_ms",
        "latency_source",
        "memory_mb",
        "memory_source",
        "train_seconds",
    ]
    context = {
        "course": api.store().data.config.name,
        "profile": api.settings.profile,
        "created": (now or datetime.now(timezone.utc)).isoformat(timespec="seconds"),
        "columns": columns,
        "rows": [{c: _cell(r[c]) for c in columns} | {"front": r["run"] in on_front} for r in table.to_dict("records")],
        "front": on_front,
        "plot": png.name,
        "skipped": skipped,
        **recommend(table, on_front),
    }
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    html, md = out_dir / "recommendation.html", out_dir / "recommendation.md"
    html.write_text(env.get_template("recommendation.html").render(**context), encoding="utf-8")
    md.write_text(env.get_template("recommendation.md").render(**context), encoding="utf-8")
    return html, md
