"""Full-profile records as evidence: provenance, the digest, the course check, a forged class, speed.

The class is a real nbgrader course with six students whose week-1 runs were made in the full code
path (`full-like`: the full-size synthetic course, a capped train set) and graded by `course grade`
with `evidence: full`; each forgery must be caught by its named rule and the honest student must be
clean with the points its recomputed val macro-F1 earns on the full band.
"""

import json

import nbformat
import numpy as np
import pytest
import yaml
from conftest import CONTRACT_DIR, needs_contract
from nbclient import NotebookClient

from course import bands
from course.metrics import agreement_matrix
from course.provenance import cell_digest, record_digest
from course.runrecord import RunRecord, read_record
from grader import evidence, grade, nbgrader_course, simulated_full_class
from grader.layers.scoring import metric_points
from grader.shared_runs import flag_pairs

CELLS = ["import numpy as np", "x = np.arange(3)", "y = x * 2", "res = final_evaluation(f, run='r')", "print(res)"]


def code_cells(sources=CELLS):
    return [(i + 1, cell_digest(s), s) for i, s in enumerate(sources)]  # cell 0 is markdown


def minimal_record(**fields) -> dict:
    """The fields a run record must have, as JSON, with `fields` on top."""
    return {
        "schema": 1,
        "run": "r",
        "course": {},
        "fingerprints": {},
        "predictions": {"val": {"ids": ["a", "b", "c"], "labels": [1, 2, 3]}},
        "metrics": {"val": {"macro_f1": 0.5}},
        "settings": {},
        "access_log": [],
        **fields,
    }


def record_with(executed):
    return RunRecord.from_json(minimal_record(provenance={"cells": [cell_digest(s) for s in executed]}), "r.json")


def rules(findings):
    return {f.rule for f in findings}


@pytest.mark.parametrize(
    "executed, expected",
    [
        (CELLS[:4], set()),  # top to bottom up to final_evaluation: the cell after it ran later
        (CELLS[:3] + [CELLS[2], CELLS[3]], set()),  # a cell run twice is fine
        (CELLS[:2] + ["y = x * 3"] + CELLS[2:4], {"provenance-mismatch"}),  # a cell that ran was edited afterwards
        ([CELLS[0], CELLS[2], CELLS[1], CELLS[3]], {"provenance-order"}),  # out of notebook order
        ([CELLS[0], CELLS[1], CELLS[3]], {"provenance-mismatch"}),  # a cell before final_evaluation never ran
        (["import pandas", "z = 1", CELLS[3]], {"provenance-mismatch"}),  # another notebook's cells
        ([], {"provenance-missing"}),
    ],
)
def test_provenance_cases(executed, expected):
    found = evidence.provenance_findings(record_with(executed), code_cells(), "nb.ipynb", "r")
    assert rules(found) == expected, [f.message for f in found]
    assert all(f.severity == ("minor" if f.rule == "provenance-order" else "major") for f in found)


