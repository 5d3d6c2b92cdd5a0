"""Layers 3-4: the student's code re-run twice on perturbed copies of the course.

The first run (test cells removed, test texts REPLACED) happens in the sandbox: no network, memory and
time limits. It also gates the second: a notebook that hangs, eats memory or reaches for the network is
never run outside the sandbox. The second is nbgrader autograde (hidden tests restored) on a copy whose
test labels are PERMUTED; its run records are the ones scored.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from grader import nbgrader_course, perturb
from grader.findings import Finding
from grader.grading import Grading, Stop, test_cells
from grader.results import Check
from notebooks import sandbox
from notebooks.cells import is_test_cell

GATE_STATUSES = ("timeout", "memory", "network", "dead-kernel", "corrupt")


def without_test_cells(src: Path, dst: Path) -> Path:
    """The student's code alone: autograder test cells removed, for the perturbed re-execution."""
    nb = nbformat.read(src, as_version=4)
    nb.cells = [c for c in nb.cells if not is_test_cell(c)]
    dst.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, dst)
    return dst


def replaced_run(g: Grading, name: str, index: int = 0) -> tuple[sandbox.ExecResult, Path, dict[str, int]]:
    """One sandboxed re-run of notebook `name` on a fresh copy with replaced test texts (the `index`-th
    such copy: each has its own secret draw). Returns the verdict, the run's `runs/` and the true
    labels of the replacement texts."""
    suffix = f"-{index}" if index else ""
    copy = perturb.perturbed_course(
        g.course_toml, g.scratch / f"cache-replaced{suffix}", "replaced", g.seed("replaced", index)
    )
    workdir = g.scratch / f"replaced-{Path(name).stem}{suffix}"
    code_only = without_test_cells(g.submitted / name, g.scratch / "code-only" / name)
    cache = copy.course_toml.parents[2]
    run = sandbox.execute_notebook(
        code_only,
        workdir,
        env={**g.env, "COURSE_CACHE": str(cache)},
        timeout_s=g.spec.get("timeout_s", 600),
        cell_timeout_s=g.spec.get("cell_timeout_s", 300),
        memory_mb=g.spec.get("memory_mb", 6144),
        isolation=g.isolation,
        writable=[cache],  # this run's own copy: the course's tokenizer cache is written there
    )
    return run, workdir / "runs", copy.truth


def rerun_replaced(g: Grading) -> None:
    """Sandboxed re-execution with replaced test texts; its records feed the invariance layers."""
    failures = []
    for name in g.spec["notebooks"]:
        run, runs, g.replaced_truth = replaced_run(g, name)
        if run.status in GATE_STATUSES:
            failures.append(Finding("re-execution", run.status, "major", f"{name}: {run.message}", cell=run.cell))
        elif run.status == "error":
            g.add([Finding("re-execution", "error", "info", f"{name}: {run.message}", cell=run.cell)])
        if run.isolation not in ("sealed", "none"):
            g.add(
                [
                    Finding(
                        "re-execution",
                        "sandbox-weak",
                        "info",
                        f"{name} ran with {run.isolation} isolation, not sealed (--allow-weak-sandbox): its process "
                        f"could read files outside its folder",
                    )
                ]
            )
        g.replaced_runs.update({p.stem: p for p in runs.glob("*.json")})
    if failures:
        raise Stop(failures)


def autograde(g: Grading) -> None:
    """nbgrader autograde on permuted test labels; one check per autograded test cell."""
    cache = g.scratch / "cache-permuted"
    perturb.perturbed_course(g.course_toml, cache, "permuted", g.seed("permuted"))
    env = {
        **g.env,
        "COURSE_CACHE": str(cache),
        "HOME": str(g.scratch / "home"),
        "GRADER_ISOLATION": g.isolation,
        "GRADER_SCRATCH": str(g.scratch / "autograde"),
        "GRADER_TIMEOUT_S": str(g.spec.get("timeout_s", 600)),
        "GRADER_MEMORY_MB": str(g.spec.get("memory_mb", 6144)),
    }
    try:
        nbgrader_course.autograde(g.root, g.week, g.student, env)
        rows = nbgrader_course.cell_scores(g.root, g.week, g.student)
    except nbgrader_course.NbgraderError as err:
        g.autograde_note = str(err).splitlines()[0]
        g.add([Finding("autograde", "nbgrader-failed", "major", g.autograde_note)])
        rows = []
    scored = {(row["notebook"], row["cell"]): row for row in rows if row["auto"] and row["cell_type"] == "code"}
    for name in g.spec["notebooks"]:
        for cell, points in test_cells(g.root, g.week, name):
            row = scored.get((Path(name).stem, cell))
            if row is None:
                g.result.checks.append(Check(f"{Path(name).stem}: {cell}", 0.0, points, g.autograde_note))
            else:
                g.result.checks.append(
                    Check(
                        f"{row['notebook']}: {cell}",
                        row["score"],
                        row["max_score"],
                        "passed" if row["score"] == row["max_score"] else "failed (see feedback)",
                    )
                )
