"""Memo observations: what a human grader wants to know before reading a memo. No points are assigned.

The memo is every markdown cell of the graded notebooks whose `metadata.nbgrader.solution` is true.
Per rubric criterion the observations say:

- whether a section for it exists (a markdown heading, or a line in bold alone, whose words match the
  criterion's keywords), and where;
- the required evidence of that week (COURSE.md §4, "Excellent requires") found or missing, with the
  paragraph that shows it. Evidence is recognised by patterns that must co-occur in one paragraph,
  so "present" means "a paragraph that looks like it", never "correct";
- every number the memo cites (`grader.artifacts.cited_numbers`: macro-F1, accuracy, weighted F1;
  plus "N zero-F1 classes") checked against every run the student submitted that week, val and test,
  within 0.0051 (rounding to two decimals is fine). A value that matches no run but matches a
  reference number (bands) is marked as such; anything else is flagged with the closest measurement.

And for the whole memo: its length against the 2–3 page target (words outside tables and code, at
`words_per_page`, default 500).

Evidence patterns are lower-case regular expressions matched against the lower-cased paragraph.

Rubrics: `assignments/rubrics/week{N}.yaml` when it exists (the format those files use)::

    criteria:                      # a list (or a mapping name -> points / {points, ...})
      - name: Audit                # = the memo's heading for it; `keywords: [...]` may add heading words
        points: 20
        excellent: "Long-tail facts with numbers ..."          # shown to the grader
        evidence: [long-tail]      # ids of required_evidence items (or of the built-in rules below)
    required_evidence:
      - {id: long-tail, criterion: Audit, description: "...", kind: number, patterns: [top class, 'long[- ]tail']}
    length: {min_words: 800, max_words: 1500}      # or {min_pages, max_pages, words_per_page}

A `required_evidence` item is present when ONE of its patterns (case-insensitive, ^/$ per line) matches
a paragraph inside its criterion's section (the whole memo when that section is missing); kind
"number" also wants a number in that paragraph, kind "table" a markdown table. Evidence given only
as words is listed as "not checked automatically". An unreadable file falls back to the built-in
table, with the reason shown.

Without a file, `DEFAULT_RUBRICS` (COURSE.md §4) and the built-in `EVIDENCE` rules (all of a rule's
patterns in one paragraph, anywhere in the memo) are used; they also run for a file that lists no
evidence at all.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from grader.artifacts import cited_numbers

TOLERANCE = 0.0051
MIN_PAGES, MAX_PAGES = 2.0, 3.0

# week -> [(criterion, points, heading keywords (regex fragments, matched at a word start), Excellent requires)]
DEFAULT_RUBRICS: dict[int, list[tuple[str, int, list[str], str]]] = {
    1: [("Audit", 20, ["audit", "data", "label", "class distribution"], "Long-tail facts"),
        ("Baseline interpretation", 20, ["baseline", "tf-?idf", "majority"],
         "Why accuracy and macro-F1 diverge (70 zero-F1 classes)"),
        ("Fine-tuning results", 25, ["fine-?tun", "modernbert", "training", "results"],
         "Curves and a best-checkpoint rationale"),
        ("Experiment log", 20, ["experiment", "log", "run table", "hyperparameter"], "Reproducible run table"),
        ("Risks", 15, ["risk", "limitation"], "At least two grounded risks")],
    2: [("Experiments", 20, ["experiment"], "At least three one-variable experiments"),
        ("Weighting", 20, ["weight"], "The trade-off mechanism"),
        ("Batch size", 20, ["batch"], "Effect compared with seed noise"),
        ("Error analysis", 25, ["error", "confusion", "tier"], "Tier and confusion destinations"),
        ("Val reliability", 15, ["reliab", "noise", "validation", r"val\b"], "The noise floor")],
    3: [("Systems comparison", 20, ["system", "comparison", "compar"], "Parameter shares"),
        ("Weighting on decoder", 20, ["weight"], "Mechanistic explanation of the transfer difference"),
        ("Rare vs common", 25, ["rare", "common", "tail", "tier"], "Tier numbers"),
        ("Latency/deployment", 20, ["latency", "deploy"], "Latency -> recommendation for a named context"),
        ("Next step", 15, ["next"], "")],
    4: [("Slices", 20, ["slice"], "At least four axes including the null one"),
        ("Calibration", 20, ["calibrat", r"ece\b", "temperature"], "ECE and T before and after, F1 unchanged"),
        ("Confusion", 25, ["confus", "error"], "Tier percentages and named class pairs"),
        ("Bootstrap", 20, ["bootstrap", "confidence interval", r"ci\b"], "CI of the difference"),
        ("Revisiting W3", 15, ["revisit", "week 3", r"w3\b"], "")],
    5: [("Pareto", 20, ["pareto", "frontier"], "Dominated points named"),
        ("Tier damage", 25, ["tier", "damage"], "CI width and flipped-prediction count"),
        ("Calibration", 15, ["calibrat", r"ece\b"], "2x3 ECE table"),
        ("Constrained decision", 30, ["constrain", "decision"], "Binding constraint, a reading cited, AWQ counterfactual"),
        ("Revisiting W3", 10, ["revisit", "week 3", r"w3\b"], "")],
    6: [("KD transfer", 25, ["transfer", "distil", r"kd\b"], "NLL/JS evidence of \"distributional structure\""),
        ("Not fixed", 15, ["not fixed", "unfixed", "limit"], "Teacher tail .198 as the ceiling"),
        ("Hyperparameters and noise", 15, ["hyperparam", "grid", "noise"], "Grid vs CI width"),
        ("Three compressions", 15, ["compress"], "Numbers-backed compression pair"),
        ("Deployment", 30, ["deploy"], "Metric matched to scenario, plus a flip condition")],
}

DECIMAL = r"(?<![\w.])(?:\d+\.\d+|\.\d+|\d+(?:\.\d+)?\s*%)"
INTERVAL = r"\[\s*[-+−]?\d*\.?\d+\s*,\s*[-+−]?\d*\.?\d+\s*\]"
TIER_NUMBER = r"\b(?:head|mid|tail)\b[^.\n]{0,40}?(?:\d+\.\d+|\.\d+|\d+(?:\.\d+)?\s*%)"


@dataclass(frozen=True)
class Evidence:
    """A pattern rule: a paragraph where every pattern matches (and enough decimal numbers)."""

    id: str
    criterion: str
    description: str
    patterns: tuple[str, ...] = ()
    min_numbers: int = 0
    table: bool = False  # the paragraph must be a markdown table
    table_rows: int = 0  # ... with at least this many data rows
    min_paragraphs: int = 1  # this many distinct paragraphs must match
    distinct: tuple[str, ...] = ()  # at least `min_distinct` of these must occur anywhere in the memo
    min_distinct: int = 0
    section_items: int = 0  # the criterion's own section must hold this many list items or paragraphs
    any_pattern: bool = False  # one of the patterns is enough (rubric files), rather than all of them
    in_section: bool = False  # look inside the criterion's section (the whole memo when it has none)
    needs_number: bool = False  # the paragraph must hold a number (rubric kind "number")


EVIDENCE: dict[int, list[Evidence]] = {
    1: [Evidence("w1-long-tail", "Audit", "Long-tail facts (the top class's share, counts of rare classes)",
                 (r"long[\s-]*tail|imbalanc|skew|rare|top class|largest class|majority class|\bhead\b",), min_numbers=1),
        Evidence("w1-gap", "Baseline interpretation", "Accuracy vs macro-F1 gap, with both numbers",
                 (r"accura", r"macro"), min_numbers=2),
        Evidence("w1-zero-f1", "Baseline interpretation", "The number of zero-F1 classes",
                 (r"zero[\s-]*f1|f1\s+of\s+(?:0|zero)\b|never predict", r"\b\d+\b")),
        Evidence("w1-checkpoint", "Fine-tuning results", "Training curves and a best-checkpoint rationale",
                 (r"checkpoint|epoch", r"best|select|chose|pick|stop|curve")),
        Evidence("w1-run-table", "Experiment log", "A reproducible run table (learning rate, seed, epochs, ...)",
                 (r"\blr\b|learning[\s-]*rate|seed|epoch|batch",), table=True, table_rows=1),
        Evidence("w1-risks", "Risks", "At least two grounded risks (list items or paragraphs in the section)",
                 section_items=2)],
    2: [Evidence("w2-experiments", "Experiments", "At least three one-variable experiments (a table of >= 3 runs)",
                 table=True, table_rows=3),
        Evidence("w2-tradeoff", "Weighting", "The trade-off mechanism of class weighting",
                 (r"weight", r"accura|precision|recall|\bhead\b|\btail\b|trade")),
        Evidence("w2-seed-noise", "Batch size", "The batch-size effect compared with seed noise, with numbers",
                 (r"seed", r"noise|varian|std|spread|differ|vari|fluctuat"), min_numbers=1),
        Evidence("w2-tiers", "Error analysis", "Tier F1 numbers (head / mid / tail)", (TIER_NUMBER,), min_numbers=2),
        Evidence("w2-confusion", "Error analysis", "Confusion destinations (where errors land)",
                 (r"confus|misclassif|predicted as|mistaken|→|->|\bland",)),
        Evidence("w2-noise-floor", "Val reliability", "The noise floor of val, with a number",
                 (r"noise|bootstrap|interval|\bci\b|seed",), min_numbers=1)],
    3: [Evidence("w3-param-share", "Systems comparison", "Trainable parameter shares",
                 (r"trainable|parameter", r"\d+(?:\.\d+)?\s*%|\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?\s*[mb]\b")),
        Evidence("w3-mechanism", "Weighting on decoder", "A mechanistic explanation of the transfer difference",
                 (r"because|since|mechanis|due to|so that", r"weight")),
        Evidence("w3-tiers", "Rare vs common", "Tier F1 numbers (head / mid / tail)", (TIER_NUMBER,), min_numbers=2),
        Evidence("w3-latency", "Latency/deployment", "Latency with numbers (ms or examples/s)",
                 (r"\d+(?:\.\d+)?\s*(?:ms|milliseconds?)\b|examples?\s*/\s*s|ex/s",)),
        Evidence("w3-recommend", "Latency/deployment", "A recommendation for a named context",
                 (r"recommend|would (?:deploy|choose|use|pick)",))],
    4: [Evidence("w4-slices", "Slices", "At least four slice axes",
                 distinct=(r"length|long text|short text", r"redact", r"\btier", r"product", r"\bstate\b",
                           r"\bdate|\byear|month", r"company", r"channel|submitted via", r"\btag", r"sub-?issue",
                           r"\bzip"), min_distinct=4),
        Evidence("w4-null", "Slices", "The null axis (a slice with no effect) named",
                 (r"\bnull\b|no (?:effect|difference|gap)|does not (?:matter|change)|negligible|flat",)),
        Evidence("w4-ece", "Calibration", "ECE and T, before and after",
                 (r"\bece\b", r"temperature|\bt\s*=|scal"), min_numbers=2),
        Evidence("w4-pairs", "Confusion", "Named class pairs with tier percentages",
                 (r"confus|→|->|mistaken for|predicted as|\binto\b", r"%")),
        Evidence("w4-ci-diff", "Bootstrap", "A CI of the difference", (r"\bci\b|confidence interval|interval", INTERVAL))],
    5: [Evidence("w5-dominated", "Pareto", "Dominated points named", (r"dominat",)),
        Evidence("w5-ci-width", "Tier damage", "A CI width",
                 (r"\bci\b|interval", r"width|wide|±|\+/-|" + INTERVAL), min_numbers=1),
        Evidence("w5-flips", "Tier damage", "A flipped-prediction count", (r"flip", r"\b\d+\b")),
        Evidence("w5-ece-table", "Calibration", "A 2x3 ECE table", (r"\bece\b",), table=True, table_rows=2),
        Evidence("w5-binding", "Constrained decision", "The binding constraint", (r"\bbind",)),
        Evidence("w5-reading", "Constrained decision", "A measured reading cited (ms, F1 or ECE)",
                 (r"\bms\b|\bece\b|f1|latency",), min_numbers=1),
        Evidence("w5-awq", "Constrained decision", "An AWQ counterfactual", (r"\bawq\b",))],
    6: [Evidence("w6-structure", "KD transfer", "NLL / JS evidence of distributional structure",
                 (r"\bnll\b|\bjs\b|jensen|divergence",), min_numbers=1),
        Evidence("w6-ceiling", "Not fixed", "The teacher's tail F1 (.198) as the ceiling",
                 (r"teacher", r"tail", r"0?\.198\b|19\.8\s*%")),
        Evidence("w6-grid-ci", "Hyperparameters and noise", "Grid differences against the CI width",
                 (r"grid|t_d|α|alpha", r"\bci\b|interval|noise")),
        Evidence("w6-compression", "Three compressions", "A numbers-backed compression pair",
                 (r"quantiz|int8|int4|nf4|lora|distil|prun",), min_numbers=2),
        Evidence("w6-scenario", "Deployment", "The metric matched to a deployment scenario",
                 (r"deploy|scenario|production|use case", r"f1|ece|nll|latency|accuracy|recall|precision")),
        Evidence("w6-flip", "Deployment", "A flip condition (what would change the decision)",
                 (r"would (?:change|flip|switch|reverse)|unless|\bflip",))],
}


# ---------------------------------------------------------------------------------------------------
# Rubrics
# ---------------------------------------------------------------------------------------------------


@dataclass
class Criterion:
    name: str
    points: float
    keywords: list[str]
    excellent: str = ""
    evidence: list[Evidence] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)  # rubric evidence given only as words


@dataclass
class Rubric:
    week: int
    criteria: list[Criterion]
    source: str
    min_pages: float = MIN_PAGES
    max_pages: float = MAX_PAGES
    words_per_page: int | None = None
    problems: list[str] = field(default_factory=list)
    min_words: int | None = None  # a rubric file's length in words, when it gives one
    max_words: int | None = None


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def default_rubric(week: int) -> Rubric:
    rows = DEFAULT_RUBRICS.get(week, [])
    criteria = [Criterion(name, points, list(keys), excellent) for name, points, keys, excellent in rows]
    rubric = Rubric(week, criteria, "COURSE.md §4 (built-in table)" if rows else "no rubric for this week")
    _attach_builtin(rubric)
    return rubric


def _attach_builtin(rubric: Rubric) -> None:
    by_name = {c.name.lower(): c for c in rubric.criteria}
    other = None
    for rule in EVIDENCE.get(rubric.week, []):
        target = by_name.get(rule.criterion.lower())
        if target is None and rubric.criteria:
            overlap = [(len(_words(rule.criterion) & _words(c.name)), i) for i, c in enumerate(rubric.criteria)]
            best, index = max(overlap)
            target = rubric.criteria[index] if best else None
        if target is None:
            if other is None:
                other = Criterion("Other evidence", 0, [])
                rubric.criteria.append(other)
            target = other
        if all(e.id != rule.id for e in target.evidence):
            target.evidence.append(rule)


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _lower_pattern(pattern: str) -> str:
    """A case-insensitive pattern for lower-cased text: letters lower-cased, escapes (\\S, \\D, \\B ...)
    kept. Matching lower-cased text without IGNORECASE is several times faster, and lets literal
    needles pre-filter the paragraphs."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "\\":
            out.append(pattern[i:i + 2])
            i += 2
        else:
            out.append(pattern[i].lower())
            i += 1
    return "".join(out)


