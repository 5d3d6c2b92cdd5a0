"""`course grade`: every submission of a week through every layer, in parallel, and the outputs.

Per student, in this order:
1. each notebook must parse (a corrupt one scores 0 everywhere and says why);
2. static analysis of its code cells;
3. a sandboxed re-execution of the student's code (test cells removed) on a course copy whose test
   texts are REPLACED — no network, memory and time limits. It also gates the next step: a notebook
   that hangs, eats memory or reaches for the network is never run outside the sandbox;
4. nbgrader autograde (hidden tests restored) on a course copy whose test labels are PERMUTED; its run
   record is the one scored;
5. the artifact layers on that record (fixed split, access log, statistics, consistency) and the
   invariance check: val predictions of steps 3 and 4 must be identical;
6. scoring against the bands.

A submission that breaks any step gets that check's zero and a message; the batch goes on. Outputs are
written atomically: one Gradescope-schema `results.json` per student, `grades.csv` for Moodle's grading
worksheet, `summary.json` / `summary.md` for the instructor.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import nbformat
import numpy as np
import yaml

from course.catalog import SYNTHETIC_SIZES, cached_course, synthetic_course
from course.resources import data_path
from course.runrecord import RecordError, read_record
from grader import artifacts, nbgrader_course, perturb, static
from notebooks import sandbox
from grader.findings import Finding
from grader.results import Check, StudentResult
from course import bands

SPECS = data_path("assignments", "grading.yaml")
GRADING_COURSE = "synthetic-small"  # grading re-runs use the smoke profile's course


def load_spec(week: str, path: Path = SPECS) -> dict:
    specs = yaml.safe_load(path.read_text(encoding="utf-8"))
    if week not in specs:
        raise ValueError(f"{path}: no grading spec for {week!r} (have {', '.join(specs)})")
    return specs[week]


def metric_points(value: float, floor: float, lower: float, points: float) -> float:
    """Linear from the floor (0 points) to the band's lower edge (full points); clipped to [0, points]."""
    if lower <= floor:
        return points if value >= lower else 0.0
    return float(np.clip((value - floor) / (lower - floor), 0.0, 1.0) * points)


def _without_test_cells(src: Path, dst: Path) -> Path:
    """The student's code alone: autograder test cells removed, for the perturbed re-execution."""
    nb = nbformat.read(src, as_version=4)
    nb.cells = [c for c in nb.cells if not c.get("metadata", {}).get("nbgrader", {}).get("grade")
                or c.cell_type != "code"]
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dst)
    return dst


def _memo_and_outputs(nb_path: Path) -> list[tuple[int, str, str]]:
    """(cell, kind, text) for consistency: memo markdown, and outputs from the final evaluation on."""
    nb = nbformat.read(nb_path, as_version=4)
    final_calls = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "final_evaluation(" in c.source]
    start = min(final_calls, default=len(nb.cells))
    cells = []
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "markdown" and meta.get("solution"):
            cells.append((i, "memo", cell.source))
        elif cell.cell_type == "code" and i >= start and not meta.get("grade"):
            text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
            cells.append((i, "output", text))
    return cells


def grade_student(root: Path, week: str, student: str, spec: dict, profile: str = "smoke") -> StudentResult:
    """Every layer for one student; never raises for a bad submission."""
    result = StudentResult(student)
    try:
        _grade(root, week, student, spec, profile, result)
    except Exception as err:  # a grader bug must not stop the batch: record it, grade the rest
        result.status = "failed"
        result.error = f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"
    return result


