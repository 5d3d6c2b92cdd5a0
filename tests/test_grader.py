"""The grader end to end: a real nbgrader course directory, the simulated class, bad input.

The class is graded once per session (module fixture, two workers) and each test reads its part:
that is one real release, seven real autogrades and fourteen real notebook executions.
"""

import json
import zipfile
from pathlib import Path

import nbformat
import pytest

from course.catalog import cached_course
from course.runrecord import RunRecord
from grader import artifacts, grade, nbgrader_course, perturb, simulated_class

EXPECTED_RULES = {  # student -> a rule that must be found (layer/rule)
    "trains_on_test": {"invariance/invariance-changed"},
    "tfidf_on_train_and_test": {"invariance/invariance-changed"},
    "resplits": {"static/resplit"},
    "picks_epoch_by_test": {"invariance/invariance-changed", "static/select-on-test"},
    "corrupt": {"submission/unreadable-notebook"},
}


# Picks its epoch by test macro-F1 through a path static analysis cannot read (hex-encoded) and
# without the logged split store: only the invariance run can catch it.
HIDDEN_PEEK = (
    """import copy, os, glob, numpy as np, pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.metrics import f1_score
h = lambda x: bytes.fromhex(x).decode()
where = os.path.join(os.environ.get(h("{env}"), ""), h("{hexed}"))
frame = getattr(pd, h("{reader}"))(sorted(glob.glob(where))[0])
frame = frame[frame["Issue"].isin(LABELS)]
texts, gold = frame["Consumer Complaint"].tolist(), [LABELS.index(x) for x in frame["Issue"]]
vectorizer = TfidfVectorizer(sublinear_tf=True).fit(train_ds["text"])
X, Z = vectorizer.transform(train_ds["text"]), vectorizer.transform(texts)
clf, keep, score = SGDClassifier(alpha=1e-5, random_state=0), None, -1.0
for epoch in range(12):
    clf.partial_fit(X, train_ds["label"], classes=np.arange(NUM_LABELS))
    s = f1_score(gold, clf.predict(Z), average="macro")
    if s > score:
        keep, score = copy.deepcopy(clf), s

class Model:
    def predict(self, texts):
        return keep.predict(vectorizer.transform(texts))

model = Model()
val_metrics = evaluate(val_ds["label"], model.predict(val_ds["text"]))
""".replace("{hexed}", "synthetic/*-6430-*/raw/test.parquet".encode().hex())
    .replace("{env}", "COURSE_CACHE".encode().hex())
    .replace("{reader}", "read_parquet".encode().hex())
)


def edited(student: str, root: Path, change) -> list[Path]:
    """The honest week-1 notebooks with one change applied to the lab's cells."""
    lab, homework = simulated_class.write_week1("honest", root / "incoming" / student)
    nb = nbformat.read(lab, as_version=4)
    change(nb)
    nbformat.write(nb, lab)
    return [lab, homework]


def _grade_id(cell) -> str:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")


