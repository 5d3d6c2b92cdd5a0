"""Memo observations (`grader.memo`) against the course's rubric files (`grader.rubrics`), and the
strictness of the rubric reader: a file it cannot use is an error naming the file and the key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from course.bands import load_bands
from course.errors import UserError
from grader import memo
from grader.rubrics import RubricError, load_rubric, rubrics_dir, search
from leaderboard import synthetic
from leaderboard.site import build_site

FIXTURE_MEMO = """## 1. Audit
The data has a long tail: the top class holds 23% of rows.

## 2. Baseline interpretation
Accuracy is 54.2% but macro-F1 is only 0.21, because 46 zero-F1 classes are never predicted.
The TF-IDF baseline had a macro-F1 of 0.1324.

## 3. Fine-tuning results
Our best run reached a macro-F1 of 0.25 after epoch 2 (test macro-F1: 0.205). We also saw 70 zero-F1 classes.

## Something else
Weighted F1 was 0.50.
"""


def test_memo_numbers_are_matched_or_flagged_correctly():
    measured = {
        "week1_modernbert": {
            "val": {"macro_f1": 0.2104, "accuracy": 0.5423, "weighted_f1": 0.52, "zero_f1_classes": 46},
            "test": {"macro_f1": 0.2049, "accuracy": 0.5390, "weighted_f1": 0.51, "zero_f1_classes": 50},
        }
    }
    refs = memo.reference_numbers({"full": load_bands("full")}, "week1")
    parsed = memo.parse_memo([memo.Cell("week1_homework.ipynb", 3, FIXTURE_MEMO)])
    obs = memo.observe(parsed, load_rubric(1), measured, references=refs)
    got = sorted((c.metric, round(c.value, 4), c.status) for c in obs.cites)
    assert got == sorted(
        [
            ("accuracy", 0.542, "matched"),
            ("macro_f1", 0.21, "matched"),
            ("zero_f1_classes", 46.0, "matched"),
            ("macro_f1", 0.1324, "reference"),  # the published TF-IDF number, not the student's run
            ("macro_f1", 0.25, "mismatch"),
            ("macro_f1", 0.205, "matched"),  # the test number
            ("zero_f1_classes", 70.0, "mismatch"),
            ("weighted_f1", 0.5, "mismatch"),
        ]
    )
    wrong = next(c for c in obs.cites if c.value == 0.25)
    assert "0.2104" in wrong.detail and "week1_modernbert, val" in wrong.detail and wrong.where.endswith("cell 3")
    by_name = {c.name: c for c in obs.criteria}
    assert [c.metric for c in by_name["Fine-tuning results"].cites] == ["macro_f1", "macro_f1", "zero_f1_classes"]
    assert obs.unassigned_cites[0].metric == "weighted_f1"
    assert by_name["Audit"].sections and by_name["Risks"].sections == [] and by_name["Experiment log"].sections == []
    evidence = {e.id: e.present for c in obs.criteria for e in c.evidence}
    assert evidence == {
        "long-tail": True,
        "accuracy-macro-f1-gap": True,
        "zero-f1-classes": True,
        "best-checkpoint": True,
        "run-table": False,
        "two-risks": False,
    }
    assert obs.length_status == "short" and obs.mismatches == 3


def test_memo_length_sections_and_heading_keywords():
    cells = [
        memo.Cell("nb.ipynb", i, text) for i, text in enumerate(synthetic.default_memo(0.21, 0.51, 46, words=1200))
    ]
    obs = memo.observe(memo.parse_memo(cells), load_rubric(1), {})
    assert obs.length_status == "within" and 1000 <= obs.words <= 1500
    assert all(c.sections for c in obs.criteria) and obs.evidence_missing == 0
    assert all(c.status == "unverifiable" for c in obs.cites)  # no run measured: nothing to compare with
    # a heading that only the rubric's keywords tie to a criterion ("Data" -> Audit)
    obs = memo.observe(memo.parse_memo([memo.Cell("nb.ipynb", 0, "## The data\nText.")]), load_rubric(1), {})
    assert {c.name: bool(c.sections) for c in obs.criteria}["Audit"]


RUBRIC_FILE = """week: week1
length: {min_words: 800, max_words: 1500, excludes: [tables, code, headings]}
required_sections: [Audit, Baseline interpretation, Risks]
criteria:
- {name: Audit, points: 20, excellent: Long-tail facts, evidence: [long-tail]}
- {name: Baseline interpretation, points: 20, evidence: [gap, zero-f1]}
- {name: Risks, points: 15, evidence: [two-risks]}
required_evidence:
- {id: long-tail, criterion: Audit, description: top class share, kind: number, patterns: [top class, 'long[- ]tail']}
- {id: gap, criterion: Baseline interpretation, description: the gap, kind: number, patterns: [accuracy, 'macro[- _]?f1']}
- {id: zero-f1, criterion: Baseline interpretation, description: zero-F1 count, kind: number, patterns: ['zero[- ]f1']}
- {id: two-risks, criterion: Risks, description: two risks, kind: mention, patterns: [risk, '^\\s*[-*\\d]']}
- {id: table, criterion: Audit, description: a class table, kind: table, patterns: ['^\\s*\\|.*\\|\\s*$']}
"""


def test_memo_observations_with_a_rubric_file_in_the_course_format(tmp_path):
    (tmp_path / "week1.yaml").write_text(RUBRIC_FILE)
    rubric = load_rubric(1, tmp_path)
    assert (rubric.min_words, rubric.max_words) == (800, 1500)
    assert [(c.name, [e.id for e in c.evidence]) for c in rubric.criteria] == [
        ("Audit", ["long-tail", "table"]),
        ("Baseline interpretation", ["gap", "zero-f1"]),
        ("Risks", ["two-risks"]),
    ]
    text = (
        "### BEGIN SOLUTION\n## Audit\nThe top class is big.\n\nA long tail: 35 labels are rare.\n\n"
        "## Baseline interpretation\nAccuracy 0.54 but macro-F1 0.13.\n\n"
        "## Notes\nWe saw 70 zero-F1 classes.\nYOUR ANSWER HERE\n### END SOLUTION\n"
    )  # zero-F1: outside its section
    obs = memo.observe(memo.parse_memo([memo.Cell("nb.ipynb", 5, text)]), rubric, {})
    found = {e.id: e for c in obs.criteria for e in c.evidence}
    assert found["long-tail"].present and "35 labels" in found["long-tail"].snippet  # the first match has no number
    assert found["gap"].present and not found["zero-f1"].present and not found["table"].present
    assert not found["two-risks"].present and "section was not found" in found["two-risks"].detail
    assert obs.length_status == "short" and "800–1500 words" in obs.length_note and obs.words == 22
    assert obs.unassigned_sections == ["\u201cNotes\u201d (nb.ipynb, cell 5)"]  # nbgrader's markers are not headings


def test_evidence_rules_all_patterns_and_distinct_patterns(tmp_path):
    (tmp_path / "week4.yaml").write_text(
        "length: {min_words: 1, max_words: 9}\ncriteria:\n- {name: Slices, points: 20}\n- {name: Deployment, points: 10}\n"
        "required_evidence:\n- {id: axes, criterion: Slices, min_distinct: 3, patterns: [length, redact, tier, state]}\n"
        "- {id: scenario, criterion: Deployment, match: all, patterns: [deploy, latency]}\n"
    )
    rubric = load_rubric(4, tmp_path)
    text = "## Slices\nBy length.\n\nBy redaction and tier.\n\n## Deployment\nWe deploy it.\n\nLatency is 3 ms."
    found = {
        e.id: e
        for c in memo.observe(memo.parse_memo([memo.Cell("nb", 0, text)]), rubric, {}).criteria
        for e in c.evidence
    }
    assert found["axes"].present and "3 of its patterns" in found["axes"].detail
    assert not found["scenario"].present  # both words, but never in one paragraph


@pytest.mark.parametrize("week", range(1, 7))
def test_the_course_rubrics_load(week):
    rubric = load_rubric(week)
    assert rubric.source == f"assignments/rubrics/week{week}.yaml"
    assert sum(c.points for c in rubric.criteria) == 100 and any(c.evidence for c in rubric.criteria)
    assert all(len(c.keywords) > 1 for c in rubric.criteria)  # the name and the file's own keywords


BASE = """length: {min_words: 800, max_words: 1500}
criteria:
- {name: Audit, points: 20, evidence: [long-tail]}
required_evidence:
- {id: long-tail, criterion: Audit, kind: number, patterns: [top class]}
"""
MALFORMED = {
    "bad yaml": ("criteria: [[[", "not valid YAML"),
    "not a mapping": ("- just a list", "top level: expected a mapping"),
    "no points": (BASE.replace("points: 20, ", ""), "criteria[0].points: missing"),
    "points not a number": (BASE.replace("points: 20", "points: many"), "criteria[0].points: expected a non-negative"),
    "unknown top-level key": (BASE + "critera: []\n", "top level.critera: unknown key"),
    "unknown criterion key": (BASE.replace("points: 20", "points: 20, pionts: 3"), "criteria[0].pionts: unknown key"),
    "unknown evidence key": (BASE.replace("kind: number", "knd: number"), "required_evidence[0].knd: unknown key"),
    "bad regex": (
        BASE.replace("[top class]", "['top (class']"),
        "required_evidence[0].patterns[0]: bad regular expression",
    ),
    "bad keyword regex": (
        BASE.replace("points: 20", "points: 20, keywords: ['[audit']"),
        "criteria[0].keywords[0]: bad regular expression",
    ),
    "unknown kind": (
        BASE.replace("kind: number", "kind: numbers"),
        "required_evidence[0].kind: 'numbers' is not one of",
    ),
    "undeclared evidence id": (
        BASE.replace("evidence: [long-tail]", "evidence: [long-tale]"),
        "criteria[0].evidence[0]: 'long-tale' is not the id",
    ),
    "evidence for no criterion": (
        BASE.replace("criterion: Audit", "criterion: Audits"),
        "required_evidence[0].criterion: 'Audits' names no criterion",
    ),
    "no length": (BASE.replace("length: {min_words: 800, max_words: 1500}\n", ""), "length: missing"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_rubric_is_an_error_naming_file_and_key(case, tmp_path):
    text, message = MALFORMED[case]
    (tmp_path / "week1.yaml").write_text(text)
    with pytest.raises(RubricError) as raised:
        load_rubric(1, tmp_path)
    assert str(raised.value).startswith(f"{tmp_path / 'week1.yaml'}: ") and message in str(raised.value)
    assert isinstance(raised.value, UserError)


def test_a_missing_rubric_stops_the_site_build_with_its_name(tmp_path):
    with pytest.raises(RubricError, match="week9.yaml: no rubric for week 9"):
        load_rubric(9)
    (tmp_path / "course" / "results" / "week1").mkdir(parents=True)
    (tmp_path / "course" / "rubrics").mkdir()
    (tmp_path / "course" / "rubrics" / "week1.yaml").write_text(BASE + "critera: []\n")
    (tmp_path / "course" / "leaderboard.yaml").write_text("rubrics_dir: rubrics\n")
    with pytest.raises(RubricError, match=r"rubrics/week1\.yaml: top level\.critera: unknown key"):
        build_site(tmp_path / "course", tmp_path / "site")


def test_memo_pattern_prefilter_never_changes_a_match():
    """Every evidence and heading pattern gives the same answer with and without its literal needles."""
    texts = [
        FIXTURE_MEMO.lower(),
        *[c.lower() for c in synthetic.default_memo(0.2, 0.5, 40)],
        "seed noise: the std over three seeds was 0.004; the ci width is [0.19, 0.22]; ece 0.06 -> 0.03 at t = 1.4",
        "we would deploy fp16; unless latency matters, awq; the binding constraint is 10 ms; 37 flips",
        "head 0.61, mid .32, tail 4% ; 3,466,097 trainable parameters (2.26%); teacher tail .198; sub-issue, zip",
        "confused with → card; redaction, product, state, year; no effect on length; nll 1.3 js 0.2 int8 0.21 0.20",
    ]
    rubrics = [load_rubric(week) for week in range(1, 7)]
    patterns = {p for r in rubrics for c in r.criteria for e in c.evidence for p in e.patterns}
    patterns |= {rf"\b{k}" for r in rubrics for c in r.criteria for k in c.keywords}
    checked = 0
    for pattern in patterns:
        for text in texts:
            for piece in [text, *text.split("\n\n")]:
                assert search(pattern, piece) == bool(re.search(pattern, piece)), (pattern, piece[:60])
            checked += bool(re.search(pattern, text))
    assert checked > 40  # the texts do exercise the patterns
    assert Path(rubrics_dir(), "week1.yaml").is_file()
