"""What the grading layers share for one student: the `Grading` state and the `Stop` signal.

Each layer (`grader/layers/`) reads what earlier layers left here and adds its own part: findings and
checks go to `result`, the re-run's records to `replaced_runs`, each graded run's evidence to `runs`.
A layer that cannot go on raises `Stop` with its findings; the pipeline then scores every check at 0
with the reason, as a submission that never parsed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course.catalog import CourseData
from grader import perturb
from grader.artifacts import RecordCheck
from grader.findings import Finding
from grader.results import Check, StudentResult
from notebooks.cells import is_test_cell, nbgrader_meta, points


class Stop(Exception):
    """Raised by a layer that cannot go on; carries the findings that say why."""

    def __init__(self, findings: list[Finding]):
        super().__init__("; ".join(f.message for f in findings))
        self.findings = findings


@dataclass
class RunEvidence:
    """One graded run of the week (a run record) and what the record layers made of it."""

    name: str
    spec: dict  # the run's entry in grading.yaml: notebook, band, floor, points
    check: RecordCheck
    band: dict | None = None
    floor: dict | None = None
    measured: dict | None = None  # val/test metrics recomputed from the predictions
    band_profile: str | None = None  # whose bands `band` comes from, where not the grading profile (full evidence)

    @property
    def scored(self) -> bool:
        """A run without points is checked for integrity but earns no metric points."""
        return "points" in self.spec


@dataclass
class Grading:
    """One student's week on its way through the layers."""

    root: Path  # the nbgrader course folder
    week: str
    student: str
    spec: dict  # the week's entry in grading.yaml
    profile: str
    data: CourseData  # the grading course (smoke): canonical splits and labels
    course_toml: Path  # its config, from which the perturbed copies are derived
    result: StudentResult
    env: dict[str, str] = field(default_factory=dict)  # what every re-execution of the notebook sees
    replaced_runs: dict[str, Path] = field(default_factory=dict)  # run -> record from the replaced-texts re-run
    replaced_truth: dict[str, int] = field(default_factory=dict)  # test id -> label of its replacement text
    runs: dict[str, RunEvidence] = field(default_factory=dict)
    autograde_note: str = "not graded by nbgrader"  # why a test cell has no score, when it has none

    @property
    def submitted(self) -> Path:
        return self.root / "submitted" / self.student / self.week

    @property
    def autograded(self) -> Path:
        return self.root / "autograded" / self.student / self.week

    @property
    def isolation(self) -> str:
        """The sandbox the student's code runs in: sealed, unless the instructor allowed weaker ("auto")."""
        return self.spec.get("isolation", "sealed")

    @property
    def scratch(self) -> Path:
        return self.root / "grading" / self.week / self.student

    def seed(self, variant: str, index: int = 0) -> int:
        """A secret, per-run seed for a perturbed copy (`grader.perturb`): nothing a student can regenerate."""
        return perturb.run_seed(perturb.course_salt(self.root), self.student, self.week, variant, index)

    def add(self, findings: list[Finding]) -> None:
        self.result.findings += findings


def test_cells(root: Path, week: str, notebook: str) -> list[tuple[str, float]]:
    """(grade_id, points) of a notebook's autograded test cells, from the instructor's source."""
    nb = nbformat.read(root / "source" / week / notebook, as_version=4)
    return [(nbgrader_meta(c)["grade_id"], points(c)) for c in nb.cells if is_test_cell(c)]


def zero_checks(root: Path, week: str, spec: dict, why: str) -> list[Check]:
    """Every check of the week at 0 with the reason: the same lines and maximum as a graded student."""
    checks = [
        Check(f"{Path(nb).stem}: {cell}", 0.0, pts, why)
        for nb in spec["notebooks"]
        for cell, pts in test_cells(root, week, nb)
    ]
    checks += [Check(f"{run}: val macro-F1", 0.0, s["points"], why) for run, s in spec["runs"].items() if "points" in s]
    return checks + [Check(name, 0.0, pts, why) for name, pts in spec["checks"].items()]
