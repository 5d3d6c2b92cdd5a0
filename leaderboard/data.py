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
      rubrics_dir: assignments/rubrics     # relative to the project, or absolute
      labels: labels.json                  # class names (JSON list), relative to the course folder
      reference_rows:                      # extra reference rows, e.g. published numbers with a latency
        - {week: week1, name: "ModernBERT fp16 (T4)", macro_f1: 0.2085, accuracy: 0.5659, latency_ms: 2.31}
      reference_per_class:                 # a reference run's per-class val F1 for the feedback plots
        week1: {name: "reference ModernBERT", file: refs/week1_per_class.json}   # a list, or {per_class_f1: [...]}

A malformed file never stops the build: it becomes a failed submission with the reason.
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

from leaderboard import pseudonyms

PROJECT = Path(__file__).resolve().parents[1]
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
            self._per_class[split] = [v if isinstance(v, (int, float)) and math.isfinite(v) else 0.0
                                      for v in values] if isinstance(values, list) else []
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
    tests: list[dict] = field(default_factory=list)
    findings: list[dict] = field(default_factory=list)
    runs: list[Run] = field(default_factory=list)
    raw: dict = field(default_factory=dict)
    text: str = field(default="", repr=False)  # the file as read (exports add one field to it)

    @property
    def valid(self) -> bool:
        """Counts on the boards: graded, and integrity clean or minor."""
        return self.status == "graded" and self.integrity in VALID_INTEGRITY

    @property
    def flagged(self) -> bool:
        return self.status == "graded" and self.integrity in FLAGGED_INTEGRITY

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
    rubrics_dir: Path = PROJECT / "assignments" / "rubrics"
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
        rubrics = Path(str(raw["rubrics_dir"]))
        cfg.rubrics_dir = rubrics if rubrics.is_absolute() else PROJECT / rubrics
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
    for week, entry in (raw.get("reference_per_class") or {}).items():
        try:
            cfg.reference_per_class[str(week)] = _reference_per_class(course_dir, entry)
        except (OSError, ValueError, TypeError, KeyError) as err:
            cfg.problems.append(f"reference_per_class for {week} ignored: {err}")
    cfg.salt = pseudonyms.course_salt(course_dir, raw.get("salt"))
    return cfg


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


def _runs(metrics) -> list[Run]:
    runs = []
    if not isinstance(metrics, dict):
        return runs
    for name, m in metrics.items():
        if not isinstance(m, dict):
            continue
        val = m.get("val") if isinstance(m.get("val"), dict) else {}
        test = m.get("test") if isinstance(m.get("test"), dict) else {}
        params = m.get("trainable_parameters")
        runs.append(Run(str(name), val, test, _finite(m.get("latency_ms")),
                        int(params) if isinstance(params, (int, float)) and not isinstance(params, bool)
                        and math.isfinite(params) else None,
                        m.get("band") if isinstance(m.get("band"), dict) else None))
    return runs


def read_submission(path: Path, student: str, week: str, attempt: str = "") -> Submission:
    sub = Submission(student, week, path, attempt)
    try:
        text = path.read_text(encoding="utf-8")
        raw = json.loads(text)
        if not isinstance(raw, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as err:
        sub.error = f"results.json unreadable: {err}"
        return sub
    extra = raw.get("extra_data") if isinstance(raw.get("extra_data"), dict) else {}
    sub.raw, sub.text = raw, text
    sub.score = _finite(raw.get("score")) or 0.0
    sub.tests = [t for t in raw.get("tests") or [] if isinstance(t, dict)]
    sub.max_score = _finite(extra.get("max_score")) or sum(_finite(t.get("max_score")) or 0.0 for t in sub.tests)
    sub.status = str(extra.get("status", "graded"))
    sub.error = str(extra.get("error") or "")
    sub.integrity = str(extra.get("integrity", "clean"))
    if sub.integrity not in ("clean", "minor", "major", "critical"):
        sub.integrity = "major"  # unknown: treat as under review rather than publish it
    sub.findings = [f for f in extra.get("findings") or [] if isinstance(f, dict)]
    sub.runs = _runs(extra.get("metrics"))
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
    for folder in sorted((p for p in root.iterdir() if p.is_dir() and WEEK.match(p.name)), key=lambda p: week_number(p.name)):
        week = Week(folder.name)
        for student in sorted(e.name for e in os.scandir(folder) if e.is_dir()):
            student_dir = folder / student
            entries = list(os.scandir(student_dir))
            files = [(student_dir / "results.json", "")] if any(e.name == "results.json" and e.is_file() for e in entries) else []
            files += [(student_dir / e.name / "results.json", e.name) for e in sorted(entries, key=lambda e: e.name)
                      if e.is_dir() and os.path.isfile(os.path.join(e.path, "results.json"))]
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