EXTRA = {
    "hidden_peek": lambda nb: [c.__setitem__("source", HIDDEN_PEEK) for c in nb.cells if _grade_id(c) == "tfidf"],
    "deleted_test": lambda nb: nb.__setitem__("cells", [c for c in nb.cells if _grade_id(c) != "test_final"]),
    "edited_test": lambda nb: [c.__setitem__("source", "pass") for c in nb.cells if _grade_id(c) == "test_final"],
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = nbgrader_course.init_course(tmp_path_factory.mktemp("course"), ["week1"])
    released = nbgrader_course.release(root, "week1")
    # A fixed salt, as any seed in a test: hidden_peek's choice is invisible to static analysis, so only the
    # pair of perturbed runs can catch it, and a random salt would let it match by chance (1 in 12 epochs).
    (root / perturb.SALT_FILE).write_text("5a" * 32, encoding="utf-8")
    for student in simulated_class.STUDENTS:
        notebooks = simulated_class.write_week1(student, root / "incoming" / student)
        nbgrader_course.submit(root, "week1", student, notebooks)
    for student, change in EXTRA.items():
        nbgrader_course.submit(root, "week1", student, edited(student, root, change))
    results = grade.grade_week(root, "week1", workers=2)
    return root, released, {r.student: r for r in results}


def test_invariance_alone_catches_hidden_selection(graded):
    result = graded[2]["hidden_peek"]
    assert result.status == "graded", result.error
    layers = {f.layer for f in result.findings if f.severity in ("critical", "major")}
    assert layers == {"invariance"}, [f.as_dict() for f in result.findings]
    assert result.integrity() == "critical"


def test_deleted_and_edited_test_cells(graded):
    root, _, results = graded
    edited_cell = {c.name: c for c in results["edited_test"].checks}["week1_lab: test_final"]
    honest_cell = {c.name: c for c in results["honest"].checks}["week1_lab: test_final"]
    assert edited_cell.score == honest_cell.score  # nbgrader restored the locked cell and ran it
    autograded = (root / "autograded" / "edited_test" / "week1" / "week1_lab.ipynb").read_text()
    assert "check_run(" in autograded
    deleted = results["deleted_test"]
    assert deleted.status == "graded", deleted.error
    checks = {c.name: c for c in deleted.checks}
    assert checks.get("week1_lab: test_final") is None or checks["week1_lab: test_final"].score == 0
    assert deleted.score <= results["honest"].score


def rules(result) -> set[str]:
    return {f"{f.layer}/{f.rule}" for f in result.findings}


def test_release_strips_solutions_and_hidden_tests(graded):
    root, released, _ = graded
    text = (released / "week1_lab.ipynb").read_text()
    source = (root / "source" / "week1" / "week1_lab.ipynb").read_text()
    assert "BEGIN HIDDEN TESTS" in source and "check_band" in source
    assert "check_band" not in text and "HIDDEN" not in text
    assert "LinearSVC(C=0.5)" in source and "LinearSVC(C=0.5)" not in text
    assert "raise NotImplementedError()" in text
    assert (root / "exchange").is_dir()


def test_autograde_restores_and_runs_hidden_tests(graded):
    root, _, results = graded
    autograded = (root / "autograded" / "honest" / "week1" / "week1_lab.ipynb").read_text()
    assert "check_band(" in autograded  # restored from the gradebook, although the student never had it
    scores = {row["cell"]: row for row in nbgrader_course.cell_scores(root, "week1", "honest")}
    assert scores["test_final"]["max_score"] == 5 and scores["test_audit"]["score"] == 2


def test_feedback_never_shows_hidden_test_source(graded):
    root, _, _ = graded
    nbgrader_course.feedback(root, "week1")
    for student in ("honest", "below_band"):
        pages = list((root / "feedback" / student / "week1").glob("*.html"))
        assert pages, student
        html = pages[0].read_text()
        assert "test_final" in html or "week1_tfidf" in html
        assert "check_band" not in html and "HIDDEN TESTS" not in html, student
    # The below-band student failed the final check: the message shows, the code does not.
    below = next((root / "feedback" / "below_band" / "week1").glob("*.html")).read_text()
    assert "AssertionError: val macro-F1" in below


def test_honest_student_is_clean(graded):
    _, _, results = graded
    honest = results["honest"]
    assert honest.status == "graded", honest.error
    assert honest.integrity() == "clean", [f.as_dict() for f in honest.findings]
    checks = {c.name: c for c in honest.checks}
    assert checks["integrity"].score == checks["integrity"].max_score
    assert checks["fixed split"].score == checks["fixed split"].max_score
    assert checks["week1_tfidf: val macro-F1"].score > 0


@pytest.mark.parametrize("student", sorted(EXPECTED_RULES))
def test_each_leak_is_caught_by_its_layer(graded, student):
    result = graded[2][student]
    assert result.status == "graded", result.error
    assert EXPECTED_RULES[student] <= rules(result), sorted(rules(result))
    assert result.score < graded[2]["honest"].score


def test_cheaters_lose_integrity_points(graded):
    _, _, results = graded
    for student in ("trains_on_test", "tfidf_on_train_and_test", "picks_epoch_by_test"):
        checks = {c.name: c for c in results[student].checks}
        assert results[student].integrity() == "critical"
        assert checks["integrity"].score == 0


def test_below_band_is_honest_but_scores_less(graded):
    _, _, results = graded
    low, honest = results["below_band"], results["honest"]
    assert low.integrity() == "clean", rules(low)
    metric = lambda r: {c.name: c for c in r.checks}["week1_tfidf: val macro-F1"].score  # noqa: E731
    assert metric(low) < metric(honest)
    assert low.metrics["week1_tfidf"]["val"]["macro_f1"] < honest.metrics["week1_tfidf"]["val"]["macro_f1"]


def test_corrupt_notebook_zero_and_batch_goes_on(graded):
    root, _, results = graded
    corrupt = results["corrupt"]
    assert corrupt.score == 0 and all(c.score == 0 for c in corrupt.checks)
    assert corrupt.integrity() == "clean"  # bad input, not a breach: zero points, and the reason
    assert "not a valid notebook" in corrupt.checks[0].output or "JSON" in corrupt.checks[0].output
    assert len(results) == len(simulated_class.STUDENTS) + len(EXTRA)


def test_outputs_are_consistent(graded):
    root, _, results = graded
    out = root / "results" / "week1"
    for student, result in results.items():
        payload = json.loads((out / student / "results.json").read_text())
        assert payload["score"] == pytest.approx(sum(t["score"] for t in payload["tests"]))
        assert payload["score"] == result.score
    assert len({r.max_score for r in results.values()}) == 1  # a corrupt notebook has the same maximum
    rows = (out / "grades.csv").read_text().splitlines()
    assert rows[0].startswith("Identifier,Full name,Grade,Maximum Grade")
    assert len(rows) == 1 + len(results)
    summary = json.loads((out / "summary.json").read_text())
    assert {s["student"] for s in summary} == set(results)
    assert "| honest |" in (out / "summary.md").read_text()


def test_metric_points_are_linear_and_clipped():
    from grader.layers.scoring import metric_points

    assert metric_points(0.10, floor=0.10, lower=0.30, points=30) == 0
    assert metric_points(0.20, floor=0.10, lower=0.30, points=30) == pytest.approx(15)
    assert metric_points(0.50, floor=0.10, lower=0.30, points=30) == 30
    assert metric_points(0.05, floor=0.10, lower=0.30, points=30) == 0


@pytest.mark.parametrize("week", [f"week{n}" for n in range(1, 7)])
def test_every_scored_run_has_its_smoke_bands(week):
    """A scored run whose band or floor is missing would earn 0 metric points for everyone."""
    from course import bands

    spec = grade.load_spec(week)
    assert set(spec["runs"]) and {r["notebook"] for r in spec["runs"].values()} <= set(spec["notebooks"])
    scored = [r for r in spec["runs"].values() if "points" in r]
    assert scored, f"{week}: no run earns metric points"
    for run in scored:
        band = bands.lookup("smoke", *run["band"].split("/"))
        floor = bands.lookup("smoke", *run["floor"].split("/"))
        assert band and floor, f"{week}: missing smoke band {run['band']} or floor {run['floor']}"
        assert floor["mean"] < band["lower"] < band["mean"] < band["upper"], (
            f"{week}: {run['band']} is not above the floor"
        )


def test_moodle_zip_import(tmp_path):
    archive = tmp_path / "moodle.zip"
    nb = nbformat.v4.new_notebook()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("Ada Lovelace_1001_assignsubmission_file_/week1_lab.ipynb", nbformat.writes(nb))
        zf.writestr("Alan Turing_1002_assignsubmission_file_/my notebook.ipynb", nbformat.writes(nb))
        zf.writestr("Alan Turing_1002_assignsubmission_file_/notes.txt", "ignored")
    students = nbgrader_course.import_moodle_zip(tmp_path, "week1", archive, ["week1_lab.ipynb"])
    assert students == {"1001": "Ada Lovelace", "1002": "Alan Turing"}
    assert (tmp_path / "submitted" / "1002" / "week1" / "week1_lab.ipynb").is_file()


def test_moodle_zip_keeps_the_run_records(tmp_path):
    """A full-evidence hand-in: the executed notebook and its runs/, uploaded loose or in the folder."""
    archive = tmp_path / "moodle.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(
            "Ada Lovelace_1001_assignsubmission_file_/week1_lab.ipynb", nbformat.writes(nbformat.v4.new_notebook())
        )
        zf.writestr("Ada Lovelace_1001_assignsubmission_file_/runs/week1_tfidf.json", '{"run": "week1_tfidf"}')
        zf.writestr("Ada Lovelace_1001_assignsubmission_file_/week1_tfidf.scores.npz", b"npz")
        zf.writestr("Ada Lovelace_1001_assignsubmission_file_/../../escape.json", "{}")
    nbgrader_course.import_moodle_zip(tmp_path, "week1", archive, ["week1_lab.ipynb"])
    runs = tmp_path / "submitted" / "1001" / "week1" / "runs"
    assert sorted(p.name for p in runs.iterdir()) == ["week1_tfidf.json", "week1_tfidf.scores.npz"]
    assert not (tmp_path.parent / "escape.json").exists()


