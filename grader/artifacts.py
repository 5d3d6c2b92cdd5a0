"""Artifact checks: what a submitted run record proves without running anything.

Layer 1, fixed split: the record's fingerprints equal the canonical ones and its prediction ids
cover exactly the val and test ids, once each. Layer 3, the runtime access log: a test read outside
`final_evaluation`. Layer 5, statistics: test far above the student's own val, or above the band, is
flagged for review, never failed. Layer 6, consistency: numbers printed or cited in the notebook that
no measurement backs. Every check is cheap (well under a second per record).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from course import metrics
from course.catalog import CourseData
from course.runrecord import RecordError, RunRecord, read_record
from course.splits import fingerprint
from grader.findings import Finding

METRIC_WORDS = {
    "macro_f1": r"macro[\s_-]*f1",
    "accuracy": r"accuracy|acc\b",
    "weighted_f1": r"weighted[\s_-]*f1",
}
NUMBER = r"(\d{1,2}(?:\.\d+)?\s*%|0?\.\d{2,}|1\.0+)"


@dataclass
class RecordCheck:
    """A record's aligned predictions (canonical row order) and what was found on the way."""

    record: RunRecord | None
    findings: list[Finding] = field(default_factory=list)
    predictions: dict[str, np.ndarray] = field(default_factory=dict)  # split -> labels, canonical order

    @property
    def usable(self) -> bool:
        return self.record is not None and set(self.predictions) == {"val", "test"}


def canonical_fingerprints(data: CourseData) -> dict[str, set[str]]:
    """Accepted fingerprints per split: test hashes with or without labels (grading withholds them)."""
    splits = data.splits
    return {
        "train": {splits.fingerprints["train"]},
        "val": {splits.fingerprints["val"]},
        "test": {splits.fingerprints["test"], fingerprint(splits.test.drop(columns=["label_name"]))},
    }


def _ids_finding(split: str, ids: list, expected: list[str]) -> Finding | None:
    seen, dupes = set(), []
    for i in ids:
        (dupes.append(i) if i in seen else seen.add(i))
    want = set(expected)
    missing, extra = sorted(want - seen), sorted(seen - want, key=str)
    if not (missing or extra or dupes):
        return None
    parts = [
        f"{len(x)} {name} (e.g. {x[:3]})"
        for name, x in (("missing", missing), ("duplicate", dupes), ("unknown", extra))
        if x
    ]
    return Finding(
        "fixed-split",
        "prediction-ids",
        "major",
        f"{split} predictions: {', '.join(parts)}; every {split} id must appear exactly once",
    )


def check_record(path: Path, data: CourseData) -> RecordCheck:
    """Read a run record and check fingerprints, ids, labels and the scores file against the course."""
    try:
        record = read_record(path)
    except RecordError as err:
        return RecordCheck(None, [Finding("submission", "record-invalid", "major", str(err))])
    out = RecordCheck(record)
    accepted = canonical_fingerprints(data)
    for split in ("train", "val", "test"):
        got = record.fingerprints.get(split)
        if got not in accepted[split]:
            out.findings.append(
                Finding(
                    "fixed-split",
                    "fingerprint",
                    "critical",
                    f"{split} fingerprint {str(got)[:12]}… is not the course's {sorted(accepted[split])[0][:12]}…: "
                    f"the run did not use the fixed {split} split",
                )
            )
    num_labels = len(data.contract.labels)
    for split in ("val", "test"):
        pred = record.predictions.get(split)
        if pred is None:
            out.findings.append(
                Finding(
                    "fixed-split",
                    "prediction-ids",
                    "major",
                    f"{path.name}: no predictions.{split}: final_evaluation writes val and test",
                )
            )
            continue
        ids, labels = pred.ids, pred.labels
        expected = data.splits[split]["id"].tolist()
        problem = _ids_finding(split, ids, expected)
        if problem is None and len(labels) != len(ids):
            problem = Finding(
                "fixed-split", "prediction-ids", "major", f"{split}: {len(ids)} ids but {len(labels)} labels"
            )
        if problem is None:
            try:
                values = metrics.as_label_array(labels, num_labels, name=f"predictions.{split}.labels")
            except ValueError as err:
                problem = Finding("fixed-split", "prediction-values", "major", str(err))
        if problem is not None:
            out.findings.append(problem)
            continue
        position = dict(zip(ids, range(len(ids))))
        out.predictions[split] = values[[position[i] for i in expected]]
    scores = record.scores
    if scores is not None:
        npz = path.parent / str(scores.get("file", ""))
        digest = hashlib.sha256(npz.read_bytes()).hexdigest() if npz.is_file() else None
        if digest != scores.get("sha256"):
            out.findings.append(
                Finding(
                    "fixed-split",
                    "scores-file",
                    "major",
                    f"{npz.name}: missing or changed after the run (sha256 differs)",
                )
            )
    return out


