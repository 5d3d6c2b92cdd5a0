"""nbgrader's cell metadata, read in one place (as nbgrader's own `utils.is_grade` / `is_solution`).

Every stage asks the same questions of a cell: is it an autograded test, a solution region, a manually
graded answer (the memo)? A cell without metadata, or with `nbgrader: null`, is a plain cell.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


def nbgrader_meta(cell: Mapping) -> dict:
    """The cell's `metadata.nbgrader` mapping, or {} for a plain cell.

    >>> nbgrader_meta({"metadata": {"nbgrader": {"grade": True}}}), nbgrader_meta({"metadata": {"nbgrader": None}})
    ({'grade': True}, {})
    """
    return dict((cell.get("metadata") or {}).get("nbgrader") or {})


def is_grade(cell: Mapping) -> bool:
    """A graded cell: an autograded test (code) or a manually graded answer (markdown)."""
    return bool(nbgrader_meta(cell).get("grade"))


def is_solution(cell: Mapping) -> bool:
    """A cell the student writes: a solution region, or the memo."""
    return bool(nbgrader_meta(cell).get("solution"))


def is_test_cell(cell: Mapping) -> bool:
    """An autograded test cell: code that nbgrader runs and scores."""
    return cell.get("cell_type") == "code" and is_grade(cell)


def grade_id(cell: Mapping) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def points(cell: Mapping) -> float:
    return float(nbgrader_meta(cell).get("points", 0) or 0)


HIDDEN_TESTS = re.compile(r"^\s*### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\s*\n?", re.MULTILINE | re.DOTALL)


def without_hidden_tests(source: str) -> str:
    """A cell's source as nbgrader releases it: hidden test regions removed.

    >>> without_hidden_tests("check(x)\\n### BEGIN HIDDEN TESTS\\nsecret(x)\\n### END HIDDEN TESTS\\n")
    'check(x)\\n'
    """
    return HIDDEN_TESTS.sub("", source)
