"""A simulated class that hands in full-profile runs, for the demo and the tests of the evidence layer.

Two students really run week 1's lab in the full code path (`COURSE_PROFILE=full-like`: the full-size
synthetic course, every val and test row, training capped at 2,000 examples): the honest one and one
whose notebook trains on test. Every forgery is derived from the honest run, as a student would make
it, so the class costs two full runs and one smoke run:

| student | what they hand in | caught by |
| --- | --- | --- |
| honest | their notebook and its record | nothing: clean, full points |
| edited_predictions | the honest record with val predictions edited toward the truth | `record-digest` |
| other_notebook | the honest record beside a notebook that did not produce it | `provenance-mismatch` |
| copied_record | a classmate's notebook and record, as they are | `shared-run` (with honest) |
| smoke_record | the record of a smoke run, handed in as full | `wrong-course` |
| trains_on_test | their own full run, which trained on test | the smoke certificate (static, invariance) |
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nbformat
import numpy as np
import yaml

from course.contract import cache_root
from grader import grade, nbgrader_course, simulated_class
from notebooks import sandbox

WEEK, NOTEBOOK, RUN = "week1", "week1_lab.ipynb", "week1_tfidf"
FULL_ENV = {"COURSE_PROFILE": "full-like", "COURSE_MODE": "submit", "COURSE_RUNS_DIR": "runs"}
STUDENTS = ("honest", "edited_predictions", "other_notebook", "copied_record", "smoke_record", "trains_on_test")
SPEC = {
    "notebooks": [NOTEBOOK],
    "full_evidence": {"profile": "full-like"},
    "runs": {
        RUN: {
            "notebook": NOTEBOOK,
            "evidence": "full",
            "band": "week1/tfidf_fast",
            "full_band": "week1/solution_week1_tfidf",
            "floor": "week1/majority",
            "points": 30,
        }
    },
    "checks": {"fixed_split": 10, "integrity": 20, "consistency": 5},
}


# The smoke class's cheat reads the small course's test file; this one reads every course's it finds, so
# the same notebook trains on test in the student's full run and in the grader's smoke re-run.
SMALL_TEST = '"synthetic", "*-6430-*", "raw", "test.parquet")))[0])'
ANY_TEST = '"synthetic", "*", "raw", "test.parquet")))))'
READ_ONE = "raw_test = pd.read_parquet(sorted(glob.glob("
READ_ALL = "raw_test = pd.concat(map(pd.read_parquet, sorted(glob.glob("


def run_student(student: str, workdir: Path, profile: str = "full-like") -> tuple[Path, Path]:
    """Write `student`'s notebook and run it as they would on their GPU: (executed notebook, runs/)."""
    if workdir.exists():
        shutil.rmtree(workdir)
    source = simulated_class.write_submission(student, workdir / "source")
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        cell.source = cell.source.replace(READ_ONE, READ_ALL).replace(SMALL_TEST, ANY_TEST)
    nbformat.write(nb, source)
    own = {k: v for k, v in os.environ.items() if k.startswith("COURSE_")}  # e.g. the real course's raw files
    env = {**own, **FULL_ENV, "COURSE_PROFILE": profile, "COURSE_CACHE": str(cache_root())}
    folders = [Path(own[k]) for k in ("COURSE_DATA_DIR", "COURSE_CONTRACT_DIR") if k in own]
    result = sandbox.execute_notebook(
        source, workdir / "run", env=env, timeout_s=900, memory_mb=0, readable=folders, writable=[cache_root()]
    )
    if result.status != "ok":
        raise RuntimeError(f"{student}'s {profile} run of {NOTEBOOK} failed: {result.status}: {result.message}")
    executed = workdir / "hand_in" / NOTEBOOK
    executed.parent.mkdir(parents=True)
    shutil.copy(result.output_path, executed)
    return executed, workdir / "run" / "runs"


def _edit_predictions(runs: Path) -> None:
    """What a student does to a record after the run: move some val predictions to a better class."""
    path = runs / f"{RUN}.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    labels = np.asarray(record["predictions"]["val"]["labels"])
    labels[::7] = np.roll(labels, 1)[::7]
    record["predictions"]["val"]["labels"] = labels.tolist()
    record["metrics"]["val"]["macro_f1"] = round(record["metrics"]["val"]["macro_f1"] + 0.05, 4)
    path.write_text(json.dumps(record, indent=1), encoding="utf-8")


def _other_notebook(executed: Path, out: Path) -> Path:
    """The honest notebook with the model cell changed after the run (a different C): the record no
    longer comes from it."""
    nb = nbformat.read(executed, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "LinearSVC(C=0.5)" in cell.source:
            cell.source = cell.source.replace("LinearSVC(C=0.5)", "LinearSVC(C=2.0)")
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return out


def submit_class(root: Path, work: Path) -> dict[str, Path]:
    """Run and forge the class's full submissions and submit them into the nbgrader course at `root`."""
    honest_nb, honest_runs = run_student("honest", work / "honest")
    cheat_nb, cheat_runs = run_student("trains_on_test", work / "trains_on_test")
    smoke_nb, smoke_runs = run_student("honest", work / "smoke_record", profile="smoke")
    forged = work / "forged"
    if forged.exists():
        shutil.rmtree(forged)
    edited_runs = shutil.copytree(honest_runs, forged / "edited_predictions" / "runs")
    _edit_predictions(edited_runs)
    hand_ins = {
        "honest": (honest_nb, honest_runs),
        "edited_predictions": (honest_nb, edited_runs),
        "other_notebook": (_other_notebook(honest_nb, forged / "other_notebook" / NOTEBOOK), honest_runs),
        "copied_record": (honest_nb, honest_runs),
        "smoke_record": (smoke_nb, smoke_runs),
        "trains_on_test": (cheat_nb, cheat_runs),
    }
    return {s: nbgrader_course.submit(root, WEEK, s, [nb], runs) for s, (nb, runs) in hand_ins.items()}


def grade_full_class(root: Path, work: Path, workers: int = 2, allow_weak_sandbox: bool = False) -> list:
    """A course folder graded on full evidence: release week 1, hand in the class, `course grade`."""
    nbgrader_course.init_course(root, [WEEK])
    nbgrader_course.release(root, WEEK)
    (root / "grading.yaml").write_text(yaml.safe_dump({WEEK: SPEC}, sort_keys=False), encoding="utf-8")
    submit_class(root, work)
    return grade.grade_week(root, WEEK, workers=workers, allow_weak_sandbox=allow_weak_sandbox)
