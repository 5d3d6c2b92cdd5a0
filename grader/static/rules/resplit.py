"""resplit and inner-split: the course's fixed train/val/test split redrawn or pooled, or train alone divided."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from grader.static.names import SPLITTER
from grader.static.nodes import last, snip
from grader.static.rules.base import Rule, rule
from grader.static.sources import split_words, splits, union

if TYPE_CHECKING:
    from grader.static.walk import Walk


@rule("resplit", severity="major", summary="re-splits or mixes the course's fixed splits")
class Resplit(Rule):
    """Every number in the course is comparable because every notebook trains, selects and tests
    on the same fixed splits. Pooling them (concatenate_datasets, pd.concat, cross-validation over
    train + val) and drawing new ones puts val or test rows where training can see them. Halving
    val to fit a temperature, or a stratified subsample of train, is course practice. Only this
    rule reads split-like variable names (`train_df`, `test_df`), to see what is pooled. A plain
    notebook (no course API, data of its own) owns its split: the row rules judge it instead."""

    def start(self, walk: Walk) -> None:
        self.subsamples = _subsamples(walk.cells)

    def called(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        name = last(call.func)
        receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
        if walk.plain:
            return
        if name == "train_test_split":
            found = _drawn(walk, call, self.subsamples)
            if found is not None and found & {"val", "test"}:
                self.report(
                    walk,
                    call,
                    f"`{snip(call)}` draws new splits{_mix_note(found)}; the course's "
                    "train/val/test split is fixed so every number is comparable.",
                )
        elif (
            name == "split"
            and receiver is not None
            and SPLITTER.search(walk.class_of(receiver))
            or name in ("cross_val_score", "cross_validate", "cross_val_predict")
        ):
            found = _mixture(walk, call.args)
            if len(found) > 1:
                self.report(
                    walk,
                    call,
                    f"`{snip(call)}` cross-validates over pooled splits{_mix_note(found)}; "
                    "the course's train/val/test split is fixed.",
                )
        elif name in ("concatenate_datasets", "interleave_datasets", "concat", "ConcatDataset"):
            first = call.args[0] if call.args else None
            found = _mixture(walk, first.elts if isinstance(first, (ast.List, ast.Tuple)) else call.args)
            if len(found) > 1:
                self.report(
                    walk,
                    call,
                    f"`{snip(call)}` pools the splits{_mix_note(found)}; the course's "
                    "train/val/test split is fixed so every number is comparable.",
                )


@rule("inner-split", severity="info", summary="splits train alone into an inner train/dev pair")
class InnerSplit(Rule):
    """Not a leak: carving a dev part out of train (for a hyperparameter search or early stopping)
    keeps val and test out of it, and val still measures the finished model. The grader notes it,
    because numbers on the inner dev part are not the course's val numbers and must not be reported
    as such. Splitting data that holds val or test rows is `resplit`."""

    def start(self, walk: Walk) -> None:
        self.subsamples = _subsamples(walk.cells)

    def called(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        if walk.plain or last(call.func) != "train_test_split":
            return
        found = _drawn(walk, call, self.subsamples)
        if found is not None and not found & {"val", "test"}:
            self.report(
                walk,
                call,
                f"`{snip(call)}` splits train alone into an inner train/dev pair; fine for a search, but "
                "its dev numbers are not the course's val numbers.",
            )


def _drawn(walk: Walk, call: ast.Call, subsamples: set[int]) -> set[str] | None:
    """The splits a train_test_split draws new parts from (by taint, else by the names of what it
    splits); None for halving val (a temperature's calibration set) or a subsample of one split."""
    receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
    parts = call.args + ([receiver] if receiver is not None else [])
    found = splits(union(*(walk.taint(p) for p in parts))) or _mixture(walk, parts)
    if found == {"val"} or id(call) in subsamples and len(found) <= 1:
        return None
    return found


def _subsamples(cells: list[tuple[int, ast.Module]]) -> set[int]:
    """train_test_split calls that keep one part (`sub, _ = ...`, `...[0]`): a subsample, not a split."""
    found = set()
    for _, tree in cells:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Tuple) and any(getattr(e, "id", "") == "_" for e in t.elts) for t in node.targets
            ):
                found.add(id(node.value))
            elif isinstance(node, ast.Subscript):
                inner = node.value.value if isinstance(node.value, ast.Attribute) else node.value
                if isinstance(inner, ast.Call) and last(inner.func) == "train_test_split":
                    found.add(id(inner))
    return found


def _mixture(walk: Walk, pieces: list[ast.expr]) -> set[str]:
    """The splits pooled pieces come from, by taint or by their names."""
    return set().union(*(splits(walk.taint(p)) | _name_splits(p) for p in pieces))


def _name_splits(node: ast.expr) -> set[str]:
    """Splits a variable's name spells (`train_df`, `X_test`)."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return _name_splits(node.func.value)
    if isinstance(node, ast.Subscript):
        return _name_splits(node.value)
    name = node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else ""
    return split_words(name)


def _mix_note(found: set[str]) -> str:
    named = [s for s in ("train", "val", "test") if s in found]
    return f" from {' + '.join(named)}" if named else ""
