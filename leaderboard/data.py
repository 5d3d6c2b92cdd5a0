"""What the site is built from: the course's graded results, its names and its site config.

Inputs, as `course grade` leaves them in a course folder:

- `results/<week>/<student>/results.json` (Gradescope schema plus `extra_data`); a resubmission graded
  into a subfolder (`results/<week>/<student>/<attempt>/results.json`) is another submission of the
  same student, and the best valid one counts;
- `results/<week>/summary.json`: students listed there without a results file are reported as failed;
- `autograded/<student>/<week>/*.ipynb`: the graded notebooks (the memo is read from them);
- `students.json` (optional): {student id: real name};
- `leaderboard.yaml` (optional), every key optional::

      title: "CFPB complaints: leaderboard"
      salt: "a long random string"        # pseudonyms; else .leaderboard-salt in the course folder
      profile: smoke                       # which course/reference_bands/<profile>.yaml gives reference rows
      show_names: false                    # real names on public pages (the build's argument can also set it)
      deadlines: {week1: "2026-04-15T08:00:00Z", week2: ...}   # private boards open after these (UTC)
      words_per_page: 500                  # memo length estimate
      rubrics_dir: rubrics                 # memo rubrics (week<N>.yaml), relative to the course folder;
                                           # default: the course's own assignments/rubrics
      labels: labels.json                  # class names (JSON list), relative to the course folder; default:
                                           # the course contract's labels (the grading course's for smoke)
      reference_rows:                      # extra reference rows, e.g. published numbers with a latency
        - {week: week1, name: "ModernBERT fp16 (T4)", macro_f1: 0.2085, accuracy: 0.5659, latency_ms: 2.31}
      reference_per_class:                 # a reference run's per-class val F1 for the feedback plots
        week1: {name: "reference ModernBERT", file: refs/week1_per_class.json}   # a list, or {per_class_f1: [...]}

results.json is read by `grader.results.StudentResult.from_json`, the same typed reader every stage uses.
A malformed file never stops the build (one bad upload must not take the class's site down): it
becomes a failed submission whose reason is the ResultsError message, naming the file and field.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import yaml

from course.catalog import config_for
from course.contract import load_contract
from course.errors import UserError
from grader.findings import Finding
from grader.pipeline import GRADING_COURSE
from grader.results import Check, ResultsError, StudentResult
from leaderboard import pseudonyms

WEEK = re.compile(r"^week(\d+)$")
VALID_INTEGRITY = ("clean", "minor")
FLAGGED_INTEGRITY = ("major", "critical")


def week_number(week: str) -> int:
    match = WEEK.match(week)
    return int(match.group(1)) if match else 0


def _finite(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass
class Run:
    """One graded run (a run record) of one submission."""

    name: str
    val: dict
    test: dict
    latency_ms: float | None
    trainable_parameters: int | None
    band: dict | None
    certificate: str = ""  # full evidence: the smoke re-run's verdict (passed | failed | not run); "" for smoke runs
    _per_class: dict = field(default_factory=dict, repr=False, compare=False)

    def metric(self, split: str, key: str) -> float | None:
        return _finite((self.val if split == "val" else self.test).get(key))

    def tier(self, split: str, tier: str) -> float | None:
        tiers = (self.val if split == "val" else self.test).get("tier_f1") or {}
        return _finite(tiers.get(tier)) if isinstance(tiers, dict) else None

    def per_class(self, split: str = "val") -> list[float]:
        """Per-class F1 (non-finite values read as 0), computed once per split."""
        if split not in self._per_class:
            values = (self.val if split == "val" else self.test).get("per_class_f1") or []
            self._per_class[split] = (
                [v if isinstance(v, (int, float)) and math.isfinite(v) else 0.0 for v in values]
                if isinstance(values, list)
                else []
            )
        return self._per_class[split]

    def band_distance(self, split: str = "val") -> float | None:
        """0 inside the reference band; below it negative (value - lower), above it positive (value - upper)."""
        value = self.metric(split, "macro_f1")
        if value is None or not isinstance(self.band, dict):
            return None
        lower, upper = _finite(self.band.get("lower")), _finite(self.band.get("upper"))
        if lower is None or upper is None:
            return None
        return value - lower if value < lower else value - upper if value > upper else 0.0


@dataclass
class Submission:
    """One results.json: a student's graded submission for one week."""

    student: str
    week: str
    path: Path
    attempt: str = ""
    score: float = 0.0
    max_score: float = 0.0
    status: str = "failed"
    error: str = ""
    integrity: str = "clean"
    review: bool = False  # a statistics flag awaiting the instructor (off the ranks, no points lost)
    tests: list[Check] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    raw: dict = field(default_factory=dict)
    text: str = field(default="", repr=False)  # the file as read (exports add one field to it)

    @property
    def valid(self) -> bool:
        """Counts on the boards: graded, integrity clean or minor, and no flag awaiting review."""
        return self.status == "graded" and self.integrity in VALID_INTEGRITY and not self.review

    @property
    def flagged(self) -> bool:
        return self.status == "graded" and (self.integrity in FLAGGED_INTEGRITY or self.review)

    @property
    def measured(self) -> dict[str, dict]:
        """run -> {"val": ..., "test": ...}: what memo numbers are checked against."""
        return {r.name: {"val": r.val, "test": r.test} for r in self.runs}


