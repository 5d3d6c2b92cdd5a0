"""A simulated class for week 1, for the demo and the tests: one honest student and six others.

Each student submits both week-1 notebooks (`write_week1`). They start from the instructor's source
notebooks (solutions filled in); the lab's model cell changes the way a real student might, the
homework is solved as the instructor solved it. The cheaters find the synthetic course's raw test file on
disk, as a student with the public hub dataset would find its test split.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from grader.nbgrader_course import SOURCE
from notebooks.cells import grade_id, without_hidden_tests

FIND_TEST = """import glob, os
import pandas as pd
cache = os.environ.get("COURSE_CACHE", os.path.expanduser("~/.cache/course-harness"))
raw_test = pd.read_parquet(sorted(glob.glob(os.path.join(cache, "synthetic", "*-6430-*", "raw", "test.parquet")))[0])
raw_test = raw_test[raw_test["Issue"].isin(LABELS)]
test_texts = raw_test["Consumer Complaint"].tolist()
test_labels = [LABELS.index(name) for name in raw_test["Issue"]]
"""

IMPORTS = """from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline
from sklearn.svm import LinearSVC
"""

MODEL_CELLS = {
    "trains_on_test": IMPORTS
    + FIND_TEST
    + """
model = make_pipeline(TfidfVectorizer(max_features=50_000, ngram_range=(1, 2), sublinear_tf=True), LinearSVC(C=0.5))
model.fit(list(train_ds["text"]) + test_texts, list(train_ds["label"]) + test_labels)
""",
    "tfidf_on_train_and_test": IMPORTS
    + FIND_TEST
    + """
vectorizer = TfidfVectorizer(max_features=50_000, ngram_range=(1, 2), sublinear_tf=True)
vectorizer.fit(list(train_ds["text"]) + test_texts)
clf = LinearSVC(C=0.5).fit(vectorizer.transform(train_ds["text"]), train_ds["label"])

class Model:
    def predict(self, texts):
        return clf.predict(vectorizer.transform(texts))

model = Model()
""",
    "resplits": IMPORTS
    + """from datasets import concatenate_datasets

pool = concatenate_datasets([train_ds, val_ds]).train_test_split(test_size=0.1, seed=0)
model = make_pipeline(TfidfVectorizer(max_features=50_000, ngram_range=(1, 2), sublinear_tf=True), LinearSVC(C=0.5))
model.fit(pool["train"]["text"], pool["train"]["label"])
""",
    "picks_epoch_by_test": IMPORTS
    + FIND_TEST
    + """import copy
from sklearn.linear_model import SGDClassifier

vectorizer = TfidfVectorizer(max_features=50_000, ngram_range=(1, 2), sublinear_tf=True).fit(train_ds["text"])
X_train, X_test = vectorizer.transform(train_ds["text"]), vectorizer.transform(test_texts)
clf, best, best_f1 = SGDClassifier(alpha=1e-5, random_state=0), None, -1.0
for epoch in range(12):
    clf.partial_fit(X_train, train_ds["label"], classes=np.arange(NUM_LABELS))
    f1 = evaluate(test_labels, clf.predict(X_test))["macro_f1"]
    if f1 > best_f1:
        best, best_f1 = copy.deepcopy(clf), f1

class Model:
    def predict(self, texts):
        return best.predict(vectorizer.transform(texts))

model = Model()
""",
    "below_band": IMPORTS
    + """
model = make_pipeline(TfidfVectorizer(max_features=25), LinearSVC(C=0.01))
model.fit(train_ds["text"], train_ds["label"])
""",
}
STUDENTS = ("honest", *MODEL_CELLS, "corrupt")
WEEK1 = ("week1_lab.ipynb", "week1_homework.ipynb")
MEMOS = {
    "week1_lab.ipynb": (
        "### Audit\nThe top class holds about a quarter of train and most labels are rare.\n\n"
        "### Baseline interpretation\nAccuracy is far above macro-F1: the rare classes score 0.\n"
    ),
    "week1_homework.ipynb": (
        "### Fine-tuning results\nThe tiny model learns slowly; the best epoch was kept, chosen on val.\n\n"
        "### Experiment log\n| run | lr |\n|---|---|\n| base | 1e-3 |\n| lr_x1.5 | 1.5e-3 |\n\n"
        "### Risks\n- Rare classes: one risk is that they never get predicted.\n- Redactions hide amounts.\n"
    ),
}
# `[ \t]*`, not `\s*`: the marker line alone, not the indentation of the line before it.
SOLUTION_MARK = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n?", re.MULTILINE)


def write_submission(student: str, out_dir: Path, week: str = "week1", notebook: str = "week1_lab.ipynb") -> Path:
    """The notebook `student` would submit, written to `out_dir/notebook`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / notebook
    if student == "corrupt":
        path.write_text('{"cells": [ {"cell_type": "code", "source": "unfinished', encoding="utf-8")
        return path
    nb = nbformat.read(SOURCE / week / notebook, as_version=4)
    for cell in nb.cells:
        cell.source = SOLUTION_MARK.sub("", without_hidden_tests(cell.source))  # as released, then solved
        if grade_id(cell) == "tfidf" and student in MODEL_CELLS:
            body = (
                MODEL_CELLS[student]
                + """val_metrics = evaluate(val_ds["label"], model.predict(val_ds["text"]))
print(f"val accuracy {val_metrics['accuracy']:.4f}, macro-F1 {val_metrics['macro_f1']:.4f}")
"""
            )
            cell.source = body
        if grade_id(cell) == "memo":
            cell.source = MEMOS[notebook]
    nbformat.write(nb, path)
    return path


def write_week1(student: str, out_dir: Path) -> list[Path]:
    """Both notebooks `student` submits for week 1 (the lab as `write_submission` writes it, the homework)."""
    return [write_submission(student, out_dir, "week1", notebook) for notebook in WEEK1]