def access_log_findings(record: RunRecord) -> list[Finding]:
    """Test reads outside final_evaluation, and repeated final evaluations, from the run's own log."""
    found = []
    early = [e for e in record.access_log if e.get("split") == "test" and e.get("phase") != "final_evaluation"]
    if early:
        first = early[0]
        found.append(
            Finding(
                "access-log",
                "test-read-outside-final",
                "critical",
                f"the test split was read {len(early)} time(s) outside final_evaluation "
                f"(first: {first.get('op')} from {first.get('caller')}, {first.get('phase')})",
            )
        )
    calls = record.calls
    earlier = {c.get("predictions_sha256") for c in record.previous_calls}
    current = record.predictions_sha256
    if calls > 1 and current and earlier - {None, current}:
        found.append(
            Finding(
                "access-log",
                "final-eval-changed",
                "critical",
                f"final_evaluation ran {calls} times for run {record.run!r} and its predictions changed "
                f"between calls: what it saw of test in one call steered the next (keeping the better of "
                f"several evaluations, or training on the texts it was given)",
            )
        )
    elif calls > 1:
        found.append(
            Finding(
                "access-log",
                "final-eval-repeated",
                "minor",
                f"final_evaluation ran {calls} times for run {record.run!r}; "
                f"earlier val macro-F1: {[c.get('val_macro_f1') for c in record.previous_calls]}",
            )
        )
    return found


def statistics_findings(data: CourseData, check: RecordCheck, band: dict | None) -> tuple[dict, list[Finding]]:
    """Val and test metrics recomputed from the predictions, and flags for review (severity major: a
    flagged submission is off the boards' ranks until the instructor decides, and costs no points)."""
    num_labels = len(data.contract.labels)
    truth = {s: data.splits[s]["label"].to_numpy() for s in ("val", "test")}
    measured = {
        s: metrics.summary(truth[s], check.predictions[s], num_labels, class_tiers=data.tiers) for s in ("val", "test")
    }
    for m in measured.values():
        m["per_class_f1"] = [round(c["f1"], 4) for c in m.pop("per_class")]
    found = []
    val_ci, test_ci = (
        metrics.bootstrap_ci(metrics.macro_f1, truth[s], check.predictions[s], num_labels, n_boot=300, seed=0)
        for s in ("val", "test")
    )
    if test_ci["low"] > val_ci["high"]:  # both intervals carry the same low bias of a resampled macro-F1
        found.append(
            Finding(
                "statistics",
                "test-above-val",
                "major",
                f"test macro-F1 {measured['test']['macro_f1']:.4f} (95% interval [{test_ci['low']:.4f}, "
                f"{test_ci['high']:.4f}]) is beyond the run's own val interval [{val_ci['low']:.4f}, "
                f"{val_ci['high']:.4f}]: review",
            )
        )
    if band is not None and measured["val"]["macro_f1"] > band["upper"]:
        found.append(
            Finding(
                "statistics",
                "above-band",
                "major",
                f"val macro-F1 {measured['val']['macro_f1']:.4f} is above the reference band's upper "
                f"edge {band['upper']:.4f}: review, not rewarded",
            )
        )
    measured["val"]["ci"] = [val_ci["low"], val_ci["high"]]
    return measured, found


def cited_numbers(text: str) -> list[tuple[str, float]]:
    """(metric, value) pairs cited in prose or output: 'macro-F1 of 0.25', 'accuracy: 54.2%'."""
    found = []
    for metric, words in METRIC_WORDS.items():
        for match in re.finditer(rf"(?i)(?:{words})[^0-9\n]{{0,25}}{NUMBER}", text):
            raw = match.group(1).replace(" ", "")
            value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
            found.append((metric, value))
    return found


def reported_metrics(extra, found: dict[str, list[float]] | None = None) -> dict[str, list[float]]:
    """Every metric value a run put in its record's `extra` (candidates, epochs, other models), by kind.

    A memo may cite the numbers of models it compared, not only the submitted one; those count as
    measured when the run recorded them.
    """
    found = {metric: [] for metric in METRIC_WORDS} if found is None else found
    items = extra.items() if isinstance(extra, dict) else enumerate(extra) if isinstance(extra, list) else []
    for key, value in items:
        if isinstance(value, (dict, list)):
            reported_metrics(value, found)
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and isinstance(key, str):
            for metric in METRIC_WORDS:
                if key.endswith(metric):
                    found[metric].append(float(value))
    return found


def consistency_findings(cells: list[tuple[int, str, str]], measured: dict, tolerance: float = 0.0051) -> list[Finding]:
    """Numbers cited in memo cells or printed at/after the final evaluation that match no measurement.

    `cells` are (cell index, kind, text) with kind 'memo' or 'output'; `measured` maps a source (val,
    test, extra) to metric -> value or list of values. A cited value is backed when it is within
    `tolerance` of any of them for the same metric (rounding to 2 decimals is fine).
    """
    found = []
    for index, kind, text in cells:
        for metric, value in cited_numbers(text):
            backed = [v for m in measured.values() for v in np.atleast_1d(m.get(metric, []))]
            if backed and min(abs(value - b) for b in backed) > tolerance:
                closest = min(backed, key=lambda b: abs(value - b))
                found.append(
                    Finding(
                        "consistency",
                        f"{kind}-metric-mismatch",
                        "minor",
                        f"{kind} cites {metric} {value:.4f}; the run measured {closest:.4f}",
                        cell=index,
                    )
                )
    return found
