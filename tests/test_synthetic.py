"""The synthetic course must look like the real one wherever the harness depends on its shape."""

import json
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from course.synthetic import generate_raw, make_contract, make_plan, plan_from_contract

REAL = Path(__file__).resolve().parents[2] / "shared" / "course_contract"  # ../shared from the root
NUMERIC = re.compile(r"\$\d|(?<!\w)\d{4,}(?!\w)")
UNCOVERED = [5, 17, 230, 231, 999, 1500, 2048, 2500, 3001, 3333, 4000, 4444, 5000, 5555, 5998, 5999]


@pytest.fixture(scope="module")
def plan():
    return make_plan()


@pytest.fixture(scope="module")
def raw(plan):
    return generate_raw(plan, 6000, 2000, seed=0, uncovered_train=UNCOVERED)


def merged(plan, frame: pd.DataFrame) -> pd.Series:
    return frame["Issue"].map(lambda label: plan.merges.get(label, label))


def test_plan_counts(plan):
    assert len(plan.kept) == 113 and plan.kept == sorted(set(plan.kept))
    noops = [k for k, v in plan.merges.items() if k == v]
    olds = {k: v for k, v in plan.merges.items() if k != v}
    assert len(noops) == 1 and noops[0] in plan.kept
    assert len(olds) == 33 and not set(olds) & set(plan.kept)
    assert set(plan.merges.values()) <= set(plan.kept)
    assert sorted(Counter(olds.values()).values())[-4:] == [1, 2, 2, 2]
    assert len(plan.dropped) == 7 and not set(plan.dropped) & (set(plan.kept) | set(plan.merges))
    assert len(plan.raw_labels) == 153 == len(set(plan.raw_labels))


def test_plan_seed_only_moves_the_noop():
    plans = [make_plan(seed) for seed in range(6)]
    assert all(p.kept == plans[0].kept and p.dropped == plans[0].dropped for p in plans)
    assert len({next(k for k, v in p.merges.items() if k == v) for p in plans}) > 1


def test_frame_shape(plan, raw):
    train, test = raw
    for frame, n in [(train, 6000), (test, 2000)]:
        assert list(frame.columns) == ["Issue", "Consumer Complaint"]
        assert isinstance(frame.index, pd.RangeIndex) and len(frame) == n
        assert set(frame["Issue"]) <= set(plan.raw_labels)


def test_deterministic_and_seed_sensitive(plan, raw):
    again = generate_raw(plan, 6000, 2000, seed=0, uncovered_train=UNCOVERED)
    pd.testing.assert_frame_equal(raw[0], again[0])
    pd.testing.assert_frame_equal(raw[1], again[1])
    other = generate_raw(plan, 6000, 2000, seed=1, uncovered_train=UNCOVERED)
    assert (other[0]["Consumer Complaint"] != raw[0]["Consumer Complaint"]).mean() > 0.99


def test_dropped_labels_only_at_chosen_rows(plan, raw):
    train, test = raw
    dropped_train = np.flatnonzero(train["Issue"].isin(plan.dropped))
    assert dropped_train.tolist() == UNCOVERED
    assert set(train["Issue"].iloc[UNCOVERED]) == set(plan.dropped)
    assert test["Issue"].isin(plan.dropped).sum() == 7

    default_train, default_test = generate_raw(plan, 3000, 500, seed=3, n_test_dropped=2)
    dropped_default = default_train["Issue"][default_train["Issue"].isin(plan.dropped)]
    assert len(dropped_default) == 16 and dropped_default.nunique() == 7
    assert default_test["Issue"].isin(plan.dropped).sum() == 2


def test_old_forms_carry_about_a_third_of_their_class(plan, raw):
    train = raw[0]
    targets = {v for k, v in plan.merges.items() if k != v}
    rows = merged(plan, train).isin(targets)
    old_share = (train["Issue"][rows] != merged(plan, train)[rows]).mean()
    assert 0.25 < old_share < 0.35


def test_prior_long_tail_shared_by_train_and_test(plan, raw):
    train, test = (merged(plan, f) for f in raw)
    train_share = train.value_counts(normalize=True)
    assert 0.20 <= train_share.iloc[0] <= 0.26
    test_share = test.value_counts(normalize=True).reindex(train_share.index, fill_value=0)
    assert test_share.index[test_share.argmax()] == train_share.index[0]
    assert 0.5 * (train_share - test_share).abs().sum() < 0.08
    heads = {merged(plan, generate_raw(plan, 1000, 10, seed=s)[0]).mode()[0] for s in range(4)}
    assert len(heads) > 1