def _grade(root: Path, week: str, student: str, spec: dict, profile: str, result: StudentResult) -> None:
    submitted = root / "submitted" / student / week
    scratch = root / "grading" / week / student
    if scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True)
    checks = spec["checks"]
    data = cached_course(GRADING_COURSE, None, None)
    course_toml = synthetic_course(*SYNTHETIC_SIZES[GRADING_COURSE])
    env = {"COURSE_PROFILE": profile, "COURSE_MODE": "grading", "COURSE_RUNS_DIR": "runs"}

    # 1-2. Parse, then read the code.
    broken = []
    for name in spec["notebooks"]:
        path = submitted / name
        problem = sandbox.notebook_problem(path) if path.is_file() else f"{path.name} was not submitted"
        if problem:
            broken.append(Finding("submission", "unreadable-notebook", "major", f"{name}: {problem}"))
        else:
            result.findings += static.analyze_notebook(path)
    if broken:
        return _stop(result, root, week, spec, broken)

    # 3. Sandboxed re-execution on replaced test texts (also the gate for step 4).
    replaced_cache = scratch / "cache-replaced"
    perturb.perturbed_course(course_toml, replaced_cache, "replaced")
    replaced_runs: dict[str, Path] = {}
    gate_failures = []
    for name in spec["notebooks"]:
        code_only = _without_test_cells(submitted / name, scratch / "code-only" / name)
        run = sandbox.execute_notebook(code_only, scratch / f"replaced-{Path(name).stem}",
                                       env={**env, "COURSE_CACHE": str(replaced_cache)},
                                       timeout_s=spec.get("timeout_s", 600), cell_timeout_s=spec.get("cell_timeout_s", 300),
                                       memory_mb=spec.get("memory_mb", 6144))
        if run.status in ("timeout", "memory", "network", "dead-kernel", "corrupt"):
            gate_failures.append(Finding("re-execution", run.status, "major", f"{name}: {run.message}", cell=run.cell))
        elif run.status == "error":
            result.findings.append(Finding("re-execution", "error", "info", f"{name}: {run.message}", cell=run.cell))
        replaced_runs.update({p.stem: p for p in (scratch / f"replaced-{Path(name).stem}" / "runs").glob("*.json")})
    if gate_failures:
        return _stop(result, root, week, spec, gate_failures)

    # 4. nbgrader autograde on permuted test labels: hidden tests restored, this run's record is scored.
    permuted_cache = scratch / "cache-permuted"
    perturb.perturbed_course(course_toml, permuted_cache, "permuted")
    autograde_env = {**env, "COURSE_CACHE": str(permuted_cache), "HOME": str(scratch / "home")}
    why_missing = "not graded by nbgrader"
    try:
        nbgrader_course.autograde(root, week, student, autograde_env)
        rows = nbgrader_course.cell_scores(root, week, student)
    except nbgrader_course.NbgraderError as err:
        why_missing = str(err).splitlines()[0]
        result.findings.append(Finding("autograde", "nbgrader-failed", "major", why_missing))
        rows = []
    scored = {(row["notebook"], row["cell"]): row for row in rows if row["auto"] and row["cell_type"] == "code"}
    for name in spec["notebooks"]:
        for cell, points in _test_cells(root, week, name):
            row = scored.get((Path(name).stem, cell))
            if row is None:
                result.checks.append(Check(f"{Path(name).stem}: {cell}", 0.0, points, why_missing))
            else:
                result.checks.append(Check(f"{row['notebook']}: {cell}", row["score"], row["max_score"],
                                           "passed" if row["score"] == row["max_score"] else "failed (see feedback)"))
    autograded = root / "autograded" / student / week

    # 5-6. Artifact layers and scoring, per graded run.
    integrity_findings = [f for f in result.findings if f.layer == "static"]
    fixed_ok, consistency_ok = True, True
    for run, run_spec in spec["runs"].items():
        record_path = autograded / "runs" / f"{run}.json"
        check = artifacts.check_record(record_path, data)
        result.findings += check.findings
        fixed_ok &= not any(f.severity in ("critical", "major") for f in check.findings)
        band = bands.lookup(profile, *run_spec["band"].split("/")) if "band" in run_spec else None
        floor = bands.lookup(profile, *run_spec["floor"].split("/")) if "floor" in run_spec else None
        scored = "points" in run_spec  # a run without a band is checked for integrity but earns no metric points
        if not check.usable:
            if scored:
                result.checks.append(Check(f"{run}: val macro-F1", 0.0, run_spec["points"], "no usable run record"))
            continue
        access = artifacts.access_log_findings(check.record)
        invariance = _invariance(run, check, replaced_runs.get(run), data)
        measured, stats = artifacts.statistics_findings(data, check, band)
        measured["latency_ms"] = check.record.get("timings", {}).get("test", {}).get("ms_per_example")
        measured["trainable_parameters"] = check.record.get("extra", {}).get("trainable_parameters")
        measured["band"] = band
        result.metrics[run] = measured
        nb_path = autograded / run_spec["notebook"]
        backing = {split: measured[split] for split in ("val", "test")}
        backing["extra"] = artifacts.reported_metrics(check.record.get("extra", {}))
        consistency = artifacts.consistency_findings(_memo_and_outputs(nb_path), backing)
        consistency_ok &= not consistency
        result.findings += access + invariance + stats + consistency
        integrity_findings += access + invariance
        if scored:
            result.checks.append(_metric_check(run, run_spec, measured["val"]["macro_f1"], band, floor, profile))
    result.checks.append(Check("fixed split", checks["fixed_split"] if fixed_ok else 0.0, checks["fixed_split"],
                               "fingerprints and prediction ids match the course" if fixed_ok
                               else "the run record does not match the fixed split (see findings)"))
    severities = {f.severity for f in integrity_findings}
    integrity = 0.0 if "critical" in severities else checks["integrity"] / 2 if "major" in severities else checks["integrity"]
    result.checks.append(Check("integrity", integrity, checks["integrity"],
                               "no test-set use found" if integrity == checks["integrity"]
                               else "test-set use or leakage found (see findings)"))
    result.checks.append(Check("consistency", checks["consistency"] if consistency_ok else 0.0, checks["consistency"],
                               "printed and cited numbers match the run" if consistency_ok
                               else "some printed or cited numbers match no measurement (see findings)"))