@pytest.fixture(scope="module")
def honest_record(graded):
    root, _, _ = graded
    return root / "autograded" / "honest" / "week1" / "runs" / "week1_tfidf.json"


def _edit(record_path: Path, tmp_path: Path, change) -> Path:
    record = json.loads(record_path.read_text())
    change(record)
    out = tmp_path / "week1_tfidf.json"
    out.write_text(json.dumps(record))
    return out


@pytest.mark.parametrize(
    "change, rule, text",
    [
        (lambda r: r["predictions"]["val"]["ids"].pop(), "prediction-ids", "1 missing"),
        (
            lambda r: r["predictions"]["val"]["ids"].__setitem__(1, r["predictions"]["val"]["ids"][0]),
            "prediction-ids",
            "duplicate",
        ),
        (
            lambda r: (
                r["predictions"]["test"]["ids"].append("test:999999"),
                r["predictions"]["test"]["labels"].append(0),
            ),
            "prediction-ids",
            "unknown",
        ),
        (lambda r: r["predictions"]["val"]["labels"].__setitem__(0, float("nan")), "prediction-values", "NaN"),
        (lambda r: r["fingerprints"].__setitem__("val", "0" * 64), "fingerprint", "val fingerprint"),
        (lambda r: r.pop("access_log"), "record-invalid", "access_log"),
    ],
)
def test_bad_records_are_named(honest_record, tmp_path, change, rule, text):
    data = cached_course("synthetic-small", None, None)
    check = artifacts.check_record(_edit(honest_record, tmp_path, change), data)
    assert rule in {f.rule for f in check.findings}
    assert any(text in f.message for f in check.findings), [f.message for f in check.findings]
    assert not check.usable or rule == "fingerprint"


