"""The static rules one by one: each has a leaky fixture notebook and its honest twin, and the rule
registry (ids, severities, explanations, order) is what the analysis and the reports rely on.

Fixtures: tests/fixture_notebooks/static/rules/<rule id>.leak.ipynb and <rule id>.honest.ipynb; cell 0 is a
markdown title, so code cells start at 1. Expected findings are (rule, cell, line).
"""

from pathlib import Path

import nbformat
import pytest

from grader.findings import SEVERITIES
from grader.static import RULES, analyze_notebook
from grader.static.rules import ALL

FIXTURES = Path(__file__).parent / "fixture_notebooks" / "static" / "rules"

LEAKS = {
    "hub-dataset": [("hub-dataset", 1, 3)],
    "internal-access": [("internal-access", 2, 1)],
    "test-capture": [("test-capture", 3, 5)],
    "train-on-test": [("fit-on-eval", 2, 1), ("train-on-test", 2, 2)],
    "eval-on-test": [("eval-on-test", 3, 2)],
    "select-on-test": [("eval-on-test", 2, 6), ("select-on-test", 2, 7)],
    "resplit": [("resplit", 2, 1)],  # pools train + val, then splits (train alone is inner-split)
    "inner-split": [("inner-split", 2, 1)],
    "fit-before-split": [("fit-before-split", 2, 3)],
    "cv-selection-on-held-out": [("cv-selection-on-held-out", 2, 6)],
    "overlap": [("overlap", 2, 4)],
    "test-time-training": [("test-time-training", 2, 3)],
    "final-eval-after-test-training": [("test-time-training", 2, 3), ("final-eval-after-test-training", 4, 1)],
    "fit-on-eval": [("fit-on-eval", 2, 1)],
    "train-on-val": [("fit-on-eval", 2, 1), ("train-on-val", 2, 2)],
    "final-eval-in-loop": [("final-eval-in-loop", 4, 2)],
    "final-eval-before-training-ends": [("final-eval-before-training-ends", 5, 1)],
    "reference-solutions": [("reference-solutions", 2, 1), ("reference-solutions", 2, 3)],
    "label-encoder-all": [("label-encoder-all", 2, 4)],
    "final-eval-repeated": [("final-eval-repeated", 5, 2)],
    "syntax-error": [("syntax-error", 2, 1)],
}


def test_every_rule_has_a_leak_and_an_honest_twin():
    assert set(LEAKS) == set(RULES)
    names = {path.name for path in FIXTURES.glob("*.ipynb")}
    assert names == {f"{rule}.{kind}.ipynb" for rule in RULES for kind in ("leak", "honest")}
    for path in sorted(FIXTURES.glob("*.ipynb")):
        nbformat.validate(nbformat.read(path, as_version=4))


@pytest.mark.parametrize("rule", sorted(LEAKS))
def test_leak_is_found(rule):
    findings = analyze_notebook(FIXTURES / f"{rule}.leak.ipynb")
    assert [(f.rule, f.cell, f.line) for f in findings] == LEAKS[rule]
    assert all(f.layer == "static" and f.severity == RULES[f.rule][0] for f in findings)


@pytest.mark.parametrize("rule", sorted(LEAKS))
def test_honest_twin_is_clean(rule):
    assert analyze_notebook(FIXTURES / f"{rule}.honest.ipynb") == []


def test_registry_is_ordered_and_explained():
    ids = [cls.id for cls in ALL]
    assert len(set(ids)) == len(ids) and ids == list(RULES)
    ranks = [SEVERITIES.index(cls.severity) for cls in ALL]
    assert ranks == sorted(ranks)  # most severe first: findings at one line are listed so
    for cls in ALL:
        assert cls.summary and "\n\n" not in cls.explanation and len(cls.explanation) > 100, cls.id
