"""final_evaluation called again: after training on the texts it handed predict, or just once more."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from grader.static.nodes import const, kwarg, last, snip
from grader.static.rules.base import Rule, rule
from grader.static.rules.fitting import handed_fit

if TYPE_CHECKING:
    from grader.static.walk import Walk


class _Reevaluation(Rule):
    """Notes each run's first final_evaluation and the first training on texts handed to predict."""

    def start(self, walk: Walk) -> None:
        self.first: dict[str, tuple[ast.Call, int]] = {}  # run name -> first call and its cell
        self.trained = ""  # where a model was first trained on the texts handed to predict

    def called(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        if not self.trained and handed_fit(walk, call):
            self.trained = f"`{snip(call, 50)}` at cell {walk.cell}, line {call.lineno}"

    def call(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        if last(call.func) != "final_evaluation":
            return
        run = kwarg(call, "run", 1)
        run = const(run) if isinstance(const(run), str) else walk.strings.get(getattr(run, "id", ""))
        first = self.first.setdefault(run, (call, walk.cell)) if run is not None else None
        self._again(walk, call, run, first)

    def _again(self, walk: Walk, call: ast.Call, run: str | None, first: tuple[ast.Call, int] | None) -> None:
        raise NotImplementedError


@rule(
    "final-eval-after-test-training",
    severity="critical",
    summary="final_evaluation after training on the texts an earlier predict was handed",
)
class FinalEvalAfterTestTraining(_Reevaluation):
    """A model trained on the texts final_evaluation handed to predict (kept and pseudo-labelled,
    or fitted inside predict) has learned the test set; evaluating it again reports a test score
    of a model that trained on the test texts, whatever the run is called."""

    def _again(self, walk: Walk, call: ast.Call, run: str | None, first: tuple[ast.Call, int] | None) -> None:
        if self.trained:
            self.report(
                walk,
                call,
                f"`{snip(call)}` evaluates again after {self.trained} trained on the texts an earlier "
                "predict was handed; its test score measures memory of the test set.",
            )


@rule("final-eval-repeated", severity="minor", summary="final_evaluation called again for the same run")
class FinalEvalRepeated(_Reevaluation):
    """Each final_evaluation of a run is another look at test: repeating it for the same run (after
    a change to the model, or to see the numbers again) lets the test score steer the next change.
    After training on the texts predict was handed it is final-eval-after-test-training instead."""

    def _again(self, walk: Walk, call: ast.Call, run: str | None, first: tuple[ast.Call, int] | None) -> None:
        if first is not None and first[0] is not call and not self.trained:
            self.report(
                walk,
                call,
                f"`{snip(call)}` repeats final_evaluation for run {run!r} (first at cell {first[1]}, "
                f"line {first[0].lineno}); each repeat is another look at test.",
            )
