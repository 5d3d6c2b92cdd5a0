"""How final_evaluation is called: outside loops, after training ends (repeats: repeated.py)."""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from grader.static.nodes import is_training_call, last, snip
from grader.static.rules.base import Rule, rule

if TYPE_CHECKING:
    from grader.static.walk import Walk


@rule("final-eval-in-loop", severity="major", summary="final_evaluation inside a loop")
class FinalEvalInLoop(Rule):
    """final_evaluation is the one look at test, after every choice is made. Called in a loop (over
    settings, seeds, checkpoints), directly or through a function, it looks at test once per pass,
    and whatever the loop keeps is chosen on test."""

    def start(self, walk: Walk) -> None:
        self.calls_final = functions_calling(walk.cells, lambda c: last(c.func) == "final_evaluation")

    def call(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        name = last(call.func)
        if name == "final_evaluation":
            if walk.loop_depth:
                self.report(
                    walk,
                    call,
                    f"`{snip(call)}` runs final_evaluation in a loop; the test evaluation "
                    "must run once, after every choice is made.",
                )
        elif not isinstance(call.func, ast.Lambda) and walk.notebook_function(call.func):
            if walk.loop_depth and name in self.calls_final:
                self.report(
                    walk,
                    call,
                    f"`{snip(call)}` runs final_evaluation (inside `{name}`) in a loop; "
                    "the test evaluation must run once, after every choice is made.",
                )


@rule("final-eval-before-training-ends", severity="major", summary="training in a cell run after final_evaluation")
class FinalEvalBeforeTrainingEnds(Rule):
    """The final evaluation is meant to score the finished model. Training in a cell that runs after
    it (directly, or by calling a notebook function that trains) means the model kept changing
    after test was seen, with test results at hand to guide it."""

    def start(self, walk: Walk) -> None:
        calls_final = functions_calling(walk.cells, lambda c: last(c.func) == "final_evaluation")
        self.trains = functions_calling(walk.cells, is_training_call)
        self.first_final = min(
            (
                position
                for position, (_, tree) in enumerate(walk.cells)
                if any(
                    last(c.func) == "final_evaluation" or last(c.func) in calls_final for c in _top_level_calls(tree)
                )
            ),
            default=len(walk.cells),
        )

    def called(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        if (
            walk.function_depth == 0
            and walk.position > self.first_final
            and (is_training_call(call) or isinstance(call.func, ast.Name) and call.func.id in self.trains)
        ):
            first = walk.cells[self.first_final][0]
            self.report(
                walk,
                call,
                f"`{snip(call)}` trains in a cell run after final_evaluation (cell {first}); training "
                "must be finished before the one final evaluation.",
            )


def functions_calling(cells: list[tuple[int, ast.Module]], test: Callable[[ast.Call], bool]) -> set[str]:
    """Names of notebook functions that make a call passing `test`, directly or through each other."""
    defs = {
        n.name: n for _, tree in cells for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    calls = {
        name: {c.func.id for c in ast.walk(fn) if isinstance(c, ast.Call) and isinstance(c.func, ast.Name)}
        for name, fn in defs.items()
    }
    found = {name for name, fn in defs.items() if any(isinstance(c, ast.Call) and test(c) for c in ast.walk(fn))}
    while True:
        more = {name for name, callees in calls.items() if callees & found} - found
        if not more:
            return found
        found |= more


def _top_level_calls(tree: ast.Module) -> Iterator[ast.Call]:
    """Calls a cell makes itself, not those inside the functions and classes it defines."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        if isinstance(node, ast.Call):
            yield node
        stack.extend(ast.iter_child_nodes(node))
