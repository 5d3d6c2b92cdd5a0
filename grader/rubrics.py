"""Memo rubrics: `assignments/rubrics/week<N>.yaml`, read into typed values, strictly.

The yaml files are the only source of a week's criteria, heading keywords and required evidence
(the schema is described at the top of week1.yaml). A grader trusts the memo observations only if
they come from the rubric the course published, so a file that is missing, does not parse, leaves
out a criterion's points, carries a key this reader does not know (a typo would otherwise silently
switch a rule off) or holds a bad regular expression raises `RubricError` naming the file and key.

Patterns are lower-cased once here (escapes such as \\S kept) and matched against lower-cased text:
several times faster than IGNORECASE, and it lets literal needles pre-filter paragraphs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from course.errors import UserError
from course.resources import data_path

TOP_KEYS = {
    "week",
    "title",
    "notebooks",
    "total_points",
    "length",
    "required_sections",
    "bands",
    "criteria",
    "required_evidence",
    "source",
}
CRITERION_KEYS = {"name", "points", "excellent", "evidence", "keywords"}
EVIDENCE_KEYS = {"id", "criterion", "description", "kind", "patterns", "match", "min_numbers", "min_distinct"}
LENGTH_KEYS = {"min_words", "max_words", "excludes", "assumption"}
KINDS = ("mention", "number", "table")
BANDS = ("excellent", "satisfactory", "needs_improvement")
MATCHES = ("any", "all")


class RubricError(UserError, ValueError):
    """A rubric file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class Evidence:
    """A `required_evidence` item: a paragraph of its criterion's section (the whole memo when the
    section is missing) where one pattern (`match: all`: every pattern) matches; kind "number" also
    wants a digit there, kind "table" a markdown table. `min_distinct`: instead, that many different
    patterns must each match somewhere in the section (e.g. four slice axes)."""

    id: str
    criterion: str
    description: str
    patterns: tuple[str, ...]
    kind: str = "mention"
    match_all: bool = False
    min_numbers: int = 0
    min_distinct: int = 0


@dataclass
class Criterion:
    name: str
    points: float
    keywords: list[str]  # heading patterns, each matched at a word start of a lower-cased heading
    excellent: str = ""
    evidence: list[Evidence] = field(default_factory=list)


@dataclass
class Rubric:
    week: int
    criteria: list[Criterion]
    source: str
    min_words: int
    max_words: int
    bands: dict[float, dict[str, tuple[float, float]]] = field(default_factory=dict)  # points -> band -> range

    def band_of(self, criterion: Criterion, points: float) -> str | None:
        """The band ('excellent', 'satisfactory', 'needs_improvement') of `points` for this criterion's size:
        the one with the highest lower edge at or below them (21.5 of 25 is Satisfactory); None without bands."""
        ranges = self.bands.get(criterion.points, {})
        reached = [(low, band) for band, (low, _) in ranges.items() if low <= points]
        return max(reached)[1] if reached else None


def rubrics_dir() -> Path:
    """The course's own rubric files (package data, so an installed wheel finds them too)."""
    return data_path("assignments", "rubrics")


def load_rubric(week: int, folder: Path | None = None) -> Rubric:
    """The week's rubric from `folder` (default: the course's own files); raises RubricError."""
    path = Path(folder or rubrics_dir()) / f"week{week}.yaml"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise RubricError(f"{path}: no rubric for week {week} ({err.strerror or err})") from err
    except yaml.YAMLError as err:
        raise RubricError(f"{path}: not valid YAML ({err})") from err
    return _Reader(path).rubric(week, data)


