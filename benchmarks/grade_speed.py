"""`course grade` against plain `nbgrader autograde` on the same submissions, in one run.

Both sides grade N copies of the honest week-1 lab submission (smoke profile). nbgrader autogrades
them in one command (one execution per notebook). `course grade --workers 2` adds static analysis, a
second, sandboxed execution on a perturbed test split, and the artifact layers, in two processes.
It also times the artifact checks alone (everything but re-execution) per submission: target <= 0.5 s.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 PATH=.venv/bin:$PATH .venv/bin/python benchmarks/grade_speed.py --n 40
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from course.catalog import cached_course
from grader import artifacts, grade, nbgrader_course, simulated_class


def make_course(root: Path, n: int) -> Path:
    nbgrader_course.init_course(root, ["week1"])
    nbgrader_course.release(root, "week1")
    notebooks = simulated_class.write_week1("honest", root / "incoming")
    for i in range(n):
        nbgrader_course.submit(root, "week1", f"s{i:03d}", notebooks)
    return root


def time_artifact_checks(record: Path, reps: int = 20) -> float:
    data = cached_course(grade.GRADING_COURSE, None, None)
    start = time.perf_counter()
    for _ in range(reps):
        check = artifacts.check_record(record, data)
        artifacts.access_log_findings(check.record)
        artifacts.statistics_findings(data, check, None)
    return (time.perf_counter() - start) / reps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", help="write the numbers here")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="grade-speed-"))
    cached_course(grade.GRADING_COURSE, None, None)
    try:
        plain = make_course(base / "plain", args.n)
        start = time.perf_counter()
        nbgrader_course.nbgrader(
            plain,
            "autograde",
            "week1",
            "--create",
            "--force",
            env={"COURSE_MODE": "grading", "COURSE_RUNS_DIR": "runs"},
        )
        plain_s = time.perf_counter() - start

        ours = make_course(base / "ours", args.n)
        start = time.perf_counter()
        results = grade.grade_week(ours, "week1", workers=args.workers)
        ours_s = time.perf_counter() - start
        record = ours / "autograded" / "s000" / "week1" / "runs" / "week1_tfidf.json"
        per_check = time_artifact_checks(record)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    clean = sum(r.integrity() == "clean" for r in results)
    numbers = {
        "submissions": args.n,
        "nbgrader_autograde_s": round(plain_s, 1),
        "course_grade_s": round(ours_s, 1),
        "workers": args.workers,
        "ratio_course_over_nbgrader": round(ours_s / plain_s, 2),
        "artifact_checks_s_per_submission": round(per_check, 4),
        "clean_submissions": clean,
    }
    print(f"{'side':<40}{'seconds':>10}{'s / submission':>16}")
    print(f"{'nbgrader autograde (1 execution)':<40}{plain_s:>10.1f}{plain_s / args.n:>16.2f}")
    print(f"{f'course grade --workers {args.workers} (2 executions)':<40}{ours_s:>10.1f}{ours_s / args.n:>16.2f}")
    print(
        f"ratio course/nbgrader: {ours_s / plain_s:.2f}; artifact checks alone: {per_check * 1000:.0f} ms "
        f"per submission; {clean}/{args.n} graded clean"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(numbers, indent=1))


if __name__ == "__main__":
    main()
