"""eval-on-test: test data scored, or watched during training, outside final_evaluation."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from grader.static.names import METRICS
from grader.static.nodes import const, last, snip
from grader.static.rules.base import Rule, rule
from grader.static.rules.fitting import fit_of, set_dataset
from grader.static.sources import Taint, origin_of, splits

if TYPE_CHECKING:
    from grader.static.walk import Walk


@rule("eval-on-test", severity="critical", summary="evaluates or early-stops on test data outside final_evaluation")
class EvalOnTest(Rule):
    """The test split is scored once, by final_evaluation, after every choice is made. A test score
    computed earlier (a metric on test labels, a Trainer or fit watching test as its validation
    data, early stopping or the best checkpoint picked on it) is there to be acted on, and any
    decision after it is a decision on test: the final score is no longer an unbiased estimate.
    A plain notebook scores its own test split once as its final evaluation; only a test split
    watched to stop early or to pick the checkpoint is a leak there."""

    def start(self, walk: Walk) -> None:
        self.best_at_end = any(
            isinstance(n, ast.keyword) and n.arg == "load_best_model_at_end" and const(n.value) is True
            for _, tree in walk.cells
            for n in ast.walk(tree)
        )

    def called(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        fit = fit_of(walk, call)
        for role, t in fit.datasets if fit else []:
            if role == "eval_dataset":
                self._watches(walk, call, t)
        if last(call.func) in METRICS and not walk.plain:
            t = walk.args_taint(call)
            if "test" in splits(t):
                self.report(
                    walk,
                    call,
                    f"`{snip(call)}` scores test data ({origin_of(t, 'test')}) outside "
                    "final_evaluation; any decision after it is a decision on test.",
                )

    def store(self, walk: Walk, target: ast.Attribute | ast.Subscript, taint: Taint) -> None:
        if set_dataset(target) == "eval_dataset":
            self._watches(walk, target, taint)

    def _watches(self, walk: Walk, node: ast.AST, t: Taint) -> None:
        """A trainer's eval_dataset (or a fit's validation data) set to `t`."""
        stops = self.best_at_end or "EarlyStopping" in ast.unparse(node)
        if "test" in splits(t) and (stops or not walk.plain):
            stopping = " and picks the checkpoint or stops early on it" if stops else ""
            self.report(
                walk,
                node,
                f"`{snip(node)}` evaluates on test data during training ({origin_of(t, 'test')})"
                f"{stopping}, so the test score is no longer an unbiased estimate.",
            )
