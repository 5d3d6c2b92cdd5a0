"""Where data comes from: the splits a call brings in, and which rows of the notebook's own data a value holds.

Two kinds of notebook. A course notebook gets its data from the course (load_course_data), and any
other data it reaches (the hub copy, the raw files) is judged against the course's fixed split. A
plain notebook (no course API, data of its own: a CSV, a hub dataset) owns its split, so what
matters is the rows: after Drobnjaković, Subotić and Urban's row taint (NBLyzer, TASE 2024) and
Yang et al.'s leakage kinds (ASE 2022), a value derived from the whole dataset is "rows" (its
origin string is the dataset's identity), the two parts of a split of it are "train" and "test",
an object fitted on whole rows makes "prefit" values, and oversampled or augmented data is
"resampled" (its rows repeat). `split_rows` records which datasets the notebook has split, and
`fits_on` which datasets each prefit object saw. Course notebooks use the same kinds for data of
their own.
"""

from __future__ import annotations

import ast
import re

from grader.static.names import (
    CALIBRATOR,
    CV_CALLS,
    EVAL_KWARGS,
    FIT_METHODS,
    HUB_LOADERS,
    LABEL_ENCODER,
    POOLS,
    PREPROCESSING_ONLY,
    PREPROCESSOR,
    RESAMPLERS,
    ROW_LOADERS,
    SEARCH_CV,
    SPLIT_CALLS,
    SPLITTER,
)
from grader.static.nodes import arguments, const, kwarg, last, snip
from grader.static.symbols import Symbols

Taint = dict[str, str]  # kind -> where it came from, quoted in messages
# Which splits a taint kind stands for. "hub" is a whole hub copy; "course" the (train, val) pair of
# load_course_data(); "captured" the texts predict receives inside final_evaluation (val and test),
# "handed" those texts once they have left predict. "final" (final_evaluation's return value),
# "train", "seen" (anything predict derives from its input, its outputs included) and the row kinds
# of sources.py are tracked but are no leak by themselves.
SPLITS = {
    "train": {"train"},
    "val": {"val"},
    "test": {"test"},
    "captured": {"test"},
    "handed": {"test"},
    "hub": {"train", "val", "test"},
    "course": {"train", "val"},
}
_SPLIT_WORDS = {
    "train": {"train", "training"},
    "val": {"val", "valid", "validation", "dev"},
    "test": {"test", "testing"},
}


def splits(t: Taint) -> set[str]:
    """The splits ("train", "val", "test") a taint stands for."""
    return set().union(*(SPLITS.get(k, set()) for k in t))


def origin_of(t: Taint, split: str) -> str:
    """Where the taint standing for `split` ("test", "val", or the kind "final") came from."""
    return next(o for k, o in t.items() if k == split or split in SPLITS.get(k, ()))


def split_words(text: str) -> set[str]:
    """The splits a key, file name or variable name spells: {"val"} for "validation"."""
    words = set(re.split(r"[^a-z]+", text.lower()))
    return {split for split, spelled in _SPLIT_WORDS.items() if words & spelled}


WHOLE = ("rows", "hub")  # kinds that stand for a whole dataset, not yet split


def union(*taints: Taint) -> Taint:
    """Every kind of every taint, each with the first place it came from."""
    out: Taint = {}
    for t in taints:
        for kind, origin in t.items():
            out.setdefault(kind, origin)
    return out


def fitted(t: Taint) -> Taint:
    """The part of an object's taint that its outputs carry: whether it was fitted on whole rows."""
    return {k: o for k, o in t.items() if k == "prefit"}


def whole(t: Taint) -> set[str]:
    """The datasets (their origins) a taint holds whole."""
    return {origin for kind, origin in t.items() if kind in WHOLE}


def without(t: Taint, *kinds: str) -> Taint:
    return {k: o for k, o in t.items() if k not in kinds}


def is_plain(cells: list[tuple[int, ast.Module]]) -> bool:
    """A notebook that loads data of its own and never uses the course API."""
    nodes = [n for _, tree in cells for n in ast.walk(tree)]
    course = any(
        isinstance(n, ast.Import)
        and any(a.name.split(".")[0] == "course" for a in n.names)
        or isinstance(n, ast.ImportFrom)
        and (n.module or "").split(".")[0] == "course"
        or isinstance(n, ast.Call)
        and last(n.func) in ("load_course_data", "final_evaluation")
        for n in nodes
    )
    loads = any(isinstance(n, ast.Call) and last(n.func) in ROW_LOADERS | HUB_LOADERS for n in nodes)
    return loads and not course