def test_text_statistics(raw):
    texts = pd.concat([raw[0], raw[1]])["Consumer Complaint"]
    words = texts.str.split().str.len()
    assert 45 <= words.median() <= 55 and words.min() >= 3 and (words > 300).any()
    assert 0.60 <= texts.str.contains("XXXX", regex=False).mean() <= 0.66
    assert texts.str.contains(r"\{\$XXX(?:\.XX)?\}").mean() > 0.05
    assert 0.10 <= texts.map(lambda t: bool(NUMERIC.search(t))).mean() <= 0.30
    assert texts.str.match(r"[A-Z{]").mean() > 0.95 and texts.str.contains(r"\w[.,] ").mean() > 0.9


def test_contract(plan, raw):
    train = raw[0]
    contract = make_contract(plan, train, seed=0)
    assert set(contract) == {
        "label_list.json",
        "label_merge_mapping.json",
        "train_indices.json",
        "val_indices.json",
        "baseline_results.json",
    }
    tr, va = contract["train_indices.json"], contract["val_indices.json"]
    assert tr == sorted(tr) and va == sorted(va) and not set(tr) & set(va)
    assert sorted(tr + va) == sorted(set(range(len(train))) - set(UNCOVERED))
    assert abs(len(va) / (len(tr) + len(va)) - 0.1) < 0.002
    assert contract["label_list.json"] == plan.kept
    mapping = contract["label_merge_mapping.json"]
    assert next(iter(mapping)) == "_comment"
    assert {k: v for k, v in mapping.items() if k != "_comment"} == plan.merges
    labels = merged(plan, train)
    baseline = contract["baseline_results.json"]
    assert baseline["num_classes"] == 113
    assert baseline["majority_class"]["label"] == labels.iloc[tr].mode()[0]
    share = (labels.iloc[va] == baseline["majority_class"]["label"]).mean()
    assert baseline["majority_class"]["val_accuracy"] == pytest.approx(share, abs=1e-4)
    assert make_contract(plan, train, seed=1)["val_indices.json"] != va


def test_full_size_is_fast_and_long_tailed(plan):
    start = time.perf_counter()
    train, test = generate_raw(plan, 64292, 21439, seed=0)
    assert time.perf_counter() - start < 30
    assert (len(train), len(test)) == (64292, 21439)
    counts = merged(plan, train).value_counts().reindex(plan.kept, fill_value=0) * 0.9
    assert 0.20 <= counts.max() / counts.sum() <= 0.26
    assert (counts < 50).sum() >= 30 and 1 <= (counts < 10).sum() <= 15


@pytest.mark.skipif(not REAL.is_dir(), reason="real course contract not present")
def test_plan_from_real_contract():
    labels = json.loads((REAL / "label_list.json").read_text())
    mapping = json.loads((REAL / "label_merge_mapping.json").read_text())
    covered = [i for name in ("train_indices.json", "val_indices.json") for i in json.loads((REAL / name).read_text())]
    uncovered = sorted(set(range(64292)) - set(covered))
    real = plan_from_contract(labels, mapping)
    assert real.kept == labels and "_comment" not in real.merges and len(real.merges) == len(mapping) - 1
    assert len(real.dropped) == 7 and not set(real.dropped) & (set(labels) | set(mapping))

    train, test = generate_raw(real, 64292, 21439, seed=0, uncovered_train=uncovered)
    kept = merged(real, train).isin(labels)
    assert kept.iloc[covered].all() and not kept.iloc[uncovered].any()
    assert (~merged(real, test).isin(labels)).sum() == 7
    with pytest.raises(ValueError):
        plan_from_contract(labels, mapping, n_dropped=50)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_tfidf_logreg_learns_head_not_tail(plan):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    train, test = generate_raw(plan, 3000, 1000, seed=5)
    ids = {label: i for i, label in enumerate(plan.kept)}
    y_train, y_test = (merged(plan, f).map(ids) for f in (train, test))
    fit_rows, eval_rows = y_train.notna(), y_test.notna()
    vectorizer = TfidfVectorizer(max_features=3000, sublinear_tf=True)
    x_train = vectorizer.fit_transform(train["Consumer Complaint"][fit_rows])
    model = LogisticRegression(C=5.0, max_iter=40, tol=1e-3)  # unconverged but enough, and fast
    model.fit(x_train, y_train[fit_rows].astype(int))
    pred = model.predict(vectorizer.transform(test["Consumer Complaint"][eval_rows]))
    truth = y_test[eval_rows].astype(int).to_numpy()

    f1 = f1_score(truth, pred, labels=range(113), average=None, zero_division=0)
    counts = np.bincount(y_train[fit_rows].astype(int), minlength=113)
    majority = np.full_like(truth, counts.argmax())
    majority_f1 = f1_score(truth, majority, labels=range(113), average="macro", zero_division=0)
    assert f1.mean() > 10 * majority_f1 and f1.mean() > 0.05
    assert (pred == truth).mean() > (majority == truth).mean() + 0.1
    head, tail = np.argsort(-counts)[:10], counts < 20
    assert f1[head].mean() > f1[tail].mean() + 0.3
