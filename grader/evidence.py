"""Full-profile run records as evidence: a student's own GPU run, verified by the grader.

The number a student is graded and ranked on comes from the run they made (Kaggle, Colab), not from
the grader's small re-run. The grader believes it only after checking, with its own copy of the full
course's data and labels, that:
- the record belongs to the course (name, contract, profile) and to its fixed splits (fingerprints,
  every val and test id exactly once, the scores file unchanged);
- the record was not edited after `final_evaluation` wrote it (its digest);
- the record was produced by the submitted notebook: the cells the kernel executed, in order, are the
  notebook's code cells up to the one that called `final_evaluation` (a cell run twice is fine);
- its metrics, recomputed from the predictions with the grader's labels, are the only ones used; a
  number the record or the notebook's outputs claim that differs is a consistency finding.
Each function here is pure and fast (well under a second for 6,430 val + 21,432 test predictions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course.catalog import CourseData
from course.provenance import cell_digest
from course.runrecord import RunRecord
from grader import artifacts
from grader.findings import Finding

LAYER = "evidence"
TOLERANCE = 0.0051  # a claimed metric within this of the recomputed one is the same number, rounded


@dataclass
class FullRun:
    """A verified full-profile record: its aligned predictions, what was found, the recomputed metrics."""

    check: artifacts.RecordCheck
    findings: list[Finding] = field(default_factory=list)
    measured: dict | None = None


def _finding(rule: str, severity: str, message: str, run: str) -> Finding:
    return Finding(LAYER, rule, severity, message, run=run)


def course_findings(record: RunRecord, data: CourseData, profile: str, run: str) -> list[Finding]:
    """The record must come from the full course's contract and the full profile."""
    course = record.course
    want_sha = data.config.sha256.get("label_list.json")
    got_profile = record.provenance.get("profile", record.settings.get("profile"))
    problems = []
    if course.get("name") != data.config.name or course.get("contract_sha256") != want_sha:
        problems.append(
            f"course {course.get('name')!r} (contract {str(course.get('contract_sha256'))[:12]}…), "
            f"not {data.config.name!r} ({str(want_sha)[:12]}…)"
        )
    if got_profile != profile:
        problems.append(f"profile {got_profile!r}, not {profile!r}")
    if not problems:
        return []
    return [
        _finding(
            "wrong-course",
            "critical",
            f"{run}: the record is from {' and '.join(problems)}: it is not a run of the full course",
            run,
        )
    ]


def digest_findings(record: RunRecord, run: str) -> list[Finding]:
    """The digest `final_evaluation` stored must still match the record's contents."""
    if record.digest_matches is None:
        return [
            _finding(
                "provenance-missing",
                "major",
                f"{run}: the record carries no provenance digest (written by hand or by an old harness)",
                run,
            )
        ]
    if not record.digest_matches:
        return [
            _finding(
                "record-digest",
                "critical",
                f"{run}: the record was changed after final_evaluation wrote it (its digest no longer "
                f"matches its contents)",
                run,
            )
        ]
    return []


def notebook_cells(notebook: Path) -> list[tuple[int, str, str]]:
    """(cell index, digest, source) of a notebook's code cells, in notebook order."""
    nb = nbformat.read(notebook, as_version=4)
    return [(i, cell_digest(c.source), c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]


def provenance_findings(record: RunRecord, cells: list[tuple[int, str, str]], notebook: str, run: str) -> list[Finding]:
    """The executed cells (collapsed: a repeat of an executed cell is fine) must be the notebook's code
    cells up to the one that called final_evaluation, in order."""
    executed = record.provenance.get("cells")
    if not isinstance(executed, list) or not executed:
        return [_finding("provenance-missing", "major", f"{run}: the record lists no executed cells", run)]
    digests = [d for _, d, _ in cells]
    unknown = [d for d in executed if d not in digests]
    if unknown:
        return [
            _finding(
                "provenance-mismatch",
                "major",
                f"{run}: {len(set(unknown))} of the {len(set(executed))} cells that ran are not in {notebook} "
                f"(edited or removed after the run): the record was not produced by this notebook",
                run,
            )
        ]
    last = max(i for i, d in enumerate(digests) if d == executed[-1])  # the cell that called final_evaluation
    wanted = list(dict.fromkeys(digests[: last + 1]))
    ran = list(dict.fromkeys(executed))
    missing = [cells[digests.index(d)][0] for d in wanted if d not in ran]
    if missing:
        return [
            _finding(
                "provenance-mismatch",
                "major",
                f"{run}: cells {', '.join(map(str, missing))} of {notebook} never ran before final_evaluation: "
                f"the record was not produced by this notebook",
                run,
            )
        ]
    if ran != wanted:
        return [
            _finding(
                "provenance-order",
                "minor",
                f"{run}: the cells ran out of notebook order; use Restart & Run All before submitting",
                run,
            )
        ]
    return []


def claimed_findings(record: RunRecord, measured: dict, run: str) -> list[Finding]:
    """Metrics the record claims must be the ones recomputed from its own predictions."""
    claimed = record.metrics["val"]
    found = []
    for key in ("macro_f1", "accuracy"):
        value = claimed.get(key)
        if isinstance(value, (int, float)) and abs(value - measured["val"][key]) > TOLERANCE:
            found.append(
                Finding(
                    "consistency",
                    "record-metric-mismatch",
                    "major",
                    f"{run}: the record claims val {key} {value:.4f}; its predictions score {measured['val'][key]:.4f}",
                    run=run,
                )
            )
    return found


def verify(record_path: Path, notebook: Path, data: CourseData, profile: str, band: dict | None) -> FullRun:
    """Every check of one full-evidence record; metrics are recomputed only when the record is usable."""
    run = Path(record_path).stem
    check = artifacts.check_record(Path(record_path), data)
    if check.record is None:
        return FullRun(check, [_relabel(f, run) for f in check.findings])
    record = check.record
    wrong = course_findings(record, data, profile, run)
    if wrong:  # fingerprints and ids would all differ too: one finding says it
        return FullRun(artifacts.RecordCheck(record, []), wrong)
    findings = [_relabel(f, run) for f in check.findings] + digest_findings(record, run)
    findings += provenance_findings(record, notebook_cells(notebook), notebook.name, run)
    out = FullRun(check, findings)
    if check.usable:
        out.measured, stats = artifacts.statistics_findings(data, check, band)
        out.findings += stats + claimed_findings(record, out.measured, run)
    return out


def _relabel(f: Finding, run: str) -> Finding:
    """A fixed-split problem of the full record, reported under the evidence layer."""
    return Finding(LAYER, f.rule, f.severity, f"{run} (full record): {f.message}", f.cell, f.line, run=run)
