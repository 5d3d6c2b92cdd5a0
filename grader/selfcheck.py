"""Self-check: the public checks of a notebook, run by a student before submitting.

The same code as grading: the notebook runs in the sandbox (smoke profile, self-check mode), its test
cells are the public checks, static analysis and the run-record checks are the grader's own. What a
student sees is a list of checks, each passed or failed with where and how to fix it. Hidden checks
(bands, invariance, statistics) run only at grading, and the report says so.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from course.catalog import cached_course
from course.contract import cache_root
from grader import artifacts, static
from notebooks import sandbox
from notebooks.cells import grade_id, is_test_cell

HIDDEN_NOTE = (
    "Hidden checks (reference bands, the re-run with a perturbed test split, statistics) run at grading; "
    "passing these public checks does not mean passing those."
)
FIX_HINTS = {
    "critical": "remove this: your model or your choices must never see the test split before final_evaluation",
    "major": "fit preprocessing and choose settings on train (and val) only; keep the course's fixed split",
    "minor": "tidy this up; it costs no points unless it changes what you report",
    "info": "for your information",
}


@dataclass
class Item:
    name: str
    passed: bool
    message: str


def run_self_check(notebook: Path, workdir: Path | None = None, timeout_s: float = 900) -> list[Item]:
    """Execute `notebook` in the sandbox and return every public check, passed or failed."""
    notebook = Path(notebook).resolve()
    workdir = Path(workdir or tempfile.mkdtemp(prefix="course-check-"))
    problem = sandbox.notebook_problem(notebook)
    if problem:
        return [Item("notebook opens", False, f"{notebook.name} is not a valid notebook: {problem}")]
    items = [Item("notebook opens", True, "")]
    findings = static.analyze_notebook(notebook)
    items += [
        Item(
            f"static: {f.rule}",
            f.severity == "info",
            f"{f.where() or 'notebook'}: {f.message}\n    fix: {FIX_HINTS[f.severity]}",
        )
        for f in findings
    ]
    if not findings:
        items.append(Item("static analysis", True, "no test-set use or leakage pattern found in the code"))

    env = {"COURSE_MODE": "self-check", "COURSE_RUNS_DIR": "runs", "COURSE_CACHE": str(cache_root())}
    run = sandbox.execute_notebook(notebook, workdir / "run", timeout_s=timeout_s, env=env)
    executed = nbformat.read(run.output_path, as_version=4) if run.output_path else None
    for index, cell in enumerate(executed.cells if executed else []):
        if not is_test_cell(cell):
            continue
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        ran = bool(cell.get("execution_count")) or bool(cell.get("outputs"))
        if errors:
            items.append(
                Item(f"check {grade_id(cell)}", False, f"cell {index}: {errors[0]['ename']}: {errors[0]['evalue']}")
            )
        elif not ran:
            items.append(
                Item(
                    f"check {grade_id(cell)}",
                    False,
                    f"cell {index} did not run: an earlier cell failed ({run.message})",
                )
            )
        else:
            items.append(Item(f"check {grade_id(cell)}", True, f"cell {index}"))
    items.append(
        Item(
            "notebook runs",
            run.status == "ok",
            run.message if run.status != "ok" else f"ran in {run.seconds:.0f} s (smoke profile, network off)",
        )
    )

    data = cached_course("synthetic-small", None, None)
    for record_path in sorted((workdir / "run" / "runs").glob("*.json")):
        check = artifacts.check_record(record_path, data)
        found = check.findings + (artifacts.access_log_findings(check.record) if check.record else [])
        bad = [f for f in found if f.severity != "info"]
        items.append(
            Item(
                f"run record {record_path.stem}",
                not bad,
                "; ".join(f"[{f.rule}] {f.message}" for f in bad)
                or "fixed split, every val and test id once, test read only inside final_evaluation",
            )
        )
    return items


def format_report(items: list[Item], notebook: Path) -> str:
    passed = sum(i.passed for i in items)
    lines = [f"course check {notebook.name}: {passed} of {len(items)} public checks passed", ""]
    for item in items:
        lines.append(f"  {'PASS' if item.passed else 'FAIL'}  {item.name}")
        if item.message and not item.passed:
            lines += [f"        {line}" for line in item.message.splitlines()]
    return "\n".join(lines + ["", HIDDEN_NOTE])