def _file_evidence(ev: dict, criterion: str) -> Evidence:
    """One `required_evidence` item of a rubric file: {id, criterion, description, kind, patterns};
    present when ONE pattern (case-insensitive, ^/$ per line) matches inside the criterion's section;
    kind "number" also wants a number there, kind "table" a markdown table."""
    patterns = tuple("(?m)" + _lower_pattern(str(p)) for p in _as_list(ev.get("patterns") or ev.get("pattern")))
    for p in patterns:
        re.compile(p)
    kind = str(ev.get("kind", "mention"))
    match = str(ev.get("match", "any"))
    return Evidence(str(ev.get("id") or ev.get("description") or patterns[0]), str(ev.get("criterion") or criterion),
                    str(ev.get("description") or ev.get("id") or "evidence"), patterns,
                    int(ev.get("min_numbers", 0) or 0), table=kind == "table", any_pattern=match != "all",
                    in_section=True, needs_number=kind == "number")


def load_rubric(week: int, folder: Path) -> Rubric:
    """The week's rubric file when there is one, else the built-in table (see the module's docstring)."""
    path = Path(folder) / f"week{week}.yaml"
    if not path.is_file():
        return default_rubric(week)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise ValueError("expected a mapping with 'criteria'")
        raw = data.get("criteria", data.get("sections"))
        items = ([{"name": k, **(v if isinstance(v, dict) else {"points": v})} for k, v in raw.items()]
                 if isinstance(raw, dict) else list(raw or []))
        builtin = {e.id: e for rules in EVIDENCE.values() for e in rules}
        declared = {str(ev["id"]): ev for ev in _as_list(data.get("required_evidence"))
                    if isinstance(ev, dict) and ev.get("id") and (ev.get("patterns") or ev.get("pattern"))}
        defaults = {name.lower(): (keys, excellent) for name, _, keys, excellent in DEFAULT_RUBRICS.get(week, [])}
        criteria, used = [], set()
        for item in items:
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, dict):
                continue
            name = str(item.get("name") or item.get("title") or item.get("id") or "criterion")
            points = float(item.get("points", item.get("max_points", 0)) or 0)
            keys = [re.escape(str(k).lower()) for k in _as_list(item.get("keywords") or item.get("headings"))]
            keys = [re.escape(name.lower())] + (keys or defaults.get(name.lower(), ([],))[0]
                                                or [re.escape(w) for w in _words(name) if len(w) > 3])
            excellent = item.get("excellent") or item.get("excellent_requires") or defaults.get(name.lower(), ("", ""))[1]
            if isinstance(excellent, (list, dict)):
                excellent = "; ".join(str(x) for x in (excellent.values() if isinstance(excellent, dict) else excellent))
            criterion = Criterion(name, points, keys, str(excellent or ""))
            for ev in _as_list(item.get("evidence") or item.get("required_evidence")):
                if isinstance(ev, str) and ev in declared:
                    criterion.evidence.append(_file_evidence(declared[ev], name))
                    used.add(ev)
                elif isinstance(ev, str) and ev in builtin:
                    criterion.evidence.append(builtin[ev])
                elif isinstance(ev, dict) and (ev.get("patterns") or ev.get("pattern")):
                    criterion.evidence.append(_file_evidence({"match": "all", **ev}, name))
                else:
                    criterion.unchecked.append(str(ev.get("description", ev) if isinstance(ev, dict) else ev))
            criteria.append(criterion)
        if not criteria:
            raise ValueError("no criteria")
        by_name = {c.name.lower(): c for c in criteria}
        for ev_id, ev in declared.items():  # evidence a criterion did not list: to the criterion it names
            if ev_id not in used:
                target = by_name.get(str(ev.get("criterion", "")).lower())
                if target is None:
                    target = by_name.setdefault("other evidence", Criterion("Other evidence", 0, []))
                    if target not in criteria:
                        criteria.append(target)
                target.evidence.append(_file_evidence(ev, target.name))
        length = data.get("length") if isinstance(data.get("length"), dict) else {}
        pages = length.get("pages") or data.get("pages")
        rubric = Rubric(week, criteria, str(path.relative_to(path.parents[2]) if len(path.parents) > 2 else path),
                        float(length.get("min_pages", pages[0] if isinstance(pages, list) else MIN_PAGES)),
                        float(length.get("max_pages", pages[-1] if isinstance(pages, list) else MAX_PAGES)),
                        int(length["words_per_page"]) if length.get("words_per_page") else None,
                        min_words=int(length["min_words"]) if length.get("min_words") else None,
                        max_words=int(length["max_words"]) if length.get("max_words") else None)
    except (OSError, yaml.YAMLError, ValueError, TypeError, re.error, IndexError, KeyError) as err:
        rubric = default_rubric(week)
        rubric.problems.append(f"{path.name} could not be used ({err}); the built-in table was used instead")
        return rubric
    if not any(c.evidence for c in rubric.criteria):  # a file without evidence: the built-in rules run
        _attach_builtin(rubric)
    return rubric


