"""Static analysis of a notebook's code cells: did test data reach training, selection or evaluation?

Layer 2 of the integrity checks (DESIGN.md, "Grading"). Pure `ast`: nothing is executed, so it works
on any submission, even one that no longer runs. Each finding names a rule of `RULES`, the cell and
the line; the runtime layers (access log, re-execution with a perturbed test split) back it up. It
is evidence for a human grader, not a proof.

The steps, one module each: `cells` reads the code cells in execution order and blanks IPython
magics; `walk` goes through the parsed cells statement by statement, keeping the taint of every
name (`taint`: which values derive from test, val, the hub copy, ...) and firing events; the rules
in `rules/` listen to those events and report. A cell that does not parse yields one
`syntax-error` finding, and the other cells are analysed as usual.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat

from grader.findings import Finding
from grader.static.cells import code_cells, strip_magics
from grader.static.rules import ALL
from grader.static.rules.base import LAYER, RuleSet
from grader.static.walk import Walk

__all__ = ["LAYER", "RULES", "analyze_cells", "analyze_notebook", "code_cells", "strip_magics"]

# rule id -> (severity, what it means). The ids are a contract: reports and tests use them.
RULES: dict[str, tuple[str, str]] = {cls.id: (cls.severity, cls.summary) for cls in ALL}


def analyze_notebook(nb: nbformat.NotebookNode | str | Path) -> list[Finding]:
    """Findings for a notebook (a NotebookNode, or the path of an .ipynb file), in execution order."""
    if not isinstance(nb, nbformat.NotebookNode):
        nb = nbformat.read(str(nb), as_version=4)
    return _analyze(code_cells(nb))


def analyze_cells(sources: list[str]) -> list[Finding]:
    """Findings for code cells given in execution order; `cell` is the index into `sources`."""
    return _analyze(list(enumerate(sources)))


def _analyze(cells: list[tuple[int, str]]) -> list[Finding]:
    rules = RuleSet(ALL)
    parsed = []
    for index, source in cells:
        code, writes = strip_magics(source)
        for line, text in writes:
            rules.fire("magic_write", index, line, text)
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as err:  # ValueError: null bytes
            rules.fire("unparsed", index, getattr(err, "lineno", None), str(getattr(err, "msg", err)))
            continue
        parsed.append((index, tree))
    Walk(parsed, rules).run()
    order = {index: position for position, (index, _) in enumerate(cells)}
    ids = list(RULES)
    return sorted(rules.findings.found, key=lambda f: (order[f.cell], f.line or 0, ids.index(f.rule)))
