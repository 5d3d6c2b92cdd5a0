import json
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

import course.metrics as m

K = 113


# ---------------------------------------------------------------------------
# Agreement with scikit-learn (with labels=range(K), zero_division=0)
# ---------------------------------------------------------------------------


@st.composite
def label_pairs(draw):
    """(y_true, y_pred, k), often using only a few of the k classes."""
    k = draw(st.sampled_from([1, 2, 3, 7, K]))
    used = draw(st.integers(1, k))  # labels drawn from [0, used): many classes absent
    n = draw(st.integers(1, 300))
    labels = st.lists(st.integers(0, used - 1), min_size=n, max_size=n)
    y_true = np.array(draw(labels))
    y_pred = np.array(draw(labels))
    return y_true, y_pred, k


@settings(max_examples=60, deadline=None)
@given(label_pairs())
def test_matches_sklearn_over_all_labels(pair):
    y_true, y_pred, k = pair
    labels = list(range(k))
    kw = dict(labels=labels, zero_division=0)
    assert m.macro_f1(y_true, y_pred, k) == pytest.approx(f1_score(y_true, y_pred, average="macro", **kw), abs=1e-12)
    assert m.weighted_f1(y_true, y_pred, k) == pytest.approx(
        f1_score(y_true, y_pred, average="weighted", **kw), abs=1e-12
    )
    assert m.accuracy(y_true, y_pred, k) == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
    prec, rec, f1, support = precision_recall_fscore_support(y_true, y_pred, **kw)
    ours = m.per_class(y_true, y_pred, k)
    np.testing.assert_allclose(ours["precision"], prec, atol=1e-12)
    np.testing.assert_allclose(ours["recall"], rec, atol=1e-12)
    np.testing.assert_allclose(ours["f1"], f1, atol=1e-12)
    np.testing.assert_array_equal(ours["support"], support)
    assert m.zero_f1_classes(y_true, y_pred, k) == int(np.sum(f1 == 0))


def test_confusion_rows_are_true_columns_are_predicted():
    cm = m.confusion([0, 0, 1, 2], [1, 0, 1, 1], 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [0, 1, 0]])


# ---------------------------------------------------------------------------
# Macro-F1 over absent classes, zero-F1 count, tiers
# ---------------------------------------------------------------------------

# Class 3 is absent from both vectors. Per-class F1 = 2tp / (support + predicted):
# class 0: 2*1/(2+1) = 2/3, class 1: 2*2/(2+3) = 4/5, class 2: 2*1/(1+1) = 1, class 3: 0.
Y_TRUE = [0, 0, 1, 1, 2]
Y_PRED = [0, 1, 1, 1, 2]


def test_macro_f1_counts_absent_classes_unlike_sklearn_default():
    ours = m.macro_f1(Y_TRUE, Y_PRED, 4)
    assert ours == pytest.approx((2 / 3 + 4 / 5 + 1 + 0) / 4)
    sklearn_default = f1_score(Y_TRUE, Y_PRED, average="macro")
    assert sklearn_default == pytest.approx((2 / 3 + 4 / 5 + 1) / 3)
    assert ours < sklearn_default


def test_majority_predictor_has_112_zero_f1_classes():
    y_true = np.concatenate([np.zeros(500, dtype=int), np.arange(K).repeat(3)])
    y_pred = np.zeros_like(y_true)
    assert m.zero_f1_classes(y_true, y_pred, K) == 112
    assert m.macro_f1(y_true, y_pred, K) > 0


def test_tier_f1_hand_computed_and_ordered_by_first_appearance():
    tiers = ["tail", "mid", "tail", "head"]
    out = m.tier_f1(Y_TRUE, Y_PRED, tiers)
    assert list(out) == ["tail", "mid", "head"]
    assert out["tail"] == pytest.approx((2 / 3 + 1) / 2)
    assert out["mid"] == pytest.approx(4 / 5)
    assert out["head"] == 0.0


# ---------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------


def test_ece_near_zero_when_calibrated():
    rng = np.random.default_rng(0)
    p1 = rng.random(20000)
    y = (rng.random(20000) < p1).astype(int)
    probs = np.stack([1 - p1, p1], axis=1)
    assert m.ece(y, probs) < 0.02
    # the same labels with sharpened probabilities must look miscalibrated
    sharp = m.softmax(np.log(probs + 1e-12), temperature=0.25)
    assert m.ece(y, sharp) > 0.1


def test_ece_overconfident_hand_computed():
    probs = [[0.9, 0.1], [0.9, 0.1], [0.65, 0.35], [0.25, 0.75]]
    y = [0, 1, 0, 0]
    # bins (i/15, (i+1)/15]: 0.9 -> bin 13 (acc 0.5, conf 0.9, 2 examples),
    # 0.65 -> bin 9 (acc 1, conf 0.65), 0.75 -> bin 11 (acc 0, conf 0.75)
    expected = 2 / 4 * 0.4 + 1 / 4 * 0.35 + 1 / 4 * 0.75
    assert m.ece(y, probs) == pytest.approx(expected)


