"""What the notebook's names stand for beside data: imported modules, strings and paths, classes.

The taint engine and the rules ask these questions of an expression: which dotted module path it
names, which string or file path it spells, which class its value was built from. Like taint, the
tables are filled in execution order, but they are not scoped: a name's last binding anywhere wins.
"""

from __future__ import annotations

import ast

from grader.static.names import HUB_TEXT, PATH_CALLS
from grader.static.nodes import arguments, const, ctor, kwarg, last


class Symbols:
    """Imports (`aliases`), the strings and paths names were bound to (`strings`), the classes values
    were built from (`ctors`), and the harness internals a `from course.api import *` brought in."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}  # local name -> dotted import path
        self.star_internal: set[str] = set()  # internal names brought in by `from course.api import *`
        self.strings: dict[str, str] = {}  # name -> the path or string it was bound to
        self.ctors: dict[str, str] = {}  # name -> class its value was built from

    def dotted(self, node: ast.expr, imported_only: bool = False) -> str | None:
        """`course.api.store` for `api.store` after `from course import api`; None for non-chains."""
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, None if imported_only else node.id)
        if isinstance(node, ast.Attribute):
            base = self.dotted(node.value, imported_only)
            return f"{base}.{node.attr}" if base else None
        return None

    def module_path(self, node: ast.expr) -> str | None:
        """The course/grader path an expression names (an imported alias, or a string like 'course.api')."""
        path = const(node) if isinstance(const(node), str) else self.dotted(node, imported_only=True)
        return path if path and path.split(".")[0] in ("course", "grader") else None

    def text(self, node: ast.expr | None) -> str | None:
        """The string or path an expression spells, with '*' for the parts only known at run time."""
        if node is None:
            return None
        if isinstance(node, ast.Constant):
            return node.value.replace("\\", "/") if isinstance(node.value, str) else None
        if isinstance(node, ast.JoinedStr):
            return "".join(
                v.value if isinstance(v, ast.Constant) else self.text(v.value) or "*" for v in node.values
            ).replace("\\", "/")
        if isinstance(node, ast.Name):
            return self.strings.get(node.id)
        if isinstance(node, ast.Attribute):
            return "runs" if node.attr == "runs_dir" else None
        if isinstance(node, ast.Subscript):  # sorted(glob(...))[0]
            return self.text(node.value)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.Add)):
            left, right = self.text(node.left), self.text(node.right)
            if left is None and right is None:
                return None
            return ("/" if isinstance(node.op, ast.Div) else "").join([left or "*", right or "*"])
        if isinstance(node, ast.Call) and last(node.func) in PATH_CALLS:
            receiver = self.text(node.func.value) if isinstance(node.func, ast.Attribute) else None
            texts = ([receiver] if receiver else []) + [self.text(a) for a in node.args]
            if last(node.func) in ("Path", "PurePath", "join", "joinpath", "glob", "iglob", "rglob"):
                return "/".join(t or "*" for t in texts) if any(texts) else None
            return texts[0] if texts else None
        return None

    def class_of(self, node: ast.expr) -> str:
        """The class a value was built from, as far as the notebook shows it."""
        if isinstance(node, ast.Call):
            return ctor(node)
        return self.ctors.get(node.id, "") if isinstance(node, ast.Name) else ""

    def hub_download(self, call: ast.Call, name: str) -> bool:
        """Whether a hub download fetches a dataset (a model snapshot is fine)."""
        if name not in ("hf_hub_download", "snapshot_download"):
            return False
        texts = [self.text(a) or "" for a in arguments(call)]
        return const(kwarg(call, "repo_type")) == "dataset" or any(HUB_TEXT.search(t) for t in texts)
