"""The row rules (Yang et al.'s leakage kinds): fit-before-split, overlap, cv-selection-on-held-out.

They read the row taint of sources.py: which dataset a value holds whole ("rows"), which side of
the notebook's own split it is on ("train", "test"), whether an object was fitted on whole rows
("prefit") and whether rows repeat ("resampled"). They work on any notebook, course or plain.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from grader.static.names import CV_CALLS
from grader.static.nodes import last, snip
from grader.static.rules.base import Rule, rule
from grader.static.sources import Taint, union, whole

if TYPE_CHECKING:
    from grader.static.walk import Walk


class _OnSplit(Rule):
    """A rule that reports data of taint kind `kind` divided by a split, a cross-validation or a
    held-out slice `X[n:]`, once per origin of that kind."""

    kind: str

    def start(self, walk: Walk) -> None:
        self.reported: set[str] = set()  # each origin (a fit, a resampling) is reported once

    def called(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        pieces = walk.split_pieces(call)
        if pieces is not None:
            self._divides(walk, call, union(*(walk.taint(p) for p in pieces)))

    def subscript(self, walk: Walk, node: ast.Subscript, choosing: bool) -> None:
        base = walk.taint(node.value)
        if choosing and walk.slice_side(node, base) is not None:
            self._divides(walk, node, base)

    def _divides(self, walk: Walk, node: ast.AST, t: Taint) -> None:
        if self.kind in t and self._once(t[self.kind]):
            self.report(walk, node, self._says(node, t[self.kind]))

    def _says(self, node: ast.AST, origin: str) -> str:
        raise NotImplementedError

    def _once(self, origin: str) -> bool:
        """True the first time an origin is seen."""
        first = origin not in self.reported
        self.reported.add(origin)
        return first


@rule("fit-before-split", severity="major", summary="fits preprocessing on whole data that is split afterwards")
class FitBeforeSplit(_OnSplit):
    """Preprocessing leakage: a vectorizer, tokenizer, scaler or TextVectorization layer fitted on all
    rows, before train_test_split, KFold or cross-validation divides them, has learned the held-out
    rows' vocabulary and statistics, so the held-out score is better than on truly unseen data. It is
    seen where the fitted object's output is split, or where the object meets one side of a later
    split of the rows it saw; fitting on the training part (a Pipeline inside the CV) is the fix."""

    def called(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        super().called(walk, call, choosing)
        if walk.preprocessing_fit(call):
            return  # refitted: from here on it holds this fit, not the old one
        func = call.func
        data = walk.args_taint(call)
        t = union(walk.taint(func.value if isinstance(func, ast.Attribute) else func), data)
        split = sorted(o for o in walk.fits_on.get(t.get("prefit", ""), ()) if o in walk.split_rows)
        if split and data.keys() & {"train", "test"} and self._once(t["prefit"]):
            self.report(
                walk,
                call,
                f"`{snip(call)}` applies preprocessing fitted on all rows ({t['prefit']}) to one side of "
                f"their later split ({walk.split_rows[split[0]]}); the held-out rows shaped it.",
            )

    kind = "prefit"

    def _says(self, node: ast.AST, origin: str) -> str:
        return (
            f"`{snip(node)}` divides data made by preprocessing fitted before the split ({origin}); "
            "the held-out rows shaped the features they are scored on."
        )


@rule("overlap", severity="critical", summary="splits data whose rows were oversampled or augmented first")
class Overlap(_OnSplit):
    """Overlap leakage: oversampling (SMOTE, RandomOverSampler, resample with replacement) or
    augmentation before the split puts copies, or near copies, of one row on both sides, so the
    model is scored on rows it trained on. Split first, then resample or augment the training part."""

    kind = "resampled"

    def _says(self, node: ast.AST, origin: str) -> str:
        return (
            f"`{snip(node)}` divides rows that were resampled or augmented first ({origin}), "
            "so copies of one row land on both sides."
        )


@rule(
    "cv-selection-on-held-out",
    severity="critical",
    summary="selects by cross-validation over rows that are also held out as test",
)
class CvSelectionOnHeldOut(Rule):
    """Multi-test leakage: a grid search or cross-validation over all rows chooses the model with
    every row, including those the notebook holds out as its test set before or after; the test
    score of the chosen model is then one more look at rows that already chose it. Cross-validate
    on the training part only."""

    def start(self, walk: Walk) -> None:
        self.searches: list[tuple[int, int, str, set[str]]] = []  # cell, line, code, datasets held whole

    def called(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        pieces = walk.split_pieces(call)
        if pieces is not None and last(call.func) in CV_CALLS | {"fit", "split"}:
            origins = whole(union(*(walk.taint(p) for p in pieces)))
            if origins:
                self.searches.append((walk.cell, call.lineno, snip(call), origins))

    def end(self, walk: Walk) -> None:
        for cell, line, code, origins in self.searches:
            split = sorted(o for o in origins if o in walk.split_rows)
            if split:
                self.findings.add(
                    self,
                    cell,
                    line,
                    f"`{code}` cross-validates over all rows of {split[0]}, which the notebook also splits "
                    f"({walk.split_rows[split[0]]}); its held-out rows helped choose the model.",
                )
