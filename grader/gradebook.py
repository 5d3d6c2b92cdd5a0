"""`course gradebook`: the semester's final marks from every week, the way the course weighs them.

Per week, a student's **homework grade** (percent) is the memo and the code together:

    week = (memo_share * memo / 100 + (1 - memo_share) * code / code max) * 100

`memo` is the instructor's rubric form (`grader.rubric_forms`; a form not filled in counts 0 and is
listed as pending); `code` is the autograded total of `results.json` with today's review decisions and
late rule re-applied (`grader.layers.decisions.settle`), so a decision made after grading counts without
grading again. The late fraction also comes off the memo. The final mark (percent) is

    final = homework_weight * mean(best `best` week grades) + sum(weight * component)

where each other component (quizzes, final exam, participation) is the mean of its best columns of the
instructor's scores CSV, each over `out_of`. Weights, drop rules and columns are `course.yaml`'s
(`grader.course_policy`), never this code's. Outputs, in `<course>/gradebook/`: `moodle.csv` (Moodle's
grading worksheet), `breakdown.csv` and `breakdown.md` (every number that made each mark).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from course.errors import UserError
from course.files import atomic_write, csv_text
from grader import late, reviews
from grader.course_policy import Component, Policy, load_policy
from grader.grade import MOODLE_COLUMNS, load_spec, write_outputs
from grader.layers.decisions import settle
from grader.results import StudentResult
from grader.rubric_forms import MemoGrade, read_forms
from grader.rubrics import load_rubric


class GradebookError(UserError, ValueError):
    """The instructor's scores CSV cannot be used; the message names the file, the student and the column."""


@dataclass
class WeekGrade:
    week: str
    code: float = 0.0
    code_max: float = 0.0
    memo: float | None = None  # None: no completed form
    late_days: int = 0
    late_fraction: float = 0.0
    grade: float = 0.0  # percent
    dropped: bool = False
    note: str = ""


@dataclass
class StudentMark:
    student: str
    name: str
    weeks: list[WeekGrade] = field(default_factory=list)
    homework: float = 0.0
    components: dict[str, float] = field(default_factory=dict)
    final: float = 0.0
    pending: list[str] = field(default_factory=list)


def best_mean(values: list[float], best: int | None) -> float:
    """Mean of the `best` highest values (all of them when `best` is None); 0 for none.

    >>> best_mean([80, 0, 90, 70, 100, 60], 5)
    80.0
    """
    kept = sorted(values, reverse=True)[: best if best is not None else len(values)]
    return sum(kept) / len(kept) if kept else 0.0


def week_grade(code: float, code_max: float, memo: float | None, memo_share: float, late_fraction: float) -> float:
    """The week's homework grade in percent; `code` already carries its late line, the memo gets it here.

    >>> week_grade(40, 50, 90, 0.8, 0.1)
    80.8
    """
    memo_part = (memo or 0.0) * (1 - late_fraction) / 100
    code_part = code / code_max if code_max else 0.0
    return round(100 * (memo_share * memo_part + (1 - memo_share) * code_part), 4)


def read_scores(path: Path, components: list[Component]) -> dict[str, dict[str, float]]:
    """student -> column -> score from the instructor's CSV; an empty cell is a missing score (0)."""
    if not path.is_file():
        raise GradebookError(f"{path}: no scores file (a `student` column, then {_columns(components)})")
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    header = set(rows[0]) if rows else set()
    missing = [c for comp in components for c in comp.columns if c not in header] + (
        [] if "student" in header else ["student"]
    )
    if missing:
        raise GradebookError(f"{path}: column(s) {', '.join(missing)} missing")
    out = {}
    for n, row in enumerate(rows, 2):
        student = row["student"].strip().lstrip("'")
        scores = {}
        for comp in components:
            for column in comp.columns:
                scores[column] = _score(row[column], comp, f"{path}, line {n}: student {student}: {column}")
        out[student] = scores
    return out


def _columns(components: list[Component]) -> str:
    return ", ".join(c for comp in components for c in comp.columns)


