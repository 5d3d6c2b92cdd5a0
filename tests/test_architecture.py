"""The house rules a reader relies on: layers that import one way, modules short enough to read."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("course", "notebooks", "grader", "reference_solutions", "leaderboard", "harness")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
LONG_BY_DESIGN = {"course/synthetic.py"}  # the synthetic course's word lists and label tables
MAX_LINES = 500


def lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": str(LINT_IMPORTS.parent), "PYTHONPATH": str(cwd)},
        timeout=300,
    )


def test_layer_contracts_hold():
    proc = lint_imports(ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout


@pytest.mark.parametrize(
    "low, high",
    [
        ("course", "grader"),
        ("notebooks", "reference_solutions"),
        ("grader", "reference_solutions"),
        ("leaderboard", "harness"),
    ],
)
def test_an_upward_import_breaks_the_contract(tmp_path, low, high):
    """The contract is not decorative: one import from a lower layer upward (or across peers) fails it."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("*.yaml", "__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / low / "upward.py").write_text(f"import {high}\n")
    proc = lint_imports(tmp_path)
    assert proc.returncode != 0
    assert f"{low}.upward -> {high}" in proc.stdout


def test_no_module_is_too_long_to_read():
    long = {
        str(p.relative_to(ROOT)): n
        for package in PACKAGES
        for p in (ROOT / package).rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert set(long) <= LONG_BY_DESIGN, f"modules over {MAX_LINES} lines: {long}"