# ---------------------------------------------------------------------------------------------------
# Reading the memo
# ---------------------------------------------------------------------------------------------------

HEADING = re.compile(r"^\s{0,3}(?:#{1,6}\s+(?P<h>.+?)\s*#*\s*$|\*\*(?P<b>[^*]{2,80})\*\*\s*:?\s*$|__(?P<u>[^_]{2,80})__\s*:?\s*$)")
NBGRADER_MARKER = re.compile(r"^\s*(?:#+\s*(?:BEGIN|END) SOLUTION\s*|YOUR ANSWER HERE\s*)$")  # nbgrader's, not the student's
TABLE_LINE = re.compile(r"^\s*\|.*\|\s*$")
RULE_LINE = re.compile(r"^\s*\|?\s*:?-{2,}")
ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\S")
ZERO_F1 = re.compile(r"(?i)(\d{1,3})\s+(?:of\s+(?:the\s+)?\d+\s+)?(?:classes\s+)?(?:with\s+|have\s+|had\s+|at\s+)?(?:an?\s+)?zero[\s-]*f1"
                     r"|zero[\s-]*f1(?:\s+classes)?\s*(?:[:=]|is|was|of|count(?:\s+of)?)?\s*(\d{1,3})\b(?!\s*(?:%|\.\d))")


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
    """Memo cells (markdown, nbgrader solution) of the notebooks; problems reading them are returned."""
    cells, problems = [], []
    for path in notebooks:
        try:
            nb = json.loads(Path(path).read_text(encoding="utf-8"))
            for i, cell in enumerate(nb.get("cells", [])):
                meta = (cell.get("metadata") or {}).get("nbgrader") or {}
                if cell.get("cell_type") == "markdown" and meta.get("solution") is True:
                    cells.append(Cell(Path(path).name, i, _source(cell)))
        except (OSError, ValueError, AttributeError, TypeError) as err:
            problems.append(f"{Path(path).name}: unreadable ({type(err).__name__}: {err})")
    return parse_memo(cells), problems


