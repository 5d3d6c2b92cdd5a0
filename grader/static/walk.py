"""The walk: the parsed cells statement by statement, in execution order, firing the rules' events.

Branches join; a loop body is walked twice, so a value set late in one pass reaches the next. Calls
to functions, lambdas and methods of classes written in the notebook are followed into their bodies
with the arguments' taint (once per function and argument taints), but what a function *returns* is
not tracked. `final_evaluation(predict, ...)` walks predict with its first parameter holding the
texts it is given ("captured"), to see whether they leave it.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from grader.static.names import INTERNAL, MUTATORS
from grader.static.nodes import kwarg, last, root, snip
from grader.static.taint import Scope, Taint, Taints, children, union

if TYPE_CHECKING:
    from grader.static.rules.base import RuleSet

Function = ast.FunctionDef | ast.AsyncFunctionDef
Comprehension = ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp


class Walk(Taints):
    """Walks the parsed cells once, in execution order, keeping each name's taint and firing events."""

    def __init__(self, cells: list[tuple[int, ast.Module]], rules: RuleSet) -> None:
        super().__init__(rules)
        self.cells = cells
        self.position = 0  # of the current cell in `cells`
        self.functions: dict[str, tuple[Function, int]] = {}  # name -> (def, cell)
        self.classes: dict[str, tuple[ast.ClassDef, int]] = {}
        self.loop_depth = self.function_depth = 0
        self.active: set[int] = set()  # functions being walked (no recursion)
        self.walked: set[tuple] = set()  # (function, argument taints) already followed: walk each once
        self.in_class = False  # methods are not callable by bare name: not registered as functions

    def run(self) -> None:
        self.rules.fire("start", self)
        for position, (cell, tree) in enumerate(self.cells):
            self.position, self.cell = position, cell
            for stmt in tree.body:
                state = (len(self.scopes), self.loop_depth, self.function_depth, self.capture, self.in_class)
                try:
                    self._stmt(stmt)
                except RecursionError:  # an expression nested thousands deep: skip the statement, say so
                    del self.scopes[state[0] :]
                    self.loop_depth, self.function_depth, self.capture, self.in_class = state[1:]
                    self.cell, self.active = cell, set()
                    self.rules.fire("too_deep", self, stmt)

    def notebook_function(self, func: ast.expr) -> tuple[Function | ast.Lambda, int, int] | None:
        """(def, cell, parameters the caller does not pass) for a function or lambda written in the
        notebook, or a method of a class written in it (`model.predict`, `model(...)` for __call__)."""
        if isinstance(func, ast.Lambda):
            return func, self.cell, 0
        if isinstance(func, ast.Name) and func.id in self.functions:
            return (*self.functions[func.id], 0)
        owner, method = (func.value, func.attr) if isinstance(func, ast.Attribute) else (func, "__call__")
        cls, cell = self.classes.get(self.class_of(owner), (None, 0))
        for stmt in cls.body if cls else []:
            if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == method:
                return stmt, cell, 1
        return None

    # ------------------------------------------------------------ statements

    def _block(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            self._stmt(stmt)

    def _stmt(self, node: ast.stmt) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            self._import(node)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self._define(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            self._expr(node.value, choosing=True)
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                self.assign(target, node.value)
        elif isinstance(node, ast.AugAssign):
            self._expr(node.value, choosing=True)
            self.assign(node.target, node.value, weak=True)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self._expr(node.iter, choosing=True)
            self._loop(node, node.target, node.iter)
        elif isinstance(node, ast.While):  # the test runs again after each pass: check it after the body too
            self._loop(node, None, None)
            self._expr(node.test, choosing=True)
            self.rules.fire("branch", self, node)
        elif isinstance(node, ast.If):
            self._expr(node.test, choosing=True)
            self.rules.fire("branch", self, node)
            self._branches([node.body, node.orelse])
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self._expr(item.context_expr)
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, item.context_expr)
            self._block(node.body)
        elif isinstance(node, (ast.Try, ast.TryStar)):
            self._branches([node.body + node.orelse] + [h.body for h in node.handlers])
            self._block(node.finalbody)
        elif isinstance(node, ast.Match):
            self._expr(node.subject)
            self._branches([case.body for case in node.cases])
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            if self.scopes:
                self.scopes[-1].declared.update(node.names)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                if not isinstance(target, ast.Name):
                    self.store(target, {})
        elif isinstance(node, ast.Return):
            self._expr(node.value, choosing=True)
        else:
            for child in children(node):
                self._expr(child)

    def _define(self, node: Function | ast.ClassDef) -> None:
        """A def or class: its body is walked once for what it does wherever it is called."""
        if isinstance(node, ast.ClassDef):
            table = self.classes
        else:
            table = self.functions
            for expr in node.decorator_list + node.args.defaults + node.args.kw_defaults:
                self._expr(expr)
        if not self.in_class:
            table[node.name] = (node, self.cell)
        self._walk_function(node, {}, self.cell, effects=False)
        self.bind(node.name, {}, node)

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                self.aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
                self.rules.fire("reference", self, node, alias.name)
            return
        module = node.module or ""
        if node.level:  # a relative import is the student's own package
            return
        for alias in node.names:
            if alias.name == "*":
                if module.split(".")[0] == "course":
                    self.star_internal |= {n for n in INTERNAL if not n.startswith("_")}
                self.rules.fire("reference", self, node, module)
                continue
            path = f"{module}.{alias.name}"
            self.aliases[alias.asname or alias.name] = path
            self.rules.fire("reference", self, node, path)

    def _loop(
        self, node: ast.For | ast.AsyncFor | ast.While, target: ast.expr | None, iterable: ast.expr | None
    ) -> None:
        """Two passes over the body, so a value set late in one iteration reaches the next."""
        self.loop_depth += 1
        for _ in range(2):
            before = self.snapshot()
            if target is not None:
                self.assign(target, None, taint=self.taint(iterable))
            self._block(node.body)
            self.restore(self.join(before, self.snapshot()))
        self.loop_depth -= 1
        self._block(node.orelse)

    def _branches(self, bodies: list[list[ast.stmt]]) -> None:
        before, joined = self.snapshot(), None
        for body in bodies:
            self.restore(before)
            self._block(body)
            after = self.snapshot()
            joined = after if joined is None else self.join(joined, after)
        self.restore(joined)

    # ------------------------------------------------------------ functions written in the notebook

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
            texts = {"captured": f"the texts final_evaluation passes to {name} at cell {self.cell}, line {call.lineno}"}
            this = predict.value if isinstance(predict, ast.Attribute) else predict
            self._walk_function(fn, {params[0]: texts}, cell, effects=True, capture=name, skip=skip, this=this)

    # ------------------------------------------------------------ expressions

    def _expr(self, node: ast.expr | None, choosing: bool = False) -> None:
        """Fire the events of every call, harness reference and item lookup inside `node`.

        `choosing` marks values that are kept (assigned, tested, returned): only there is a
        max/min/sorted over test numbers a choice."""
        if node is None:
            return
        if isinstance(node, ast.Attribute):
            path = self.dotted(node, imported_only=True)
            if path:
                self.rules.fire("reference", self, node, path)
        elif isinstance(node, ast.Name) and node.id in self.star_internal:
            self.rules.fire("reference", self, node, f"course.api.{node.id}")
        elif isinstance(node, ast.Subscript):
            self.rules.fire("subscript", self, node, choosing)
        elif isinstance(node, ast.Lambda):
            self._walk_function(node, {}, self.cell, effects=False)
            return
        elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
            self._comprehension(node, choosing)
            return
        elif isinstance(node, ast.Call):
            self._call(node, choosing)
        for child in children(node):
            self._expr(child, choosing)

    def _comprehension(self, node: Comprehension, choosing: bool) -> None:
        self.loop_depth += 1
        self.scopes.append(Scope({}))
        try:
            for gen in node.generators:
                self._expr(gen.iter, choosing)
                self.assign(gen.target, None, taint=self.taint(gen.iter))
                for condition in gen.ifs:
                    self._expr(condition, choosing)
            for part in [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]:
                self._expr(part, choosing)
        finally:
            self.scopes.pop()
            self.loop_depth -= 1

    def _call(self, call: ast.Call, choosing: bool) -> None:
        """The rules see the call, the walk follows it into notebook code and applies its container
        mutation, then the rules see the result."""
        self.rules.fire("call", self, call, choosing)
        func = call.func
        if last(func) == "final_evaluation":
            self._follow_predict(call)
        elif not isinstance(func, ast.Lambda) and (target := self.notebook_function(func)):
            self._call_function(call, *target)
        receiver = func.value if isinstance(func, ast.Attribute) else None
        if last(func) in MUTATORS and receiver is not None and root(receiver) is not None:
            self.mutate(root(receiver).id, self.args_taint(call), call)
        self.rules.fire("called", self, call, choosing)
