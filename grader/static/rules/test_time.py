"""test-time-training: a model trained on the texts final_evaluation hands to predict."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from grader.static.nodes import snip
from grader.static.rules.base import Rule, rule
from grader.static.rules.fitting import handed_fit

if TYPE_CHECKING:
    from grader.static.walk import Walk


@rule("test-time-training", severity="critical", summary="trains on the texts final_evaluation hands to predict")
class TestTimeTraining(Rule):
    """final_evaluation hands predict the val and test texts so that it can label them. A predict
    that fits on them (self-training, pseudo-labels, a tokenizer or model refitted per batch), or
    texts kept by predict and trained on later (through a global, an attribute, a closure,
    functools.partial or a class's __call__), turns the test set into training data: the score then
    measures memory of the test texts, not generalisation."""

    def called(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        origin = handed_fit(walk, call)
        if origin:
            self.report(walk, call, f"`{snip(call)}` trains on the texts handed to predict ({origin}).")
