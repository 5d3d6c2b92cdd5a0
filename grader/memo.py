"""Memo observations: what a human grader wants to know before reading a memo. No points are assigned.

The memo is every markdown cell of the graded notebooks that nbgrader marks as a solution. Per
criterion of the week's rubric (`grader.rubrics`) the observations say:

- whether a section for it exists (a markdown heading, or a line in bold alone, whose words match the
  criterion's name or keywords), and where;
- the rubric's required evidence found or missing, with the paragraph that shows it. Evidence is
  recognised by patterns, so "present" means "a paragraph that looks like it", never "correct";
- every number the memo cites (`grader.artifacts.cited_numbers`: macro-F1, accuracy, weighted F1;
  plus "N zero-F1 classes") checked against every run the student submitted that week, val and test,
  within 0.0051 (rounding to two decimals is fine). A value that matches no run but matches a
  reference number (bands) is marked as such; anything else is flagged with the closest measurement.

And for the whole memo: its length (words outside tables, code and headings) against the rubric's
`length`, with a page estimate at `words_per_page`.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from grader.artifacts import cited_numbers
from grader.rubrics import Criterion, Evidence, Rubric, search
from notebooks.cells import is_solution

TOLERANCE = 0.0051
DECIMAL = r"(?<![\w.])(?:\d+\.\d+|\.\d+|\d+(?:\.\d+)?\s*%)"

# ---------------------------------------------------------------------------------------------------
# Reading the memo
# ---------------------------------------------------------------------------------------------------

HEADING = re.compile(
    r"^\s{0,3}(?:#{1,6}\s+(?P<h>.+?)\s*#*\s*$|\*\*(?P<b>[^*]{2,80})\*\*\s*:?\s*$|__(?P<u>[^_]{2,80})__\s*:?\s*$)"
)
NBGRADER_MARKER = re.compile(
    r"^\s*(?:#+\s*(?:BEGIN|END) SOLUTION\s*|YOUR ANSWER HERE\s*)$"
)  # nbgrader's, not the student's
TABLE_LINE = re.compile(r"^\s*\|.*\|\s*$")
RULE_LINE = re.compile(r"^\s*\|?\s*:?-{2,}")
ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S")
ZERO_F1 = re.compile(
    r"(?i)(\d{1,3})\s+(?:of\s+(?:the\s+)?\d+\s+)?(?:classes\s+)?(?:with\s+|have\s+|had\s+|at\s+)?(?:an?\s+)?zero[\s-]*f1"
    r"|zero[\s-]*f1(?:\s+classes)?\s*(?:[:=]|is|was|of|count(?:\s+of)?)?\s*(\d{1,3})\b(?!\s*(?:%|\.\d))"
)


@dataclass
class Cell:
    notebook: str
    index: int
    text: str


@dataclass
class Paragraph:
    cell: Cell
    text: str
    section: int | None  # index into Memo.headings
    is_table: bool = False
    table_rows: int = 0
    low: str = ""  # lower-cased text: patterns are matched without IGNORECASE, which is 5-20x faster

    def __post_init__(self):
        self.low = self.text.lower()


@dataclass
class Memo:
    cells: list[Cell]
    headings: list[tuple[str, Cell]] = field(default_factory=list)
    paragraphs: list[Paragraph] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n\n".join(c.text for c in self.cells)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def read_memo(notebooks: list[Path]) -> tuple[Memo, list[str]]:
    """Memo cells (markdown, nbgrader solution) of the notebooks; problems reading them are returned,
    because one unreadable notebook should not hide the observations on the others."""
    cells, problems = [], []
    for path in notebooks:
        try:
            nb = json.loads(Path(path).read_text(encoding="utf-8"))
            cells += [
                Cell(Path(path).name, i, _source(cell))
                for i, cell in enumerate(nb.get("cells", []))
                if cell.get("cell_type") == "markdown" and is_solution(cell)
            ]
        except (OSError, ValueError, AttributeError, TypeError) as err:
            problems.append(f"{Path(path).name}: unreadable ({type(err).__name__}: {err})")
    return parse_memo(cells), problems


def parse_memo(cells: list[Cell]) -> Memo:
    """Headings, paragraphs, list items and tables, each paragraph tied to the heading above it."""
    memo = Memo(cells)
    for cell in cells:
        _parse_cell(memo, cell)
    return memo


def _flush(memo: Memo, cell: Cell, lines: list[str], table: bool = False) -> None:
    """The pending block (prose or table lines) becomes a paragraph under the latest heading."""
    section = len(memo.headings) - 1 if memo.headings else None
    if table and lines:
        rows = sum(1 for line in lines if not RULE_LINE.match(line)) - 1
        memo.paragraphs.append(Paragraph(cell, "\n".join(lines), section, True, max(rows, 0)))
    elif not table and any(line.strip() for line in lines):
        memo.paragraphs.append(Paragraph(cell, "\n".join(lines).strip(), section))
    lines.clear()


def _parse_cell(memo: Memo, cell: Cell) -> None:
    block: list[str] = []
    table: list[str] = []
    in_code = False
    for line in cell.text.splitlines():
        first = line.lstrip()[:1]  # cheap dispatch: most lines are prose and need no regex
        if first == "`" and line.strip().startswith("```"):
            in_code = not in_code
            continue
        if in_code or (first in ("#", "Y") and NBGRADER_MARKER.match(line)):
            continue
        heading = HEADING.match(line) if first in ("#", "*", "_") else None
        if heading or not first:
            _flush(memo, cell, block)
            _flush(memo, cell, table, table=True)
            if heading:
                memo.headings.append((next(g for g in heading.groups() if g).strip(), cell))
        elif first == "|" and TABLE_LINE.match(line):
            _flush(memo, cell, block)
            table.append(line)
        elif (first in "-*+" or first.isdigit()) and ITEM.match(line):
            _flush(memo, cell, block)
            _flush(memo, cell, table, table=True)
            _flush(memo, cell, [line])
        else:
            _flush(memo, cell, table, table=True)
            block.append(line)
    _flush(memo, cell, block)
    _flush(memo, cell, table, table=True)


def word_count(memo: Memo) -> int:
    """Words outside tables, code blocks and headings (the 2–3 page target excludes tables)."""
    return sum(len(p.text.split()) for p in memo.paragraphs if not p.is_table)


# ---------------------------------------------------------------------------------------------------
# Observations
# ---------------------------------------------------------------------------------------------------


@dataclass
class Cite:
    metric: str
    value: float
    status: str  # matched | reference | mismatch | unverifiable
    detail: str
    where: str
    snippet: str


@dataclass
class EvidenceObs:
    id: str
    description: str
    present: bool
    detail: str
    where: str = ""
    snippet: str = ""


@dataclass
class CriterionObs:
    name: str
    points: float
    excellent: str
    sections: list[str]
    evidence: list[EvidenceObs]
    cites: list[Cite]


@dataclass
class Observations:
    week: int
    rubric_source: str
    cells: int
    words: int
    pages: float
    length_status: str  # short | within | long | missing
    length_note: str
    criteria: list[CriterionObs]
    unassigned_sections: list[str]
    unassigned_cites: list[Cite]
    problems: list[str]

    @property
    def cites(self) -> list[Cite]:
        return [c for obs in self.criteria for c in obs.cites] + self.unassigned_cites

    @property
    def mismatches(self) -> int:
        return sum(c.status == "mismatch" for c in self.cites)

    @property
    def sections_found(self) -> int:
        return sum(bool(c.sections) for c in self.criteria if c.points)

    @property
    def sections_expected(self) -> int:
        return sum(1 for c in self.criteria if c.points)

    @property
    def evidence_missing(self) -> int:
        return sum(not e.present for c in self.criteria for e in c.evidence)

    def summary(self) -> str:
        if self.length_status == "missing":
            return "memo: no memo cells found"
        return (
            f"memo: {self.sections_found}/{self.sections_expected} rubric sections found, ~{self.pages:.1f} pages "
            f"({self.length_status}), {len(self.cites)} cited number(s), {self.mismatches} not matching the run, "
            f"{self.evidence_missing} required evidence item(s) not found"
        )


def _where(cell: Cell) -> str:
    return f"{cell.notebook}, cell {cell.index}"


def _snippet(text: str, limit: int = 220) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@lru_cache(maxsize=4096)
def _heading_owner(title: str, keys: tuple[tuple[str, ...], ...]) -> int | None:
    """The criterion with the most keyword hits in a (lower-cased) heading, first on ties. Cached:
    most students keep the template's headings."""
    hits = [sum(search(k, title) for k in ks) for ks in keys]
    return hits.index(max(hits)) if hits and max(hits) > 0 else None


