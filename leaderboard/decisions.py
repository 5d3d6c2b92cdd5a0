"""What the instructor decided, for the feedback pages: review decisions and rubric scores of a week.

Both are read from the course folder as the pages are built; a broken reviews file or rubric form is
shown on the pages it concerns and never stops the build (one typo must not take the class's feedback down).
"""

from __future__ import annotations

from pathlib import Path

from grader import reviews, rubric_forms
from grader.rubric_forms import MemoGrade
from grader.rubrics import Rubric


def week_decisions(course_dir: Path, week: str) -> tuple[dict[str, reviews.Decision], list[str]]:
    """The week's review decisions, and the problem with its reviews file if there is one."""
    try:
        return reviews.read_decisions(course_dir, week), []
    except reviews.ReviewError as err:
        return {}, [str(err)]


def memo_marks(
    course_dir: Path, week: str, student: str, rubric: Rubric, students: set[str]
) -> tuple[MemoGrade | None, list[str]]:
    """The instructor's rubric form for this student's memo, when there is one, and its problems."""
    path = rubric_forms.forms_dir(course_dir, week) / f"{student}.yaml"
    if not path.is_file():
        return None, []
    return rubric_forms.read_form(path, week, rubric, students)
