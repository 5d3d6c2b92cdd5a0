"""reference-solutions: the notebook imports the instructor's reference solutions."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from grader.static.nodes import const, last, snip
from grader.static.rules.base import Rule, rule

if TYPE_CHECKING:
    from grader.static.walk import Walk

PACKAGE = "reference_solutions"
_IMPORTERS = ("import_module", "__import__")


@rule("reference-solutions", severity="major", summary="imports the instructor's reference solutions")
class ReferenceSolutions(Rule):
    """The reference solutions are the instructor's own pipelines: they set the week's bands and ship in
    the instructor's install, not for a student's notebook. A notebook that imports them (by name or
    through importlib) submits the instructor's work as its own, and its numbers say nothing about the
    student's model; the public checks and the student API (`course`, `grader.checks`) are all a
    notebook needs."""

    def reference(self, walk: Walk, node: ast.AST, path: str) -> None:
        if path.split(".")[0] == PACKAGE and isinstance(node, (ast.Import, ast.ImportFrom)):
            self.report(walk, node, f"`{snip(node)}` imports the instructor's reference solutions.")

    def call(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        if last(call.func) in _IMPORTERS and call.args:
            name = const(call.args[0])
            if isinstance(name, str) and name.split(".")[0] == PACKAGE:
                self.report(walk, call, f"`{snip(call)}` imports the instructor's reference solutions.")