def _score(text: str, comp: Component, where: str) -> float:
    if not (text or "").strip():
        return 0.0
    try:
        value = float(text)
    except ValueError as err:
        raise GradebookError(f"{where}: {text!r} is not a number") from err
    if not math.isfinite(value) or not 0 <= value <= comp.out_of:
        raise GradebookError(f"{where}: {value:g} is outside 0-{comp.out_of:g}")
    return value


def week_results(root: Path, week: str) -> list[StudentResult]:
    """The week's graded results (the main submission of each student), as `course grade` wrote them."""
    folder = root / "results" / week
    return [StudentResult.read(p) for p in sorted(folder.glob("*/results.json"))]


def resettle_week(root: Path, week: str, names: dict[str, str]) -> list[StudentResult]:
    """Re-apply today's decisions to every graded result of the week and rewrite the week's outputs
    (results.json, grades.csv, the summary), as after a review decision: nothing is graded again."""
    spec = load_spec(week)
    results = [settle(root, week, r, spec) for r in week_results(Path(root), week)]
    write_outputs(Path(root), week, results, names)
    return results


def compute(root: Path, policy: Policy | None = None) -> list[StudentMark]:
    """Every student's final mark and the numbers behind it."""
    root = Path(root)
    policy = policy or load_policy(root)
    names = _names(root)
    scores = read_scores(root / policy.scores_csv, policy.components) if policy.components else {}
    graded: dict[str, dict[str, tuple[StudentResult, MemoGrade | None, list[str]]]] = {}
    for week in policy.weeks:
        spec = load_spec(week)
        results = week_results(root, week)
        forms = read_forms(root, week, load_rubric(int(week.removeprefix("week"))), {r.student for r in results})
        decisions = reviews.read_decisions(root, week)
        for r in results:
            pending = [
                f"{week}: flag {reviews.flag_id(r.student, f)} ({f.layer}/{f.rule}) pending review"
                for f in r.findings
                if reviews.is_flag(f) and reviews.flag_id(r.student, f) not in decisions
            ]
            graded.setdefault(r.student, {})[week] = (settle(root, week, r, spec), forms.get(r.student), pending)
    marks = []
    for student in sorted(set(graded) | set(scores)):
        mark = StudentMark(student, names.get(student, student))
        for week in policy.weeks:
            mark.weeks.append(_week(root, week, graded.get(student, {}).get(week), policy, mark.pending))
        kept = sorted(mark.weeks, key=lambda w: -w.grade)[: policy.homework_best]
        for w in mark.weeks:
            w.dropped = not any(w is k for k in kept)
        mark.homework = round(best_mean([w.grade for w in mark.weeks], policy.homework_best), 4)
        mine = scores.get(student, {})
        for comp in policy.components:
            values = [100 * mine.get(c, 0.0) / comp.out_of for c in comp.columns]
            mark.components[comp.name] = round(best_mean(values, comp.best), 4)
        total = policy.homework_weight * mark.homework
        mark.final = round(total + sum(c.weight * mark.components[c.name] for c in policy.components), 2)
        marks.append(mark)
    return marks


def _week(root: Path, week: str, entry, policy: Policy, pending: list[str]) -> WeekGrade:
    grade = WeekGrade(week)
    if entry is None:
        grade.note = "not submitted"
        return grade
    result, form, flags = entry
    pending += flags
    grade.code, grade.code_max = result.score, result.max_score
    submitted = late.submitted_at(root / "submitted" / result.student / week)
    grade.late_fraction, grade.late_days = late.late_fraction(submitted, policy.deadlines.get(week), policy)
    if form is not None and form.complete:
        grade.memo = form.total
    else:
        pending.append(f"{week}: memo not graded (rubric/{week}/{result.student}.yaml)")
        grade.note = "memo not graded"
    grade.grade = week_grade(grade.code, grade.code_max, grade.memo, policy.memo_share, grade.late_fraction)
    return grade


