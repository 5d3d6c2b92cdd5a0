"""Functions written in the notebook: calls followed into their bodies, and predict walked with its texts.

Calls to functions, lambdas and methods of classes written in the notebook are followed into their
bodies with the arguments' taint (once per function and argument taints), but what a function
*returns* is not tracked, except a function it makes (a closure, `functools.partial`), which stands
for itself. `final_evaluation(predict, ...)` walks predict with its first parameter holding the
texts it is given ("captured", and "seen" for all it derives from them), to see where they go.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from grader.static.nodes import kwarg, last, root, snip
from grader.static.taint import Scope, Taint, Taints, union

if TYPE_CHECKING:
    from grader.static.rules.base import RuleSet

Function = ast.FunctionDef | ast.AsyncFunctionDef


class Functions(Taints):
    """The notebook's functions and classes, and how a call reaches into them; `Walk` walks the bodies."""

    def __init__(self, rules: RuleSet) -> None:
        super().__init__(rules)
        self.loop_depth = self.function_depth = 0
        self.functions: dict[str, tuple[Function, int]] = {}  # name -> (def, cell)
        self.classes: dict[str, tuple[ast.ClassDef, int]] = {}
        self.made: dict[str, ast.Call] = {}  # name -> the call that made the function it holds
        self.active: set[int] = set()  # functions being walked (no recursion)
        self.walked: set[tuple] = set()  # (function, argument taints) already followed: walk each once
        self.in_class = False  # methods are not callable by bare name: not registered as functions

    def notebook_function(self, func: ast.expr) -> tuple[Function | ast.Lambda, int, int] | None:
        """(def, cell, parameters the caller does not pass) for a function or lambda written in the
        notebook, or a method of a class written in it (`model.predict`, `model(...)` for __call__), or
        one made by `functools.partial` or by a notebook function that returns a function it defines."""
        if isinstance(func, ast.Lambda):
            return func, self.cell, 0
        if isinstance(func, ast.Name) and func.id in self.functions:
            return (*self.functions[func.id], 0)
        if isinstance(func, ast.Name) and func.id in self.made:
            func = self.made[func.id]
        if isinstance(func, ast.Call) and (made := self._made_by(func)) is not None:
            return made
        owner, method = (func.value, func.attr) if isinstance(func, ast.Attribute) else (func, "__call__")
        cls, cell = self.classes.get(self.class_of(owner), (None, 0))
        for stmt in cls.body if cls else []:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == method:
                return stmt, cell, 1
        return None

    def _made_by(self, call: ast.Call) -> tuple[Function | ast.Lambda, int, int] | None:
        """The function `partial(f, a)` or `make_predict(model)` (returning a def or lambda of its own) gives."""
        if last(call.func) == "partial" and call.args:
            target = self.notebook_function(call.args[0])
            return (target[0], target[1], target[2] + len(call.args) - 1) if target else None
        factory = None if isinstance(call.func, ast.Call) else self.notebook_function(call.func)
        if factory is None or isinstance(factory[0], ast.Lambda):
            return None
        inner = {n.name: n for n in factory[0].body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        for stmt in factory[0].body:
            value = stmt.value if isinstance(stmt, ast.Return) else None
            if isinstance(value, ast.Lambda) or isinstance(value, ast.Name) and value.id in inner:
                return (value if isinstance(value, ast.Lambda) else inner[value.id]), factory[1], 0
        return None

    def remember_made(self, target: ast.expr, value: ast.expr) -> None:
        """`predict = partial(run, model)`: the name now stands for the function the call makes."""
        if isinstance(target, ast.Name):
            if isinstance(value, ast.Call) and self._made_by(value) is not None:
                self.made[target.id] = value
            else:
                self.made.pop(target.id, None)

    def _walk_function(
        self,
        node: Function | ast.ClassDef | ast.Lambda,
        bound: dict[str, Taint],
        cell: int,
        effects: bool,
        capture: str | None = None,
        skip: int = 0,
        this: ast.expr | None = None,
    ) -> None:
        """Walk a body with its parameters bound. At its definition (`effects=False`) nothing it does
        outlives the walk; at a call its global writes and container mutations stay. The first `skip`
        parameters (a method's self) stay unbound: what is stored through them outlives the call, on
        the object the caller calls `this`."""
        if id(node) in self.active:
            return
        saved = None if effects else (self.snapshot(), set(self.walked))
        state = (self.cell, self.loop_depth, self.capture, self.capture_base, self.in_class)
        args = node.args if not isinstance(node, ast.ClassDef) else None
        params = [] if args is None else [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
        params = params[skip:] + ([a.arg for a in (args.vararg, args.kwarg) if a is not None] if args else [])
        self.cell, self.loop_depth, self.in_class = cell, 0, isinstance(node, ast.ClassDef)
        if capture:
            self.capture, self.capture_base = capture, len(self.scopes)
        self.function_depth += 1
        self.active.add(id(node))
        owner = root(this) if this is not None and skip else None
        self_name = (args.posonlyargs + args.args)[0].arg if owner is not None and args else None
        self.scopes.append(
            Scope({p: bound.get(p, {}) for p in params}, this=(self_name, owner.id) if self_name else None)
        )
        try:
            if isinstance(node, ast.Lambda):
                self._expr(node.body, choosing=True)
            else:
                self._block(node.body)
        finally:
            self.scopes.pop()
            self.active.discard(id(node))
            self.function_depth -= 1
            self.cell, self.loop_depth, self.capture, self.capture_base, self.in_class = state
            if saved is not None:
                self.restore(saved[0])
                self.walked = saved[1]

    def _call_function(self, call: ast.Call, fn: Function, cell: int, skip: int) -> None:
        """Follow a call to a notebook function into its body, parameters tainted like the arguments."""
        params = [a.arg for a in fn.args.posonlyargs + fn.args.args][skip:]
        bound = {p: self.taint(a) for p, a in zip(params, call.args)}
        if fn.args.vararg and len(call.args) > len(params):
            bound[fn.args.vararg.arg] = union(*(self.taint(a) for a in call.args[len(params) :]))
        named = set(params) | {a.arg for a in fn.args.kwonlyargs}
        for kw in call.keywords:
            if kw.arg in named:
                bound[kw.arg] = self.taint(kw.value)
            elif fn.args.kwarg:
                bound[fn.args.kwarg.arg] = union(bound.get(fn.args.kwarg.arg, {}), self.taint(kw.value))
        key = (id(fn), tuple(sorted((p, tuple(sorted(t))) for p, t in bound.items())))
        if key not in self.walked:  # without this, calls inside nested loops multiply the walks
            self.walked.add(key)
            this = call.func.value if isinstance(call.func, ast.Attribute) else call.func
            self._walk_function(fn, bound, cell, effects=True, skip=skip, this=this)

    def _follow_predict(self, call: ast.Call) -> None:
        """final_evaluation hands predict the val and test texts: walk predict with them "captured"."""
        predict = kwarg(call, "predict", 0)
        target = self.notebook_function(predict) if predict is not None else None
        if target is None:
            return
        fn, cell, skip = target
        params = [a.arg for a in fn.args.posonlyargs + fn.args.args][skip:]
        name = "the predict lambda" if isinstance(predict, ast.Lambda) else f"`{snip(predict, 40)}`"
        if params:
            given = f"the texts final_evaluation passes to {name} at cell {self.cell}, line {call.lineno}"
            texts = {"captured": given, "seen": given}
            this = predict.value if isinstance(predict, ast.Attribute) else predict
            self._walk_function(fn, {params[0]: texts}, cell, effects=True, capture=name, skip=skip, this=this)
