"""The course's own policy, `<course>/course.yaml`: deadlines, the late rule and how the final mark is made.

It lives in the course folder, beside the submissions it governs, so a copied course carries it. Every
key is optional; the defaults are the course's (COURSE.md §5)::

    deadlines:                           # per week, ISO time; naive values are UTC
      week1: "2026-04-15T08:00:00Z"
    late:
      penalty_per_day: 0.10              # of the week's total, per started day after the grace period
      grace_minutes: 15
    gradebook:
      scores_csv: scores.csv             # the instructor's other marks: a `student` column, then one per score
      homework:                          # one grade per week: the memo and the autograded code
        weight: 0.60
        best: 5                          # of the weeks below; the others are dropped
        weeks: [week1, week2, week3, week4, week5, week6]
        memo_share: 0.8                  # memo rubric score (of 100); the rest is the code's points
      components:                        # from scores_csv; weights (with homework's) sum to 1
        quizzes: {weight: 0.15, best: 4, columns: [quiz1, quiz2, quiz3, quiz4, quiz5], out_of: 100}
        final: {weight: 0.20, columns: [final], out_of: 100}
        participation: {weight: 0.05, columns: [participation], out_of: 100}

A wrong key or value raises `PolicyError` naming the file and the key: a typo in a weight would
otherwise change every student's final mark without a word.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml

from course.errors import UserError

WEEKS = [f"week{n}" for n in range(1, 7)]


class PolicyError(UserError, ValueError):
    """course.yaml holds a key or value the harness cannot use; the message names the file and key."""


@dataclass(frozen=True)
class Component:
    """A part of the final mark taken from the instructor's scores CSV: the mean of its best columns."""

    name: str
    weight: float
    columns: list[str]
    out_of: float = 100.0
    best: int | None = None  # None: every column counts


@dataclass
class Policy:
    deadlines: dict[str, datetime] = field(default_factory=dict)
    penalty_per_day: float = 0.10
    grace_minutes: float = 15.0
    scores_csv: str = "scores.csv"
    homework_weight: float = 0.60
    homework_best: int = 5
    weeks: list[str] = field(default_factory=lambda: list(WEEKS))
    memo_share: float = 0.8
    components: list[Component] = field(
        default_factory=lambda: [
            Component("quizzes", 0.15, [f"quiz{n}" for n in range(1, 6)], 100.0, 4),
            Component("final", 0.20, ["final"]),
            Component("participation", 0.05, ["participation"]),
        ]
    )


def parse_time(value, where: str) -> datetime:
    """An ISO time (or a YAML datetime) as an aware UTC datetime; naive values are UTC."""
    try:
        if isinstance(value, datetime):
            moment = value
        else:
            text = str(value).strip()
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError as err:
        raise PolicyError(f"{where}: {value!r} is not an ISO time ({err})") from err
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


class _Reader:
    def __init__(self, path: Path):
        self.path = path

    def mapping(self, value, key: str, allowed: set[str]) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise PolicyError(f"{self.path}: {key}: expected a mapping, got {type(value).__name__}")
        unknown = sorted(set(map(str, value)) - allowed)
        if unknown:
            raise PolicyError(f"{self.path}: {key}.{unknown[0]}: unknown key (known: {', '.join(sorted(allowed))})")
        return value

    def number(self, value, key: str, high: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 or (high and value > high):
            limit = f" at most {high:g}" if high else ""
            raise PolicyError(f"{self.path}: {key}: expected a non-negative number{limit}, got {value!r}")
        return float(value)

    def names(self, value, key: str) -> list[str]:
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise PolicyError(f"{self.path}: {key}: expected a non-empty list of names, got {value!r}")
        return value


def load_policy(course_dir: Path) -> Policy:
    """The course folder's policy; the course's defaults where course.yaml (or a key of it) is absent."""
    path = Path(course_dir) / "course.yaml"
    policy = Policy()
    if not path.is_file():
        return policy
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise PolicyError(f"{path}: not valid YAML ({err})") from err
    r = _Reader(path)
    raw = r.mapping(raw, "course.yaml", {"deadlines", "late", "gradebook"})
    for week, value in r.mapping(raw.get("deadlines"), "deadlines", set(WEEKS)).items():
        policy.deadlines[str(week)] = parse_time(value, f"{path}: deadlines.{week}")
    late = r.mapping(raw.get("late"), "late", {"penalty_per_day", "grace_minutes"})
    policy.penalty_per_day = r.number(late.get("penalty_per_day", policy.penalty_per_day), "late.penalty_per_day", 1)
    policy.grace_minutes = r.number(late.get("grace_minutes", policy.grace_minutes), "late.grace_minutes")
    book = r.mapping(raw.get("gradebook"), "gradebook", {"scores_csv", "homework", "components"})
    policy.scores_csv = str(book.get("scores_csv", policy.scores_csv))
    homework = r.mapping(book.get("homework"), "gradebook.homework", {"weight", "best", "weeks", "memo_share"})
    policy.homework_weight = r.number(homework.get("weight", policy.homework_weight), "gradebook.homework.weight", 1)
    policy.weeks = r.names(homework.get("weeks", policy.weeks), "gradebook.homework.weeks")
    best = r.number(homework.get("best", policy.homework_best), "gradebook.homework.best", len(policy.weeks))
    policy.homework_best = int(best)
    policy.memo_share = r.number(homework.get("memo_share", policy.memo_share), "gradebook.homework.memo_share", 1)
    if "components" in book:
        policy.components = [
            _component(r, str(name), raw_c)
            for name, raw_c in r.mapping(
                book["components"], "gradebook.components", set(map(str, book["components"]))
            ).items()
        ]
    total = policy.homework_weight + sum(c.weight for c in policy.components)
    if abs(total - 1.0) > 1e-6:
        raise PolicyError(f"{path}: gradebook: the weights sum to {total:g}, not 1")
    return policy


def _component(r: _Reader, name: str, raw) -> Component:
    key = f"gradebook.components.{name}"
    raw = r.mapping(raw, key, {"weight", "best", "columns", "out_of"})
    columns = r.names(raw.get("columns"), f"{key}.columns")
    best = raw.get("best")
    return Component(
        name,
        r.number(raw.get("weight"), f"{key}.weight", 1),
        columns,
        _positive(r, raw.get("out_of", 100), f"{key}.out_of"),
        None if best is None else int(r.number(best, f"{key}.best", len(columns))),
    )


def _positive(r: _Reader, value, key: str) -> float:
    if not r.number(value, key):
        raise PolicyError(f"{r.path}: {key}: must be above 0")
    return float(value)