@dataclass
class SiteConfig:
    title: str = "CFPB complaint classification: leaderboard"
    salt: str = ""
    profile: str = "smoke"
    show_names: bool = False
    deadlines: dict[str, datetime] = field(default_factory=dict)
    words_per_page: int = 500
    rubrics_dir: Path | None = None  # None: the course's own rubrics (grader.rubrics.rubrics_dir)
    labels: list[str] = field(default_factory=list)
    reference_rows: list[dict] = field(default_factory=list)
    reference_per_class: dict[str, dict] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)  # config trouble, shown on the instructor page


def parse_deadline(value) -> datetime:
    """ISO datetime (or a YAML datetime); naive values are UTC."""
    if isinstance(value, datetime):
        moment = value
    else:
        text = str(value).strip()
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def load_config(course_dir: Path) -> SiteConfig:
    course_dir = Path(course_dir)
    path = course_dir / "leaderboard.yaml"
    raw: dict = {}
    cfg = SiteConfig()
    if path.is_file():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
            if loaded is not None and not isinstance(loaded, dict):
                raise ValueError("expected a mapping")
            raw = loaded or {}
        except (yaml.YAMLError, ValueError) as err:
            cfg.problems.append(f"{path.name} ignored: {err}")
    cfg.title = str(raw.get("title", cfg.title))
    cfg.profile = str(raw.get("profile", cfg.profile))
    cfg.show_names = bool(raw.get("show_names", False))
    cfg.words_per_page = int(raw.get("words_per_page", cfg.words_per_page) or 500)
    if raw.get("rubrics_dir"):
        cfg.rubrics_dir = course_dir / str(raw["rubrics_dir"])  # an absolute path stays absolute
    for week, value in (raw.get("deadlines") or {}).items():
        try:
            cfg.deadlines[str(week)] = parse_deadline(value)
        except (TypeError, ValueError) as err:
            cfg.problems.append(f"deadline for {week} ignored ({value!r}): {err}")
    cfg.reference_rows = [r for r in raw.get("reference_rows") or [] if isinstance(r, dict)]
    if raw.get("labels"):
        try:
            cfg.labels = [str(x) for x in json.loads((course_dir / str(raw["labels"])).read_text(encoding="utf-8"))]
        except (OSError, ValueError, TypeError) as err:
            cfg.problems.append(f"labels file ignored: {err}")
    cfg.labels = cfg.labels or contract_labels(cfg.profile, cfg.problems)
    for week, entry in (raw.get("reference_per_class") or {}).items():
        try:
            cfg.reference_per_class[str(week)] = _reference_per_class(course_dir, entry)
        except (OSError, ValueError, TypeError, KeyError) as err:
            cfg.problems.append(f"reference_per_class for {week} ignored: {err}")
    cfg.salt = pseudonyms.course_salt(course_dir, raw.get("salt"))
    return cfg


def contract_labels(profile: str, problems: list[str]) -> list[str]:
    """The class names of the course contract the profile's runs are graded on (feedback names classes by
    them, not by number); none, with a problem noted, when that contract is not available here."""
    if profile != "smoke" and not os.environ.get("COURSE_CONTRACT_DIR"):
        return []  # the real contract only from a local folder: a site build never downloads
    try:
        if profile == "smoke":
            return list(load_contract(config_for(GRADING_COURSE), None).labels)
        return list(load_contract(config_for("real"), os.environ["COURSE_CONTRACT_DIR"]).labels)
    except (UserError, OSError) as err:
        problems.append(f"class names unavailable ({err}); feedback shows class numbers")
        return []


