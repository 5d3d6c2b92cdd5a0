"""The taint engine: which values derive from which data (test split, raw hub dataset, val, ...).

A simple dataflow over names, statement by statement in execution order. Test taint comes from the
split key `["test"]`, `split="test"`, `.test`, the hub dataset (`load_dataset`, `hf://datasets/...`,
dataset downloads), the course's raw files and cache, the harness internals, a third value unpacked
from `load_course_data()` (the old course API returned test) and the texts `final_evaluation` hands
to `predict`; val taint from `["validation"]`, `["val"]` and the second value of `load_course_data()`.
Taint follows assignment, augmented assignment, unpacking, for-targets, comprehensions, container
mutation (`texts.extend(test_texts)`) and call arguments: a call's result carries its arguments'
taint (and its receiver's, except for `.transform`/`.predict`-like methods). Reassignment replaces a
name's taint. Variable names never taint. What a call brings in from data of the notebook's own, and
which rows a value holds, is sources.py's part. `Walk` (walk.py) drives this class statement by statement.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from grader.static.names import (
    APPLY,
    CACHE_TEXT,
    COPIES,
    HUB_LOADERS,
    HUB_TEXT,
    PATH_CALLS,
    SPLIT_CALLS,
    TEST_FILE,
    is_internal,
)
from grader.static.nodes import arguments, const, ctor, kwarg, last, root, snip
from grader.static.sources import Sources, Taint, fitted, split_words, splits, union, without

if TYPE_CHECKING:
    from grader.static.rules.base import RuleSet


@dataclass
class Scope:
    """The names of one function body or comprehension being walked."""

    vars: dict[str, Taint]
    declared: set[str] = field(default_factory=set)  # names declared global / nonlocal
    this: tuple[str, str] | None = None  # in a followed method call: (self, the caller's name for the object)


class Taints(Sources):
    """The taint of every name in scope, and of any expression; assignment and mutation update it."""

    def __init__(self, rules: RuleSet) -> None:
        super().__init__()
        self.rules = rules
        self.cell = 0
        self.globals: dict[str, Taint] = {}
        self.scopes: list[Scope] = []
        self.capture: str | None = None  # the predict function walked with final_evaluation's texts
        self.capture_base = 0  # scopes below this index are outside predict

    def origin(self, node: ast.AST) -> str:
        return f"`{snip(node, 50)}` at cell {self.cell}, line {node.lineno}"

    # ------------------------------------------------------------ names and scopes

    def lookup(self, name: str) -> Taint:
        for scope in reversed(self.scopes):
            if name in scope.vars:
                return scope.vars[name]
            if scope.this and name == scope.this[0]:
                name = scope.this[1]
        return self.globals.get(name, {})

    def bind(self, name: str, t: Taint, node: ast.AST, weak: bool = False) -> None:
        """Bind in the current scope (or globals, for `global` names); `weak` keeps the old taint too."""
        to_globals = not self.scopes or name in self.scopes[-1].declared
        if to_globals and self.capture:
            t = self.escape(t, node, f"`global {name}`")
        env = self.globals if to_globals else self.scopes[-1].vars
        env[name] = union(env.get(name, {}), t) if weak else t

    def mutate(self, name: str, t: Taint, node: ast.AST, replaces: tuple[str, ...] = ()) -> None:
        """A container changed in place (`xs.append(v)`, `d[k] = v`): it now also holds `t`, in
        place of the kinds it `replaces` (a refitted vectorizer forgets its old fit)."""
        if name in self.aliases:  # a module (os.environ.update, ...), not data
            return
        owner, local = None, False
        for depth in range(len(self.scopes) - 1, -1, -1):
            scope = self.scopes[depth]
            if name in scope.vars:
                owner, local = scope.vars, depth >= self.capture_base
                break
            if scope.this and name == scope.this[0]:  # self.seen.extend(...) changes the caller's object
                name = scope.this[1]
        if not local:
            t = self.escape(t, node, f"`{name}`")
        env = owner if owner is not None else self.globals
        env[name] = union(without(env.get(name, {}), *replaces), t)

    def escape(self, t: Taint, node: ast.AST, where: str) -> Taint:
        """predict's input leaving predict: the rules hear of it, and from here on it is test data
        handed to predict; what predict derived from it (its predictions) leaves as plain values."""
        if not self.capture:
            return t
        rest = without(t, "captured", "seen")
        if "captured" not in t:
            return rest
        self.rules.fire("escape", self, node, where)
        origin = f"the test texts captured by {self.capture} at cell {self.cell}, line {node.lineno}"
        return union(rest, {"test": origin, "handed": origin})

    def assign(self, target: ast.expr, value: ast.expr | None, weak: bool = False, taint: Taint | None = None) -> None:
        """`target = value`, or `target` bound to `taint` (a for-target, an unpacked part)."""
        t = self.taint(value) if taint is None else taint
        if isinstance(target, ast.Name):
            self.bind(target.id, t, target, weak)
            if value is not None and not weak:
                for table, known in ((self.strings, self.text(value)), (self.ctors, ctor(value))):
                    if known:
                        table[target.id] = known
                    else:
                        table.pop(target.id, None)
        elif isinstance(target, (ast.Tuple, ast.List)):
            elts = target.elts
            if (
                isinstance(value, (ast.Tuple, ast.List))
                and len(value.elts) == len(elts)
                and not any(isinstance(e, ast.Starred) for e in elts + value.elts)
            ):
                for element, part in zip(elts, value.elts):
                    self.assign(element, part, weak)
            elif (sides := self.split_sides(value, len(elts))) is not None:
                for element, side in zip(elts, sides):
                    self.assign(element, None, weak, taint=side)
            elif set(t) == {"course"}:  # train_ds, val_ds(, test_ds) = load_course_data(...)
                for i, element in enumerate(elts):
                    kind = ("train", "val")[i] if i < 2 else "test"
                    self.assign(element, None, weak, taint={kind: f"{t['course']}, value {i + 1}"})
            else:
                for element in elts:
                    self.assign(element, None, weak, taint=t)
        elif isinstance(target, ast.Starred):
            self.assign(target.value, None, weak, taint=t)
        else:
            self.store(target, t)

    def store(self, target: ast.Attribute | ast.Subscript, t: Taint) -> None:
        """`obj.attr = v`, `obj[k] = v`, `del obj.attr`: the rules see it, then the container holds `t`."""
        self.rules.fire("store", self, target, t)
        name = root(target)
        if name is not None and t:
            self.mutate(name.id, t, target)

    def snapshot(self) -> list[dict[str, Taint]]:
        return [dict(self.globals)] + [dict(s.vars) for s in self.scopes]

    def restore(self, snapshot: list[dict[str, Taint]]) -> None:
        self.globals = dict(snapshot[0])
        for scope, env in zip(self.scopes, snapshot[1:]):
            scope.vars = dict(env)

    @staticmethod
    def join(a: list[dict[str, Taint]], b: list[dict[str, Taint]]) -> list[dict[str, Taint]]:
        """Two snapshots merged: a name holds what it held on either path."""
        joined = []
        for x, y in zip(a, b):
            env = dict(x)
            for name, t in y.items():
                if env.get(name) is not t:  # taints are never changed in place: same object, same taint
                    env[name] = union(env.get(name, {}), t)
            joined.append(env)
        return joined

    # ------------------------------------------------------------ the taint of an expression

    def args_taint(self, call: ast.Call) -> Taint:
        return union(*(self.taint(a) for a in arguments(call)))

    def taint(self, node: ast.expr | None) -> Taint:
        if node is None or isinstance(node, ast.Constant):
            return {}
        if isinstance(node, ast.Name):
            if node.id in self.star_internal:
                return {"test": self.origin(node)}
            return self.lookup(node.id)
        if isinstance(node, ast.Attribute):
            path = self.dotted(node, imported_only=True)
            if node.attr == "test" or path and is_internal(path):
                return {"test": self.origin(node)}
            return self.taint(node.value)
        if isinstance(node, ast.Subscript):
            return self._subscript_taint(node)
        if isinstance(node, ast.Call):
            return self._call_taint(node)
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            self.scopes.append(Scope({}))
            try:
                t: Taint = {}
                for gen in node.generators:
                    it = self.taint(gen.iter)
                    self.assign(gen.target, None, taint=it)
                    t = union(t, it)
                parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
                return union(t, *(self.taint(p) for p in parts))
            finally:
                self.scopes.pop()
        if isinstance(node, ast.Lambda):
            self.scopes.append(Scope({a.arg: {} for a in node.args.posonlyargs + node.args.args}))
            try:
                return self.taint(node.body)
            finally:
                self.scopes.pop()
        return union(*(self.taint(c) for c in children(node)))

    def _subscript_taint(self, node: ast.Subscript) -> Taint:
        base = self.taint(node.value)
        key = const(node.slice)
        if "final" in base:  # res["test"], res["val"]: final_evaluation's numbers, however indexed
            return base
        if isinstance(key, int) and set(base) == {"course"}:  # load_course_data()[1]
            return {("train", "val")[key] if 0 <= key < 2 else "test": self.origin(node)}
        if isinstance(key, str) and key in ("test", "validation", "val", "train"):
            if len(splits(base)) == 1 and not base.keys() & {"hub", "captured"}:
                return base  # train_ds.train_test_split()["test"]: an inner part holds train rows only
            kinds = split_words(key)
            if key == "train" and "rows" in base:
                return {"rows": base["rows"]}  # a published train split is whole rows to the notebook
            if key == "train" and "hub" in base:
                kinds = {"train", "val"}  # the hub's train split holds the course's val rows
            return {k: self.origin(node) for k in kinds}
        tail = self.slice_side(node, base)
        return tail if tail is not None else union(base, self.taint(node.slice))

    def _call_taint(self, call: ast.Call) -> Taint:
        func, name = call.func, last(call.func)
        path = self.dotted(func, imported_only=True)
        kinds = set()  # splits this call itself brings in
        if path and is_internal(path) or name in self.star_internal:
            kinds = {"test"}
        elif name in ("load_course_data", "final_evaluation"):
            kinds = {"course" if name == "load_course_data" else "final"}
        elif name in HUB_LOADERS or self.hub_download(call, name):
            named = self.text(kwarg(call, "split")) or self.text(kwarg(call, "filename", 1)) or ""
            kinds = split_words(named.rsplit("/", 1)[-1]) or {"hub"}
            if "train" in kinds:
                kinds.add("val")  # the hub's train split holds the course's val rows
            kinds = self.loaded(call, name, kinds)
        if kinds:
            return {k: self.origin(call) for k in kinds}
        for arg in arguments(call) if name not in PATH_CALLS else []:
            text = self.text(arg) or ""
            if HUB_TEXT.search(text) or CACHE_TEXT.search(text):
                words = split_words(text.rsplit("/", 1)[-1])
                kinds |= {"test"} if "test" in words else {"train", "val"} if "train" in words else {"hub"}
            elif TEST_FILE.search(text):
                kinds.add("test")
        kinds = self.loaded(call, name, kinds | split_words(self.text(kwarg(call, "split")) or ""))
        t = {k: self.origin(call) for k in kinds}
        called = self.taint(func.value if isinstance(func, ast.Attribute) else func)
        # an applied or called object (vec.transform(x), layer(x)) brings in how it was fitted, not its data
        t = union(t, called if isinstance(func, ast.Attribute) and name not in APPLY else fitted(called))
        t = union(t, self.args_taint(call), self.prefit(call), self.resampled(call, name))
        if name in SPLIT_CALLS:
            t = without(t, "rows")
        if "captured" in t and name not in COPIES and not re.search(r"tokeni[sz]|encode", name, re.I):
            t = {k: o for k, o in t.items() if k != "captured"}
        return t


def children(node: ast.AST) -> list[ast.expr]:
    """The expressions directly inside a node (keyword arguments as their values)."""
    return [
        c.value if isinstance(c, ast.keyword) else c
        for c in ast.iter_child_nodes(node)
        if isinstance(c, (ast.expr, ast.keyword))
    ]
