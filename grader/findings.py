"""One integrity finding: the record every grading layer emits, so reports can merge them.

Layers (static analysis, access log, re-execution, statistics, ...) each name their own rules; the
severity orders them for the instructor: selection on or training with test first, then fitting
preprocessing on val/test and re-splitting, then a label encoder fitted on all labels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

SEVERITIES = ("critical", "major", "minor", "info")


@dataclass(frozen=True)
class Finding:
    """What a layer saw, where (notebook cell index and 1-based line, when known) and how bad it is."""

    layer: str
    rule: str
    severity: str
    message: str
    cell: int | None = None
    line: int | None = None
    run: str | None = None  # the graded run it concerns (record layers), when known
    notebook: str | None = None  # the notebook it was found in (static layer); affects the runs it writes

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity {self.severity!r} is not one of {', '.join(SEVERITIES)}")

    def as_dict(self) -> dict:
        """JSON-ready copy, for results files and feedback pages."""
        return asdict(self)

    def where(self) -> str:
        """'cell 4, line 2', 'cell 4', or '' when the finding is not tied to a cell."""
        if self.cell is None:
            return ""
        return f"cell {self.cell}" + (f", line {self.line}" if self.line is not None else "")
