"""A student's graded week: the typed values `course grade` produces and every later stage reads.

`Check` is one scored line (Gradescope's `tests` entry); `StudentResult` is a student's week: checks,
findings, the metrics of each graded run. `results.json` keeps Gradescope's schema (score, output,
tests) with our additions under `extra_data`; `to_json` writes it and `from_json` reads it back,
validating at the boundary, so the leaderboard and the exports never re-parse loose dicts.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from course.errors import UserError
from course.files import atomic_write
from grader.findings import SEVERITIES, Finding

INTEGRITY_LAYERS = ("static", "access-log", "invariance", "fixed-split", "evidence")
INTEGRITY = ("clean", "minor", "major", "critical")
STATUSES = ("graded", "failed")


class ResultsError(UserError, ValueError):
    """A results.json that is not what `course grade` writes; the message names the file and field."""


@dataclass
class Check:
    """One line of a student's results: Gradescope's `tests` entry."""

    name: str
    score: float
    max_score: float
    output: str

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "score": round(self.score, 2),
            "max_score": self.max_score,
            "output": self.output,
            "visibility": "visible",
        }


@dataclass
class StudentResult:
    """A student's week: what each layer found and what each check scored."""

    student: str
    checks: list[Check] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)  # run -> {"val": ..., "test": ..., "band": ..., ...}
    status: str = "graded"  # graded | failed (a grader error, not the student's)
    error: str = ""
    integrity_override: str | None = None  # read back from a file: the integrity it states
    submission_sha256: str = ""  # of the graded submission folder: `course grade --resume` skips it if unchanged

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks), 2)

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.checks)

    def integrity(self) -> str:
        """'clean', or the worst severity an integrity layer found ('critical', 'major', 'minor').

        A notebook that does not parse or run is bad input, not a breach: it scores 0 on the
        affected checks and says why, but its integrity stays 'clean' unless a layer found a leak.
        """
        if self.integrity_override is not None:
            return self.integrity_override
        found = {f.severity for f in self.findings if f.layer in INTEGRITY_LAYERS}
        return next((s for s in SEVERITIES[:3] if s in found), "clean")

    @property
    def under_review(self) -> bool:
        """Off the boards' ranks until the instructor decides: a major or critical integrity finding, or a
        statistics flag for review (test far above val, val above the band). Review flags cost no points."""
        review = any(f.layer == "statistics" and f.severity in ("critical", "major") for f in self.findings)
        return review or self.integrity() in ("major", "critical")

    def as_results_json(self) -> dict:
        """Gradescope's results.json schema (score, output, tests) plus our findings and metrics."""
        lines = [f"Integrity: {self.integrity()}"] + [
            f"[{f.severity}] {f.layer}/{f.rule}{' (' + f.where() + ')' if f.where() else ''}: {f.message}"
            for f in self.findings
        ]
        return {
            "score": self.score,
            "output": "\n".join(lines),
            "tests": [c.as_dict() for c in self.checks],
            "extra_data": {
                "student": self.student,
                "status": self.status,
                "error": self.error,
                "integrity": self.integrity(),
                "under_review": self.under_review,
                "max_score": self.max_score,
                "findings": [f.as_dict() for f in self.findings],
                "metrics": self.metrics,
                "submission_sha256": self.submission_sha256,
            },
        }

    def write(self, path: Path) -> Path:
        return atomic_write(path, json.dumps(self.as_results_json(), indent=1))

    @classmethod
    def from_json(cls, raw: dict, source: str = "results.json") -> StudentResult:
        """Read back what `as_results_json` wrote; a wrong field raises ResultsError naming it."""
        if not isinstance(raw, dict):
            raise ResultsError(f"{source}: expected a JSON object")
        extra = _field(raw, "extra_data", dict, source, {})
        tests = _field(raw, "tests", list, source, [])
        checks = []
        for i, t in enumerate(tests):
            if not isinstance(t, dict):
                raise ResultsError(f"{source}: tests[{i}] is not an object")
            checks.append(
                Check(
                    str(t.get("name", "")),
                    _number(t.get("score"), f"{source}: tests[{i}].score"),
                    _number(t.get("max_score"), f"{source}: tests[{i}].max_score"),
                    str(t.get("output", "")),
                )
            )
        findings = []
        for i, f in enumerate(_field(extra, "findings", list, source, [])):
            try:
                findings.append(
                    Finding(
                        **{k: f[k] for k in ("layer", "rule", "severity", "message")},
                        cell=f.get("cell"),
                        line=f.get("line"),
                        run=f.get("run"),
                        notebook=f.get("notebook"),
                    )
                )
            except (TypeError, KeyError, ValueError) as err:
                raise ResultsError(f"{source}: extra_data.findings[{i}] is not a finding ({err})") from err
        status = str(extra.get("status", "graded"))
        if status not in STATUSES:
            raise ResultsError(f"{source}: extra_data.status is {status!r}, expected one of {', '.join(STATUSES)}")
        integrity = str(extra.get("integrity", "clean"))
        if integrity not in INTEGRITY:
            raise ResultsError(
                f"{source}: extra_data.integrity is {integrity!r}, expected one of {', '.join(INTEGRITY)}"
            )
        metrics = _field(extra, "metrics", dict, source, {})
        return cls(
            student=str(extra.get("student", "")),
            checks=checks,
            findings=findings,
            metrics={str(k): v for k, v in metrics.items() if isinstance(v, dict)},
            status=status,
            error=str(extra.get("error") or ""),
            integrity_override=integrity,
            submission_sha256=str(extra.get("submission_sha256") or ""),
        )

    @classmethod
    def read(cls, path: Path) -> StudentResult:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise ResultsError(f"{path}: unreadable ({err})") from err
        return cls.from_json(raw, str(path))


def _field(raw: dict, key: str, kind: type, source: str, default):
    value = raw.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise ResultsError(f"{source}: {key} should be a {kind.__name__}, got {type(value).__name__}")
    return value


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ResultsError(f"{where}: expected a finite number, got {value!r}")
    return float(value)
