"""The sealed sandbox: a student's process sees its folder, the course copy it is given, and read-only
system and library folders; nothing else on the grading machine.

The probe notebook below is what a determined student would run: a walk of the whole filesystem for
course data with labels, other students' submissions, the instructor's source notebooks and the
grader's secrets. It must find none of them, and still run to the end.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from notebooks import isolation, sandbox

needs_bwrap = pytest.mark.skipif(
    not isolation.sealed_available(), reason="bubblewrap cannot seal here (.ci/run installs it)"
)

PROBE = r"""
import json, os
wanted = {"labelled_data": [], "students": [], "instructor": [], "secrets": [], "own_copy": []}
for root, dirs, files in os.walk("/"):
    dirs[:] = [d for d in dirs if os.path.join(root, d) not in ("/proc", "/sys", "/dev")]
    for name in files:
        path = os.path.join(root, name)
        if name == "test.parquet":
            wanted["own_copy" if path.startswith(os.environ["COURSE_CACHE"]) else "labelled_data"].append(path)
        if "/submitted/someone_else/" in path:
            wanted["students"].append(path)
        if "/assignments/source/week" in path or path.endswith("/reference_solutions/engine.py"):
            wanted["instructor"].append(path)
        if name in (".grading-salt", "answer_key.json"):
            wanted["secrets"].append(path)
print(json.dumps(wanted))
"""


def _course_machine(tmp: Path) -> dict[str, Path]:
    """A grading machine's disk in miniature: a grader cache with labels, a course folder with another
    student's submission and a salt, and the perturbed copy this student is given."""
    files = {
        "cache": tmp / "grader-cache" / "synthetic" / "course" / "raw" / "test.parquet",
        "other": tmp / "course" / "submitted" / "someone_else" / "week1" / "week1_lab.ipynb",
        "salt": tmp / "course" / ".grading-salt",
        "key": tmp / "answer_key.json",
        "copy": tmp / "course" / "grading" / "week1" / "me" / "cache" / "synthetic" / "c" / "raw" / "test.parquet",
    }
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("secret")
    return files


@needs_bwrap
def test_a_filesystem_search_finds_nothing_it_should_not(tmp_path):
    files = _course_machine(tmp_path)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(PROBE)]
    nbformat.write(nb, tmp_path / "probe.ipynb")
    copy = files["copy"].parents[3]
    run = sandbox.execute_notebook(
        tmp_path / "probe.ipynb",
        tmp_path / "course" / "grading" / "week1" / "me" / "run",
        env={"COURSE_CACHE": str(copy)},
        isolation="sealed",
        readable=[copy],
    )
    assert run.status == "ok" and run.isolation == "sealed", run.message
    found = json.loads(nbformat.read(run.output_path, as_version=4).cells[0].outputs[0]["text"])
    assert found["own_copy"] == [str(files["copy"])]  # the copy it is meant to use, and only that
    assert found["labelled_data"] == [] and found["students"] == [] and found["secrets"] == []
    assert found["instructor"] == []  # the project's assignments/source and reference_solutions are masked


@needs_bwrap
def test_sealed_code_cannot_write_outside_its_folder(tmp_path):
    target = tmp_path / "outside.txt"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"open({str(target)!r}, 'w').write('x')")]
    nbformat.write(nb, tmp_path / "write.ipynb")
    run = sandbox.execute_notebook(tmp_path / "write.ipynb", tmp_path / "run", isolation="sealed")
    assert run.isolation == "sealed" and not target.exists()  # at most a write into its own throwaway /tmp


def test_grading_refuses_without_a_sealed_sandbox(tmp_path):
    """Where bubblewrap is missing, `course grade` says so in one line and grades nothing."""
    (tmp_path / "submitted" / "a" / "week1").mkdir(parents=True)
    env = {**os.environ, "PATH": os.path.dirname(sys.executable)}  # no /usr/bin: no bwrap
    proc = subprocess.run(
        [sys.executable, "-m", "harness.cli", "grade", "week1", "--course-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 2 and "sealed sandbox" in proc.stderr and "--allow-weak-sandbox" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "results").exists()
