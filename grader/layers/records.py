"""Layers 5-9, per graded run: what its record proves without running anything more.

`fixed_split` reads each run's record from the autograded folder and checks it against the course;
the later layers look only at runs whose record is usable (aligned val and test predictions).
"""

from __future__ import annotations

from dataclasses import replace

import nbformat

from course import bands
from course.runrecord import RecordError, read_record
from grader import artifacts
from grader.findings import Finding
from grader.grading import Grading, RunEvidence
from notebooks.cells import is_grade, is_solution


def fixed_split(g: Grading) -> None:
    """Fingerprints, prediction ids and the scores file of every graded run's record."""
    for run, spec in g.spec["runs"].items():
        check = artifacts.check_record(g.autograded / "runs" / f"{run}.json", g.data)
        evidence = RunEvidence(run, spec, check)
        evidence.band = bands.lookup(g.profile, *spec["band"].split("/")) if "band" in spec else None
        evidence.floor = bands.lookup(g.profile, *spec["floor"].split("/")) if "floor" in spec else None
        g.runs[run] = evidence
        g.add(_of(evidence, check.findings))


def _of(e: RunEvidence, findings: list[Finding]) -> list[Finding]:
    """The findings, tagged with the run they concern (a review decision withholds that run's points)."""
    return [replace(f, run=e.name) for f in findings]


def _usable(g: Grading) -> list[RunEvidence]:
    return [e for e in g.runs.values() if e.check.usable]


def access_log(g: Grading) -> None:
    """Test reads outside final_evaluation and repeated final evaluations, from each run's own log."""
    for e in _usable(g):
        g.add(_of(e, artifacts.access_log_findings(e.check.record)))


def invariance(g: Grading) -> None:
    """Val predictions with permuted test labels vs with replaced test texts: any change is proof."""
    ids = g.data.splits.val["id"].tolist()
    for e in _usable(g):
        g.add(_of(e, invariance_findings(e, g.replaced_runs.get(e.name), ids)))


def invariance_findings(e: RunEvidence, replaced, ids: list[str]) -> list[Finding]:
    """Val predictions of the scored run against one replaced-texts re-run's record (None: it wrote none)."""
    if replaced is None:
        return [
            Finding(
                "invariance",
                "invariance-missing",
                "major",
                f"the re-execution with replaced test texts wrote no record for {e.name!r}",
            )
        ]
    try:
        other = read_record(replaced)
    except RecordError as err:
        return [Finding("invariance", "invariance-missing", "major", str(err))]
    if "val" not in other.predictions:
        return [Finding("invariance", "invariance-missing", "major", f"{replaced.name}: no val predictions")]
    theirs = dict(zip(other.predictions["val"].ids, other.predictions["val"].labels))
    if set(theirs) != set(ids):
        return [
            Finding(
                "invariance",
                "invariance-changed",
                "critical",
                f"{e.name}: the val ids predicted changed when only the test split changed",
            )
        ]
    changed = int(sum(theirs[i] != p for i, p in zip(ids, e.check.predictions["val"])))
    if changed:
        return [
            Finding(
                "invariance",
                "invariance-changed",
                "critical",
                f"{e.name}: {changed} of {len(ids)} val predictions changed when only the test split "
                f"changed: test data influenced training or selection",
            )
        ]
    return []


def statistics(g: Grading) -> None:
    """Metrics recomputed from the predictions with the grader's labels; test far above val is flagged."""
    for e in _usable(g):
        measured, found = artifacts.statistics_findings(g.data, e.check, e.band)
        record = e.check.record
        measured["latency_ms"] = record.ms_per_example("test")
        measured["trainable_parameters"] = record.extra.get("trainable_parameters")
        measured["band"] = e.band
        e.measured = measured
        g.result.metrics[e.name] = measured
        g.add(_of(e, found))


def consistency(g: Grading) -> None:
    """Numbers printed after the final evaluation or cited in the memo must match a measurement."""
    for e in _usable(g):
        backing = {split: e.measured[split] for split in ("val", "test")}
        backing["extra"] = artifacts.reported_metrics(e.check.record.extra)
        cells = memo_and_outputs(g.autograded / e.spec["notebook"])
        g.add(_of(e, artifacts.consistency_findings(cells, backing)))


def memo_and_outputs(nb_path) -> list[tuple[int, str, str]]:
    """(cell, kind, text) for consistency: memo markdown, and outputs from the final evaluation on."""
    nb = nbformat.read(nb_path, as_version=4)
    final_calls = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "final_evaluation(" in c.source]
    start = min(final_calls, default=len(nb.cells))
    cells = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and is_solution(cell):
            cells.append((i, "memo", cell.source))
        elif cell.cell_type == "code" and i >= start and not is_grade(cell):
            text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
            cells.append((i, "output", text))
    return cells