def parse_memo(cells: list[Cell]) -> Memo:
    memo = Memo(cells)
    current: int | None = None
    for cell in cells:
        block: list[str] = []
        table: list[str] = []

        def flush_block():
            if block and any(line.strip() for line in block):
                memo.paragraphs.append(Paragraph(cell, "\n".join(block).strip(), current))
            block.clear()

        def flush_table():
            if table:
                rows = sum(1 for line in table if not RULE_LINE.match(line)) - 1
                memo.paragraphs.append(Paragraph(cell, "\n".join(table), current, True, max(rows, 0)))
            table.clear()

        in_code = False
        for line in cell.text.splitlines():
            first = line.lstrip()[:1]  # cheap dispatch: most lines are prose and need no regex
            if first == "`" and line.strip().startswith("```"):
                in_code = not in_code
                continue
            if in_code or (first in ("#", "Y") and NBGRADER_MARKER.match(line)):
                continue
            heading = HEADING.match(line) if first in ("#", "*", "_") else None
            if heading:
                flush_block(), flush_table()
                title = next(g for g in heading.groups() if g)
                memo.headings.append((title.strip(), cell))
                current = len(memo.headings) - 1
            elif first == "|" and TABLE_LINE.match(line):
                flush_block()
                table.append(line)
            elif not first:
                flush_block(), flush_table()
            elif (first in "-*+" or first.isdigit()) and ITEM.match(line):
                flush_block(), flush_table()
                block.append(line)
                flush_block()
            else:
                flush_table()
                block.append(line)
        flush_block(), flush_table()
    return memo


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
    unchecked: list[str]


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
        return (f"memo: {self.sections_found}/{self.sections_expected} rubric sections found, ~{self.pages:.1f} pages "
                f"({self.length_status}), {len(self.cites)} cited number(s), {self.mismatches} not matching the run, "
                f"{self.evidence_missing} required evidence item(s) not found")


