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
from datetime import datetime, timezone
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from course.errors import MissingFileError
from course.resources import data_path
from grader.late import write_timestamp
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
    """`nbgrader_config.py` for a course directory at `root` (exchange inside it, sqlite gradebook).

    It pins no path: the root is the folder the config file sits in, so a copied, moved or restored
    course reads and writes only inside itself.
    """
    root.mkdir(parents=True, exist_ok=True)
    path = root / "nbgrader_config.py"
    path.write_text(
        "import os\n"
        "c = get_config()\n"
        "root = os.path.dirname(os.path.abspath(__file__))  # the course folder, wherever it now is\n"
        f"c.CourseDirectory.course_id = {course_id!r}\n"
        "c.CourseDirectory.root = root\n"
        "c.Exchange.root = os.path.join(root, 'exchange')\n"
        f"c.ExecutePreprocessor.timeout = {cell_timeout_s}\n"
        "c.ExecutePreprocessor.interrupt_on_timeout = True\n"
        "# A submission's runs/ (the student's own full-profile records) stays out of the autograded copy:\n"
        "# the grader reads it from submitted/, and the smoke re-run writes its own records there.\n"
        "c.CourseDirectory.ignore = ['.ipynb_checkpoints', '*.pyc', '__pycache__', 'feedback', 'runs']\n"
        "# The student's code runs in the grading sandbox, never in nbgrader's own process.\n"
        "from nbconvert.preprocessors import ClearMetadataPreprocessor\n"
        "from nbgrader.preprocessors import AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput\n"
        "from nbgrader.preprocessors import SaveAutoGrades\n"
        "from grader.sandboxed_execute import SandboxedExecute\n"
        "c.Autograde.autograde_preprocessors = [SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor,\n"
        "                                       LimitOutput, SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]\n"
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


def submit(
    root: Path, week: str, student: str, notebooks: list[Path], runs: Path | None = None, when: datetime | None = None
) -> Path:
    """Place a student's notebooks (and their `runs/` folder of run records) where nbgrader expects a
    collected submission, with the time it arrived (`timestamp.txt`, as nbgrader's collect writes it;
    default now): the late rule reads it."""
    folder = root / "submitted" / student / week
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for nb in notebooks:
        shutil.copy(nb, folder / nb.name)
    if runs is not None and Path(runs).is_dir():
        shutil.copytree(runs, folder / "runs")
    write_timestamp(folder, when or datetime.now(timezone.utc))
    return folder


MOODLE_ENTRY = re.compile(r"^(?P<name>[^/]+?)_(?P<id>\d+)_assignsubmission_file_/(?P<file>[^/]+\.ipynb)$")
MOODLE_RUN_FILE = re.compile(
    r"^(?P<name>[^/]+?)_(?P<id>\d+)_assignsubmission_file_/(?:runs/)?(?P<file>[A-Za-z0-9][\w.-]*\.(?:json|npz))$"
)


def import_moodle_zip(root: Path, week: str, zip_path: Path, notebook_names: list[str]) -> dict[str, str]:
    """Unpack Moodle's "download all submissions" zip into nbgrader's submitted/ layout.

    Moodle names each folder `<Full Name>_<participant id>_assignsubmission_file_`. Students are keyed by
    participant id (names are not unique and not filesystem-safe); a notebook uploaded under another name
    is matched to the week's notebook when the student uploaded exactly one. Run records the student
    uploaded (`<run>.json`, `<run>.scores.npz`, loose or in a `runs/` folder) go to the submission's `runs/`.
    The latest entry time of a student's notebooks (the zip's times, read as UTC) becomes the submission's
    `timestamp.txt`. Returns {student id: name}.
    """
    students: dict[str, str] = {}
    with zipfile.ZipFile(zip_path) as archive:
        uploads: dict[str, list[zipfile.ZipInfo]] = {}
        for info in archive.infolist():
            record = MOODLE_RUN_FILE.match(info.filename)
            if record:
                target = root / "submitted" / record["id"] / week / "runs" / record["file"]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(info))
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
            write_timestamp(folder, max(datetime(*i.date_time, tzinfo=timezone.utc) for i in infos))
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
