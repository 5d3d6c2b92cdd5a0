"""Fitting on the wrong data: train-on-test, fit-on-eval, train-on-val, label-encoder-all."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from grader.static.nodes import snip
from grader.static.rules.base import Rule, rule
from grader.static.rules.fitting import Fit, fit_of, set_dataset
from grader.static.sources import Taint, origin_of, splits

if TYPE_CHECKING:
    from grader.static.walk import Walk


class _TrainingData(Rule):
    """A model trained, by `fit` or as a Trainer's train_dataset, on data its subclass forbids."""

    def called(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        fit = fit_of(walk, call)
        if fit is not None:
            self._fitted(walk, call, fit)

    def _fitted(self, walk: Walk, call: ast.Call, fit: Fit) -> None:
        if fit.kind == "model" and self._applies(fit.taint, fit.calibrator):
            self._trains_on(walk, call, fit.taint)
        for role, t in fit.datasets:
            if role == "train_dataset" and self._applies(t, calibrator=False):
                self._trains_on(walk, call, t)

    def store(self, walk: Walk, target: ast.Attribute | ast.Subscript, taint: Taint) -> None:
        if set_dataset(target) == "train_dataset" and self._applies(taint, calibrator=False):
            self._trains_on(walk, target, taint)

    def _applies(self, t: Taint, calibrator: bool) -> bool:
        """Whether training on data tainted `t` breaks this rule."""
        raise NotImplementedError

    def _trains_on(self, walk: Walk, node: ast.AST, t: Taint) -> None:
        raise NotImplementedError


@rule("train-on-test", severity="critical", summary="test data reaches a training call")
class TrainOnTest(_TrainingData):
    """A model that has seen the test texts or labels (fitted on them, back-propagated through a
    loss on them, handed them by a Trainer or a train(...) helper) is scored on data it learned
    from: its test score measures memory, not generalisation, and no longer compares with others."""

    def _fitted(self, walk: Walk, call: ast.Call, fit: Fit) -> None:
        super()._fitted(walk, call, fit)
        if "test" not in splits(fit.taint):
            return
        if fit.kind == "backward":
            self.report(
                walk,
                call,
                f"`{snip(call)}` back-propagates a loss computed on test data ({origin_of(fit.taint, 'test')}).",
            )
        elif fit.kind == "helper":
            self.report(walk, call, f"`{snip(call)}` trains with test data ({origin_of(fit.taint, 'test')}).")

    def _applies(self, t: Taint, calibrator: bool) -> bool:
        return "test" in splits(t)

    def _trains_on(self, walk: Walk, node: ast.AST, t: Taint) -> None:
        self.report(walk, node, f"`{snip(node)}` trains on data derived from the test split ({origin_of(t, 'test')}).")


@rule("fit-on-eval", severity="major", summary="fits preprocessing on data that includes val or test")
class FitOnEval(Rule):
    """A vectorizer, tokenizer, scaler or vocabulary fitted on val or test texts learns their
    words and statistics (idf weights, vocabulary, means): the evaluation data then shapes the
    features, and val or test scores come out better than on truly unseen data."""

    def called(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        fit = fit_of(walk, call)
        found = splits(fit.taint) & {"val", "test"} if fit and fit.kind in ("preprocessing", "vocabulary") else set()
        if found:
            split = "test" if "test" in found else "val"
            self.report(
                walk,
                call,
                f"`{snip(call)}` fits {fit.what} on data that includes the {split} split "
                f"({origin_of(fit.taint, split)}), leaking its statistics into preprocessing.",
            )


@rule("train-on-val", severity="major", summary="trains the model on val data")
class TrainOnVal(_TrainingData):
    """Val is the student's own held-out set: it measures generalisation and guides every choice
    (epochs, settings, thresholds). A model trained on val is judged on data it learned from, so
    val stops doing both jobs. Fitting a calibration temperature on val is course practice. A plain
    notebook may refit on train + val once its choices are made: that is its own protocol."""

    def called(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        if not walk.plain:
            super().called(walk, call, choosing)

    def store(self, walk: Walk, target: ast.Attribute | ast.Subscript, taint: Taint) -> None:
        if not walk.plain:
            super().store(walk, target, taint)

    def _applies(self, t: Taint, calibrator: bool) -> bool:
        return "val" in splits(t) and "test" not in splits(t) and not calibrator

    def _trains_on(self, walk: Walk, node: ast.AST, t: Taint) -> None:
        self.report(
            walk,
            node,
            f"`{snip(node)}` trains on data derived from the val split ({origin_of(t, 'val')}), so "
            "val no longer measures generalisation or guides selection honestly.",
        )


@rule("label-encoder-all", severity="minor", summary="a label encoder fitted on labels from several splits")
class LabelEncoderAll(Rule):
    """The label set is the course's (LABELS). A label encoder fitted on val or test labels learns
    which classes occur there, a small look at the evaluation data, and can order or drop classes
    differently from the course's; the least severe of the leaks. A plain notebook has no course
    label set, so encoding all its labels is how it names them."""

    def called(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        fit = fit_of(walk, call) if not walk.plain else None
        found = splits(fit.taint) & {"val", "test"} if fit and fit.kind == "label encoder" else set()
        if found:
            split = "test" if "test" in found else "val"
            self.report(
                walk,
                call,
                f"`{snip(call)}` fits a label encoder on labels that include the {split} split "
                f"({origin_of(fit.taint, split)}); the label set must come from the course (LABELS).",
            )
