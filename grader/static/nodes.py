"""Small questions asked of `ast` nodes by the taint engine and the rules alike."""

from __future__ import annotations

import ast
import re

from grader.static.names import TRAIN_NAME


def last(func: ast.expr) -> str:
    """The name a call is known by: `fit` for `clf.fit(...)`, `train` for `train(...)`."""
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def snip(node: ast.AST, width: int = 70) -> str:
    """The code of a node on one line, cut to `width`, for messages."""
    text = " ".join(ast.unparse(node).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def root(node: ast.expr) -> ast.Name | None:
    """The variable an attribute or item chain starts from: `xs` for `xs.a[0]`."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node if isinstance(node, ast.Name) else None


def const(node: ast.expr | None) -> object:
    """The literal a node spells, or None."""
    return node.value if isinstance(node, ast.Constant) else None


def kwarg(call: ast.Call, name: str, position: int | None = None) -> ast.expr | None:
    """An argument given by name, or else at `position`."""
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    if position is not None and len(call.args) > position:
        return call.args[position]
    return None


def arguments(call: ast.Call) -> list[ast.expr]:
    """Every argument of a call, positional then keyword."""
    return call.args + [kw.value for kw in call.keywords]


def ctor(node: ast.expr) -> str:
    """The class a value was built from: TfidfVectorizer for `TfidfVectorizer(...).fit(x)`."""
    while isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call):
            node = func.value
        elif isinstance(func, ast.Attribute) and func.attr == "from_pretrained":
            return last(func.value)
        else:
            return last(func)
    return ""


def is_training_call(call: ast.Call) -> bool:
    """A call that trains something, judged from its name alone (for the ordering rules)."""
    name = last(call.func)
    if isinstance(call.func, ast.Attribute):
        if name in ("fit", "partial_fit", "train", "backward"):
            return True
        return name == "step" and bool(re.search(r"optim|^opt", last(call.func.value), re.I))
    return bool(TRAIN_NAME.search(name)) and "split" not in name