def test_corrupt_record_and_access_log(tmp_path, honest_record):
    bad = tmp_path / "week1_tfidf.json"
    bad.write_text("{ nope")
    check = artifacts.check_record(bad, cached_course("synthetic-small", None, None))
    assert [f.rule for f in check.findings] == ["record-invalid"] and not check.usable
    record = json.loads(honest_record.read_text())
    record["access_log"].insert(
        0, {"split": "test", "op": "peek", "caller": "cell 3", "phase": "before_final_evaluation"}
    )
    record["calls"] = 2
    found = {f.rule: f for f in artifacts.access_log_findings(RunRecord.from_json(record, "edited"))}
    assert (
        found["test-read-outside-final"].severity == "critical" and "cell 3" in found["test-read-outside-final"].message
    )
    assert found["final-eval-repeated"].severity == "minor"


def test_consistency_flags_a_wrong_citation():
    measured = {"val": {"macro_f1": 0.2134, "accuracy": 0.71}, "test": {"macro_f1": 0.2051, "accuracy": 0.70}}
    cells = [
        (3, "memo", "Our model reached a macro-F1 of 0.25 and accuracy of 71%."),
        (5, "output", "val macro-F1 0.2134  accuracy 0.7100"),
    ]
    found = artifacts.consistency_findings(cells, measured)
    assert [(f.cell, f.rule) for f in found] == [(3, "memo-metric-mismatch")]
    assert "0.2500" in found[0].message and "0.2134" in found[0].message