def _metric_check(run: str, run_spec: dict, value: float, band: dict | None, floor: dict | None,
                  profile: str) -> Check:
    """Val macro-F1 scored from the floor band's mean (0 points) to the band's lower edge (full points)."""
    name, points = f"{run}: val macro-F1", run_spec["points"]
    if band is None:
        return Check(name, 0.0, points, f"no {profile} band for {run_spec['band']}: ask the instructor")
    low = floor["mean"] if floor else 0.0
    return Check(name, metric_points(value, low, band["lower"], points), points,
                 f"val macro-F1 {value:.4f}; 0 points at the floor {low:.4f}, full points at the band's "
                 f"lower edge {band['lower']:.4f}")


def _invariance(run: str, check: artifacts.RecordCheck, replaced: Path | None, data) -> list[Finding]:
    """Val predictions with permuted test labels vs with replaced test texts: any change is proof."""
    if replaced is None:
        return [Finding("invariance", "invariance-missing", "major",
                        f"the re-execution with replaced test texts wrote no record for {run!r}")]
    try:
        other = read_record(replaced)
    except RecordError as err:
        return [Finding("invariance", "invariance-missing", "major", str(err))]
    ids = data.splits.val["id"].tolist()
    theirs = dict(zip(other["predictions"]["val"]["ids"], other["predictions"]["val"]["labels"]))
    if set(theirs) != set(ids):
        return [Finding("invariance", "invariance-changed", "critical",
                        f"{run}: the val ids predicted changed when only the test split changed")]
    changed = int(sum(theirs[i] != p for i, p in zip(ids, check.predictions["val"])))
    if changed:
        return [Finding("invariance", "invariance-changed", "critical",
                        f"{run}: {changed} of {len(ids)} val predictions changed when only the test split "
                        f"changed: test data influenced training or selection")]
    return []


