"""Board rows: which of a student's runs counts, fair ranks, reference rows.

- A submission is valid when it was graded and its integrity is clean or minor. Among all runs of a
  student's valid submissions, the one with the best VAL macro-F1 counts (ties: better val accuracy,
  then run name). The private board shows that same run's test metrics: test never selects anything.
- A student with no valid submission appears unranked: "under review" when a submission was flagged
  (major or critical; the public page never shows why), "pending" when grading failed.
- Ranks are competition ranks on the shown macro-F1 rounded to 4 decimals: equal values share a rank
  and the next rank skips (1, 2, 2, 4).
- Reference rows: the majority and TF-IDF baselines (week 1 entries of the bands file) and every
  pipeline the bands file has for the board's week, at their mean; plus `reference_rows` from the
  site config.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from course import bands as bands_module
from leaderboard.data import Run, Submission, Week

RANK_DECIMALS = 4


@dataclass
class Row:
    name: str  # pseudonym, or the real name when names are shown
    kind: str  # student | reference
    status: str  # clean | minor | under review | pending | no usable run | reference
    rank: int | None = None
    run: str = ""
    macro_f1: float | None = None
    accuracy: float | None = None
    zero_f1: int | None = None
    tail_f1: float | None = None
    latency_ms: float | None = None
    parameters: int | None = None
    band_distance: float | None = None
    certificate: str = ""  # the smoke certificate of a full-evidence run; "" where the week grades in smoke
    source: str = ""
    student: str = field(default="", repr=False)  # never rendered on public pages

    def as_csv(self) -> dict:
        return {
            "rank": self.rank if self.rank is not None else "",
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "run": self.run,
            "macro_f1": _fmt(self.macro_f1),
            "accuracy": _fmt(self.accuracy),
            "zero_f1_classes": "" if self.zero_f1 is None else self.zero_f1,
            "tail_f1": _fmt(self.tail_f1),
            "latency_ms": _fmt(self.latency_ms, 3),
            "trainable_parameters": "" if self.parameters is None else self.parameters,
            "band_distance": _fmt(self.band_distance),
            "certificate": self.certificate,
        }


def _fmt(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def competition_ranks(values: list[float | None], decimals: int = RANK_DECIMALS) -> list[int | None]:
    """Rank descending; equal (rounded) values share a rank, the next rank skips; None is unranked."""
    keys = [None if v is None else round(v, decimals) for v in values]
    present = sorted((k for k in keys if k is not None), reverse=True)
    first = {}
    for position, key in enumerate(present, start=1):
        first.setdefault(key, position)
    return [None if k is None else first[k] for k in keys]


def best_run(subs: list[Submission]) -> tuple[Submission, Run] | None:
    """The run that counts: best val macro-F1 over the valid submissions' runs."""
    candidates = [(s, r) for s in subs if s.valid for r in s.runs if r.metric("val", "macro_f1") is not None]
    if not candidates:
        return None
    return max(
        candidates,
        key=lambda sr: (
            sr[1].metric("val", "macro_f1"),
            sr[1].metric("val", "accuracy") or 0.0,
            [-ord(c) for c in sr[1].name],
        ),
    )


def student_rows(week: Week, split: str, display: dict[str, str]) -> list[Row]:
    rows = []
    for student, subs in week.submissions.items():
        name = display[student]
        chosen = best_run(subs)
        if chosen is None:
            status = (
                "under review"
                if any(s.flagged for s in subs)
                else "no usable run"
                if any(s.valid for s in subs)
                else "pending"
            )
            rows.append(Row(name, "student", status, student=student))
            continue
        sub, run = chosen
        rows.append(
            Row(
                name,
                "student",
                sub.integrity,
                run=run.name,
                macro_f1=run.metric(split, "macro_f1"),
                accuracy=run.metric(split, "accuracy"),
                zero_f1=None
                if run.metric(split, "zero_f1_classes") is None
                else int(run.metric(split, "zero_f1_classes")),
                tail_f1=run.tier(split, "tail"),
                latency_ms=run.latency_ms,
                parameters=run.trainable_parameters,
                band_distance=run.band_distance(split),
                certificate=run.certificate,
                student=student,
            )
        )
    for row, rank in zip(rows, competition_ranks([r.macro_f1 for r in rows])):
        row.rank = rank
    return rows


def _pretty(pipeline: str) -> str:
    names = {
        "majority": "Majority class",
        "tfidf": "TF-IDF + LR",
        "tfidf_fast": "TF-IDF (fast)",
        "modernbert": "ModernBERT full fine-tune",
        "linear": "ModernBERT, unweighted",
        "sqrt_weighted": "ModernBERT, sqrt-weighted",
        "lora_encoder": "ModernBERT LoRA r16",
        "qwen_lora": "Qwen2.5-0.5B LoRA r16",
        "encoder_int8": "ModernBERT int8",
        "encoder_nf4": "ModernBERT NF4",
        "vanilla_student": "Student, vanilla",
        "distilled_student": "Student, distilled",
    }
    return names.get(pipeline, pipeline.replace("_", " "))


def reference_rows(week: str, split: str, profile: str, extra: list[dict], loaded: dict | None = None) -> list[Row]:
    """Baselines and the week's reference models (band means of `profile`'s bands file, or of the
    already `loaded` one), then configured rows for this week."""
    loaded = bands_module.load_bands(profile) if loaded is None else loaded
    wanted = [("week1", p) for p in loaded.get("week1", {}) if p == "majority" or p.startswith("tfidf")]
    wanted += [(week, p) for p in loaded.get(week, {}) if (week, p) not in wanted]
    rows = []
    for band_week, pipeline in wanted:
        metrics = (loaded.get(band_week, {}).get(pipeline) or {}).get(split) or {}
        f1, acc = metrics.get("macro_f1") or {}, metrics.get("accuracy") or {}
        if not f1 and not acc:
            continue
        label = _pretty(pipeline) if profile == "full" else f"{_pretty(pipeline)} ({profile} profile)"
        rows.append(
            Row(
                label,
                "reference",
                "reference",
                run=f"{band_week}/{pipeline}",
                macro_f1=f1.get("mean"),
                accuracy=acc.get("mean"),
                source=f"{profile} bands: {f1.get('source') or acc.get('source') or ''}".strip(": "),
            )
        )
    for entry in extra:
        if str(entry.get("week", week)) != week or str(entry.get("split", "val")) != split:
            continue
        rows.append(
            Row(
                str(entry.get("name", "reference")),
                "reference",
                "reference",
                run=str(entry.get("run", "")),
                macro_f1=entry.get("macro_f1"),
                accuracy=entry.get("accuracy"),
                zero_f1=entry.get("zero_f1_classes"),
                tail_f1=entry.get("tail_f1"),
                latency_ms=entry.get("latency_ms"),
                parameters=entry.get("trainable_parameters"),
                source=str(entry.get("source", "leaderboard.yaml")),
            )
        )
    return rows


def ordered(rows: list[Row]) -> list[Row]:
    """Default order: by macro-F1 descending (references interleaved), unranked students last."""
    return sorted(rows, key=lambda r: (r.macro_f1 is None, -(r.macro_f1 or 0.0), r.kind != "student", r.name))
