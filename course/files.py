"""File chores every stage shares: atomic writes and spreadsheet-safe CSV.

A grade, a run record or a band file is written whole or not at all: a crash (or a second grader)
never leaves half a file where a reader expects a whole one. CSV cells a spreadsheet would read as a
formula are escaped, because grades and names travel to Moodle and Excel.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def atomic_write(path: Path, payload: str | bytes) -> Path:
    """Write `payload` to `path` through a temporary file in the same folder, then rename it into place.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a" / "b.txt"
    >>> atomic_write(p, "hello").read_text()
    'hello'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = payload.encode("utf-8") if isinstance(payload, str) else payload
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False) as tmp:
        tmp.write(data)
    os.replace(tmp.name, path)
    return path


def csv_cell(value) -> str:
    """A cell as text, prefixed with "'" where a spreadsheet would read it as a formula.

    >>> csv_cell('=HYPERLINK("http://x")'), csv_cell(-0.5), csv_cell("+1 day"), csv_cell(None)
    ('\\'=HYPERLINK("http://x")', '-0.5', "'+1 day", '')
    """
    text = "" if value is None else str(value)
    if text and text[0] in FORMULA_START:
        try:
            float(text)  # a negative number is a number, not a formula
        except ValueError:
            return "'" + text
    return text


def csv_text(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A whole CSV document, every cell escaped with `csv_cell`.

    >>> csv_text(["name", "grade"], [["=1+1", 3]])
    "name,grade\\n'=1+1,3\\n"
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(v) for v in header])
    writer.writerows([[csv_cell(v) for v in row] for row in rows])
    return buffer.getvalue()