class _Reader:
    """Reads one file; every error it raises says where in that file the problem is."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, problem: str) -> RubricError:
        return RubricError(f"{self.path}: {key}: {problem}")

    def mapping(self, value, key: str, allowed: set[str], required: tuple[str, ...] = ()) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, got {type(value).__name__}")
        for name in value:
            if name not in allowed:
                raise self.fail(f"{key}.{name}", f"unknown key (known: {', '.join(sorted(allowed))})")
        for name in required:
            if value.get(name) is None:
                raise self.fail(f"{key}.{name}", "missing")
        return value

    def items(self, value, key: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list, got {type(value).__name__}")
        return value

    def number(self, value, key: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise self.fail(key, f"expected a non-negative number, got {value!r}")
        return value

    def choice(self, value: str, key: str, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            raise self.fail(key, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def pattern(self, value, key: str) -> str:
        source = lower_pattern(str(value))
        try:
            re.compile(source)
        except re.error as err:
            raise self.fail(key, f"bad regular expression {value!r} ({err})") from err
        return source

    def rubric(self, week: int, data) -> Rubric:
        data = self.mapping(data, "top level", TOP_KEYS, ("criteria", "length"))
        length = self.mapping(data["length"], "length", LENGTH_KEYS, ("min_words", "max_words"))
        declared = {}
        for i, raw in enumerate(self.items(data.get("required_evidence"), "required_evidence")):
            rule = self.evidence(raw, f"required_evidence[{i}]")
            declared[rule.id] = rule
        criteria = [
            self.criterion(raw, f"criteria[{i}]", declared)
            for i, raw in enumerate(self.items(data["criteria"], "criteria"))
        ]
        if not criteria:
            raise self.fail("criteria", "no criteria")
        by_name = {c.name: c for c in criteria}
        listed = {e.id for c in criteria for e in c.evidence}
        for i, rule in enumerate(declared.values()):
            if rule.criterion not in by_name:
                raise self.fail(f"required_evidence[{i}].criterion", f"{rule.criterion!r} names no criterion")
            if rule.id not in listed:  # declared but listed by no criterion: it belongs to the one it names
                by_name[rule.criterion].evidence.append(rule)
        source = self.path.relative_to(self.path.parents[2]) if len(self.path.parents) > 2 else self.path
        return Rubric(
            week,
            criteria,
            str(source),
            int(self.number(length["min_words"], "length.min_words")),
            int(self.number(length["max_words"], "length.max_words")),
            self.bands(data.get("bands")),
        )

    def bands(self, raw) -> dict[float, dict[str, tuple[float, float]]]:
        """Section size -> {excellent, satisfactory, needs_improvement: (low, high)}, inclusive."""
        out = {}
        for size, ranges in (raw or {}).items():
            ranges = self.mapping(ranges, f"bands.{size}", set(BANDS), BANDS)
            out[float(self.number(size, f"bands.{size}"))] = {
                band: (
                    float(self.number(ranges[band][0], f"bands.{size}.{band}[0]")),
                    float(self.number(ranges[band][1], f"bands.{size}.{band}[1]")),
                )
                for band in BANDS
            }
        return out

    def criterion(self, raw, key: str, declared: dict[str, Evidence]) -> Criterion:
        raw = self.mapping(raw, key, CRITERION_KEYS, ("name", "points"))
        name = str(raw["name"])
        keywords = [
            self.pattern(k, f"{key}.keywords[{j}]")
            for j, k in enumerate(self.items(raw.get("keywords"), f"{key}.keywords"))
        ]
        keys = [re.escape(name.lower())] + (
            keywords or [re.escape(w) for w in re.findall(r"[a-z0-9]+", name.lower()) if len(w) > 3]
        )
        evidence = []
        for j, ev in enumerate(self.items(raw.get("evidence"), f"{key}.evidence")):
            if ev not in declared:
                raise self.fail(f"{key}.evidence[{j}]", f"{ev!r} is not the id of a required_evidence item")
            evidence.append(declared[ev])
        return Criterion(
            name, float(self.number(raw["points"], f"{key}.points")), keys, str(raw.get("excellent") or ""), evidence
        )

    def evidence(self, raw, key: str) -> Evidence:
        raw = self.mapping(raw, key, EVIDENCE_KEYS, ("id", "criterion", "patterns"))
        patterns = tuple(
            "(?m)" + self.pattern(p, f"{key}.patterns[{j}]")
            for j, p in enumerate(self.items(raw["patterns"], f"{key}.patterns"))
        )
        if not patterns:
            raise self.fail(f"{key}.patterns", "no patterns")
        return Evidence(
            str(raw["id"]),
            str(raw["criterion"]),
            str(raw.get("description") or raw["id"]),
            patterns,
            self.choice(str(raw.get("kind", "mention")), f"{key}.kind", KINDS),
            self.choice(str(raw.get("match", "any")), f"{key}.match", MATCHES) == "all",
            int(self.number(raw.get("min_numbers", 0), f"{key}.min_numbers")),
            int(self.number(raw.get("min_distinct", 0), f"{key}.min_distinct")),
        )


def lower_pattern(pattern: str) -> str:
    """A pattern for lower-cased text: letters lower-cased, escapes (\\S, \\D, \\B ...) kept."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\":
            out.append(pattern[i : i + 2])
            i += 2
        else:
            out.append(pattern[i].lower())
            i += 1
    return "".join(out)


def _top_level_alternatives(source: str) -> list[str] | None:
    """Split a pattern on its top-level '|' (None when it cannot tell, e.g. an unbalanced group)."""
    parts, depth, current, i, in_class = [], 0, [], 0, False
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            current.append(source[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append("".join(current))
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts if depth == 0 and not in_class else None


ZERO_WIDTH = {"b", "B", "A", "Z"}
LITERAL_ESCAPES = set(".-()[]{}*+?|^$/\\ ")


def _literal_prefix(alternative: str) -> str:
    """The literal text every match of this alternative starts with ('' when there is none)."""
    out, i = [], 0
    while i < len(alternative):
        ch = alternative[i]
        if ch == "\\" and i + 1 < len(alternative):
            nxt = alternative[i + 1]
            if nxt in ZERO_WIDTH:
                i += 2
                continue
            if nxt not in LITERAL_ESCAPES:
                break
            ch, step = nxt, 2
        elif ch in ".^$*+?{}[]()|":
            break
        else:
            step = 1
        if i + step < len(alternative) and alternative[i + step] in "?*{":
            break  # this character is optional: the prefix ends before it
        out.append(ch)
        i += step
    return "".join(out)


@lru_cache(maxsize=1024)
def _pattern(source: str) -> tuple[re.Pattern, tuple[str, ...] | None]:
    """A rule pattern (lower-case, matched against lower-cased text) and its needles: literal strings
    one of which every match contains. Testing `needle in text` first skips most regex scans."""
    body = source.removeprefix("(?m)")
    alternatives = _top_level_alternatives(body)
    needles = tuple(_literal_prefix(a) for a in alternatives) if alternatives and not body.startswith("(?") else None
    return re.compile(source), (needles if needles and all(needles) else None)


def search(source: str, text: str) -> bool:
    """Whether a (lower-case) rule pattern matches lower-cased `text`; a needle test first skips most scans."""
    pattern, needles = _pattern(source)
    if needles is not None and not any(n in text for n in needles):
        return False
    return pattern.search(text) is not None
