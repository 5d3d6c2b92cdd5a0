"""Integrity review: every flag a person must look at, their decisions, and what the decisions do to points.

A flag is a critical or major finding, a statistics layer's review flag, or a `shared-run` finding. Its id
is a short hash of what locates it (student, layer, rule, run, notebook, cell, line), not of its message,
so it survives a re-grade that words the message differently.

Decisions live in `<course>/reviews/<week>.jsonl`, one JSON line each, appended and never rewritten; the
latest decision per flag wins. A re-grade never touches that file, so nothing decided is lost.

What they do to a week's points, as lines of their own beside the scored checks (names start "review: "):
until a critical finding is reviewed, the metric points of the run it affects are withheld ("withheld
pending review"); confirmed, they stay at 0; dismissed, they come back, and so do the integrity points
the finding cost. A finding affects its own run, or (static findings) every scored run its notebook
writes, per grading.yaml; one tied to neither affects every scored run.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from course.errors import UserError
from grader.findings import Finding
from grader.layers.scoring import integrity_points
from grader.results import Check, StudentResult

REVIEW_PREFIX = "review: "
DECISIONS = ("confirmed", "dismissed")


class ReviewError(UserError, ValueError):
    """An unknown flag, a bad decision or a reviews file that is not ours; the message names it."""


def is_flag(f: Finding) -> bool:
    return f.severity in ("critical", "major") or f.layer == "statistics" or f.rule == "shared-run"


def flag_id(student: str, f: Finding) -> str:
    """Ten hex digits from what locates the finding (never its message, which a re-grade may reword)."""
    key = "|".join(str(v) for v in (student, f.layer, f.rule, f.run, f.notebook, f.cell, f.line))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]


@dataclass(frozen=True)
class Flag:
    id: str
    student: str
    finding: Finding


def flags(results: list[StudentResult]) -> list[Flag]:
    """Every flag of a week's results, once each, most severe first."""
    seen: dict[str, Flag] = {}
    for r in results:
        for f in r.findings:
            if is_flag(f):
                seen.setdefault(flag_id(r.student, f), Flag(flag_id(r.student, f), r.student, f))
    order = ("critical", "major", "minor", "info")
    return sorted(seen.values(), key=lambda fl: (order.index(fl.finding.severity), fl.student, fl.id))


@dataclass(frozen=True)
class Decision:
    flag: str
    student: str
    decision: str  # confirmed | dismissed
    reason: str
    reviewer: str
    time: str  # ISO, UTC

    def describe(self) -> str:
        return f"{self.decision} by {self.reviewer} on {self.time[:16].replace('T', ' ')} UTC: {self.reason}"


def reviews_path(course_dir: Path, week: str) -> Path:
    return Path(course_dir) / "reviews" / f"{week}.jsonl"


def read_decisions(course_dir: Path, week: str) -> dict[str, Decision]:
    """flag id -> its latest decision (the file's order is the order they were made)."""
    path = reviews_path(course_dir, week)
    latest: dict[str, Decision] = {}
    if not path.is_file():
        return latest
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            decision = Decision(**json.loads(line))
        except (ValueError, TypeError) as err:
            raise ReviewError(f"{path}, line {n}: not a review decision ({err})") from err
        if decision.decision not in DECISIONS:
            raise ReviewError(f"{path}, line {n}: decision {decision.decision!r} is not one of {', '.join(DECISIONS)}")
        latest[decision.flag] = decision
    return latest


def record(
    course_dir: Path, week: str, flag: Flag, decision: str, reason: str, reviewer: str, when: datetime | None = None
) -> Decision:
    """Append one decision to the week's reviews file (flushed to disk before returning)."""
    if decision not in DECISIONS:
        raise ReviewError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
    if not reason.strip():
        raise ReviewError(f"flag {flag.id}: give the reason for the decision (--reason)")
    when = (when or datetime.now(timezone.utc)).astimezone(timezone.utc)
    made = Decision(flag.id, flag.student, decision, reason.strip(), reviewer, when.isoformat(timespec="seconds"))
    path = reviews_path(course_dir, week)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(asdict(made)) + "\n")
        out.flush()
        os.fsync(out.fileno())
    return made


def find_flag(all_flags: list[Flag], flag: str, week: str) -> Flag:
    match = [f for f in all_flags if f.id == flag]
    if not match:
        raise ReviewError(f"{week}: no flag {flag!r} (`course review {week}` lists them)")
    return match[0]


