"""Notebook cells as the kernel ran them, and IPython magics turned into plain Python.

Code cells are read in execution order: by `execution_count` when every non-empty code cell has
one, else in document order. A cell keeps its index in `nb.cells` (0-based, markdown cells
counted), and magic lines become `pass` in place, so a finding's cell and 1-based line point at
what the student wrote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import nbformat

from grader.static.names import RUNS_FILE

_LINE_MAGIC = re.compile(r"^\s*(%%?[A-Za-z]|![^=]|\?|[\w.]+\?{1,2}\s*$|[\w.,\s]+=\s*(%[A-Za-z]|![^=]))")
_PYTHON_CELL_MAGICS = {"time", "timeit", "capture", "prun", "debug"}  # their body is still Python
_SHELL_WRITE = re.compile(r"(>|\b(cp|mv|tee|ln|rsync|install|touch)\b).*\bruns/\S*\.(json|npz)")
_ENV_MAGIC = re.compile(r"^\s*%(set_)?env\s+COURSE_\w+")


def code_cells(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(index in nb.cells, source) of each code cell, in the order the kernel ran them when known."""
    cells = [(i, _source(c)) for i, c in enumerate(nb.cells) if c.get("cell_type") == "code"]
    counts = [nb.cells[i].get("execution_count") for i, source in cells if source.strip()]
    if counts and all(isinstance(n, int) for n in counts):
        cells.sort(key=lambda c: nb.cells[c[0]].get("execution_count") or 0)
    return cells


def strip_magics(source: str) -> tuple[str, list[tuple[int, str]]]:
    """The cell as plain Python (magic lines become `pass`, so blocks and line numbers survive), and
    the run-record or COURSE_* environment writes those magic lines made, as (line, text)."""
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    writes = []
    whole_cell = False  # a %%bash, %%writefile ... cell: nothing in it is Python
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = lines[first].lstrip()[2:].split(maxsplit=1)
        whole_cell = not name or name[0] not in _PYTHON_CELL_MAGICS
        target = re.match(r"\s*%%(writefile|file)\s+(-a\s+)?(\S+)", lines[first])
        if target and RUNS_FILE.search(target.group(3).replace("\\", "/")):
            writes.append((first + 1, lines[first].strip()))
    out = []
    for number, line in enumerate(lines, 1):
        if whole_cell or _LINE_MAGIC.match(line):
            if _SHELL_WRITE.search(line) or _ENV_MAGIC.match(line):
                writes.append((number, line.strip()))
            line = "" if whole_cell else line[: len(line) - len(line.lstrip())] + "pass"
        out.append(line)
    return "\n".join(out), sorted(set(writes))


def _source(cell: Mapping) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source
