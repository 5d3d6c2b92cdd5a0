"""One student's week through the grading layers, in order, the way nbgrader runs its preprocessors.

Each layer is a function `layer(g: Grading) -> None` with one job (`grader/layers/`). A layer that
cannot go on raises `Stop`: the rest are skipped and every check scores 0 with the reason. Adding a
layer is one function and one line in `LAYERS`; no other layer changes.
"""

from __future__ import annotations

import shutil
import traceback
from collections.abc import Callable
from pathlib import Path

from course.catalog import SYNTHETIC_SIZES, cached_course, synthetic_course
from grader.grading import Grading, Stop, zero_checks
from grader.layers import decisions, evidence, execution, lookup, records, scoring, submission
from grader.results import StudentResult

GRADING_COURSE = "synthetic-small"  # grading re-runs use the smoke profile's course

Layer = Callable[[Grading], None]
LAYERS: list[Layer] = [
    submission.parse,
    submission.static_analysis,
    execution.rerun_replaced,
    execution.autograde,
    records.fixed_split,
    records.access_log,
    records.invariance,
    lookup.confirm_invariance,
    lookup.test_side,
    records.statistics,
    records.consistency,
    evidence.full_evidence,
    scoring.scoring,
    decisions.reviews,
    decisions.late_penalty,
]


def grade_student(
    root: Path, week: str, student: str, spec: dict, profile: str = "smoke", layers: list[Layer] = LAYERS
) -> StudentResult:
    """Every layer for one student; never raises for a bad submission (nor for a grader bug)."""
    result = StudentResult(student)
    try:
        g = Grading(
            root,
            week,
            student,
            spec,
            profile,
            data=cached_course(GRADING_COURSE, None, None),
            course_toml=synthetic_course(*SYNTHETIC_SIZES[GRADING_COURSE]),
            result=result,
            env={"COURSE_PROFILE": profile, "COURSE_MODE": "grading", "COURSE_RUNS_DIR": "runs"},
        )
        if g.scratch.exists():
            shutil.rmtree(g.scratch)  # a re-grade starts from nothing
        g.scratch.mkdir(parents=True)
        for layer in layers:
            layer(g)
    except Stop as stop:
        result.findings += stop.findings
        result.checks = zero_checks(root, week, spec, str(stop))
    except Exception as err:  # a grader bug must not stop the batch: record it, grade the rest
        result.status = "failed"
        result.error = f"{type(err).__name__}: {err}\n{traceback.format_exc(limit=3)}"
    return result