def _names(root: Path) -> dict[str, str]:
    path = root / "students.json"
    try:
        loaded = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except ValueError as err:
        raise GradebookError(f"{path}: not valid JSON ({err})") from err
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def write_gradebook(root: Path, marks: list[StudentMark], policy: Policy) -> Path:
    """moodle.csv, breakdown.csv and breakdown.md in `<course>/gradebook/`; returns the folder."""
    out = Path(root) / "gradebook"
    comps = [c.name for c in policy.components]
    atomic_write(
        out / "moodle.csv",
        csv_text(
            MOODLE_COLUMNS,
            [[f"Participant {m.student}", m.name, f"{m.final:.2f}", "100", _comment(m, policy, comps)] for m in marks],
        ),
    )
    week_cols = [f"{w}_{part}" for w in policy.weeks for part in ("code", "memo", "late_days", "grade", "dropped")]
    atomic_write(
        out / "breakdown.csv",
        csv_text(
            ["student", "name", *week_cols, "homework", *comps, "final"],
            [
                [m.student, m.name]
                + [
                    v
                    for w in m.weeks
                    for v in (
                        f"{w.code:g}",
                        "" if w.memo is None else f"{w.memo:g}",
                        w.late_days,
                        f"{w.grade:.2f}",
                        "yes" if w.dropped else "",
                    )
                ]
                + [f"{m.homework:.2f}", *(f"{m.components[c]:.2f}" for c in comps), f"{m.final:.2f}"]
                for m in marks
            ],
        ),
    )
    atomic_write(out / "breakdown.md", breakdown_markdown(marks, policy))
    return out


def _comment(m: StudentMark, policy: Policy, comps: list[str]) -> str:
    parts = [f"homework {m.homework:.1f} (best {policy.homework_best} of {len(policy.weeks)} weeks)"]
    parts += [f"{c} {m.components[c]:.1f}" for c in comps]
    return "; ".join(parts) + (f"; {len(m.pending)} item(s) pending" if m.pending else "")


def breakdown_markdown(marks: list[StudentMark], policy: Policy) -> str:
    weights = ", ".join(
        [f"homework {policy.homework_weight:.0%} (best {policy.homework_best} of {len(policy.weeks)})"]
        + [
            f"{c.name} {c.weight:.0%}" + (f" (best {c.best} of {len(c.columns)})" if c.best else "")
            for c in policy.components
        ]
    )
    lines = [f"# Gradebook\n\nWeights: {weights}; memo share of a week: {policy.memo_share:.0%}.\n"]
    for m in marks:
        lines += [
            f"## {m.name} ({m.student}): {m.final:.2f}\n",
            "| week | code | memo | late | week grade | counted |",
            "|---|---|---|---|---|---|",
        ]
        for w in m.weeks:
            memo_text = "–" if w.memo is None else f"{w.memo:g} / 100"
            lateness = f"{w.late_days} day(s), −{w.late_fraction:.0%}" if w.late_days else "on time"
            code = f"{w.code:g} / {w.code_max:g}" if w.code_max else "–"
            counted = "dropped" if w.dropped else "yes"
            lines.append(f"| {w.week} | {code} | {memo_text} | {lateness} | {w.grade:.2f} | {counted} {w.note} |")
        parts = ", ".join([f"homework {m.homework:.2f}"] + [f"{k} {v:.2f}" for k, v in m.components.items()])
        lines.append(f"\n{parts}; final {m.final:.2f}\n")
        lines += [f"- pending: {p}" for p in m.pending] + ([""] if m.pending else [])
    return "\n".join(lines) + "\n"


def format_marks(marks: list[StudentMark]) -> str:
    """The short table `course gradebook` prints."""
    if not marks:
        return "no students\n"
    comps = list(marks[0].components)
    lines = ["| student | homework | " + " | ".join(comps) + " | final | pending |", "|---" * (len(comps) + 4) + "|"]
    for m in marks:
        values = " | ".join(f"{m.components[c]:.1f}" for c in comps)
        lines.append(f"| {m.student} | {m.homework:.1f} | {values} | {m.final:.2f} | {len(m.pending)} |")
    return "\n".join(lines) + "\n"
