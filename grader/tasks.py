"""One student's grading as a self-contained task: what travels to a worker, what runs there, what comes back.

A worker shares no filesystem with the instructor, so a task carries bytes: the student's submission
folder (a `Submission`) and the week's `SourceBundle` (source notebooks, the course's nbgrader config and
its gradebook without the students), built once per week. `run_task` rebuilds a minimal nbgrader course
in a scratch folder, grades there with `grader.pipeline.grade_student` in a child process (so a task that
overruns its time can be stopped, and one that dies takes nothing else with it), and returns the result
and the autograded files as a `TaskOutput`. `store_output` writes them into the course folder on the
instructor's side. The process pool and a Dask cluster run this same task, so both grade alike.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

from course.errors import MissingFileError
from course.files import atomic_write
from grader import perturb
from grader.results import ResultsError, StudentResult

MARGIN_S = 300  # nbgrader, the course copies and the record checks on top of the two re-executions
RETURNED = ("*.ipynb", "runs/*.json", "runs/*.npz")  # what the leaderboard and feedback read
# What the layers read from the course folder besides the notebooks: the perturbation salt (the same secret
# draws as a grading in the course folder), deadlines and late rule, the week's review decisions.
COURSE_FILES = (perturb.SALT_FILE, "course.yaml", "grading.yaml", "reviews/{week}.jsonl")


@dataclass(frozen=True)
class Submission:
    """A student's submission folder (`submitted/<student>/<week>/`, everything in it) as a zip."""

    student: str
    week: str
    sha256: str  # of the folder's content, stored in results.json for `--resume`
    data: bytes


@dataclass(frozen=True)
class SourceBundle:
    """The week's source notebooks, the course's nbgrader config, its gradebook without the students and the
    course files the layers read (`COURSE_FILES`)."""

    week: str
    sha256: str
    data: bytes


@dataclass(frozen=True)
class TaskOutput:
    """What a task sends back: results.json's text and the autograded files (path in the folder -> bytes)."""

    student: str
    results_json: str
    files: dict[str, bytes]
    seconds: float


def default_timeout(spec: dict) -> float:
    """Two sandboxed re-executions per notebook, each up to the spec's `timeout_s`, and a margin."""
    return 2 * spec.get("timeout_s", 600) * len(spec["notebooks"]) + MARGIN_S


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def folder_sha256(folder: Path) -> str:
    """sha256 over every file's relative path and bytes: equal folders, equal hashes."""
    digest = hashlib.sha256()
    for path in _files(folder):
        name, data = path.relative_to(folder).as_posix().encode(), path.read_bytes()
        digest.update(len(name).to_bytes(8, "big") + name + len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def zip_folder(folder: Path, prefix: str = "") -> bytes:
    """Every file under `folder`, with fixed timestamps so that equal folders zip to equal bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _files(folder):
            info = zipfile.ZipInfo(prefix + path.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def unpack(data: bytes, folder: Path) -> Path:
    """A zip made by `zip_folder` back into files (zipfile drops absolute paths and '..' on the way)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(folder)
    return folder


def package_submission(root: Path, week: str, student: str) -> Submission:
    folder = root / "submitted" / student / week
    if not folder.is_dir():
        raise MissingFileError(f"no submission folder {folder}")
    return Submission(student, week, folder_sha256(folder), zip_folder(folder))


def _scratch_config(course_config: str, root: Path) -> str:
    """The course's nbgrader config, pointed at the scratch course: nbgrader never writes outside it."""
    return (
        course_config
        + "\n# grading task: every nbgrader path inside this scratch course\n"
        + f"c.CourseDirectory.root = {str(root)!r}\n"
        + f"c.CourseDirectory.db_url = {'sqlite:///' + str(root / 'gradebook.db')!r}\n"
        + f"c.Exchange.root = {str(root / 'exchange')!r}\n"
    )


def source_bundle(root: Path, week: str) -> SourceBundle:
    """Built once per week from the course folder: what every task of the week needs besides the submission."""
    config, source, gradebook = root / "nbgrader_config.py", root / "source" / week, root / "gradebook.db"
    for path, what in ((config, "nbgrader config"), (source, "source assignment"), (gradebook, "gradebook")):
        if not path.exists():
            raise MissingFileError(f"no {what} {path} (run `course release {week}` first)")
    perturb.course_salt(root)  # made on first use, as a grading in the course folder would
    with tempfile.TemporaryDirectory(prefix="source-bundle-") as tmp:
        course = Path(tmp) / "course"
        shutil.copytree(source, course / "source" / week)
        for name in [n.format(week=week) for n in COURSE_FILES]:
            if (root / name).is_file():
                atomic_write(course / name, (root / name).read_bytes())
        atomic_write(course / "nbgrader_config.py", config.read_bytes())  # each task points it at its scratch
        _assignments_only(gradebook, course / "gradebook.db", week)
        data = zip_folder(course)
    return SourceBundle(week, hashlib.sha256(data).hexdigest(), data)


def _assignments_only(source: Path, target: Path, week: str) -> None:
    """A copy of the course's gradebook without its students: autograde needs the assignment's cells, and
    a worker sees no one else's grades."""
    from nbgrader.api import Gradebook, MissingEntry

    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)  # a consistent copy even while another process writes
    with Gradebook(f"sqlite:///{target}") as gb:
        try:
            gb.find_assignment(week)
        except MissingEntry:
            raise MissingFileError(f"{source} has no assignment {week!r}: run `course release {week}` first") from None
        for student in list(gb.students):
            gb.remove_student(student.id)
    with closing(sqlite3.connect(target)) as db:
        db.execute("VACUUM")