def test_ece_bins_are_closed_on_the_right():
    # 0.6 == 9/15 is an edge: it belongs to bin 8 = (8/15, 9/15], with 0.55
    assert m.ece([0, 1], [[0.6, 0.4], [0.55, 0.45]]) == pytest.approx(abs(0.4 - 0.55) / 2)


def test_ece_confidence_rounding_above_one_shares_the_last_bin():
    # both in bin 14: |(1 - 0.95) + (1 - 1.0005)| / 2, not |0.05| / 2 + |-0.0005| / 2
    assert m.ece([0, 0], [[0.95, 0.05], [1.0005, 0.0]]) == pytest.approx(0.0495 / 2)


@pytest.mark.parametrize("fn", [m.ece, m.nll])
@pytest.mark.parametrize(
    "bad",
    [
        [[2.0, -1.0], [0.5, 0.3]],  # logits with negatives
        [[2.0, 1.0], [0.5, 3.0]],  # positive logits, rows do not sum to 1
    ],
)
def test_logits_instead_of_probs_mention_softmax(fn, bad):
    with pytest.raises(ValueError, match="softmax"):
        fn([0, 1], bad)


def test_labels_instead_of_probs_rejected():
    with pytest.raises(ValueError, match="probs must be a 2-D"):
        m.ece([0, 1], [0, 1])


def test_nll_hand_computed_and_clipped():
    probs = [[0.5, 0.5], [0.2, 0.8], [1.0, 0.0]]
    expected = -(np.log(0.5) + np.log(0.8) + np.log(1e-12)) / 3
    assert m.nll([0, 1, 1], probs) == pytest.approx(expected)


def test_softmax_is_stable_and_tempered():
    out = m.softmax([[1000.0, 1000.0, -1000.0]])
    np.testing.assert_allclose(out, [[0.5, 0.5, 0.0]])
    hot = m.softmax([[0.0, 1.0]], temperature=2.0)
    np.testing.assert_allclose(hot, [[1 / (1 + np.e**0.5), np.e**0.5 / (1 + np.e**0.5)]])


# ---------------------------------------------------------------------------
# Bootstrap
# ---------------------------------------------------------------------------


def noisy_predictions(n, correct_rate, seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, size=n)
    pred = np.where(rng.random(n) < correct_rate, y, rng.integers(0, 10, size=n))
    return y, pred


def test_bootstrap_ci_deterministic_and_brackets_estimate():
    y, pred = noisy_predictions(500, 0.7, seed=1)
    a = m.bootstrap_ci(m.accuracy, y, pred, 10, n_boot=300, seed=3)
    b = m.bootstrap_ci(m.accuracy, y, pred, 10, n_boot=300, seed=3)
    c = m.bootstrap_ci(m.accuracy, y, pred, 10, n_boot=300, seed=4)
    assert a == b
    assert (a["low"], a["high"]) != (c["low"], c["high"])
    assert a["low"] <= a["estimate"] <= a["high"]
    assert a["estimate"] == m.accuracy(y, pred, 10)
    assert a["n_boot"] == 300 and a["alpha"] == 0.05 and a["seed"] == 3


def test_bootstrap_ci_narrows_with_more_data():
    small = m.bootstrap_ci(m.macro_f1, *noisy_predictions(200, 0.7, seed=1), 10, n_boot=300)
    large = m.bootstrap_ci(m.macro_f1, *noisy_predictions(5000, 0.7, seed=1), 10, n_boot=300)
    assert large["high"] - large["low"] < (small["high"] - small["low"]) / 2


def test_bootstrap_ci_fast_enough_for_course_test_set():
    rng = np.random.default_rng(0)
    y = rng.integers(0, K, size=6430)
    pred = np.where(rng.random(6430) < 0.6, y, rng.integers(0, K, size=6430))
    start = time.perf_counter()
    m.bootstrap_ci(m.macro_f1, y, pred, K, n_boot=1000)
    assert time.perf_counter() - start < 2.0


def test_paired_diff_with_itself_is_exactly_zero():
    y, pred = noisy_predictions(400, 0.7, seed=2)
    out = m.paired_bootstrap_diff(m.macro_f1, y, pred, pred, 10, n_boot=200)
    assert (out["estimate"], out["low"], out["high"]) == (0.0, 0.0, 0.0)
    assert out["p_value"] == 1.0


