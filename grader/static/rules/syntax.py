"""syntax-error: code the static analysis could not read."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from grader.static.rules.base import Rule, rule

if TYPE_CHECKING:
    from grader.static.walk import Walk


@rule(
    "syntax-error", severity="info", summary="code that does not parse (or nests too deeply); static checks skipped it"
)
class Unreadable(Rule):
    """Not a leak: a cell that does not parse, or a statement nested too deeply to walk, was not
    seen by any other static rule. The grader says so, so that a silent static layer is not read as
    a clean one; the runtime layers still check what the code does."""

    def unparsed(self, cell: int, line: int | None, error: str) -> None:
        self.findings.add(self, cell, line, f"the cell does not parse ({error}), so no static check saw its code.")

    def too_deep(self, walk: Walk, stmt: ast.stmt) -> None:
        self.report(walk, stmt, "a statement is nested too deeply for the static analysis, so no static check saw it.")
