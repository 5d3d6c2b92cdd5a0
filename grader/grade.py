"""`course grade`: every submission of a week through the grading layers, in parallel, and the outputs.

One student's grading is `grader.pipeline.grade_student` (the layers, in order, are listed there). A
submission that breaks a layer gets that check's zero and a message; the batch goes on. Outputs are
written atomically: one Gradescope-schema `results.json` per student, `grades.csv` for Moodle's grading
worksheet, `summary.json` / `summary.md` for the instructor.
"""

from __future__ import annotations

import json
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml

from course.catalog import cached_course
from course.errors import UserError
from course.files import atomic_write, csv_text
from course.resources import data_path
from grader.pipeline import GRADING_COURSE, grade_student
from grader.results import StudentResult

SPECS = data_path("assignments", "grading.yaml")


class SpecError(UserError, ValueError):
    """grading.yaml has no entry for the week asked for."""


def load_spec(week: str, path: Path = SPECS) -> dict:
    specs = yaml.safe_load(path.read_text(encoding="utf-8"))
    if week not in specs:
        raise SpecError(f"{path}: no grading spec for {week!r} (have {', '.join(specs)})")
    return specs[week]


def grade_week(
    root: Path, week: str, workers: int = 1, profile: str = "smoke", names: dict[str, str] | None = None
) -> list[StudentResult]:
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