def test_a_real_kernel_records_its_cells_in_execution_order(tmp_path, monkeypatch):
    """The history a real IPython kernel keeps is what the grader compares: re-run and out-of-order
    execution show up as such; an edit after the run makes the record not match the notebook."""
    monkeypatch.setenv("COURSE_PROFILE", "smoke")
    monkeypatch.setenv("COURSE_MODE", "self-check")
    monkeypatch.setenv("COURSE_RUNS_DIR", str(tmp_path / "runs"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# week 1"),
        nbformat.v4.new_code_cell("%config Completer.use_jedi = False\nimport numpy as np\nfrom course import *\n"),
        nbformat.v4.new_code_cell(
            "train_ds, val_ds = load_course_data()\nmajority = int(np.bincount(train_ds['label']).argmax())"
        ),
        nbformat.v4.new_code_cell("shown = final_evaluation(lambda texts: [majority] * len(texts), run='maj')"),
    ]
    client = NotebookClient(nb, timeout=300, kernel_name="python3")
    with client.setup_kernel():
        for index in (1, 2, 2, 3):  # the data cell twice
            client.execute_cell(nb.cells[index], index)
    record = read_record(tmp_path / "runs" / "maj.json")
    cells = [(i, cell_digest(c.source), c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    assert record.provenance["cells"] == [cells[j][1] for j in (0, 1, 1, 2)]
    assert evidence.provenance_findings(record, cells, "nb", "maj") == []
    assert record.digest_matches is True
    nb.cells[2].source += "\n# tuned afterwards"
    edited = [(i, cell_digest(c.source), c.source) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    assert rules(evidence.provenance_findings(record, edited, "nb", "maj")) == {"provenance-mismatch"}


def test_the_digest_sees_any_edit():
    record = minimal_record(provenance={"cells": ["a"]})
    record["provenance"]["digest"] = record_digest(record)
    assert evidence.digest_findings(RunRecord.from_json(record, "r.json"), "r") == []
    record["predictions"]["val"]["labels"][1] = 9
    assert rules(evidence.digest_findings(RunRecord.from_json(record, "r.json"), "r")) == {"record-digest"}
    record["provenance"]["digest"] = ""
    assert rules(evidence.digest_findings(RunRecord.from_json(record, "r.json"), "r")) == {"provenance-missing"}


def test_shared_run_pairs_and_the_agreement_matrix():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 113, 2000)
    noisy = [np.where(rng.random(2000) < 0.2, rng.integers(0, 113, 2000), base) for _ in range(3)]
    preds = np.stack([*noisy, noisy[1]])  # the fourth copies the second
    agree = agreement_matrix(preds)
    assert agree.shape == (4, 4) and np.allclose(np.diag(agree), 1) and np.allclose(agree, agree.T)
    assert agree[1, 3] == 1.0 and 0.6 < agree[0, 1] < 0.75
    assert flag_pairs(["a", "b", "c", "d"], preds, upper=0.9) == [{"a": "b", "b": "d", "agreement": 1.0}]


@pytest.fixture(scope="module")
def full_class(tmp_path_factory):
    root = tmp_path_factory.mktemp("fullcourse")
    results = simulated_full_class.grade_full_class(root, tmp_path_factory.mktemp("runs"), workers=2)
    return root, {r.student: r for r in results}


EXPECTED = {  # student -> the rule that must catch them (layer/rule) and their integrity
    "edited_predictions": ("evidence/record-digest", "critical"),
    "other_notebook": ("evidence/provenance-mismatch", "major"),
    "smoke_record": ("evidence/wrong-course", "critical"),
    "trains_on_test": ("invariance/invariance-changed", "critical"),
}


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_forgery_is_caught_by_its_rule(full_class, student):
    _, results = full_class
    rule, integrity = EXPECTED[student]
    found = {f"{f.layer}/{f.rule}" for f in results[student].findings}
    assert rule in found, found
    assert results[student].integrity() == integrity


def test_the_honest_full_run_is_clean_and_scored_on_its_recomputed_number(full_class):
    root, results = full_class
    honest = results["honest"]
    assert honest.integrity() == "clean", [f.message for f in honest.findings if f.severity != "info"]
    measured = honest.metrics["week1_tfidf"]
    assert measured["evidence"] == "full" and measured["certificate"] == "passed"
    record = json.loads((root / "submitted" / "honest" / "week1" / "runs" / "week1_tfidf.json").read_text())
    assert measured["val"]["macro_f1"] == pytest.approx(record["metrics"]["val"]["macro_f1"], abs=1e-9)
    assert measured["smoke_val_macro_f1"] != measured["val"]["macro_f1"]  # not the grader's small re-run
    band = bands.lookup("full-like", "week1", "solution_week1_tfidf")
    floor = bands.lookup("full-like", "week1", "majority")
    check = {c.name: c for c in honest.checks}["week1_tfidf: val macro-F1"]
    assert check.score == pytest.approx(metric_points(measured["val"]["macro_f1"], floor["mean"], band["lower"], 30))
    assert check.score == 30 and honest.score == honest.max_score


def test_a_copied_record_is_a_shared_run_naming_both(full_class):
    root, results = full_class
    flags = json.loads((root / "results" / "week1" / "shared_runs.json").read_text())
    pairs = {frozenset((f["a"], f["b"])) for f in flags}
    assert frozenset(("copied_record", "honest")) in pairs
    # every hand-in made from the honest run shares its test predictions; the two own runs share none
    same_run = {"honest", "copied_record", "edited_predictions", "other_notebook"}
    assert pairs == {frozenset((a, b)) for a in same_run for b in same_run if a < b}
    assert all(f["agreement"] == 1.0 and f["band_upper"] < 0.9 for f in flags)
    assert results["copied_record"].integrity() == "clean"  # a review flag, never a verdict


def test_a_failed_certificate_withholds_the_full_run_points(full_class):
    _, results = full_class
    cheat = results["trains_on_test"]
    assert cheat.metrics["week1_tfidf"]["certificate"] == "failed"
    checks = {c.name: c for c in cheat.checks}
    withheld = checks["review: week1_tfidf metric points"]  # pending review: the run's points are cancelled
    assert checks["week1_tfidf: val macro-F1"].score + withheld.score == 0 and "withheld" in withheld.output
    assert {c.name: c for c in results["edited_predictions"].checks}["integrity"].score == 0


@needs_contract
def test_the_real_course_path_grades_one_full_record(tmp_path, monkeypatch):
    """Real-shaped raw files with the real contract: the full course loader, a full run, its verification."""
    from course.catalog import config_for, write_real_shaped_raw
    from course.contract import load_contract

    config = config_for("real")
    raw = write_real_shaped_raw(config, load_contract(config, CONTRACT_DIR), tmp_path / "raw")
    for name, value in {"COURSE_DATA_DIR": str(raw), "COURSE_CONTRACT_DIR": str(CONTRACT_DIR)}.items():
        monkeypatch.setenv(name, value)
    root = nbgrader_course.init_course(tmp_path / "course", ["week1"])
    nbgrader_course.release(root, "week1")
    spec = {**simulated_full_class.SPEC, "full_evidence": {"profile": "full"}}
    spec["runs"] = {"week1_tfidf": {**spec["runs"]["week1_tfidf"], "full_band": "week1/tfidf"}}
    (root / "grading.yaml").write_text(yaml.safe_dump({"week1": spec}), encoding="utf-8")
    monkeypatch.setenv("COURSE_MAX_TRAIN_EXAMPLES", "2000")
    notebook, runs = simulated_full_class.run_student("honest", tmp_path / "work", profile="full")
    record = json.loads((runs / "week1_tfidf.json").read_text())
    assert record["course"]["name"] == config.name and record["provenance"]["profile"] == "full"
    assert len(record["predictions"]["test"]["ids"]) == 21_432
    nbgrader_course.submit(root, "week1", "real_student", [notebook], runs)
    (result,) = grade.grade_week(root, "week1", workers=1)
    assert result.integrity() == "clean", [f.message for f in result.findings if f.severity != "info"]
    assert result.metrics["week1_tfidf"]["evidence"] == "full"
    assert result.metrics["week1_tfidf"]["band"] == bands.lookup("full", "week1", "tfidf")


def test_the_boards_rank_the_recomputed_full_numbers(full_class, tmp_path, browser):
    """The public board shows each counted run's recomputed full val macro-F1 and its smoke certificate."""
    from leaderboard.site import build_site

    root, results = full_class
    index = build_site(root, tmp_path / "site", show_names=True)
    page = browser.new_page()
    page.goto((index.parent / "week1.html").as_uri())
    rows = [r.inner_text() for r in page.query_selector_all("#board-public tbody tr.student")]
    honest = results["honest"].metrics["week1_tfidf"]["val"]["macro_f1"]
    assert "Smoke certificate" in page.inner_text("#board-public thead")
    assert any(f"{honest:.4f}" in row and "passed" in row for row in rows)  # the recomputed full number
    flagged = [r for r, res in results.items() if res.under_review]  # off the ranks until reviewed
    assert len(flagged) >= 3 and sum("under review" in row for row in rows) == len(flagged)
    page.goto((index.parent / "instructor" / "index.html").as_uri())
    shared = page.inner_text("#shared-runs")
    assert "copied_record and honest" in shared and "100.0%" in shared  # the overview names both
    page.close()
