"""Shared runs: pairs of students whose full-profile test predictions agree more than independent runs do.

Two students who train the same recipe with different seeds still disagree on a share of the test
rows; the band file records how much (`<week>/<band>/test/agreement`: the agreement between the
reference's independently seeded runs, mean and spread). A pair above that band's upper edge (e.g.
identical predictions) is a review flag for the instructor, naming both students: it is evidence of
a shared run, never a verdict. A recipe with no seed noise (agreement 1.0 between seeds) cannot show
it, and such a run is skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from course import bands
from course.files import atomic_write
from course.metrics import agreement_matrix
from course.runrecord import RecordError, read_record
from grader.results import StudentResult

FILE = "shared_runs.json"


def aligned_test_predictions(record_path: Path, test_ids: list[str]) -> np.ndarray | None:
    """A record's test predictions in the course's test order, or None if it cannot be aligned."""
    try:
        pred = read_record(record_path).predictions["test"]
        position = dict(zip(pred.ids, pred.labels))
        return np.asarray([position[i] for i in test_ids], dtype=np.int16)
    except (RecordError, KeyError, TypeError, ValueError):
        return None


def flag_pairs(students: list[str], predictions: np.ndarray, upper: float) -> list[dict]:
    """Every pair whose agreement is above `upper`, most similar first."""
    agree = agreement_matrix(predictions)
    rows, cols = np.nonzero(np.triu(agree > upper, k=1))
    pairs = [
        {"a": students[i], "b": students[j], "agreement": round(float(agree[i, j]), 4)} for i, j in zip(rows, cols)
    ]
    return sorted(pairs, key=lambda p: -p["agreement"])


def shared_runs(root: Path, week: str, spec: dict, results: list[StudentResult], test_ids: list[str]) -> list[dict]:
    """Flags for every full-evidence run of the week, over the students whose full record was verified."""
    profile = spec.get("full_evidence", {}).get("profile", "full")
    flags = []
    for run, run_spec in spec["runs"].items():
        if run_spec.get("evidence", "smoke") != "full":
            continue
        band_name = run_spec.get("full_band", run_spec.get("band", ""))
        band = bands.lookup(profile, *band_name.split("/"), split="test", metric="agreement") if band_name else None
        if band is None or band["mean"] >= 1.0:
            continue
        verified = [r.student for r in results if r.metrics.get(run, {}).get("evidence") == "full"]
        loaded = {
            s: aligned_test_predictions(root / "submitted" / s / week / "runs" / f"{run}.json", test_ids)
            for s in verified
        }
        students = [s for s, p in loaded.items() if p is not None]
        if len(students) < 2:
            continue
        for pair in flag_pairs(students, np.stack([loaded[s] for s in students]), band["upper"]):
            flags.append(
                {
                    "run": run,
                    **pair,
                    "band_mean": band["mean"],
                    "band_upper": band["upper"],
                    "message": f"{run}: {pair['a']} and {pair['b']} agree on {pair['agreement']:.1%} of test "
                    f"predictions; independent reference runs agree on {band['mean']:.1%} "
                    f"(upper edge {band['upper']:.1%}): review for a shared run",
                }
            )
    atomic_write(root / "results" / week / FILE, json.dumps(flags, indent=1))
    return flags


def read_flags(root: Path, week: str) -> list[dict]:
    """The week's shared-run flags as `course grade` wrote them ([] before grading or for a bad file)."""
    path = Path(root) / "results" / week / FILE
    try:
        flags = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    keys = {"run", "a", "b", "agreement", "band_upper", "message"}
    return [f for f in flags if isinstance(f, dict) and keys <= f.keys()] if isinstance(flags, list) else []