def _where(cell: Cell) -> str:
    return f"{cell.notebook}, cell {cell.index}"


def _snippet(text: str, limit: int = 220) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _top_level_alternatives(source: str) -> list[str] | None:
    """Split a pattern on its top-level '|' (None when it cannot tell, e.g. an unbalanced group)."""
    parts, depth, current, i, in_class = [], 0, [], 0, False
    while i < len(source):
        ch = source[i]
        if ch == "\\":
            current.append(source[i:i + 2])
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
    body = source[4:] if source.startswith("(?m)") else source
    alternatives = _top_level_alternatives(body)
    needles = tuple(_literal_prefix(a) for a in alternatives) if alternatives and not body.startswith("(?") else None
    return re.compile(source), (needles if needles and all(needles) else None)


def _search(source: str, text: str) -> bool:
    pattern, needles = _pattern(source)
    if needles is not None and not any(n in text for n in needles):
        return False
    return pattern.search(text) is not None


@lru_cache(maxsize=4096)
def _heading_owner(title: str, keys: tuple[tuple[str, ...], ...]) -> int | None:
    """The criterion with the most keyword hits in a (lower-cased) heading, first on ties. Cached:
    most students keep the template's headings."""
    hits = [sum(_search(k, title) for k in ks) for ks in keys]
    return hits.index(max(hits)) if hits and max(hits) > 0 else None