def _section_owner(memo: Memo, criteria: list[Criterion]) -> dict[int, int]:
    """heading index -> criterion index."""
    keys = tuple(tuple(rf"\b{k}" for k in c.keywords) for c in criteria)
    owners = {h: _heading_owner(title.lower(), keys) for h, (title, _) in enumerate(memo.headings)}
    return {h: c for h, c in owners.items() if c is not None}


def _numbers(text: str) -> int:
    return len(re.findall(DECIMAL, text))


def _check_rule(rule: Evidence, memo: Memo, crit_index: int, owner: dict[int, int]) -> EvidenceObs:
    """Look in the criterion's own section first: evidence under another heading is weaker, and said so."""
    mine = [p for p in memo.paragraphs if p.section is not None and owner.get(p.section) == crit_index]
    scope, where = (mine, " in its section") if mine else (memo.paragraphs, " anywhere (its section was not found)")
    if rule.min_distinct:
        found = [p for p in rule.patterns if any(search(p, par.low) for par in scope)]
        return EvidenceObs(
            rule.id,
            rule.description,
            len(found) >= rule.min_distinct,
            f"{len(found)} of its patterns found{where} (looking for {rule.min_distinct})",
        )
    combine = all if rule.match_all else any
    matches = [
        p
        for p in scope
        if (rule.kind != "table" or p.is_table)
        and combine(search(source, p.low) for source in rule.patterns)
        and _numbers(p.text) >= rule.min_numbers
        and (rule.kind != "number" or any(ch.isdigit() for ch in p.text))
    ]
    if matches:
        first = matches[0]
        heading = memo.headings[first.section][0] if first.section is not None else "before any heading"
        return EvidenceObs(
            rule.id,
            rule.description,
            True,
            f"found under \u201c{_snippet(heading, 60)}\u201d",
            _where(first.cell),
            _snippet(first.text),
        )
    need = "markdown table" if rule.kind == "table" else "paragraph"
    extra = (
        f" and >= {rule.min_numbers} number(s)"
        if rule.min_numbers
        else " with a number"
        if rule.kind == "number"
        else ""
    )
    return EvidenceObs(rule.id, rule.description, False, f"no {need} matching it{extra} was found{where}")


