"""The instructor's decisions, applied after scoring: integrity reviews, then the late rule.

Both read the course folder (`reviews/<week>.jsonl`, `course.yaml`, the submission's `timestamp.txt`)
and add lines of their own beside the scored checks, so the same `settle` can re-apply them later to a
results file (the gradebook does, after reviews made since grading) without grading again.
"""

from __future__ import annotations

from pathlib import Path

from grader import late
from grader import reviews as review_mod
from grader.course_policy import load_policy
from grader.grading import Grading
from grader.results import StudentResult


def reviews(g: Grading) -> None:
    """Metric points withheld, kept at 0 or restored, per the week's review decisions so far."""
    review_mod.apply_reviews(g.result, g.spec, review_mod.read_decisions(g.root, g.week))


def late_penalty(g: Grading) -> None:
    """−10% (course.yaml) of the week's total per started day after the deadline's grace period."""
    policy = load_policy(g.root)
    late.apply_late(g.result, late.submitted_at(g.submitted), policy.deadlines.get(g.week), policy)


def settle(root: Path, week: str, result: StudentResult, spec: dict) -> StudentResult:
    """A graded result with today's review decisions and late rule applied (the layers above, re-run)."""
    review_mod.apply_reviews(result, spec, review_mod.read_decisions(root, week))
    policy = load_policy(root)
    submitted = late.submitted_at(Path(root) / "submitted" / result.student / week)
    late.apply_late(result, submitted, policy.deadlines.get(week), policy)
    return result
