"""Static analysis (grader.static): each rule on a small case, the leak patterns of COURSE.md section 6
as whole notebooks, honest notebooks with zero findings, execution order, magics and bad cells.

Expected findings are (rule, cell, line); severities are checked against the rule table.
"""

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.findings import SEVERITIES, Finding
from grader.static import RULES, analyze_cells, analyze_notebook, code_cells, strip_magics

NOTEBOOKS = Path(__file__).parent / "fixture_notebooks" / "static"


def found(findings: list[Finding]) -> list[tuple[str, int, int]]:
    for f in findings:
        assert f.layer == "static" and f.severity == RULES[f.rule][0], f
        assert f.message.strip() and "\n" not in f.message, f
    return [(f.rule, f.cell, f.line) for f in findings]


def notebook(*cells: str, counts: list[int | None] | None = None) -> nbformat.NotebookNode:
    """Cells starting with '# md' are markdown; code cells get `counts` as execution counts."""
    nb = new_notebook()
    code = iter(counts or [])
    for source in cells:
        if source.startswith("# md"):
            nb.cells.append(new_markdown_cell(source[4:].strip()))
        else:
            nb.cells.append(new_code_cell(source, execution_count=next(code, None)))
    return nb


# ---------------------------------------------------------------- the rule table is a contract


def test_rule_ids_and_severities():
    expected = {
        "hub-dataset": "critical",
        "internal-access": "critical",
        "test-capture": "critical",
        "train-on-test": "critical",
        "test-time-training": "critical",
        "overlap": "critical",
        "eval-on-test": "critical",
        "select-on-test": "critical",
        "cv-selection-on-held-out": "critical",
        "final-eval-after-test-training": "critical",
        "resplit": "major",
        "fit-on-eval": "major",
        "fit-before-split": "major",
        "train-on-val": "major",
        "final-eval-in-loop": "major",
        "final-eval-before-training-ends": "major",
        "reference-solutions": "major",
        "label-encoder-all": "minor",
        "final-eval-repeated": "minor",
        "inner-split": "info",
        "syntax-error": "info",
    }
    assert {rule: severity for rule, (severity, _) in RULES.items()} == expected


def test_finding_where_and_dict():
    f = Finding("static", "resplit", "major", "m", cell=4, line=2)
    assert f.where() == "cell 4, line 2"
    assert Finding("static", "resplit", "major", "m", cell=4).where() == "cell 4"
    assert Finding("access-log", "x", "info", "m").where() == ""
    assert f.as_dict() == {
        "layer": "static",
        "rule": "resplit",
        "severity": "major",
        "message": "m",
        "cell": 4,
        "line": 2,
        "run": None,
        "notebook": None,
    }
    assert SEVERITIES == ("critical", "major", "minor", "info")
    with pytest.raises(ValueError):
        Finding("static", "resplit", "severe", "m")


# ---------------------------------------------------------------- COURSE.md section 6, as notebooks

SECTION_6 = {
    # trains on the hub's test split
    "leak_hub_test_training": [("hub-dataset", 2, 2), ("train-on-test", 2, 7)],
    # fits TF-IDF on train + test texts (the old loader returned test_ds)
    "leak_tfidf_train_test": [("fit-on-eval", 2, 3)],
    # pools train + val and re-splits; the new "train" then holds val rows
    "leak_resplit_train_val": [("resplit", 2, 2), ("resplit", 2, 3), ("fit-on-eval", 2, 5), ("train-on-val", 2, 6)],
    # picks the epoch by a test score computed from the hub's test labels
    "leak_epoch_by_test": [("hub-dataset", 2, 2), ("eval-on-test", 3, 5), ("select-on-test", 3, 6)],
    # Trainer(eval_dataset=test) with load_best_model_at_end
    "leak_trainer_eval_test": [("hub-dataset", 1, 3), ("eval-on-test", 2, 3)],
    # predict keeps the test texts, which are pseudo-labelled and trained on; evaluating that model
    # again is no longer a mere repeat (minor) but a test score of a model trained on test (critical)
    "leak_capture_pseudolabel": [
        ("test-capture", 3, 2),
        ("train-on-test", 4, 2),
        ("test-time-training", 4, 2),
        ("final-eval-before-training-ends", 4, 2),
        ("final-eval-after-test-training", 4, 3),
    ],
    # a label encoder fitted on train + val labels
    "leak_label_encoder_all": [("label-encoder-all", 0, 4)],
    # course.api.final_evaluation (and settings) monkeypatched
    "leak_monkeypatch_final": [("internal-access", 0, 7), ("internal-access", 1, 1)],
    # runs/*.json written by hand: open(), Path.write_bytes, %%writefile, !cp
    "leak_handwritten_record": [
        ("internal-access", 0, 4),
        ("internal-access", 0, 6),
        ("internal-access", 1, 1),
        ("internal-access", 2, 1),
    ],
}