def test_paired_diff_detects_clearly_better_model():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 10, size=2000)
    wrong = (y + 1) % 10
    worse = np.where(rng.random(2000) < 0.6, y, wrong)
    better = np.where(rng.random(2000) < 0.9, y, wrong)
    out = m.paired_bootstrap_diff(m.accuracy, y, worse, better, 10, n_boot=300)
    assert out["estimate"] == pytest.approx(m.accuracy(y, better, 10) - m.accuracy(y, worse, 10))
    assert out["low"] > 0
    assert out["p_value"] < 0.01
    flipped = m.paired_bootstrap_diff(m.accuracy, y, better, worse, 10, n_boot=300)
    assert flipped["high"] < 0 and flipped["p_value"] < 0.01


# ---------------------------------------------------------------------------
# Summary report
# ---------------------------------------------------------------------------


def test_summary_is_json_serialisable_and_consistent():
    scores = np.eye(4)[Y_PRED] * 3.0  # scores, argmax'd to Y_PRED
    out = m.summary(Y_TRUE, scores, 4, class_tiers=["a", "a", "b", "b"], label_names=["w", "x", "y", "z"])
    json.dumps(out)
    assert out["macro_f1"] == pytest.approx(m.macro_f1(Y_TRUE, Y_PRED, 4))
    assert out["weighted_f1"] == pytest.approx(m.weighted_f1(Y_TRUE, Y_PRED, 4))
    assert out["accuracy"] == pytest.approx(4 / 5)
    assert out["zero_f1_classes"] == 1
    assert out["num_examples"] == 5
    assert out["per_class"][1] == {"label": 1, "name": "x", "precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2}
    assert out["tier_f1"] == {"a": pytest.approx((2 / 3 + 0.8) / 2), "b": 0.5}


def test_summary_defaults_names_and_omits_tiers():
    out = m.summary(Y_TRUE, Y_PRED, 4)
    assert [row["name"] for row in out["per_class"]] == ["0", "1", "2", "3"]
    assert "tier_f1" not in out


# ---------------------------------------------------------------------------
# Input validation: every error names the offending argument
# ---------------------------------------------------------------------------


def test_integral_floats_and_scores_accepted():
    np.testing.assert_array_equal(m.as_label_array([0.0, 2.0], 3), [0, 2])
    np.testing.assert_array_equal(m.as_label_array([[0.1, 0.7, 0.2]], 3), [1])
    assert m.as_label_array([1, 2], 3).dtype == np.int64


@pytest.mark.parametrize(
    "call, pattern",
    [
        (lambda: m.check_pair(list(range(10)), list(range(9)), 10), "y_true has 10 labels but y_pred has 9"),
        (lambda: m.check_pair([0, 1], [0, 113], K), r"y_pred.*\[0, 112\].*113"),
        (lambda: m.check_pair([-1, 1], [0, 1], K), r"y_true.*-1"),
        (lambda: m.as_label_array([[0.1, np.nan, 0.2]], 3), "y_pred.*NaN"),
        (lambda: m.as_label_array(np.zeros((2, 5)), 3), r"y_pred.*3 columns.*\(2, 5\)"),
        (lambda: m.check_pair([], [], 3), "y_true is empty"),
        (lambda: m.as_label_array([0, 1.5], 3, name="preds"), "preds.*integer.*1.5"),
        (lambda: m.as_label_array(["a", "b"], 3), "y_pred must hold numbers"),
        (lambda: m.as_label_array(np.zeros((2, 3, 1)), 3), "y_pred.*3-D"),
        (lambda: m.check_pair(np.eye(3), [0, 1, 2], 3), "y_true must be a 1-D"),
        (lambda: m.macro_f1([0], [0], 0), "num_labels must be >= 1"),
        (lambda: m.tier_f1([0, 1], [0, 1], ["head"]), r"y_true.*\[0, 0\].*1"),
        (lambda: m.ece([0, 1, 1], [[0.5, 0.5], [0.5, 0.5]]), "y_true has 3 labels but probs has 2"),
        (lambda: m.ece([0], [[np.inf, 0.0]]), "probs.*NaN or inf"),
        (lambda: m.paired_bootstrap_diff(m.accuracy, [0, 1], [0, 1], [0], 2), "pred_b has 1"),
        (lambda: m.bootstrap_ci(m.accuracy, [0], [0], 1, n_boot=0), "n_boot"),
        (lambda: m.bootstrap_ci(m.accuracy, [0], [0], 1, alpha=1.5), "alpha"),
        (lambda: m.summary([0], [0], 2, label_names=["a"]), "label_names"),
        (lambda: m.summary([0], [0], 2, class_tiers=["a"]), "class_tiers"),
        (lambda: m.softmax([1.0], temperature=0), "temperature"),
    ],
)
def test_bad_inputs_raise_named_value_errors(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
