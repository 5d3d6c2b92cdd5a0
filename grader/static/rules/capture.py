"""test-capture: the predict given to final_evaluation keeps the test texts it is given."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from grader.static.names import DUMPS
from grader.static.nodes import last, snip
from grader.static.rules.base import Rule, rule

if TYPE_CHECKING:
    from grader.static.walk import Walk


@rule("test-capture", severity="critical", summary="the predict given to final_evaluation keeps the texts it is given")
class CapturedTexts(Rule):
    """final_evaluation calls the student's predict on the val and test texts, once, at the end.
    A predict that stores its input in a global, a container or an object that outlives the call,
    or writes it to a file, hands the test texts to later cells, which can then pseudo-label them,
    train on them or tune on them. Keeping predictions is fine; keeping the texts is not."""

    def escape(self, walk: Walk, node: ast.AST, where: str) -> None:
        self.report(
            walk,
            node,
            f"`{snip(node)}` in {walk.capture} keeps the texts final_evaluation passes to predict "
            f"(the test texts) in {where}, outside the function, where later code can use them.",
        )

    def called(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        if walk.capture and last(call.func) in DUMPS and "captured" in walk.args_taint(call):
            self.escape(walk, call, "a file")