def _configure(course: Path) -> None:
    config = course / "nbgrader_config.py"
    config.write_text(_scratch_config(config.read_text(encoding="utf-8"), course), encoding="utf-8")


def run_task(
    submission: Submission, bundle: SourceBundle, spec: dict, profile: str, timeout_s: float, course_root: str
) -> TaskOutput:
    """Grade one student in a scratch course and return what the instructor side needs; never raises
    for a bad submission. Paths in messages name `course_root`, as if graded in the course folder."""
    start = time.perf_counter()
    with scratch_folder("grade", submission.week, submission.student) as scratch:
        course = scratch / "course"
        _configure(unpack(bundle.data, course))
        unpack(submission.data, course / "submitted" / submission.student / submission.week)
        job = {"root": str(course), "week": submission.week, "student": submission.student}
        (scratch / "job.json").write_text(json.dumps({**job, "spec": spec, "profile": profile}), encoding="utf-8")
        text = _grade_in_child(scratch, submission.student, timeout_s)
        autograded = course / "autograded" / submission.student / submission.week
        files = {
            p.relative_to(autograded).as_posix(): p.read_bytes()
            for pattern in RETURNED
            for p in sorted(autograded.glob(pattern))
        }
        return TaskOutput(
            submission.student, text.replace(str(course), course_root), files, time.perf_counter() - start
        )


@contextmanager
def scratch_folder(kind: str, week: str, student: str) -> Iterator[Path]:
    """A scratch folder named for the worker process that owns it, removed on the way out. A worker
    killed mid-task cannot clean up after itself, so every task, as it starts and as it ends, also
    removes the `kind` folders whose owner is dead."""
    _sweep(kind)
    scratch = Path(tempfile.mkdtemp(prefix=f"{kind}-{week}-{student}-p{os.getpid()}-"))
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        _sweep(kind)


