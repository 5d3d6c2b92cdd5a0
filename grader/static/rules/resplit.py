"""resplit: the course's fixed train/val/test split redrawn or pooled."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from grader.static.names import SPLITTER
from grader.static.nodes import last, snip
from grader.static.rules.base import Rule, rule
from grader.static.taint import split_words, splits, union

if TYPE_CHECKING:
    from grader.static.walk import Walk


@rule("resplit", severity="major", summary="re-splits or mixes the course's fixed splits")
class Resplit(Rule):
    """Every number in the course is comparable because every notebook trains, selects and tests
    on the same fixed splits. Pooling them (concatenate_datasets, pd.concat, cross-validation over
    train + val) and drawing new ones puts val or test rows where training can see them. Halving
    val to fit a temperature, or a stratified subsample of train, is course practice. Only this
    rule reads split-like variable names (`train_df`, `test_df`), to see what is pooled."""

    def start(self, walk: Walk) -> None:
        self.subsamples = _subsamples(walk.cells)

    def called(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        name = last(call.func)
        receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
        if name == "train_test_split":
            parts = call.args + ([receiver] if receiver is not None else [])
            found = splits(union(*(walk.taint(p) for p in parts)))
            # halving val to fit a temperature (weeks 4-5) is course practice; so is a stratified subsample
            if found != {"val"} and (id(call) not in self.subsamples or len(found) > 1):
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
