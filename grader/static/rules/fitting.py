"""What a call fits, and on which data: shared by the training, preprocessing and evaluation rules."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grader.static.names import (
    CALIBRATOR,
    EVAL_KWARGS,
    FIT_METHODS,
    LABEL_ENCODER,
    PREPROCESSING_ONLY,
    PREPROCESSOR,
    TRAIN_NAME,
)
from grader.static.nodes import kwarg, last, snip
from grader.static.sources import Taint, union

if TYPE_CHECKING:
    from grader.static.walk import Walk


@dataclass(frozen=True)
class Fit:
    """A fitting call. `kind`: "trainer" (a Trainer built with its datasets), "backward" (a loss
    back-propagated), "helper" (an imported train(...) function), "vocabulary" (torchtext's builder),
    or, for `x.fit(...)`-like methods, "label encoder", "preprocessing" or "model"."""

    kind: str
    taint: Taint = field(default_factory=dict)  # of the data it fits on
    what: str = "preprocessing"  # how messages name what is fitted
    calibrator: bool = False  # a temperature or other calibration fitted on val is course practice
    datasets: list[tuple[str, Taint]] = field(default_factory=list)  # ("train_dataset" | "eval_dataset", taint)


def fit_of(walk: Walk, call: ast.Call) -> Fit | None:
    """What `call` fits, judged from its name and receiver; None when it fits nothing."""
    name = last(call.func)
    receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
    if name.endswith("Trainer"):
        given = ((role, kwarg(call, role, position)) for position, role in ((3, "train_dataset"), (4, "eval_dataset")))
        return Fit("trainer", datasets=[(role, walk.taint(data)) for role, data in given if data is not None])
    if receiver is not None and name == "backward":
        return Fit("backward", union(walk.taint(receiver), walk.args_taint(call)))
    if receiver is None:
        if (
            name in walk.functions
            or not (name == "build_vocab_from_iterator" or TRAIN_NAME.search(name))
            or "split" in name
        ):
            return None
        kind = "vocabulary" if name == "build_vocab_from_iterator" else "helper"
        return Fit(kind, walk.args_taint(call), what="a vocabulary")
    if name not in FIT_METHODS:
        return None
    data = call.args + [kw.value for kw in call.keywords if kw.arg not in EVAL_KWARGS | {"callbacks"}]
    if not data:  # model.train(), trainer.train(): the data was fixed earlier and checked there
        return None
    t = union(*(walk.taint(d) for d in data))
    cls = walk.class_of(receiver)
    calibrator = bool(CALIBRATOR.search(f"{cls} {snip(receiver)}"))
    if LABEL_ENCODER.match(cls):
        kind = "label encoder"
    elif (name in PREPROCESSING_ONLY or PREPROCESSOR.search(cls)) and not calibrator:
        kind = "preprocessing"
    else:
        kind = "model"
    evals = [("eval_dataset", walk.taint(kw.value)) for kw in call.keywords if kw.arg in EVAL_KWARGS]
    return Fit(kind, t, f"`{cls}`" if cls else "preprocessing", calibrator, evals)


def set_dataset(target: ast.Attribute | ast.Subscript) -> str | None:
    """The role a store gives its value: "train_dataset" for `trainer.train_dataset = x`."""
    if isinstance(target, ast.Attribute) and target.attr in ("train_dataset", "eval_dataset"):
        return target.attr
    return None


def handed_fit(walk: Walk, call: ast.Call) -> str:
    """Where the texts final_evaluation hands to predict came from, when `call` trains on them; else ''."""
    fit = fit_of(walk, call)
    t = union(fit.taint, *(data for _, data in fit.datasets)) if fit else {}
    return t.get("handed") or t.get("seen") or ""