@pytest.mark.parametrize("name", sorted(SECTION_6))
def test_section_6_leaks(name):
    assert found(analyze_notebook(NOTEBOOKS / f"{name}.ipynb")) == SECTION_6[name]


def test_trainer_message_names_the_checkpoint_choice():
    [_, finding] = analyze_notebook(NOTEBOOKS / "leak_trainer_eval_test.ipynb")
    assert "picks the checkpoint" in finding.message and "hub['test']" in finding.message


@pytest.mark.parametrize("name", ["honest_tfidf", "honest_torch", "honest_trainer"])
def test_honest_notebooks_have_no_findings(name):
    assert analyze_notebook(NOTEBOOKS / f"{name}.ipynb") == []


def test_fixture_notebooks_are_valid_v4():
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert len(paths) == len(SECTION_6) + 3
    for path in paths:
        nbformat.validate(nbformat.read(path, as_version=4))


# ---------------------------------------------------------------- one rule at a time

# A course notebook's cell that also reads the hub copy (a plain notebook, without the course API, owns its data).
HUB = (
    'from datasets import load_dataset\nhub = load_dataset("determined-ai/consumer_complaints_medium")\nimport course\n'
)
COURSE = "from course import load_course_data, evaluate, final_evaluation\ntrain_ds, val_ds = load_course_data()\n"

