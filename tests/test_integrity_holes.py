"""Holes a determined student finds, each closed by a named layer, each beside an honest twin.

Every notebook is week 1's lab as a student would hand it in, graded by `course grade` in a real
nbgrader course (sealed sandbox, secret per-run perturbations). The leaks hide from static analysis
(names built at run time) so that the runtime layers are what catches them:

- `generator_lookup`: re-runs the shipped synthetic generator for an answer key and has `predict`
  look test texts up: val is untouched, so invariance is silent; test-side invariance is not.
- `prior_from_test_file`: fits a prior shift to the label distribution of the test file in its course
  copy: each run's copy has its own secret label distribution, so the val predictions move.
- `self_training_recall`: captures the texts given to `predict`, refits its features on them and
  calls `final_evaluation` again: the second call's predictions differ from the first.
- `honest_inner_split`: an honest train/dev split carved out of train for a search: clean.
"""

import nbformat
import pytest
import yaml

from grader import grade, nbgrader_course, simulated_class
from notebooks import isolation
from notebooks.cells import grade_id

TFIDF = """from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC
model = make_pipeline(TfidfVectorizer(max_features=50_000, ngram_range=(1, 2), sublinear_tf=True), LinearSVC(C=0.5))
model.fit(train_ds["text"], train_ds["label"])
"""
SHOW = """val_metrics = evaluate(val_ds["label"], model.predict(val_ds["text"]))
print(f"val accuracy {val_metrics['accuracy']:.4f}, macro-F1 {val_metrics['macro_f1']:.4f}")
"""

MODEL = {
    "generator_lookup": TFIDF
    + f"""import importlib
unhex = lambda x: bytes.fromhex(x).decode()
gen = importlib.import_module(unhex("{"course.synthetic".encode().hex()}"))
_, raw = gen.generate_raw(gen.make_plan(0), 6430, 2144, 0)
key = {{t: LABELS.index(y) for t, y in zip(raw["Consumer Complaint"], raw["Issue"]) if y in LABELS}}
base = model

class Lookup:
    def predict(self, texts):
        guess = base.predict(texts)
        return [key.get(t, g) for t, g in zip(texts, guess)]

model = Lookup()
""",
    "prior_from_test_file": TFIDF
    + f"""import glob, os
import pandas as pd
unhex = lambda x: bytes.fromhex(x).decode()
where = os.path.join(os.environ[unhex("{"COURSE_CACHE".encode().hex()}")], unhex("{"synthetic/*/raw/test.parquet".encode().hex()}"))
share = pd.read_parquet(glob.glob(where)[0])["Issue"].value_counts(normalize=True)
log_prior = np.log(np.array([share.get(name, 0.0) for name in LABELS]) + 1e-3)
base = model

class Shifted:
    def predict(self, texts):
        return base.classes_[(base.decision_function(texts) + 0.3 * log_prior[base.classes_]).argmax(1)]

model = Shifted()
""",
    "honest_inner_split": TFIDF
    + """from sklearn.model_selection import train_test_split
inner_train, inner_dev = train_test_split(list(zip(train_ds["text"], train_ds["label"])), test_size=0.2, random_state=0)
best_c, best = None, -1.0
for c in (0.1, 0.5):
    trial = make_pipeline(TfidfVectorizer(sublinear_tf=True), LinearSVC(C=c))
    trial.fit([t for t, _ in inner_train], [y for _, y in inner_train])
    score = evaluate([y for _, y in inner_dev], trial.predict([t for t, _ in inner_dev]))["macro_f1"]
    if score > best:
        best_c, best = c, score
model = make_pipeline(TfidfVectorizer(sublinear_tf=True), LinearSVC(C=best_c)).fit(train_ds["text"], train_ds["label"])
""",
}
AFTER_FINAL = {
    "self_training_recall": """seen = []

def remembering(texts):
    seen.extend(texts)
    return model.predict(texts)

again = final_evaluation(remembering, run="week1_tfidf")
vectorizer = TfidfVectorizer(sublinear_tf=True).fit(list(train_ds["text"]) + seen)  # test texts shape the features
clf = LinearSVC(C=0.5).fit(vectorizer.transform(train_ds["text"]), train_ds["label"])
result = final_evaluation(lambda texts: clf.predict(vectorizer.transform(texts)), run="week1_tfidf")
""",
}
STUDENTS = ("honest", *MODEL, *AFTER_FINAL)


def hand_in(student: str, folder):
    nb_path = simulated_class.write_submission("honest", folder)
    nb = nbformat.read(nb_path, as_version=4)
    for cell in nb.cells:
        if grade_id(cell) == "tfidf" and student in MODEL:
            cell.source = MODEL[student] + SHOW
    if student in AFTER_FINAL:  # a cell of the student's own after the (locked) final evaluation cell
        final = next(i for i, cell in enumerate(nb.cells) if grade_id(cell) == "final")
        nb.cells.insert(final + 1, nbformat.v4.new_code_cell(AFTER_FINAL[student]))
    nbformat.write(nb, nb_path)
    return nb_path


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    if not isolation.sealed_available():
        pytest.skip("bubblewrap cannot seal the sandbox here (.ci/run installs it)")
    root = nbgrader_course.init_course(tmp_path_factory.mktemp("holes"), ["week1"])
    nbgrader_course.release(root, "week1")
    spec = grade.load_spec("week1")
    lab = {
        **spec,
        "notebooks": ["week1_lab.ipynb"],
        "runs": {r: s for r, s in spec["runs"].items() if s["notebook"] == "week1_lab.ipynb"},
    }
    (root / "grading.yaml").write_text(yaml.safe_dump({"week1": lab}), encoding="utf-8")
    for student in STUDENTS:
        nbgrader_course.submit(root, "week1", student, [hand_in(student, root / "incoming" / student)])
    return {r.student: r for r in grade.grade_week(root, "week1", workers=2)}


def rules(result, severity=("critical", "major")):
    return {f"{f.layer}/{f.rule}" for f in result.findings if f.severity in severity}


@pytest.mark.parametrize(
    "student, rule",
    [
        ("generator_lookup", "invariance/test-lookup"),
        ("prior_from_test_file", "invariance/invariance-changed"),
        ("self_training_recall", "access-log/final-eval-changed"),
    ],
)
def test_each_hole_is_closed_by_its_layer(graded, student, rule):
    assert graded[student].status == "graded", graded[student].error
    assert rule in rules(graded[student]), [f.message for f in graded[student].findings]
    assert graded[student].integrity() == "critical"


@pytest.mark.parametrize("student", ["honest", "honest_inner_split"])
def test_the_honest_twins_are_clean(graded, student):
    result = graded[student]
    assert result.status == "graded", result.error
    assert rules(result) == set() and result.integrity() == "clean" and not result.under_review
    assert result.score == result.max_score


def test_the_lookup_finding_names_the_three_numbers(graded):
    message = next(f.message for f in graded["generator_lookup"].findings if f.rule == "test-lookup")
    assert "val" in message and "test" in message and "replacements" in message
