"""nbgrader glue: a course directory, release, submissions (incl. a Moodle zip), autograde, feedback.

nbgrader does the notebook work it is good at — stripping solutions and hidden tests at release,
restoring and running them at autograde, rendering feedback — through its own command line, so what
the instructor sees is plain nbgrader. nbgrader calls `alembic` by name, so the venv's bin/ goes first
on PATH for every call.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from course.errors import MissingFileError
from course.resources import data_path
from notebooks.cells import is_test_cell

SOURCE = data_path("assignments", "source")
BIN = Path(sys.executable).parent


class TracebackToMessage(Preprocessor):
    """For feedback pages: an error in a graded cell shows only `Name: message`.

    A traceback quotes the failing source line, which for a hidden test is the hidden code itself.
    """

    enabled = Bool(True)  # nbconvert preprocessors are off unless enabled

    def preprocess_cell(self, cell, resources, index):
        if is_test_cell(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename')}: {output.get('evalue')}"]
        return cell, resources


class NbgraderError(RuntimeError):
    """An nbgrader command that failed; the message holds its last lines of output."""


def write_config(root: Path, course_id: str = "cfpb113", cell_timeout_s: int = 300) -> Path:
    """`nbgrader_config.py` for a course directory at `root` (exchange inside it, sqlite gradebook)."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "nbgrader_config.py"
    path.write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.course_id = {course_id!r}\n"
        f"c.CourseDirectory.root = {str(root)!r}\n"
        f"c.Exchange.root = {str(root / 'exchange')!r}\n"
        f"c.ExecutePreprocessor.timeout = {cell_timeout_s}\n"
        "c.ExecutePreprocessor.interrupt_on_timeout = True\n"
        "# Feedback: hidden test regions removed, and failing test cells show their message, not a\n"
        "# traceback that would quote the hidden code.\n"
        "from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor\n"
        "from nbgrader.preprocessors import ClearHiddenTests, GetGrades\n"
        "from grader.nbgrader_course import TracebackToMessage\n"
        "c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, TracebackToMessage, CSSHTMLHeaderPreprocessor]\n",
        encoding="utf-8",
    )
    return path


def init_course(root: Path, weeks: list[str]) -> Path:
    """A course directory holding the source notebooks of `weeks` and its nbgrader config."""
    write_config(root)
    for week in weeks:
        if not (SOURCE / week).is_dir():
            raise MissingFileError(f"no source assignment {SOURCE / week}")
        target = root / "source" / week
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(SOURCE / week, target)
    return root


def nbgrader(root: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 1800) -> str:
    """Run one nbgrader command in `root`; raise NbgraderError with its output if it fails."""
    full_env = {**os.environ, **(env or {}), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=root,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise NbgraderError(f"nbgrader {' '.join(args)} failed (exit {proc.returncode}):\n{tail}")
    return output


def release(root: Path, week: str) -> Path:
    """Generate the student version (solutions and hidden tests stripped) and release it."""
    nbgrader(root, "generate_assignment", week, "--force")
    nbgrader(root, "release_assignment", week, "--force")
    return root / "release" / week


def submit(root: Path, week: str, student: str, notebooks: list[Path]) -> Path:
    """Place a student's notebooks where nbgrader expects a collected submission."""
    folder = root / "submitted" / student / week
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for nb in notebooks:
        shutil.copy(nb, folder / nb.name)
    return folder


MOODLE_ENTRY = re.compile(r"^(?P<name>[^/]+?)_(?P<id>\d+)_assignsubmission_file_/(?P<file>[^/]+\.ipynb)$")


def import_moodle_zip(root: Path, week: str, zip_path: Path, notebook_names: list[str]) -> dict[str, str]:
    """Unpack Moodle's "download all submissions" zip into nbgrader's submitted/ layout.

    Moodle names each folder `<Full Name>_<participant id>_assignsubmission_file_`. Students are keyed by
    participant id (names are not unique and not filesystem-safe); a notebook uploaded under another name
    is matched to the week's notebook when the student uploaded exactly one. Returns {student id: name}.
    """
    students: dict[str, str] = {}
    with zipfile.ZipFile(zip_path) as archive:
        uploads: dict[str, list[zipfile.ZipInfo]] = {}
        for info in archive.infolist():
            match = MOODLE_ENTRY.match(info.filename)
            if match:
                students[match["id"]] = match["name"]
                uploads.setdefault(match["id"], []).append(info)
        for student, infos in uploads.items():
            folder = root / "submitted" / student / week
            folder.mkdir(parents=True, exist_ok=True)
            for info in infos:
                name = Path(info.filename).name
                if name not in notebook_names and len(infos) == 1 and len(notebook_names) == 1:
                    name = notebook_names[0]
                (folder / name).write_bytes(archive.read(info))
    return students


def autograde(root: Path, week: str, student: str, env: dict[str, str]) -> str:
    """nbgrader autograde for one student: restores locked cells and hidden tests, runs, scores."""
    return nbgrader(root, "autograde", week, "--student", student, "--create", "--force", env=env)


def feedback(root: Path, week: str, student: str | None = None) -> str:
    args = ["generate_feedback", week, "--force"] + (["--student", student] if student else [])
    return nbgrader(root, *args)


def cell_scores(root: Path, week: str, student: str) -> list[dict]:
    """Per graded cell: notebook, cell id, score, max score, as nbgrader's gradebook holds them."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        try:
            submission = gb.find_submission(week, student)
        except MissingEntry:
            return []
        rows = []
        for nb in submission.notebooks:
            for grade in nb.grades:
                rows.append(
                    {
                        "notebook": nb.name,
                        "cell": grade.name,
                        "score": float(grade.score or 0.0),
                        "max_score": float(grade.max_score),
                        "auto": grade.auto_score is not None,
                        "cell_type": grade.cell.cell_type,
                    }
                )
        return rows
