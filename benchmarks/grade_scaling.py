"""`course grade` scaling: one class graded on 1, 2 and 4 workers, by the process pool and a Dask LocalCluster.

Both paths run the same task per student (`grader.tasks.run_task`), so the difference between them is
what Dask adds: starting the cluster, and per task the scheduling, the transfer of the task's zip and
of its results. This prints a table of wall times and speed-ups, and the per-task overhead measured
two ways: grading (Dask minus pool, per student) and empty tasks (a round trip with nothing to do).

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/grade_scaling.py [--students 5] [--full-week]

By default a student submits the week-1 lab alone and the course grades just that notebook, as in
tests/test_cluster.py; `--full-week` grades the project's week 1 (lab and homework).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from tabulate import tabulate

from grader import cluster, grade, nbgrader_course, perturb, simulated_class

LAB_ONLY = """week1:
  notebooks: [week1_lab.ipynb]
  runs:
    week1_tfidf: {notebook: week1_lab.ipynb, band: week1/tfidf_fast, floor: week1/majority, points: 30}
  checks: {fixed_split: 10, integrity: 20, consistency: 5}
"""
WORKERS = (1, 2, 4)
EMPTY_TASKS = 40


def make_class(root: Path, students: int, full_week: bool) -> Path:
    nbgrader_course.init_course(root, ["week1"])
    nbgrader_course.release(root, "week1")
    if not full_week:
        (root / "grading.yaml").write_text(LAB_ONLY, encoding="utf-8")
    perturb.course_salt(root)  # every copy draws the same perturbations
    names = (simulated_class.STUDENTS * 2)[:students]
    for i, student in enumerate(names):
        name = f"{student}_{i}"
        if full_week:
            notebooks = simulated_class.write_week1(student, root / "incoming" / name)
        else:
            notebooks = [simulated_class.write_submission(student, root / "incoming" / name)]
        nbgrader_course.submit(root, "week1", name, notebooks)
    return root


def timed_grade(template: Path, scratch: Path, **how) -> float:
    root = shutil.copytree(template, scratch / "-".join(f"{k}{v}" for k, v in how.items()))
    start = time.perf_counter()
    grade.grade_week(Path(root), "week1", **how)
    return time.perf_counter() - start


def _noop(x: int) -> int:
    return x


def empty_task_seconds(**how) -> tuple[float, float]:
    """(seconds to start the runner, seconds per empty task) for EMPTY_TASKS round trips."""
    start = time.perf_counter()
    with cluster.runner(**how) as run:
        ready = time.perf_counter()
        jobs = [cluster.Job(f"noop-{i}", str(i), _noop, lambda i=i: (i,)) for i in range(EMPTY_TASKS)]
        cluster.run_all(run, jobs, lambda job, value, error: error is not None)
        done = time.perf_counter()
    return ready - start, (done - ready) / EMPTY_TASKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=5)
    parser.add_argument("--full-week", action="store_true")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="grade-scaling-"))
    try:
        template = make_class(scratch / "template", args.students, args.full_week)
        seconds = {}
        for n in WORKERS:
            seconds["pool", n] = timed_grade(template, scratch, workers=n)
            seconds["dask", n] = timed_grade(template, scratch, cluster=f"local:{n}")
        rows = [
            [
                mode,
                n,
                f"{seconds[mode, n]:.1f}",
                f"{seconds[mode, 1] / seconds[mode, n]:.2f}x",
                f"{seconds[mode, n] / args.students:.1f}",
            ]
            for mode in ("pool", "dask")
            for n in WORKERS
        ]
        print(f"\n{args.students} students, week 1 ({'lab and homework' if args.full_week else 'lab only'})")
        print(tabulate(rows, ["runner", "workers", "wall s", "speed-up", "s per student"], tablefmt="github"))
        print("\nDask minus pool, per student (cluster start included):")
        for n in WORKERS:
            print(f"  {n} worker(s): {(seconds['dask', n] - seconds['pool', n]) / args.students:+.2f} s")
        print(f"\nEmpty tasks ({EMPTY_TASKS} round trips, 2 workers):")
        for label, how in (("pool", {"workers": 2}), ("dask", {"cluster": "local:2"})):
            start, per_task = empty_task_seconds(**how)
            print(f"  {label}: start {start:.2f} s, {1000 * per_task:.1f} ms per task")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
