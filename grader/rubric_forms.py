"""Memo grading forms: the week's rubric as a file per student that the instructor fills in, read back strictly.

`write_forms` puts `<course>/rubric/<week>/<student>.yaml` beside `<student>.memo.md` (the memo's text).
Each form lists the rubric's criteria with their maximum, an empty `points`, `band` and `comment`, and the
harness's observations for that criterion (`grader.memo`: sections found, evidence present, numbers
checked) to read before scoring. A form that has any points or comment filled in is never overwritten;
an untouched one is refreshed, so a re-grade's observations reach it.

`read_forms` validates every form of the week and raises one `RubricFormError` listing every problem,
each naming the file, the student and the field: a score above the criterion's maximum, a negative or
non-number, an unknown criterion, an unknown student, a band that contradicts the points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from course import bands
from course.errors import UserError
from course.files import atomic_write
from grader import memo
from grader.results import StudentResult
from grader.rubrics import Rubric, load_rubric

BAND_NAMES = {"excellent": "Excellent", "satisfactory": "Satisfactory", "needs_improvement": "Needs Improvement"}
BAND_ALIASES = {"excellent": "excellent", "satisfactory": "satisfactory", "needs improvement": "needs_improvement"}
BAND_ALIASES |= {"ni": "needs_improvement", "needs_improvement": "needs_improvement"}
FORM_KEYS = {"student", "week", "criteria"}
CRITERION_KEYS = {"max", "points", "band", "comment", "observations"}


class RubricFormError(UserError, ValueError):
    """Rubric forms that cannot be used; one line per problem, each naming the file, student and field."""


@dataclass
class CriterionGrade:
    name: str
    max: float
    points: float | None
    band: str | None  # excellent | satisfactory | needs_improvement (derived from the points when not given)
    comment: str

    @property
    def band_name(self) -> str:
        return BAND_NAMES.get(self.band or "", "")


@dataclass
class MemoGrade:
    """One student's memo as the instructor scored it."""

    student: str
    week: str
    path: Path
    criteria: list[CriterionGrade] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(c.points is not None for c in self.criteria)

    @property
    def total(self) -> float:
        return sum(c.points or 0.0 for c in self.criteria)

    @property
    def max(self) -> float:
        return sum(c.max for c in self.criteria)

    def by_name(self) -> dict[str, CriterionGrade]:
        return {c.name: c for c in self.criteria}


def forms_dir(course_dir: Path, week: str) -> Path:
    return Path(course_dir) / "rubric" / week


def _observations(obs: memo.CriterionObs) -> list[str]:
    lines = [f"section: {', '.join(obs.sections)}" if obs.sections else "section: no heading found"]
    lines += [f"{'present' if e.present else 'missing'}: {e.description} ({e.detail})" for e in obs.evidence]
    lines += [f"cites {c.metric} {c.value:g}: {c.status} ({c.detail})" for c in obs.cites]
    return lines


def form_text(student: str, week: str, rubric: Rubric, obs: memo.Observations) -> str:
    """The form, a commented YAML file; the observations are there to read, never read back as scores."""
    bands = "; ".join(
        f"{size:g} points: " + ", ".join(f"{BAND_NAMES[b]} {low:g}-{high:g}" for b, (low, high) in ranges.items())
        for size, ranges in sorted(rubric.bands.items())
    )
    header = (
        f"# Memo rubric form, {week}, student {student}. Fill in `points` for every criterion, and a `comment`.\n"
        "# `band` (Excellent | Satisfactory | Needs Improvement) is optional; when given it must agree with\n"
        "# the points. `observations` are the harness's (read only). The memo: the .memo.md file beside this one.\n"
        f"# Bands: {bands}.\n# {obs.summary()}\n"
    )
    body = {
        "student": student,
        "week": week,
        "criteria": {
            c.name: {"max": c.points, "points": None, "band": None, "comment": "", "observations": _observations(o)}
            for c, o in zip(rubric.criteria, obs.criteria)
            if c.points
        },
    }
    return header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=110)


