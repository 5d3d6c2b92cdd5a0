"""A week's grading as tasks: which students to grade, one task each, each result stored as it arrives.

`course grade` runs every student through `grader.tasks.run_task`, here, on a process pool or on a
Dask cluster (`grader.cluster`). A result is written to the course folder the moment its task ends, so
an interrupted week keeps what was graded; `resume` then skips each student whose results.json was
graded from a submission with the same sha256 (a changed or ungraded one is graded again).
"""

from __future__ import annotations

import functools
import sys
import uuid
from pathlib import Path

from grader import cluster as cluster_mod
from grader import tasks
from grader.results import ResultsError, StudentResult


def already_graded(root: Path, week: str, hashes: dict[str, str]) -> dict[str, StudentResult]:
    """Students whose results.json says graded, from a submission with the hash it has now."""
    kept = {}
    for student, sha in hashes.items():
        path = root / "results" / week / student / "results.json"
        try:
            result = StudentResult.read(path) if path.is_file() else None
        except ResultsError:
            result = None  # unreadable: grade again
        if result is not None and result.status == "graded" and result.submission_sha256 == sha:
            kept[student] = result
    return kept


def grade_students(
    root: Path,
    week: str,
    spec: dict,
    profile: str,
    students: list[str],
    workers: int = 1,
    cluster: str | None = None,
    resume: bool = False,
    task_timeout: float | None = None,
) -> list[StudentResult]:
    """Every student's result, in the order given: graded now, or kept from before with `resume`."""
    hashes = {s: tasks.folder_sha256(root / "submitted" / s / week) for s in students}
    kept = already_graded(root, week, hashes) if resume else {}
    if kept:
        print(
            f"resume: kept {len(kept)} student(s) graded from the same submission: {', '.join(kept)}", file=sys.stderr
        )
    todo = [s for s in students if s not in kept]
    timeout = task_timeout or tasks.default_timeout(spec)
    graded: dict[str, StudentResult] = {}

    def store(job: cluster_mod.Job, output: tasks.TaskOutput | None, error: BaseException | None) -> bool:
        if error is not None:
            output = tasks.failed_output(job.label, f"grading task failed: {type(error).__name__}: {error}")
        graded[job.label] = tasks.store_output(root, week, output, hashes[job.label])
        return graded[job.label].status == "failed"

    if todo:
        bundle = tasks.source_bundle(root, week)
        with cluster_mod.runner(workers, cluster) as run:
            shared = run.share(bundle, f"source-{week}-{bundle.sha256}")
            jobs = [
                cluster_mod.Job(
                    f"grade-{week}-{s}-{uuid.uuid4().hex[:6]}",
                    s,
                    tasks.run_task,
                    functools.partial(_task_args, root, week, s, shared, spec, profile, timeout),
                )
                for s in todo
            ]
            cluster_mod.run_all(run, jobs, store)
    return [kept.get(s) or graded[s] for s in students]


def _task_args(root: Path, week: str, student: str, shared, spec: dict, profile: str, timeout: float) -> tuple:
    return tasks.package_submission(root, week, student), shared, spec, profile, timeout, str(root)