def _stop(result: StudentResult, root: Path, week: str, spec: dict, failures: list[Finding]) -> None:
    """A submission that cannot go on: every check at 0, each naming why."""
    result.findings += failures
    result.checks = _zero_checks(root, week, spec, "; ".join(f.message for f in failures))


def _test_cells(root: Path, week: str, notebook: str) -> list[tuple[str, float]]:
    """(grade_id, points) of a notebook's autograded test cells, from the instructor's source."""
    nb = nbformat.read(root / "source" / week / notebook, as_version=4)
    meta = [c.get("metadata", {}).get("nbgrader", {}) for c in nb.cells if c.cell_type == "code"]
    return [(m["grade_id"], float(m.get("points", 0))) for m in meta if m.get("grade")]


def _zero_checks(root: Path, week: str, spec: dict, why: str) -> list[Check]:
    """Every check of the week at 0 with the reason: the same lines and maximum as a graded student."""
    checks = [Check(f"{Path(nb).stem}: {cell}", 0.0, points, why)
              for nb in spec["notebooks"] for cell, points in _test_cells(root, week, nb)]
    checks += [Check(f"{run}: val macro-F1", 0.0, s["points"], why) for run, s in spec["runs"].items() if "points" in s]
    return checks + [Check(name, 0.0, points, why) for name, points in spec["checks"].items()]


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8", suffix=".tmp") as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def grade_week(root: Path, week: str, workers: int = 1, profile: str = "smoke",
               names: dict[str, str] | None = None) -> list[StudentResult]:
    """Grade every submitted student of `week`; write results, grades.csv and the summary."""
    spec = load_spec(week)
    students = sorted(p.name for p in (root / "submitted").iterdir() if (p / week).is_dir())
    cached_course(GRADING_COURSE, None, None)  # build the course once before the workers start
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(grade_student, *zip(*[(root, week, s, spec, profile) for s in students])))
    else:
        results = [grade_student(root, week, s, spec, profile) for s in students]
    write_outputs(root, week, results, names or {})
    return results


def write_outputs(root: Path, week: str, results: list[StudentResult], names: dict[str, str]) -> Path:
    out = root / "results" / week
    for r in results:
        _atomic_write(out / r.student / "results.json", json.dumps(r.as_results_json(), indent=1))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["Identifier", "Full name", "Grade", "Maximum Grade", "Feedback comments"])
    for r in results:
        writer.writerow([f"Participant {r.student}", names.get(r.student, r.student), r.score, r.max_score,
                         f"integrity: {r.integrity()}; {len(r.findings)} finding(s)"])
    _atomic_write(out / "grades.csv", buffer.getvalue())
    summary = [{"student": r.student, "score": r.score, "max_score": r.max_score, "integrity": r.integrity(),
                "status": r.status, "error": r.error.splitlines()[0] if r.error else "",
                "val_macro_f1": {run: m["val"]["macro_f1"] for run, m in r.metrics.items()},
                "findings": [f.as_dict() for f in r.findings]} for r in results]
    _atomic_write(out / "summary.json", json.dumps(summary, indent=1))
    _atomic_write(out / "summary.md", format_table(results))
    return out


def format_table(results: list[StudentResult]) -> str:
    """The instructor's table: score, integrity, val macro-F1 and the rules each student tripped."""
    lines = ["| student | score | integrity | val macro-F1 | findings |", "|---|---|---|---|---|"]
    for r in results:
        f1 = ", ".join(f"{m['val']['macro_f1']:.3f}" for m in r.metrics.values()) or "–"
        rules = ", ".join(sorted({f"{f.rule} ({f.severity})" for f in r.findings if f.severity != "info"})) or "–"
        status = "" if r.status == "graded" else f" **grading failed: {r.error.splitlines()[0]}**"
        lines.append(f"| {r.student} | {r.score:g} / {r.max_score:g} | {r.integrity()} | {f1} | {rules}{status} |")
    return "\n".join(lines) + "\n"
