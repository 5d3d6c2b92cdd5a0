"""`course grade`: every submission of a week through the grading layers, in parallel, and the outputs.

One student's grading is `grader.pipeline.grade_student` (the layers, in order, are listed there). A
submission that breaks a layer gets that check's zero and a message; the batch goes on. Outputs are
written atomically: one Gradescope-schema `results.json` per student, `grades.csv` for Moodle's grading
worksheet, `summary.json` / `summary.md` for the instructor.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from course.catalog import cached_course
from course.errors import UserError
from course.files import atomic_write, csv_text
from course.resources import data_path
from grader import batch
from grader.layers.evidence import full_course
from grader.pipeline import GRADING_COURSE
from grader.results import StudentResult
from grader.shared_runs import shared_runs
from notebooks import isolation

SPECS = data_path("assignments", "grading.yaml")


class SandboxRefused(UserError):
    """This machine cannot seal the sandbox, and weaker isolation was not allowed."""


class SpecError(UserError, ValueError):
    """grading.yaml has no entry for the week asked for."""


def check_shared_runs(root: Path, week: str, spec: dict, results: list[StudentResult]) -> list[dict]:
    """Pairs of full-evidence runs that agree more than independent runs do (`grader.shared_runs`)."""
    if not any(r.get("evidence") == "full" for r in spec["runs"].values()):
        return []
    data = full_course(spec.get("full_evidence", {}).get("profile", "full"))
    return shared_runs(root, week, spec, results, data.splits.test["id"].tolist())


def spec_file(root: Path | None) -> Path:
    """The course folder's own grading.yaml when it has one (a semester's choices), else the project's."""
    own = Path(root) / "grading.yaml" if root is not None else None
    return own if own is not None and own.is_file() else SPECS


def load_spec(week: str, path: Path = SPECS) -> dict:
    specs = yaml.safe_load(path.read_text(encoding="utf-8"))
    if week not in specs:
        raise SpecError(f"{path}: no grading spec for {week!r} (have {', '.join(specs)})")
    return specs[week]


def grade_week(
    root: Path,
    week: str,
    workers: int = 1,
    profile: str = "smoke",
    names: dict[str, str] | None = None,
    cluster: str | None = None,
    resume: bool = False,
    task_timeout: float | None = None,
    allow_weak_sandbox: bool = False,
) -> list[StudentResult]:
    """Grade every submitted student of `week`; write results, grades.csv and the summary.

    Each student is one task (`grader.batch`), run here, on `workers` processes or on the Dask cluster
    `cluster` ("tcp://host:8786" or "local:N"); all three run the same task, so they grade alike.
    Student code runs only in the sealed sandbox; where it cannot be had, grading refuses unless
    `allow_weak_sandbox`, and then every result says which weaker isolation ran.
    """
    if not allow_weak_sandbox and not isolation.sealed_available():
        raise SandboxRefused(
            "course grade runs student code only in a sealed sandbox, which needs bubblewrap "
            "(apt-get install bubblewrap) and permission to create namespaces; pass --allow-weak-sandbox "
            "to grade with weaker isolation (every result will say so)"
        )
    spec = {**load_spec(week, spec_file(root)), "isolation": "auto" if allow_weak_sandbox else "sealed"}
    students = sorted(p.name for p in (root / "submitted").iterdir() if (p / week).is_dir())
    cached_course(GRADING_COURSE, None, None)  # build the course once before the workers start
    results = batch.grade_students(root, week, spec, profile, students, workers, cluster, resume, task_timeout)
    write_outputs(root, week, results, names or {})
    check_shared_runs(root, week, spec, results)
    return results


MOODLE_COLUMNS = ["Identifier", "Full name", "Grade", "Maximum Grade", "Feedback comments"]


def write_outputs(root: Path, week: str, results: list[StudentResult], names: dict[str, str]) -> Path:
    out = root / "results" / week
    for r in results:
        r.write(out / r.student / "results.json")
    atomic_write(
        out / "grades.csv",
        csv_text(
            MOODLE_COLUMNS,
            [
                [
                    f"Participant {r.student}",
                    names.get(r.student, r.student),
                    r.score,
                    r.max_score,
                    f"integrity: {r.integrity()}; {len(r.findings)} finding(s)",
                ]
                for r in results
            ],
        ),
    )
    summary = [
        {
            "student": r.student,
            "score": r.score,
            "max_score": r.max_score,
            "integrity": r.integrity(),
            "status": r.status,
            "error": r.error.splitlines()[0] if r.error else "",
            "val_macro_f1": {run: m["val"]["macro_f1"] for run, m in r.metrics.items()},
            "findings": [f.as_dict() for f in r.findings],
        }
        for r in results
    ]
    atomic_write(out / "summary.json", json.dumps(summary, indent=1))
    atomic_write(out / "summary.md", format_table(results))
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