def _reference_per_class(course_dir: Path, entry) -> dict:
    if not isinstance(entry, dict):
        raise ValueError("expected {name, file} or {name, per_class_f1}")
    values = entry.get("per_class_f1")
    if values is None:
        loaded = json.loads((course_dir / str(entry["file"])).read_text(encoding="utf-8"))
        values = loaded if isinstance(loaded, list) else loaded.get("per_class_f1") or loaded["val"]["per_class_f1"]
    values = [float(v) for v in values]
    return {"name": str(entry.get("name", "reference run")), "per_class_f1": values}


def load_names(course_dir: Path) -> dict[str, str]:
    path = Path(course_dir) / "students.json"
    if not path.is_file():
        return {}
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def _runs(metrics: dict[str, dict]) -> list[Run]:
    """The runs of a result's metrics; a run may lack (or null) any field, and the boards show a dash."""

    def mapping(value) -> dict:
        return value if isinstance(value, dict) else {}

    params = {name: _finite(m.get("trainable_parameters")) for name, m in metrics.items()}
    return [
        Run(
            name,
            mapping(m.get("val")),
            mapping(m.get("test")),
            _finite(m.get("latency_ms")),
            None if params[name] is None else int(params[name]),
            mapping(m.get("band")) or None,
            str(m.get("certificate") or "") if m.get("evidence") == "full" else "",
        )
        for name, m in metrics.items()
    ]


def read_submission(path: Path, student: str, week: str, attempt: str = "") -> Submission:
    """One results.json as a Submission; unreadable or malformed, a failed one saying why."""
    sub = Submission(student, week, path, attempt)
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text)
    except (OSError, ValueError) as err:
        sub.error = f"results.json unreadable: {err}"
        return sub
    try:
        result = StudentResult.from_json(raw, str(path))
    except ResultsError as err:
        sub.error = str(err)
        return sub
    sub.raw, sub.text = raw, text
    sub.score, sub.max_score = result.score, result.max_score
    sub.status, sub.error, sub.integrity = result.status, result.error, result.integrity()
    sub.tests, sub.findings, sub.review = result.checks, result.findings, result.under_review
    sub.runs = _runs(result.metrics)
    return sub


@dataclass
class Week:
    name: str
    submissions: dict[str, list[Submission]] = field(default_factory=dict)  # student -> submissions

    @property
    def number(self) -> int:
        return week_number(self.name)

    @property
    def title(self) -> str:
        return f"Week {self.number}" if self.number else self.name


def load_weeks(course_dir: Path) -> list[Week]:
    root = Path(course_dir) / "results"
    weeks = []
    if not root.is_dir():
        return weeks
    for folder in sorted(
        (p for p in root.iterdir() if p.is_dir() and WEEK.match(p.name)), key=lambda p: week_number(p.name)
    ):
        week = Week(folder.name)
        for student in sorted(e.name for e in os.scandir(folder) if e.is_dir()):
            student_dir = folder / student
            entries = list(os.scandir(student_dir))
            files = (
                [(student_dir / "results.json", "")]
                if any(e.name == "results.json" and e.is_file() for e in entries)
                else []
            )
            files += [
                (student_dir / e.name / "results.json", e.name)
                for e in sorted(entries, key=lambda e: e.name)
                if e.is_dir() and os.path.isfile(os.path.join(e.path, "results.json"))
            ]
            subs = [read_submission(f, student, week.name, attempt) for f, attempt in files]
            if subs:
                week.submissions[student] = subs
        summary = folder / "summary.json"
        if summary.is_file():
            try:
                listed = json.loads(summary.read_text(encoding="utf-8"))
            except ValueError:
                listed = []
            for row in listed if isinstance(listed, list) else []:
                student = str(row.get("student", "")) if isinstance(row, dict) else ""
                if student and student not in week.submissions:
                    sub = Submission(student, week.name, folder / student / "results.json")
                    sub.error = row.get("error") or "listed in summary.json but no results.json was written"
                    week.submissions[student] = [sub]
        weeks.append(week)
    return weeks


def memo_notebooks(course_dir: Path, student: str, week: str) -> list[Path]:
    folder = os.path.join(course_dir, "autograded", student, week)
    try:
        names = sorted(e.name for e in os.scandir(folder) if e.name.endswith(".ipynb") and e.is_file())
    except OSError:
        return []
    return [Path(folder, name) for name in names]