def _check_cite(
    metric: str,
    value: float,
    measured: dict[str, dict],
    references: dict[str, list[tuple[str, float]]],
    exact: bool = False,
) -> tuple[str, str]:
    values = [
        (f"{run}, {split}", m[split][metric])
        for run, m in measured.items()
        for split in ("val", "test")
        if isinstance(m.get(split), dict)
        and isinstance(m[split].get(metric), (int, float))
        and math.isfinite(m[split][metric])
    ]
    tolerance = 0.5 if exact else TOLERANCE
    fmt = (lambda v: f"{v:.0f}") if exact else (lambda v: f"{v:.4f}")
    if values:
        label, closest = min(values, key=lambda lv: abs(lv[1] - value))
        if abs(closest - value) <= tolerance:
            return "matched", f"matches {fmt(closest)} ({label})"
    for name, ref in references.get(metric, []):
        if abs(ref - value) <= tolerance:
            return "reference", f"matches no run of this submission but the reference number {fmt(ref)} ({name})"
    if not values:
        return "unverifiable", "no measured value of this metric to compare with (no usable run)"
    return "mismatch", (
        f"the run measured {fmt(closest)} ({label}); no run of this submission measured "
        f"{fmt(value)}: check which model the memo means"
    )


def observe(
    memo: Memo,
    rubric: Rubric,
    measured: dict[str, dict],
    *,
    references: dict | None = None,
    words_per_page: int = 500,
    problems: list[str] | None = None,
) -> Observations:
    """Observations per rubric criterion for one memo against the submission's measured metrics."""
    references = references or {}
    owner = _section_owner(memo, rubric.criteria)
    words = word_count(memo)
    pages = words / words_per_page if words_per_page else 0.0
    if not memo.cells:
        status, note = "missing", "no memo cells (markdown cells marked as solutions) were found"
    else:
        status = "short" if words < rubric.min_words else "long" if words > rubric.max_words else "within"
        note = (
            f"{words} words outside tables, code and headings ≈ {pages:.1f} pages at {words_per_page} words per "
            f"page; the rubric's target is {rubric.min_words}–{rubric.max_words} words"
        )
    crit_obs = [
        CriterionObs(
            c.name,
            c.points,
            c.excellent,
            [
                f"\u201c{memo.headings[h][0]}\u201d ({_where(memo.headings[h][1])})"
                for h, ci in owner.items()
                if ci == i
            ],
            [_check_rule(rule, memo, i, owner) for rule in c.evidence],
            [],
        )
        for i, c in enumerate(rubric.criteria)
    ]
    unassigned_sections = [
        f"\u201c{title}\u201d ({_where(cell)})" for h, (title, cell) in enumerate(memo.headings) if h not in owner
    ]
    unassigned: list[Cite] = []
    for paragraph in memo.paragraphs:
        for line in paragraph.text.splitlines():
            low = line.lower()  # cheap pre-filters: every metric word contains "f1" or "acc"
            cites = [(m, v, False) for m, v in cited_numbers(line)] if "f1" in low or "acc" in low else []
            if "zero" in low:
                cites += [
                    ("zero_f1_classes", float(next(g for g in z.groups() if g)), True) for z in ZERO_F1.finditer(line)
                ]
            for metric, value, exact in cites:
                state, detail = _check_cite(metric, value, measured, references, exact)
                cite = Cite(metric, value, state, detail, _where(paragraph.cell), _snippet(line, 160))
                crit = owner.get(paragraph.section) if paragraph.section is not None else None
                (crit_obs[crit].cites if crit is not None else unassigned).append(cite)
    return Observations(
        rubric.week,
        rubric.source,
        len(memo.cells),
        words,
        pages,
        status,
        note,
        crit_obs,
        unassigned_sections,
        unassigned,
        list(problems or []),
    )


def reference_numbers(bands: dict, week: str) -> dict[str, list[tuple[str, float]]]:
    """metric -> [(name, value)] from bands files ({profile: loaded bands}): week 1 baselines and the week's pipelines."""
    out: dict[str, list[tuple[str, float]]] = {}
    for profile, loaded in bands.items():
        for band_week in dict.fromkeys(("week1", week)):
            for pipeline, splits in (loaded.get(band_week) or {}).items():
                for split, metrics_ in (splits or {}).items():
                    for metric, band in (metrics_ or {}).items():
                        if isinstance(band, dict) and isinstance(band.get("mean"), (int, float)):
                            out.setdefault(metric, []).append(
                                (f"{profile} {band_week}/{pipeline} {split}", float(band["mean"]))
                            )
    return out