class Sources(Symbols):
    """The row bookkeeping of one walk; `Taints` (taint.py) asks it what a call brings in or repeats."""

    def __init__(self) -> None:
        super().__init__()
        self.plain = False  # set by the walk: a plain notebook (see the module docstring)
        self.split_rows: dict[str, str] = {}  # dataset origin -> where the notebook split it
        self.fits_on: dict[str, set[str]] = {}  # prefit origin -> the datasets the object was fitted on

    def loaded(self, call: ast.Call, name: str, kinds: set[str]) -> set[str]:
        """The kinds a loader call's data has, given those its paths and split name spell."""
        if self.plain and name in HUB_LOADERS | ROW_LOADERS or name in ROW_LOADERS and not kinds:
            return {"test"} if "test" in kinds else {"rows"}
        return kinds

    def split_pieces(self, call: ast.Call) -> list[ast.expr] | None:
        """The data a call splits or cross-validates over; None for any other call."""
        name = last(call.func)
        receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
        if name in SPLIT_CALLS:
            return call.args + ([receiver] if receiver is not None else [])
        if name in CV_CALLS:
            return call.args[1:] + [kw.value for kw in call.keywords if kw.arg in ("X", "y")]
        if receiver is not None and name == "split" and SPLITTER.search(self.class_of(receiver)):
            return call.args
        if receiver is not None and name == "fit" and SEARCH_CV.search(self.class_of(receiver)):
            return call.args
        if receiver is not None and name == "drop" and any(_index_of(a) for a in arguments(call)):
            return [receiver]  # test = df.sample(frac=0.2); train = df.drop(test.index)
        return None

    @staticmethod
    def holds_out(call: ast.Call) -> bool:
        """A split that keeps a held-out part for the end (not a cross-validation, which rotates)."""
        return last(call.func) in SPLIT_CALLS or last(call.func) == "drop"

    def note_split(self, pieces: list[ast.expr], node: ast.AST) -> None:
        for origin in whole(union(*(self.taint(p) for p in pieces))):
            self.split_rows.setdefault(origin, self.origin(node))

    def split_sides(self, value: ast.expr | None, count: int) -> list[Taint] | None:
        """`X_train, X_test, y_train, y_test = train_test_split(X, y)`: each name gets its side."""
        if not isinstance(value, ast.Call) or last(value.func) not in SPLIT_CALLS:
            return None
        t = self.taint(value.func.value) if isinstance(value.func, ast.Attribute) else {}
        t = union(t, *(self.taint(a) for a in value.args))
        if "rows" not in t:
            return None
        where = self.origin(value)
        sides = [("train", "test")[i % 2] for i in range(count)]
        return [union(without(t, "rows"), {side: f"the {side} side of {where}"}) for side in sides]

    def slice_side(self, node: ast.Subscript, base: Taint) -> Taint | None:
        """`X[n:]` of whole rows: the held-out tail of a split by position (`X[:n]` may be a subsample)."""
        part = node.slice
        if "rows" in base and isinstance(part, ast.Slice) and part.lower is not None and part.upper is None:
            return union(without(base, "rows"), {"test": f"the held-out tail {self.origin(node)}"})
        return None

    def preprocessing_fit(self, call: ast.Call) -> bool:
        """A vectorizer, tokenizer, scaler or layer fitted (not a model, a label encoder or a calibrator)."""
        func = call.func
        if last(func) not in FIT_METHODS or not isinstance(func, ast.Attribute):
            return False
        cls = self.class_of(func.value)
        preprocessing = last(func) in PREPROCESSING_ONLY or PREPROCESSOR.search(cls)
        return (
            bool(preprocessing) and not LABEL_ENCODER.match(cls) and not CALIBRATOR.search(f"{cls} {snip(func.value)}")
        )

    def prefit(self, call: ast.Call) -> Taint:
        """{"prefit": ...} when the call fits preprocessing on whole rows (`vec.fit_transform(df.text)`)."""
        if not self.preprocessing_fit(call):
            return {}
        data = call.args[:1] + [kw.value for kw in call.keywords if kw.arg not in EVAL_KWARGS]
        origins = whole(union(*(self.taint(d) for d in data)))
        if not origins:
            return {}
        key = f"`{snip(call, 50)}` at cell {self.cell}, line {call.lineno}"
        self.fits_on[key] = origins
        return {"prefit": key}

    def resampled(self, call: ast.Call, name: str) -> Taint:
        """{"resampled": ...} when the call's rows repeat: an oversampler, `sample(replace=True)`, or
        whole rows pooled with a part or copy of themselves (`pd.concat([df, df[df.y == k]])`)."""
        where = {"resampled": self.origin(call)}
        if name in RESAMPLERS or name == "sample" and (const(kwarg(call, "replace")) is True or _frac(call) > 1):
            return where
        if name not in POOLS or str(const(kwarg(call, "axis"))) in ("1", "columns"):
            return {}
        first = call.args[0] if call.args else None
        pieces = first.elts if isinstance(first, (ast.List, ast.Tuple)) else list(call.args)
        if isinstance(call.func, ast.Attribute) and name == "append":
            pieces = [call.func.value, *call.args]
        seen: set[str] = set()
        for piece in pieces:
            origins = whole(self.taint(piece))
            if origins & seen:
                return where
            seen |= origins
        return {}


def _frac(call: ast.Call) -> float:
    frac = const(kwarg(call, "frac"))
    return float(frac) if isinstance(frac, (int, float)) else 0.0


def _index_of(node: ast.expr) -> bool:
    """`held.index`: the rows of another frame, dropped to keep the rest."""
    return isinstance(node, ast.Attribute) and node.attr == "index"