def filled(path: Path) -> bool:
    """Whether the instructor has written anything in a form (then it is never overwritten)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        criteria = raw.get("criteria") or {}
        return any(
            isinstance(c, dict) and (c.get("points") is not None or c.get("band") or c.get("comment"))
            for c in criteria.values()
        )
    except (OSError, yaml.YAMLError, AttributeError):
        return True  # unreadable: someone touched it; leave it for read_forms to report


def write_forms(
    course_dir: Path, week: str, rubric: Rubric, memos: dict[str, tuple[memo.Memo, memo.Observations]]
) -> tuple[list[Path], list[Path]]:
    """Forms and memo texts for each student ({student: (memo, observations)}): (written, kept as filled)."""
    folder = forms_dir(course_dir, week)
    written, kept = [], []
    for student, (text, obs) in sorted(memos.items()):
        atomic_write(folder / f"{student}.memo.md", text.text or "(no memo cells were found)\n")
        path = folder / f"{student}.yaml"
        if path.exists() and filled(path):
            kept.append(path)
            continue
        atomic_write(path, form_text(student, week, rubric, obs))
        written.append(path)
    return written, kept


def read_forms(course_dir: Path, week: str, rubric: Rubric, students: set[str]) -> dict[str, MemoGrade]:
    """Every form of the week, validated; raises RubricFormError listing each problem found."""
    grades, problems = {}, []
    for path in sorted(forms_dir(course_dir, week).glob("*.yaml")):
        grade, found = read_form(path, week, rubric, students)
        problems += found
        if grade is not None:
            grades[grade.student] = grade
    if problems:
        raise RubricFormError("\n".join(problems))
    return grades


def read_form(path: Path, week: str, rubric: Rubric, students: set[str]) -> tuple[MemoGrade | None, list[str]]:
    """One form and its problems (each a line naming the file, the student and the field)."""
    student = path.stem
    where = f"{path}: student {student}"
    if student not in students:
        return None, [f"{where}: unknown student (no {week} submission of that name)"]
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        return None, [f"{where}: unreadable ({err})"]
    if not isinstance(raw, dict) or not isinstance(raw.get("criteria"), dict):
        return None, [f"{where}: criteria: expected a mapping of criterion -> points"]
    problems = [f"{where}: {key}: unknown key" for key in raw if key not in FORM_KEYS]
    if str(raw.get("student", student)) != student:
        problems.append(f"{where}: student: says {raw['student']!r}, but the file is named for {student!r}")
    known = {c.name: c for c in rubric.criteria if c.points}
    problems += [f"{where}: criteria.{name}: unknown criterion" for name in raw["criteria"] if name not in known]
    grade = MemoGrade(student, week, path)
    for name, criterion in known.items():
        entry = raw["criteria"].get(name)
        field_ = f"{where}: criteria.{name}"
        if not isinstance(entry, dict):
            problems.append(f"{field_}: missing")
            continue
        problems += [f"{field_}.{key}: unknown key" for key in entry if key not in CRITERION_KEYS]
        points = entry.get("points")
        if points is not None and (
            isinstance(points, bool) or not isinstance(points, (int, float)) or not math.isfinite(points)
        ):
            problems.append(f"{field_}.points: {points!r} is not a number")
            points = None
        elif points is not None and not 0 <= points <= criterion.points:
            problems.append(f"{field_}.points: {points:g} is outside 0-{criterion.points:g}")
            points = None
        band = entry.get("band")
        derived = rubric.band_of(criterion, points) if points is not None else None
        if band is not None:
            given = BAND_ALIASES.get(str(band).strip().lower())
            if given is None:
                problems.append(f"{field_}.band: {band!r} is not Excellent, Satisfactory or Needs Improvement")
            elif points is not None and derived is not None and given != derived:
                problems.append(f"{field_}.band: {band!r} contradicts {points:g} points ({BAND_NAMES[derived]})")
            elif points is None:
                derived = given
        comment = entry.get("comment")
        grade.criteria.append(
            CriterionGrade(
                name, criterion.points, None if points is None else float(points), derived, str(comment or "")
            )
        )
    return grade, problems


def class_memos(
    course_dir: Path, week: str, rubric: Rubric, results: list[StudentResult], profile: str = "smoke"
) -> dict[str, tuple[memo.Memo, memo.Observations]]:
    """Each graded student's memo (from the autograded notebooks) and the observations on it."""
    references = memo.reference_numbers({p: bands.load_bands(p) for p in dict.fromkeys((profile, "full"))}, week)
    out = {}
    for r in results:
        notebooks = sorted((Path(course_dir) / "autograded" / r.student / week).glob("*.ipynb"))
        text, problems = memo.read_memo(notebooks)
        measured = {run: {s: m.get(s) for s in ("val", "test")} for run, m in r.metrics.items()}
        out[r.student] = (text, memo.observe(text, rubric, measured, references=references, problems=problems))
    return out


def prepare_forms(course_dir: Path, week: str, profile: str = "smoke") -> tuple[list[Path], list[Path]]:
    """`course rubric WEEK`: a form and the memo text for every graded student of the week."""
    folder = Path(course_dir) / "results" / week
    results = [StudentResult.read(p) for p in sorted(folder.glob("*/results.json"))]
    if not results:
        raise RubricFormError(f"{folder}: no graded results for {week} (run `course grade {week}` first)")
    rubric = load_rubric(int(week.removeprefix("week")))
    return write_forms(course_dir, week, rubric, class_memos(course_dir, week, rubric, results, profile))
