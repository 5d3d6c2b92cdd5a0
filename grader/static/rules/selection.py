"""select-on-test: a model, epoch or setting chosen with a test-derived value."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from grader.static.names import CHOICE_NAME, PICKERS, SAVES, SORTERS
from grader.static.nodes import const, is_training_call, last, snip
from grader.static.rules.base import Rule, rule
from grader.static.sources import Taint, origin_of, splits, union

if TYPE_CHECKING:
    from grader.static.walk import Walk


@rule("select-on-test", severity="critical", summary="chooses a model, epoch or setting with a test-derived value")
class SelectOnTest(Rule):
    """Choosing by a test score (the best epoch by argmax, the best setting by max or sorted, a
    branch that keeps the best model, stops early or saves a checkpoint, a while loop trained until
    test is good) fits the choice to the test split: the reported test score is then the best of
    several looks, biased upward. Choices are made on val; final_evaluation's numbers are read only."""

    def subscript(self, walk: Walk, node: ast.Subscript, choosing: bool) -> None:
        inner = node.value.value if isinstance(node.value, ast.Attribute) else node.value  # x[...], x.iloc[...]
        if choosing and isinstance(inner, ast.Call) and last(inner.func) in SORTERS:
            self._picks(walk, inner)

    def called(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        if choosing and last(call.func) in PICKERS:
            self._picks(walk, call)

    def branch(self, walk: Walk, stmt: ast.If | ast.While) -> None:
        compares = [n for n in ast.walk(stmt.test) if isinstance(n, ast.Compare)] or [stmt.test]
        t = union(*(walk.taint(c) for c in compares))
        in_loop = walk.loop_depth or walk.function_depth or isinstance(stmt, ast.While)
        if ("test" in splits(t) or "final" in t and in_loop) and _chooses(stmt):
            self._selects(walk, stmt.test, t)

    def _picks(self, walk: Walk, call: ast.Call) -> None:
        """max / argmax / sorted(...)[-1] over values: a choice, unless it runs over an axis."""
        receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
        extra = call.args[1:] if receiver is None else call.args
        if any(kw.arg in ("axis", "dim") for kw in call.keywords) or any(
            isinstance(const(a), int) or isinstance(a, ast.UnaryOp) for a in extra
        ):
            return  # argmax over classes (logits.argmax(-1)) predicts; it does not choose
        t = union(walk.args_taint(call), walk.taint(receiver) if receiver is not None else {})
        if "test" in splits(t) or "final" in t and (walk.loop_depth or walk.function_depth):
            self._selects(walk, call, t)

    def _selects(self, walk: Walk, node: ast.AST, t: Taint) -> None:
        source = origin_of(t, "test") if "test" in splits(t) else f"final_evaluation's result, {origin_of(t, 'final')}"
        self.report(
            walk,
            node,
            f"`{snip(node)}` chooses a model, epoch or setting with a test-derived value ({source}), "
            "so the final test score is no longer an unbiased estimate.",
        )


def _chooses(stmt: ast.If | ast.While) -> bool:
    """Whether a branch keeps a 'best' something, stops early, or saves/restores a model."""
    for node in ast.walk(ast.Module(body=stmt.body + stmt.orelse, type_ignores=[])):
        if isinstance(node, ast.Break):
            return True
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(CHOICE_NAME.search(snip(t)) for t in targets):
                return True
        if isinstance(node, ast.Call) and (
            last(node.func) in SAVES or isinstance(stmt, ast.While) and is_training_call(node)
        ):
            return True
    return False
