"""Layers 1-2: each notebook must parse, then its code cells are read without running them."""

from __future__ import annotations

from dataclasses import replace

from grader import static
from grader.findings import Finding
from grader.grading import Grading, Stop
from notebooks import sandbox


def parse(g: Grading) -> None:
    """A notebook that is missing or does not parse stops the grading: nothing after it can run."""
    broken = []
    for name in g.spec["notebooks"]:
        path = g.submitted / name
        problem = sandbox.notebook_problem(path) if path.is_file() else f"{path.name} was not submitted"
        if problem:
            broken.append(Finding("submission", "unreadable-notebook", "major", f"{name}: {problem}"))
    if broken:
        raise Stop(broken)


def static_analysis(g: Grading) -> None:
    """The static rules over every notebook's code cells, in execution order."""
    for name in g.spec["notebooks"]:
        g.add([replace(f, notebook=name) for f in static.analyze_notebook(g.submitted / name)])
