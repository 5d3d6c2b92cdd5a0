"""The late rule: −10% of the week's total per started day after the deadline's grace period.

When a submission arrived comes from the `timestamp.txt` nbgrader keeps in each submitted folder
(`grader.nbgrader_course.submit` and the Moodle import write one; nbgrader's own collect does too).
The penalty is a line of its own in the results, a `Check` named "late penalty" with a negative score
and no maximum, so Gradescope's schema and the week's maximum stay as they were, and the student sees
exactly what it cost.

>>> from datetime import datetime, timedelta, timezone
>>> deadline = datetime(2026, 4, 15, 8, tzinfo=timezone.utc)
>>> [days_late(deadline + timedelta(minutes=m), deadline, 15) for m in (15, 16, 15 + 24 * 60 + 1)]
[0, 1, 2]
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

from grader.course_policy import Policy
from grader.results import Check, StudentResult

LATE_CHECK = "late penalty"
TIMESTAMP = "timestamp.txt"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"  # nbgrader's format, in UTC


def write_timestamp(folder: Path, when: datetime) -> Path:
    """Record when a submission arrived, the way nbgrader does (`timestamp.txt` in its folder)."""
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    path = Path(folder) / TIMESTAMP
    path.write_text(when.astimezone(timezone.utc).strftime(TIMESTAMP_FORMAT), encoding="utf-8")
    return path


def submitted_at(folder: Path) -> datetime | None:
    """When the submission in `folder` arrived (aware, UTC), or None when nothing recorded it."""
    from nbgrader.utils import parse_utc

    path = Path(folder) / TIMESTAMP
    if not path.is_file():
        return None
    try:
        return parse_utc(path.read_text(encoding="utf-8").strip()).replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError):
        return None


def days_late(submitted: datetime, deadline: datetime, grace_minutes: float) -> int:
    """Started days after deadline + grace; 0 up to and including the end of the grace period."""
    late = submitted - deadline - timedelta(minutes=grace_minutes)
    return max(0, math.ceil(late / timedelta(days=1)))


def late_fraction(submitted: datetime | None, deadline: datetime | None, policy: Policy) -> tuple[float, int]:
    """(share of the week's total lost, days late); nothing is lost without a deadline or a time."""
    if submitted is None or deadline is None:
        return 0.0, 0
    days = days_late(submitted, deadline, policy.grace_minutes)
    return min(1.0, days * policy.penalty_per_day), days


def late_check(total: float, submitted: datetime | None, deadline: datetime | None, policy: Policy) -> Check | None:
    """The "late penalty" line for a week whose total is `total`; None when the week has no deadline."""
    if deadline is None:
        return None
    if submitted is None:
        return Check(LATE_CHECK, 0.0, 0.0, "no submission time recorded: no penalty applied")
    fraction, days = late_fraction(submitted, deadline, policy)
    when = f"submitted {submitted:%Y-%m-%d %H:%M} UTC, deadline {deadline:%Y-%m-%d %H:%M} UTC"
    if not days:
        return Check(LATE_CHECK, 0.0, 0.0, f"on time ({when}, {policy.grace_minutes:g} minutes' grace)")
    return Check(
        LATE_CHECK,
        -round(max(total, 0.0) * fraction, 2),
        0.0,
        f"{days} day(s) late ({when}): −{fraction:.0%} of the week's {total:g} points",
    )


def apply_late(result: StudentResult, submitted: datetime | None, deadline: datetime | None, policy: Policy) -> None:
    """Replace the result's late line with the one its total calls for now (idempotent)."""
    result.checks = [c for c in result.checks if c.name != LATE_CHECK]
    line = late_check(sum(c.score for c in result.checks), submitted, deadline, policy)
    if line is not None:
        result.checks.append(line)