def _sweep(kind: str) -> None:
    for folder in Path(tempfile.gettempdir()).glob(f"{kind}-*"):
        owner = re.search(r"-p(\d+)-[a-z0-9_]+$", folder.name)
        if owner and not _alive(int(owner.group(1))):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    """A killed process stays a zombie until its parent reaps it; it is dead all the same."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _grade_in_child(scratch: Path, student: str, timeout_s: float) -> str:
    """`python -m grader.tasks JOB` with a hard time limit; a failed result when it overruns or dies."""
    log, tmp = scratch / "child.log", scratch / "tmp"
    tmp.mkdir()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "grader.tasks", str(scratch / "job.json"), str(os.getpid())],
            cwd=scratch,
            env={**os.environ, "TMPDIR": str(tmp)},  # the sandbox's and nbgrader's temporary files stay inside
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_tree(proc.pid)
            proc.wait()
            return _failed(student, f"timed out after {timeout_s:g} s")
    result = scratch / "result.json"
    if proc.returncode != 0 or not result.is_file():
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        return _failed(student, f"grading process exited with status {proc.returncode}\n{tail}")
    return result.read_text(encoding="utf-8")


def _failed(student: str, error: str) -> str:
    return json.dumps(StudentResult(student, status="failed", error=error).as_results_json(), indent=1)


def failed_output(student: str, error: str) -> TaskOutput:
    """What the instructor side records for a task that never returned (it raised, or its workers died)."""
    return TaskOutput(student, _failed(student, error), {}, 0.0)


def _kill_tree(pid: int) -> None:
    try:
        parent = psutil.Process(pid)
        procs = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for proc in procs:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass


def _die_with_parent(scratch: Path, parent: int) -> None:
    """A worker killed mid-task must not leave its grading running: stop the tree and the scratch with it.
    `parent` is the task's pid as it started this process: a parent that died even before now counts."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        children = psutil.Process().children(recursive=True)
        for child in children:
            _kill_tree(child.pid)
        psutil.wait_procs(children, timeout=10)  # nothing still writing into the folder as it goes
        shutil.rmtree(scratch, ignore_errors=True)
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def _child(job_path: str, parent: int) -> int:
    _die_with_parent(Path(job_path).parent, parent)
    from grader.pipeline import grade_student

    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    result = grade_student(Path(job["root"]), job["week"], job["student"], job["spec"], job["profile"])
    atomic_write(Path(job_path).with_name("result.json"), json.dumps(result.as_results_json(), indent=1))
    return 0


def store_output(root: Path, week: str, output: TaskOutput, sha256: str) -> StudentResult:
    """The instructor side: autograded files swapped in whole, nbgrader's gradebook, then results.json."""
    try:
        result = StudentResult.from_json(json.loads(output.results_json), f"grading task of {output.student}")
    except (ValueError, ResultsError) as err:
        result = StudentResult(output.student, status="failed", error=f"unreadable task result: {err}")
    _replace_folder(root / "autograded" / output.student / week, output.files)
    if output.files:
        record_autogrades(root, week, output.student)
    result.submission_sha256 = sha256
    result.write(root / "results" / week / output.student / "results.json")
    return result


def _replace_folder(target: Path, files: dict[str, bytes]) -> None:
    """Write the new folder beside the old one, then swap: a reader sees the old or the new, never half."""
    incoming, old = target.with_name(f".{target.name}.incoming"), target.with_name(f".{target.name}.old")
    for stale in (incoming, old):
        shutil.rmtree(stale, ignore_errors=True)
    for name, data in files.items():
        atomic_write(incoming / name, data)
    if target.exists():
        os.replace(target, old)
    if files:
        os.replace(incoming, target)
    shutil.rmtree(old, ignore_errors=True)


def record_autogrades(root: Path, week: str, student: str) -> None:
    """Put the autograded notebooks' scores into the course's gradebook, as nbgrader autograde does,
    so that `course feedback` (nbgrader generate_feedback) finds them."""
    import nbformat
    from nbgrader.api import Gradebook, MissingEntry
    from nbgrader.preprocessors import SaveAutoGrades

    url = f"sqlite:///{root / 'gradebook.db'}"
    with Gradebook(url) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes from nbgrader's own code
        try:
            gb.find_assignment(week)
        except MissingEntry:
            return  # never released through nbgrader here: there is no feedback to prepare
        gb.update_or_create_student(student)
        gb.update_or_create_submission(week, student)
    for path in sorted((root / "autograded" / student / week).glob("*.ipynb")):
        resources = {"nbgrader": {"notebook": path.stem, "assignment": week, "student": student, "db_url": url}}
        SaveAutoGrades().preprocess(nbformat.read(path, as_version=4), resources)


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1], int(sys.argv[2])))
