"""One object through which every read of a split passes, and the log it keeps.

The log records (time, split, operation, caller, phase) for each read. The phase says whether the
read happened before `final_evaluation`, inside it, or after it; a test-split read before the final
evaluation is what the grader looks for. The caller is the first frame outside this package, so a
notebook read shows up as its cell's file and line.
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from course.catalog import CourseData

PACKAGE_DIR = str(Path(__file__).parent)
PHASES = ("before_final_evaluation", "final_evaluation", "after_final_evaluation")


def _caller() -> str:
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown>"
    return f"{frame.f_code.co_filename}:{frame.f_lineno} in {frame.f_code.co_name}"


class SplitStore:
    """Holds a course's splits; hands out copies and logs who asked for which split, and when."""

    def __init__(self, data: CourseData, hide_test_labels: bool = False):
        self.data = data
        self.hide_test_labels = hide_test_labels
        self.log: list[dict] = []
        self.phase = PHASES[0]
        self._start = time.monotonic()

    def read(self, split: str, op: str) -> pd.DataFrame:
        """A copy of one split (the caller may mutate it freely), logged under `op`."""
        frame = self.data.splits[split]
        self.log.append(
            {
                "t": round(time.monotonic() - self._start, 4),
                "split": split,
                "op": op,
                "caller": _caller(),
                "phase": self.phase,
            }
        )
        if split == "test" and self.hide_test_labels:
            return frame.drop(columns=["label", "label_name"]).copy()
        return frame.copy()

    @contextmanager
    def final_phase(self):
        """Mark reads inside `final_evaluation`; later reads are logged as after it."""
        self.phase = PHASES[1]
        try:
            yield
        finally:
            self.phase = PHASES[2]
