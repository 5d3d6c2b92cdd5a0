"""The walk: the parsed cells statement by statement, in execution order, firing the rules' events.

Branches join; a loop body is walked twice, so a value set late in one pass reaches the next. Calls
into the notebook's own functions are followed (functions.py). Besides the rules' events, the walk
applies what a call does to the rows of the notebook's data (sources.py): a fit on whole rows marks
its object, a split or a held-out slice marks the dataset as split.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from grader.static.functions import Function, Functions
from grader.static.names import INTERNAL, MUTATORS
from grader.static.nodes import last, root
from grader.static.sources import is_plain
from grader.static.taint import Scope, children

if TYPE_CHECKING:
    from grader.static.rules.base import RuleSet

Comprehension = ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp


class Walk(Functions):
    """Walks the parsed cells once, in execution order, keeping each name's taint and firing events."""

    def __init__(self, cells: list[tuple[int, ast.Module]], rules: RuleSet) -> None:
        super().__init__(rules)
        self.cells = cells
        self.position = 0  # of the current cell in `cells`
        self.plain = is_plain(cells)

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
        self.rules.fire("end", self)

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
                self.remember_made(target, node.value)
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
            if choosing and self.slice_side(node, self.taint(node.value)) is not None:
                self.note_split([node.value], node)
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
        if self.preprocessing_fit(call) and root(receiver) is not None:  # vec.fit(df.text): vec now holds its fit
            self.mutate(root(receiver).id, self.prefit(call), call, replaces=("prefit",))
        pieces = self.split_pieces(call)
        if pieces is not None and self.holds_out(call):
            self.note_split(pieces, call)