CASES = {
    # hub-dataset
    "load_dataset of any dataset": (
        ['import datasets\nimdb = datasets.load_dataset("imdb")\nimport course'],
        [("hub-dataset", 0, 2)],
    ),
    "dataset snapshot": (
        [
            "from huggingface_hub import snapshot_download\n"
            'snapshot_download("determined-ai/consumer_complaints_medium", repo_type="dataset")'
        ],
        [("hub-dataset", 0, 2)],
    ),
    "val logits from a dataset repo are val": (
        [
            'path = hf_hub_download(repo_id="someone/logits", repo_type="dataset", filename="val_logits.npz")\n'
            'print(f1_score(np.load(path)["labels"], preds, average="macro"))'
        ],
        [("hub-dataset", 0, 1)],
    ),
    "model snapshot is fine": (['snapshot_download("answerdotai/ModernBERT-base")'], []),
    "hub parquet by url": (
        ['df = pd.read_parquet("hf://datasets/determined-ai/consumer_complaints_medium/test.parquet")\nimport course'],
        [("hub-dataset", 0, 1)],
    ),
    # internal-access
    "import store": (
        ['from course.api import store\ntest = store().read("test", "peek")'],
        [("internal-access", 0, 1)],
    ),
    "call store through the module": (
        ['import course.api\nframe = course.api.store().read("test", "x")'],
        [("internal-access", 0, 2)],
    ),
    "catalog, sources, splits, access": (
        [
            "from course import catalog",
            "import course.sources as src",
            "from course.splits import build",
            "import course.access",
        ],
        [("internal-access", 0, 1), ("internal-access", 1, 1), ("internal-access", 2, 1), ("internal-access", 3, 1)],
    ),
    "read _store": (["import course.api as api\nprint(api._store)"], [("internal-access", 0, 2)]),
    "star import then store()": (
        ['from course.api import *\nframe = store().read("test", "x")'],
        [("internal-access", 0, 2)],
    ),
    "setattr on course": (['import course\nsetattr(course, "final_evaluation", print)'], [("internal-access", 0, 2)]),
    "mock.patch of final_evaluation": (
        ['from unittest import mock\nwith mock.patch("course.api.final_evaluation"):\n    pass'],
        [("internal-access", 0, 2)],
    ),
    "patch grader": (
        ["import grader.static\ngrader.static.analyze_notebook = lambda nb: []"],
        [("internal-access", 0, 2)],
    ),
    "COURSE_MODE from the notebook": (
        ['import os\nos.environ["COURSE_MODE"] = "self-check"', "%env COURSE_MODE=grading"],
        [("internal-access", 0, 2), ("internal-access", 1, 1)],
    ),
    "raw files in the cache": (
        [
            'import os\nRAW = "~/.cache/course-harness/synthetic/v1/raw"\n'
            'raw = pd.read_parquet(os.path.expanduser(f"{RAW}/test.parquet"))\n'
            'clf.fit(vec.transform(raw["Consumer Complaint"]), raw["Issue"])'
        ],
        [("internal-access", 0, 3), ("train-on-test", 0, 4)],
    ),
    "reading a run record is fine": (['import json\nrecord = json.load(open("runs/week1.json"))'], []),
    # test-capture
    "predict assigns a global": (
        [
            "CAPTURED = None\n\ndef predict(texts):\n    global CAPTURED\n    CAPTURED = texts\n"
            "    return clf.predict(vec.transform(texts))\n\nfinal_evaluation(predict, run='w1')"
        ],
        [("test-capture", 0, 5)],
    ),
    "lambda extends a list": (
        ["seen = []\nfinal_evaluation(lambda t: (seen.extend(t), clf.predict(vec.transform(t)))[1], run='w1')"],
        [("test-capture", 0, 2)],
    ),
    "predict stores in a dict": (
        [
            "cache = {}\ndef predict(texts):\n    cache['texts'] = list(texts)\n    return clf.predict(texts)",
            "final_evaluation(predict=predict, run='w1')",
        ],
        [("test-capture", 0, 3)],
    ),
    "predict pickles its input": (
        [
            "import pickle\ndef predict(texts):\n    with open('t.pkl', 'wb') as f:\n        pickle.dump(texts, f)\n"
            "    return clf.predict(vec.transform(texts))\nfinal_evaluation(predict, run='w1')"
        ],
        [("test-capture", 0, 4)],
    ),
    "a predict method keeps its input on the object": (
        [
            "class Model:\n    def __init__(self):\n        self.seen = []\n\n    def predict(self, texts):\n"
            "        self.seen.extend(texts)\n        return clf.predict(vec.transform(texts))\n\n"
            "model = Model()\nfinal_evaluation(model.predict, run='w1')",
            "clf.fit(vec.transform(model.seen), clf.predict(vec.transform(model.seen)))",
        ],
        [
            ("test-capture", 0, 6),
            ("train-on-test", 1, 1),
            ("test-time-training", 1, 1),
            ("final-eval-before-training-ends", 1, 1),
        ],
    ),
    "__call__ reached through a lambda": (
        [
            "class Wrapped:\n    def __call__(self, texts):\n        self.last = texts\n"
            "        return clf.predict(texts)\n\nwrapped = Wrapped()\nfinal_evaluation(lambda t: wrapped(t), run='w1')"
        ],
        [("test-capture", 0, 3)],
    ),
    "keeping predictions is not capture": (
        [
            "all_preds = []\ndef predict(texts):\n    p = clf.predict(vec.transform(texts))\n    all_preds.append(p)\n"
            "    return p\nfinal_evaluation(predict, run='w1')"
        ],
        [],
    ),
    # train-on-test
    "Trainer(train_dataset=hub test)": (
        [HUB + "trainer = Trainer(model=model, args=args, train_dataset=hub['test'], eval_dataset=val_ds)"],
        [("hub-dataset", 0, 2), ("train-on-test", 0, 4)],
    ),
    "imported train() helper": (
        [
            HUB + "from helpers import train\ntest_loader = DataLoader(hub['test'], batch_size=32)\n"
            "train(model, test_loader, epochs=2)"
        ],
        [("hub-dataset", 0, 2), ("train-on-test", 0, 6)],
    ),
    "backward on a test batch": (
        [
            HUB + "test_ds = hub['test']",
            "for batch in DataLoader(test_ds, batch_size=8):\n    loss = model(**batch).loss\n    loss.backward()\n"
            "    optimizer.step()",
        ],
        [("hub-dataset", 0, 2), ("train-on-test", 1, 3)],
    ),
    "concatenate_datasets with test": (
        [
            HUB + COURSE + "full = concatenate_datasets([train_ds, hub['test']])\n"
            "trainer = Trainer(model=model, train_dataset=full, eval_dataset=val_ds)"
        ],
        [("hub-dataset", 0, 2), ("resplit", 0, 6), ("train-on-test", 0, 7)],
    ),
    "through a method of a notebook class": (
        [
            "class Runner:\n    def fit_on(self, data, labels):\n        self.model.fit(data, labels)\n\n"
            "runner = Runner()\nrunner.fit_on(ds['test']['text'], ds['test']['label'])"
        ],
        [("train-on-test", 0, 3)],
    ),
    "through a notebook function": (
        [
            HUB + "def fit_model(texts, labels):\n    return LogisticRegression().fit(vec.transform(texts), labels)\n"
            "test = hub['test']\nclf = fit_model(test['Consumer Complaint'], test['Issue'])"
        ],
        [("hub-dataset", 0, 2), ("train-on-test", 0, 5)],
    ),
    # eval-on-test
    "evaluate on test labels": (
        [
            "from utils.data_utils import load_course_data\ntrain_ds, val_ds, test_ds = load_course_data()\n"
            "preds = clf.predict(vec.transform(test_ds['text']))\nprint(evaluate(test_ds['label'], preds))"
        ],
        [("eval-on-test", 0, 4)],
    ),
    "keras validation_data on test": (
        [
            "X_test, y_test = ds['test']['x'], ds['test']['y']\n"
            "model.fit(X_train, y_train, validation_data=(X_test, y_test), callbacks=[EarlyStopping()])"
        ],
        [("eval-on-test", 0, 2)],
    ),
    "trainer.eval_dataset = test": (["trainer.eval_dataset = tokenized['test']"], [("eval-on-test", 0, 1)]),
    "evaluate on val is fine": (
        [COURSE + "preds = clf.predict(vec.transform(val_ds['text']))\nm = evaluate(val_ds['label'], preds)"],
        [],
    ),
    # select-on-test
    "choosing on final_evaluation's results": (
        [
            COURSE + "best_lr, best_f1 = None, -1.0\nfor lr in (1e-5, 3e-5):\n"
            "    res = final_evaluation(make_predict(lr), run=f'lr-{lr}')\n"
            "    if res['val']['macro_f1'] > best_f1:\n        best_lr, best_f1 = lr, res['val']['macro_f1']"
        ],
        [("final-eval-in-loop", 0, 5), ("select-on-test", 0, 6)],
    ),
    "argmax over test scores": (
        [
            "test_history = []\nfor epoch in range(3):\n    clf.partial_fit(X_train, y_train)\n"
            "    test_history.append(clf.score(X_test, ds['test']['label']))\nbest_epoch = int(np.argmax(test_history))"
        ],
        [("eval-on-test", 0, 4), ("select-on-test", 0, 5)],
    ),
    "train until test is good": (
        [
            "y_test = ds['test']['label']\ntest_acc = 0.0\nwhile test_acc < 0.9:\n    clf.partial_fit(X_train, y_train)\n"
            "    test_acc = clf.score(X_test, y_test)"
        ],
        [("select-on-test", 0, 3), ("eval-on-test", 0, 5)],
    ),
    "best of sorted test scores": (
        [
            "y_test = ds['test']['label']\nresults = []\nfor c in (0.1, 1.0):\n"
            "    clf = LogisticRegression(C=c).fit(X_train, y_train)\n    results.append((clf.score(X_test, y_test), c))\n"
            "ranking = sorted(results)\nbest_score, best_c = sorted(results)[-1]"
        ],
        [("eval-on-test", 0, 5), ("select-on-test", 0, 7)],
    ),
    "printing test results is no choice": (
        [
            COURSE + "res = final_evaluation(predict, run='w1')\nprint(max(res['val']['macro_f1'], 0.0))\n"
            "if 'test' in res:\n    print(res['test'])"
        ],
        [],
    ),
    # resplit
    # a split of train alone is an inner train/dev split: noted (info), no longer major
    "dataset.train_test_split": (["dev = train_ds.train_test_split(test_size=0.1, seed=0)"], [("inner-split", 0, 1)]),
    "train_test_split of course train": (
        [COURSE + "X_tr, X_dev, y_tr, y_dev = train_test_split(train_ds['text'], train_ds['label'], test_size=0.1)"],
        [("inner-split", 0, 3)],
    ),
    "kfold over pooled features": (
        [
            COURSE + "X_all = np.concatenate([vec.transform(train_ds['text']), vec.transform(val_ds['text'])])\n"
            "skf = StratifiedKFold(n_splits=5)\nfor tr, te in skf.split(X_all, y_all):\n    pass"
        ],
        [("resplit", 0, 5)],
    ),
    "concatenate_datasets train + val": (
        [COURSE + "both = concatenate_datasets([train_ds, val_ds])"],
        [("resplit", 0, 3)],
    ),
    "pd.concat of split-named frames": (
        [
            "train_df = pd.read_csv('mine.csv')\ntest_df = pd.read_csv('theirs.csv')\n"
            "all_df = pd.concat([train_df, test_df])\nimport course"
        ],
        [("resplit", 0, 3)],
    ),
    "from_pandas(concat).shuffle().select()": (
        [
            COURSE + "mixed = Dataset.from_pandas(pd.concat([train_ds.to_pandas(), val_ds.to_pandas()]))"
            ".shuffle(seed=0).select(range(1000))"
        ],
        [("resplit", 0, 3)],
    ),
    "stratified subsamples of train are fine": (
        [
            COURSE + "sub_idx, _ = train_test_split(list(range(len(train_ds))), train_size=10_000,\n"
            "                              stratify=train_ds['label'])\n"
            "small = train_ds.train_test_split(train_size=5000, seed=0)['train']"
        ],
        [],
    ),
    "pooling unrelated frames is fine": (
        [COURSE + "aug = concatenate_datasets([train_ds, augmented])\ndf = pd.concat([df_a, df_b])"],
        [],
    ),
    # fit-on-eval and train-on-val
    "tfidf on train + val": (
        [COURSE + "vec = TfidfVectorizer()\nvec.fit(list(train_ds['text']) + list(val_ds['text']))"],
        [("fit-on-eval", 0, 4)],
    ),
    "tokenizer trained on val": (
        [
            COURSE + "tok = AutoTokenizer.from_pretrained('bert-base-uncased')\n"
            "new_tok = tok.train_new_from_iterator(val_ds['text'], vocab_size=8000)"
        ],
        [("fit-on-eval", 0, 4)],
    ),
    "scaler fitted on val features": (
        [COURSE + "X_val = vec.transform(val_ds['text'])\nscaler = StandardScaler(with_mean=False).fit(X_val)"],
        [("fit-on-eval", 0, 4)],
    ),
    "model fitted on val": (
        [COURSE + "X_val = vec.transform(val_ds['text'])\nclf = LogisticRegression().fit(X_val, val_ds['label'])"],
        [("train-on-val", 0, 4)],
    ),
    "Trainer on train + val": (
        [COURSE + "trainer = Trainer(model=model, train_dataset=concatenate_datasets([train_ds, val_ds]))"],
        [("resplit", 0, 3), ("train-on-val", 0, 3)],
    ),
    "temperature fitted on val is fine": (
        [COURSE + "scaler = TemperatureScaler().fit(val_logits, val_ds['label'])"],
        [],
    ),
    # label-encoder-all
    "multilabel binarizer on all labels": (
        [COURSE + "mlb = MultiLabelBinarizer()\nmlb.fit([train_ds['label_name'], val_ds['label_name']])"],
        [("label-encoder-all", 0, 4)],
    ),
    # final-eval-in-loop, -before-training-ends, -repeated
    "final_evaluation in a loop": (
        ["for run in ('a', 'b'):\n    final_evaluation(predict, run=run)"],
        [("final-eval-in-loop", 0, 2)],
    ),
    "through a function called in a loop": (
        [
            "def finish(name):\n    return final_evaluation(predict, run=name)\n\n"
            "for name in ('a', 'b'):\n    finish(name)"
        ],
        [("final-eval-in-loop", 0, 5)],
    ),
    "in a comprehension": (
        ["results = [final_evaluation(p, run=n) for n, p in predictors.items()]"],
        [("final-eval-in-loop", 0, 1)],
    ),
    "training after the final cell": (
        ["final_evaluation(predict, run='a')", "model.fit(X_train, y_train)\noptimizer.step()"],
        [("final-eval-before-training-ends", 1, 1), ("final-eval-before-training-ends", 1, 2)],
    ),
    "training function called after the final cell": (
        ["def go():\n    trainer.train()", "final_evaluation(predict, run='a')", "go()"],
        [("final-eval-before-training-ends", 2, 1)],
    ),
    "same run twice": (
        [
            "RUN = 'week1'\nfinal_evaluation(predict, run=RUN)",
            "final_evaluation(predict, run='week1')",
            "final_evaluation(predict, run='week1-experiment')",
        ],
        [("final-eval-repeated", 1, 1)],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rule_cases(case):
    cells, expected = CASES[case]
    assert found(analyze_cells(cells)) == expected


def test_names_strings_and_comments_do_not_taint():
    cells = [
        COURSE + "import pytest\nlatest = train_ds['text']\ntest_size = 0.2\npytest_note = 'test'\n"
        "# we never touch the test set: test test test\n"
        "clf = LogisticRegression().fit(vec.fit_transform(latest), train_ds['label'])\n"
        "print('test', test_size, pytest_note)\n"
        "X_tr, X_dev = train_test_split(np.arange(len(val_ds)), test_size=test_size)"
    ]
    assert analyze_cells(cells) == []


def test_reassignment_replaces_taint():
    """Reusing a name for val after training on it is honest; flow-insensitive taint would flag it."""
    cells = [
        COURSE + "X = vec.fit_transform(train_ds['text'])\nclf.fit(X, train_ds['label'])",
        "X = vec.transform(val_ds['text'])\nprint(evaluate(val_ds['label'], clf.predict(X)))",
        "for epoch in range(2):\n    X = vec.transform(train_ds['text'])\n"
        "    clf.partial_fit(X, train_ds['label'])\n"
        "    X = vec.transform(val_ds['text'])\n    f1 = evaluate(val_ds['label'], clf.predict(X))",
    ]
    assert analyze_cells(cells) == []


def test_branches_join():
    cells = ["if use_extra:\n    X = ds['test']['text']\nelse:\n    X = train_texts\nclf.fit(X, y)"]
    assert found(analyze_cells(cells)) == [("train-on-test", 0, 5)]


# ---------------------------------------------------------------- execution order, magics, bad cells


def test_execution_order_follows_execution_counts():
    nb = notebook(
        "# md The cells ran bottom-up.",
        "clf.fit(X, y)",
        "X, y = ds['test']['text'], ds['test']['label']",
        "final_evaluation(predict, run='w1')",
        counts=[3, 1, 2],
    )
    assert [index for index, _ in code_cells(nb)] == [2, 3, 1]
    assert found(analyze_notebook(nb)) == [("train-on-test", 1, 1), ("final-eval-before-training-ends", 1, 1)]
    nb.cells[1].execution_count = None  # one cell never ran: document order, where nothing is wrong
    assert analyze_notebook(nb) == []


def test_notebook_from_path_and_node_agree(tmp_path):
    nb = notebook("# md hi", HUB)
    path = tmp_path / "n.ipynb"
    nbformat.write(nb, path)
    assert analyze_notebook(path) == analyze_notebook(str(path)) == analyze_notebook(nb)
    assert found(analyze_notebook(nb)) == [("hub-dataset", 1, 2)]


def test_syntax_error_cell_is_reported_and_skipped():
    findings = analyze_cells(["x = (", "def f(:\n    pass", HUB])
    assert found(findings) == [("syntax-error", 0, 1), ("syntax-error", 1, 1), ("hub-dataset", 2, 2)]
    assert findings[0].severity == "info"


def test_magics_are_blanked_keeping_lines():
    cells = [
        "%load_ext autoreload\n%autoreload 2\n!pip install foo\nfiles = !ls data\nmodel?\n?model\n"
        "for i in range(2):\n    !echo hi\nX_test = ds['test']['text']",
        "%%time\nclf.fit(X_test, y)",
        "%%bash\necho 'not python' > notes.txt\nfor x in",
        "s = ('%d'\n     % 3)",
    ]
    assert found(analyze_cells(cells)) == [("train-on-test", 1, 2)]
    code, writes = strip_magics("%%time\n  !ls\nx = 1")
    assert code == "pass\n  pass\nx = 1" and writes == []


def test_too_deep_statement_is_skipped_not_fatal():
    deep = "x = " + " + ".join(["a"] * 900)  # parses, but is deeper than the analysis can recurse
    cells = [deep + "\nclf.fit(ds['test']['text'], y)", "x = " + " + ".join(["a"] * 5000)]
    assert found(analyze_cells(cells)) == [("syntax-error", 0, 1), ("train-on-test", 0, 2), ("syntax-error", 1, None)]