def _section_owner(memo: Memo, criteria: list[Criterion]) -> dict[int, int]:
    """heading index -> criterion index."""
    keys = tuple(tuple(rf"\b{k.lower()}" for k in c.keywords) for c in criteria)
    owners = {h: _heading_owner(title.lower(), keys) for h, (title, _) in enumerate(memo.headings)}
    return {h: c for h, c in owners.items() if c is not None}


def _numbers(text: str) -> int:
    return len(re.findall(DECIMAL, text))


def _check_rule(rule: Evidence, memo: Memo, crit_index: int, owner: dict[int, int]) -> EvidenceObs:
    if rule.section_items:
        mine = [p for p in memo.paragraphs if p.section is not None and owner.get(p.section) == crit_index]
        count = sum(max(1, p.table_rows) if p.is_table else 1 for p in mine)
        if not mine:
            return EvidenceObs(rule.id, rule.description, False, "its section was not found, so items could not be counted")
        return EvidenceObs(rule.id, rule.description, count >= rule.section_items,
                           f"{count} item(s) or paragraph(s) in the section (looking for {rule.section_items})",
                           _where(mine[0].cell), _snippet(mine[0].text))
    if rule.distinct:
        found = [p for p in rule.distinct if any(_search(p, par.low) for par in memo.paragraphs)
                 or any(_search(p, h.lower()) for h, _ in memo.headings)]
        names = ", ".join(re.sub(r"\\b|\(|\)|\?", "", p.split("|")[0]) for p in found) or "none"
        return EvidenceObs(rule.id, rule.description, len(found) >= rule.min_distinct,
                           f"{len(found)} distinct axes mentioned (looking for {rule.min_distinct}): {names}")
    scope, where = memo.paragraphs, ""
    if rule.in_section:
        mine = [p for p in memo.paragraphs if p.section is not None and owner.get(p.section) == crit_index]
        scope, where = (mine, " in its section") if mine else (memo.paragraphs, " anywhere (its section was not found)")
    combine = any if rule.any_pattern else all
    matches = [p for p in scope
               if (not rule.table or (p.is_table and p.table_rows >= rule.table_rows))
               and combine(_search(source, p.low) for source in rule.patterns) and _numbers(p.text) >= rule.min_numbers
               and (not rule.needs_number or any(ch.isdigit() for ch in p.text))]
    if len(matches) >= rule.min_paragraphs:
        first = matches[0]
        heading = memo.headings[first.section][0] if first.section is not None else "before any heading"
        return EvidenceObs(rule.id, rule.description, True, f"found under \u201c{_snippet(heading, 60)}\u201d",
                           _where(first.cell), _snippet(first.text))
    need = "markdown table" + (f" with >= {rule.table_rows} rows" if rule.table_rows else "") if rule.table else "paragraph"
    extra = f" and >= {rule.min_numbers} number(s)" if rule.min_numbers else " with a number" if rule.needs_number else ""
    return EvidenceObs(rule.id, rule.description, False, f"no {need} matching it{extra} was found{where}")


