"""What a rule is, and the events of the walk a rule can check.

A rule is a small class: `@rule(...)` gives it an id, a severity and a one-line summary, its
docstring says why the pattern is a leak, and it overrides the events it cares about. The analysis
makes one instance of every rule in `grader.static.rules.ALL` per notebook (so a rule may keep
what it has seen on `self`) and fires each event at every rule; a rule reports through
`self.report`, and reports a given cell and line once, its first message kept.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, TypeVar

from grader.findings import SEVERITIES, Finding

if TYPE_CHECKING:
    from grader.static.sources import Taint
    from grader.static.walk import Walk

LAYER = "static"

R = TypeVar("R", bound="Rule")


def rule(rule_id: str, severity: str, summary: str) -> Callable[[type[R]], type[R]]:
    """Name a rule class `rule_id`; its docstring is its explanation. Ids are a contract: reports use them."""
    if severity not in SEVERITIES:
        raise ValueError(f"rule {rule_id}: severity {severity!r} is not one of {', '.join(SEVERITIES)}")

    def register(cls: type[R]) -> type[R]:
        cls.id, cls.severity, cls.summary = rule_id, severity, summary
        cls.explanation = inspect.cleandoc(cls.__doc__ or "")
        return cls

    return register


class Findings:
    """What the rules of one analysis reported, each (rule, cell, line) once."""

    def __init__(self) -> None:
        self.found: list[Finding] = []
        self._seen: set[tuple[str, int, int | None]] = set()

    def add(self, rule: Rule, cell: int, line: int | None, message: str) -> None:
        if (rule.id, cell, line) not in self._seen:
            self._seen.add((rule.id, cell, line))
            self.found.append(Finding(LAYER, rule.id, rule.severity, message, cell, line))


class Rule:
    """One static rule. The events below do nothing here; a rule overrides those it checks."""

    id: ClassVar[str]
    severity: ClassVar[str]
    summary: ClassVar[str]
    explanation: ClassVar[str]

    def __init__(self, findings: Findings) -> None:
        self.findings = findings

    def report(self, walk: Walk, node: ast.AST, message: str) -> None:
        """A finding at `node`, in the cell the walk is in."""
        self.findings.add(self, walk.cell, node.lineno, message)

    # ------------------------------------------------------------ before the walk

    def magic_write(self, cell: int, line: int, text: str) -> None:
        """A magic or shell line writes a run record or a COURSE_* setting."""

    def unparsed(self, cell: int, line: int | None, error: str) -> None:
        """A cell does not parse, even with its magics blanked; the walk skips it."""

    def start(self, walk: Walk) -> None:
        """Every parsed cell is in `walk.cells`: a rule may note facts about the whole notebook."""

    # ------------------------------------------------------------ during the walk, in execution order

    def reference(self, walk: Walk, node: ast.AST, path: str) -> None:
        """The code names a dotted path: an import, an imported module's attribute, a star-imported name."""

    def call(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        """A call, before the walk follows it into notebook code. `choosing`: its value is kept
        (assigned, tested, returned)."""

    def called(self, walk: Walk, call: ast.Call, choosing: bool) -> None:
        """The same call, once the walk has followed it and applied its container mutations."""

    def subscript(self, walk: Walk, node: ast.Subscript, choosing: bool) -> None:
        """An item lookup `x[k]` (not an assignment target)."""

    def store(self, walk: Walk, target: ast.Attribute | ast.Subscript, taint: Taint) -> None:
        """`obj.attr = v`, `obj[k] = v` or `del obj.attr`; `taint` is the value's ({} for del)."""

    def branch(self, walk: Walk, stmt: ast.If | ast.While) -> None:
        """An `if` or `while`, after its test is walked (for a while loop, after its body too)."""

    def escape(self, walk: Walk, node: ast.AST, where: str) -> None:
        """The texts final_evaluation gives predict leave predict, to `where`."""

    def too_deep(self, walk: Walk, stmt: ast.stmt) -> None:
        """A statement nested too deeply to walk; the walk skipped it."""

    # ------------------------------------------------------------ after the walk

    def end(self, walk: Walk) -> None:
        """Every cell is walked: a rule may judge what it noted against the whole notebook."""


class RuleSet:
    """One instance of each rule, for one analysis, sharing its findings."""

    def __init__(self, rules: list[type[Rule]]) -> None:
        self.findings = Findings()
        self.rules = [cls(self.findings) for cls in rules]

    def fire(self, event: str, *args: object) -> None:
        """Call the method named `event` of every rule with `args`."""
        for each in self.rules:
            getattr(each, event)(*args)
