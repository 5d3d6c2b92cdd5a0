"""pytest plugin: `pytest --course-notebook week1_lab.ipynb` runs a notebook's public checks as tests.

The items are exactly what `course check` reports (grader.selfcheck): one pytest test per public
check, so a student can use the tool they already know and CI can gate on it. Without the option the
plugin does nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.selfcheck import HIDDEN_NOTE, run_self_check


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--course-notebook",
        action="append",
        default=[],
        metavar="NOTEBOOK",
        help="run this notebook's public course checks (repeatable)",
    )


def pytest_configure(config: pytest.Config) -> None:
    notebooks = config.getoption("--course-notebook")
    if notebooks:
        config.args[:] = [str(Path(nb).resolve()) for nb in notebooks]  # collect only the notebooks


def pytest_collect_file(parent: pytest.Collector, file_path: Path):
    wanted = {Path(nb).resolve() for nb in parent.config.getoption("--course-notebook")}
    if file_path.suffix == ".ipynb" and file_path.resolve() in wanted:
        return NotebookChecks.from_parent(parent, path=file_path)
    return None


class NotebookChecks(pytest.File):
    """Runs the notebook once, then yields one item per public check."""

    def collect(self):
        for item in run_self_check(self.path):
            yield CheckItem.from_parent(self, name=item.name, passed=item.passed, message=item.message)


class CheckFailed(Exception):
    pass


class CheckItem(pytest.Item):
    def __init__(self, *, passed: bool, message: str, **kwargs):
        super().__init__(**kwargs)
        self.passed, self.message = passed, message

    def runtest(self) -> None:
        if not self.passed:
            raise CheckFailed(self.message)

    def repr_failure(self, excinfo, style=None) -> str:
        if isinstance(excinfo.value, CheckFailed):
            return f"{self.name}: {self.message}\n{HIDDEN_NOTE}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"course check: {self.name}"
