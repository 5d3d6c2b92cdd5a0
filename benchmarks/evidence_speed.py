"""What verifying full-profile evidence costs, against the least anyone must do, side by side.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/evidence_speed.py [--repeats 5] [--students 200]

1. One full record (6,430 val + 21,432 test predictions, from a real full-like run of week 1's lab):
   `grader.evidence.verify` (fingerprints, every id once, the scores file, the digest, provenance
   against the notebook, metrics recomputed with the grader's labels, the val bootstrap) against the
   anchor: read the record and compute val macro-F1 with scikit-learn. Target: at most 0.5 s.
2. The shared-run matrix for N students' test predictions: `course.metrics.agreement_matrix` against
   SciPy's `pdist(..., "hamming")`, which computes the same thing. Target: at most 5 s for 200.
Prints the median seconds of each and the ratio harness / anchor.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.spatial.distance import pdist
from sklearn.metrics import f1_score

from course import bands
from course.metrics import agreement_matrix
from grader import evidence, simulated_full_class
from grader.layers.evidence import full_course


def timed(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--students", type=int, default=200)
    args = parser.parse_args()

    data = full_course("full-like")
    notebook, runs = simulated_full_class.run_student("honest", Path(tempfile.mkdtemp()) / "honest")
    record_path = runs / "week1_tfidf.json"
    band = bands.lookup("full-like", "week1", "solution_week1_tfidf")
    truth = dict(zip(data.splits.val["id"], data.splits.val["label"]))

    def anchor() -> float:
        record = json.loads(record_path.read_text())
        pred = record["predictions"]["val"]
        return f1_score([truth[i] for i in pred["ids"]], pred["labels"], average="macro")

    def harness() -> None:
        found = evidence.verify(record_path, notebook, data, "full-like", band)
        assert found.measured is not None and not [f for f in found.findings if f.severity != "info"]

    harness(), anchor()  # warm caches
    record = json.loads(record_path.read_text())
    n_val, n_test = len(record["predictions"]["val"]["ids"]), len(record["predictions"]["test"]["ids"])
    ours, theirs = timed(harness, args.repeats), timed(anchor, args.repeats)
    print(
        f"verify one full record ({n_val:,} val + {n_test:,} test): {ours:.3f} s; anchor (read + sklearn "
        f"macro-F1) {theirs:.3f} s; ratio {ours / theirs:.1f}x; target <= 0.5 s: {'met' if ours <= 0.5 else 'MISSED'}"
    )

    rng = np.random.default_rng(0)
    preds = rng.integers(0, 113, size=(args.students, n_test)).astype(np.int16)
    matrix = agreement_matrix(preds)
    assert np.allclose(1 - matrix[np.triu_indices(args.students, k=1)], pdist(preds, "hamming"))
    ours = timed(lambda: agreement_matrix(preds), max(1, args.repeats // 2))
    theirs = timed(lambda: pdist(preds, "hamming"), max(1, args.repeats // 2))
    print(
        f"shared-run matrix, {args.students} students x {n_test:,} test rows: {ours:.2f} s; anchor (scipy pdist "
        f"hamming) {theirs:.2f} s; ratio {ours / theirs:.2f}x; target <= 5 s: {'met' if ours <= 5 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