def affected_runs(f: Finding, spec: dict) -> list[str]:
    """The scored runs whose metric points a finding puts in doubt."""
    scored = [run for run, s in spec["runs"].items() if "points" in s]
    if f.run:
        return [f.run] if f.run in scored else []
    if f.notebook:
        return [run for run in scored if spec["runs"][run]["notebook"] == f.notebook]
    return scored


def review_checks(result: StudentResult, spec: dict, decisions: dict[str, Decision]) -> list[Check]:
    """The "review: ..." lines for one student's week, from its scored checks and the decisions so far."""
    scored = {c.name: c for c in result.checks if not c.name.startswith(REVIEW_PREFIX)}
    lines = []
    critical = [f for f in result.findings if f.severity == "critical"]
    for run in [r for r, s in spec["runs"].items() if "points" in s]:
        mine = [(flag_id(result.student, f), f) for f in critical if run in affected_runs(f, spec)]
        metric = scored.get(f"{run}: val macro-F1")
        if not mine or metric is None:
            continue
        states = [(fid, decisions.get(fid)) for fid, _ in mine]
        confirmed = [d for _, d in states if d and d.decision == "confirmed"]
        pending = [fid for fid, d in states if d is None]
        name = f"{REVIEW_PREFIX}{run} metric points"
        if confirmed:
            lines.append(
                Check(name, -metric.score, 0.0, f"flag {confirmed[0].flag} {confirmed[0].describe()}; they stay at 0")
            )
        elif pending:
            lines.append(Check(name, -metric.score, 0.0, f"withheld pending review of flag(s) {', '.join(pending)}"))
        else:
            lines.append(
                Check(name, 0.0, 0.0, "restored: " + "; ".join(f"flag {d.flag} {d.describe()}" for _, d in states))
            )
    integrity = scored.get("integrity")
    if integrity is not None:
        dismissed = {fid for fid, d in decisions.items() if d.decision == "dismissed"}
        kept = [f for f in result.findings if flag_id(result.student, f) not in dismissed]
        # only what dismissed findings cost: a check at 0 for another reason (a notebook that never ran) stays 0
        restored = integrity_points(kept, integrity.max_score) - integrity_points(result.findings, integrity.max_score)
        if restored > 0:
            lines.append(
                Check(
                    f"{REVIEW_PREFIX}integrity", restored, 0.0, "restored: the findings that cost them were dismissed"
                )
            )
    return lines


def apply_reviews(result: StudentResult, spec: dict, decisions: dict[str, Decision]) -> None:
    """Replace the result's review lines with those the decisions call for now, and its integrity with the
    worst finding not dismissed (idempotent)."""
    kept = [c for c in result.checks if not c.name.startswith(REVIEW_PREFIX)]
    result.checks = kept + review_checks(result, spec, decisions)
    dismissed = {fid for fid, d in decisions.items() if d.decision == "dismissed"}
    standing = [f for f in result.findings if flag_id(result.student, f) not in dismissed]
    result.integrity_override = StudentResult(result.student, findings=standing).integrity()


def status(student: str, f: Finding, decisions: dict[str, Decision]) -> str:
    """'pending review', 'confirmed by ...' or 'dismissed by ...' for a flagged finding; '' otherwise."""
    if not is_flag(f):
        return ""
    made = decisions.get(flag_id(student, f))
    return made.describe() if made else "pending review"


def week_flags(course_dir: Path, week: str) -> list[Flag]:
    """The flags of a graded week, from its results files."""
    folder = Path(course_dir) / "results" / week
    if not folder.is_dir():
        raise ReviewError(f"{folder}: {week} has not been graded (run `course grade {week}` first)")
    return flags([StudentResult.read(p) for p in sorted(folder.glob("*/results.json"))])


def format_flags(all_flags: list[Flag], decisions: dict[str, Decision]) -> str:
    """The instructor's list: one block per flag with its evidence and where the review stands."""
    if not all_flags:
        return "no flags to review"
    blocks = []
    for fl in all_flags:
        f = fl.finding
        where = ", ".join(
            part
            for part in (f"run {f.run}" if f.run else "", f"notebook {f.notebook}" if f.notebook else "", f.where())
            if part
        )
        made = decisions.get(fl.id)
        blocks.append(
            f"{fl.id}  {fl.student}  [{f.severity}] {f.layer}/{f.rule}{'  (' + where + ')' if where else ''}\n"
            f"    {f.message}\n    {made.describe() if made else 'pending review'}"
        )
    return "\n".join(blocks)