def _check_cite(metric: str, value: float, measured: dict[str, dict], references: dict[str, list[tuple[str, float]]],
                exact: bool = False) -> tuple[str, str]:
    values = [(f"{run}, {split}", m[split][metric]) for run, m in measured.items() for split in ("val", "test")
              if isinstance(m.get(split), dict) and isinstance(m[split].get(metric), (int, float))
              and math.isfinite(m[split][metric])]
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
    return "mismatch", (f"the run measured {fmt(closest)} ({label}); no run of this submission measured "
                        f"{fmt(value)}: check which model the memo means")


def observe(memo: Memo, rubric: Rubric, measured: dict[str, dict], *, references: dict | None = None,
            words_per_page: int = 500, problems: list[str] | None = None) -> Observations:
    """Observations per rubric criterion for one memo against the submission's measured metrics."""
    references = references or {}
    wpp = rubric.words_per_page or words_per_page
    owner = _section_owner(memo, rubric.criteria)
    words = word_count(memo)
    pages = words / wpp if wpp else 0.0
    low_words = rubric.min_words if rubric.min_words is not None else int(rubric.min_pages * wpp)
    high_words = rubric.max_words if rubric.max_words is not None else int(rubric.max_pages * wpp)
    if not memo.cells:
        status, note = "missing", "no memo cells (markdown cells marked as solutions) were found"
    else:
        status = "short" if words < low_words else "long" if words > high_words else "within"
        note = (f"{words} words outside tables, code and headings ≈ {pages:.1f} pages at {wpp} words per page; "
                f"target {rubric.min_pages:g}–{rubric.max_pages:g} pages, taken as {low_words}–{high_words} words")
    crit_obs = [CriterionObs(c.name, c.points, c.excellent,
                             [f"\u201c{memo.headings[h][0]}\u201d ({_where(memo.headings[h][1])})" for h, ci in owner.items() if ci == i],
                             [_check_rule(rule, memo, i, owner) for rule in c.evidence], [], list(c.unchecked))
                for i, c in enumerate(rubric.criteria)]
    unassigned_sections = [f"\u201c{title}\u201d ({_where(cell)})" for h, (title, cell) in enumerate(memo.headings) if h not in owner]
    unassigned: list[Cite] = []
    for paragraph in memo.paragraphs:
        for line in paragraph.text.splitlines():
            low = line.lower()  # cheap pre-filters: every metric word contains "f1" or "acc"
            cites = [(m, v, False) for m, v in cited_numbers(line)] if "f1" in low or "acc" in low else []
            if "zero" in low:
                cites += [("zero_f1_classes", float(next(g for g in z.groups() if g)), True) for z in ZERO_F1.finditer(line)]
            for metric, value, exact in cites:
                state, detail = _check_cite(metric, value, measured, references, exact)
                cite = Cite(metric, value, state, detail, _where(paragraph.cell), _snippet(line, 160))
                crit = owner.get(paragraph.section) if paragraph.section is not None else None
                (crit_obs[crit].cites if crit is not None else unassigned).append(cite)
    return Observations(rubric.week, rubric.source, len(memo.cells), words, pages, status, note, crit_obs,
                        unassigned_sections, unassigned, list(rubric.problems) + list(problems or []))


def reference_numbers(bands: dict, week: str) -> dict[str, list[tuple[str, float]]]:
    """metric -> [(name, value)] from bands files ({profile: loaded bands}): week 1 baselines and the week's pipelines."""
    out: dict[str, list[tuple[str, float]]] = {}
    for profile, loaded in bands.items():
        for band_week in dict.fromkeys(("week1", week)):
            for pipeline, splits in (loaded.get(band_week) or {}).items():
                for split, metrics_ in (splits or {}).items():
                    for metric, band in (metrics_ or {}).items():
                        if isinstance(band, dict) and isinstance(band.get("mean"), (int, float)):
                            out.setdefault(metric, []).append((f"{profile} {band_week}/{pipeline} {split}", float(band["mean"])))
    return out
