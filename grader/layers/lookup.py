"""Layers that catch what plain invariance misses: a test-based choice that matched by chance, and a
model that looked the test set up.

`confirm_invariance`: a choice among k options made on test data matches across two perturbed runs
with probability about 1/k. Where static analysis or the access log saw test data reach the code and
the two runs agreed, more runs are made, each on its own secret perturbation, until a chance match is
below 1% (each run at most 1/2, so 7 more); the first change is proof, and the finding says after how
many runs. The verdict no longer depends on the machine.

`test_side`: in the re-run with replaced test texts the grader knows the replacements' labels. A model
that generalises scores alike (within the bootstrap interval) on the real test texts, on the
replacements and on val; one that is better on the real test texts alone (a lookup of test labels,
memorised test texts, test-time training on test) is a critical `test-lookup`, with the three numbers.
"""

from __future__ import annotations

import math

import numpy as np

from course import metrics
from course.runrecord import RecordError, read_record
from grader.findings import Finding
from grader.grading import Grading, RunEvidence
from grader.layers import execution
from grader.layers.records import invariance_findings

CHANCE = 0.01  # the largest chance of a test-based choice matching across every perturbed run
EXTRA_RUNS = math.ceil(math.log(CHANCE) / math.log(0.5))  # 7: a choice among >= 2 options matches with p <= 1/2
SAW_TEST = {
    "hub-dataset",
    "internal-access",
    "test-capture",
    "train-on-test",
    "eval-on-test",
    "select-on-test",
    "test-read-outside-final",
}
N_BOOT = 300


def _saw_test(g: Grading, e: RunEvidence) -> bool:
    return any(
        f.rule in SAW_TEST and (f.run in (None, e.name) and f.notebook in (None, e.spec["notebook"]))
        for f in g.result.findings
    )


def confirm_invariance(g: Grading) -> None:
    """More perturbed runs where test data reached the code but the first two runs agreed."""
    ids = g.data.splits.val["id"].tolist()
    for e in [e for e in g.runs.values() if e.check.usable]:
        mine = [f for f in g.result.findings if f.layer == "invariance" and f.run == e.name]
        if mine or not _saw_test(g, e):  # already changed, or the first re-run wrote no record to compare
            continue
        for k in range(1, EXTRA_RUNS + 1):
            _, runs, _ = execution.replaced_run(g, e.spec["notebook"], k)
            record = runs / f"{e.name}.json"
            found = invariance_findings(e, record if record.is_file() else None, ids)
            if found:
                rule, severity = found[0].rule, found[0].severity
                g.add(
                    [
                        Finding(
                            "invariance",
                            rule,
                            severity,
                            f"{found[0].message} (on extra perturbed run {k} of up to {EXTRA_RUNS}: the first "
                            f"two runs matched by chance)",
                            run=e.name,
                        )
                    ]
                )
                break
        else:
            g.add(
                [
                    Finding(
                        "invariance",
                        "invariance-confirmed",
                        "info",
                        f"{e.name}: val predictions identical over {EXTRA_RUNS + 2} independently perturbed runs; "
                        f"a test-based choice matching them all by chance is below {CHANCE:.0%}",
                        run=e.name,
                    )
                ]
            )


def _interval(metric, truth: np.ndarray, pred: np.ndarray, k: int) -> tuple[float, float, float]:
    ci = metrics.bootstrap_ci(metric, truth, pred, k, n_boot=N_BOOT, seed=0)
    return ci["estimate"], ci["low"], ci["high"]


def test_side(g: Grading) -> None:
    """Real test texts vs replacement texts vs val, for every run the replaced re-run also wrote."""
    k = len(g.data.contract.labels)
    for e in [e for e in g.runs.values() if e.check.usable and e.name in g.replaced_runs and g.replaced_truth]:
        try:
            pred = read_record(g.replaced_runs[e.name]).predictions["test"]
            truth_repl = np.asarray([g.replaced_truth[i] for i in pred.ids])
        except (RecordError, KeyError, TypeError):
            continue  # the invariance layer already says the re-run's record is unusable
        sets = {
            "val": (g.data.splits.val["label"].to_numpy(), e.check.predictions["val"]),
            "test": (g.data.splits.test["label"].to_numpy(), e.check.predictions["test"]),
            "replacements": (truth_repl, np.asarray(pred.labels)),
        }
        for name, metric in (("accuracy", metrics.accuracy), ("macro-F1", metrics.macro_f1)):
            ci = {s: _interval(metric, t, p, k) for s, (t, p) in sets.items()}
            if ci["test"][1] > max(ci["val"][2], ci["replacements"][2]):
                text = ", ".join(f"{s} {v[0]:.4f} [{v[1]:.4f}, {v[2]:.4f}]" for s, v in ci.items())
                g.add(
                    [
                        Finding(
                            "invariance",
                            "test-lookup",
                            "critical",
                            f"{e.name}: {name} on the real test texts is beyond the bootstrap interval of both val "
                            f"and the replacement texts ({text}): the model knew the test set",
                            run=e.name,
                        )
                    ]
                )
                break
