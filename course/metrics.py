"""Classification metrics for the 113-class complaint task.

Everything the course reports (leaderboard, weekly notebooks, the student
`evaluate` API) goes through this module so that every number is computed the
same way. Two choices differ from library defaults on purpose:

* Macro-F1 averages over *all* ``num_labels`` classes. scikit-learn's default
  ``f1_score(average="macro")`` averages only over labels that occur in
  ``y_true`` or ``y_pred``, which silently inflates the score of models that
  never predict (and test sets that never contain) rare classes.
* Calibration binning and the bootstrap RNG are pinned, so a number computed in
  week 2 can be compared with one computed in week 10.

All metrics are computed from one confusion matrix built with ``np.bincount``,
which is what makes 1000 bootstrap resamples cheap.
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np
from numpy.typing import ArrayLike

Metric = Callable[[np.ndarray, np.ndarray, int], float]

PROB_SUM_TOL = 1e-3


# ---------------------------------------------------------------------------
# Input validation
# ---------------------------------------------------------------------------


def _check_num_labels(num_labels: int) -> None:
    if isinstance(num_labels, bool) or not isinstance(num_labels, (int, np.integer)):
        raise ValueError(f"num_labels must be an int, got {type(num_labels).__name__}")
    if num_labels < 1:
        raise ValueError(f"num_labels must be >= 1, got {num_labels}")


def _asarray(y: ArrayLike, name: str) -> np.ndarray:
    try:
        return np.asarray(y)
    except ValueError as e:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array: {e}") from e


def as_label_array(y: ArrayLike, num_labels: int, name: str = "y_pred") -> np.ndarray:
    """Return ``y`` as a 1-D int64 array of class indices in ``[0, num_labels)``.

    Accepts either labels (1-D) or a 2-D ``(n, num_labels)`` array of scores,
    probabilities or logits, which is argmax'd: students hand in both, and the
    harness should grade either without a separate code path. Integral floats
    (``3.0``, as pandas produces) are accepted; anything that is not a whole
    number is rejected rather than silently truncated.
    """
    _check_num_labels(num_labels)
    arr = _asarray(y, name)
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"{name} must be 1-D labels or a 2-D (n, {num_labels}) score array, "
            f"got a {arr.ndim}-D array of shape {arr.shape}"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); expected at least one example")
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}")

    if arr.ndim == 2:
        if arr.shape[1] != num_labels:
            raise ValueError(f"{name} scores must have {num_labels} columns (one per class), got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} scores contain NaN or inf; expected finite values")
        return arr.argmax(axis=1).astype(np.int64)

    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} labels contain NaN or inf; expected integer class labels")
        nonint = arr != np.round(arr)
        if nonint.any():
            raise ValueError(f"{name} must hold integer class labels, got non-integer value {arr[nonint][0]!r}")
    out_of_range = (arr < 0) | (arr >= num_labels)
    if out_of_range.any():
        bad = arr[out_of_range][0]
        raise ValueError(
            f"{name} labels must be in [0, {num_labels - 1}], got {bad.item()!r} "
            f"({int(out_of_range.sum())} value(s) out of range)"
        )
    return arr.astype(np.int64)


def check_pair(y_true: ArrayLike, y_pred: ArrayLike, num_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate and convert a (y_true, y_pred) pair to equal-length int64 labels.

    ``y_true`` must be labels: a 2-D ``y_true`` is almost always scores passed
    in the wrong argument slot, and argmax'ing it would grade against the
    model's own predictions.
    """
    if np.ndim(y_true) != 1:
        raise ValueError(
            f"y_true must be a 1-D array of labels, got a {np.ndim(y_true)}-D array of shape {np.shape(y_true)}"
        )
    t = as_label_array(y_true, num_labels, name="y_true")
    p = as_label_array(y_pred, num_labels, name="y_pred")
    if len(t) != len(p):
        raise ValueError(f"y_true has {len(t)} labels but y_pred has {len(p)}")
    return t, p


def _check_probs(probs: ArrayLike, name: str = "probs") -> np.ndarray:
    """Reject anything that is not a row-stochastic matrix.

    Passing logits or labels where probabilities are expected gives a
    plausible-looking but meaningless ECE/NLL, so fail loudly and say how to fix.
    """
    arr = _asarray(probs, name)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D (n, num_classes) array of probabilities, "
            f"got a {arr.ndim}-D array of shape {arr.shape}; "
            "if you have logits, apply softmax(logits) first"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); expected at least one example")
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must hold numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf; expected probabilities")
    if (arr < 0).any():
        raise ValueError(
            f"{name} has negative entries (min {arr.min():.4g}); these look like "
            "logits, expected probabilities: apply softmax(logits) first"
        )
    sums = arr.sum(axis=1)
    if np.abs(sums - 1.0).max() > PROB_SUM_TOL:
        raise ValueError(
            f"{name} rows must sum to 1 (within {PROB_SUM_TOL}), got row sums in "
            f"[{sums.min():.4g}, {sums.max():.4g}]; these look like logits or "
            "unnormalised scores: apply softmax(logits) first"
        )
    return arr


def _check_prob_pair(y_true: ArrayLike, probs: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p = _check_probs(probs)
    if np.ndim(y_true) != 1:
        raise ValueError(f"y_true must be a 1-D array of labels, got shape {np.shape(y_true)}")
    t = as_label_array(y_true, p.shape[1], name="y_true")
    if len(t) != len(p):
        raise ValueError(f"y_true has {len(t)} labels but probs has {len(p)} rows")
    return t, p


# ---------------------------------------------------------------------------
# Confusion-matrix metrics
# ---------------------------------------------------------------------------


def _confusion(t: np.ndarray, p: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0 where den == 0 (sklearn's zero_division=0)."""
    out = np.zeros(num.shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    return {
        "precision": _divide(tp, predicted),
        "recall": _divide(tp, support),
        # 2tp / (2tp + fp + fn), the form sklearn uses; avoids 0/0 from P and R.
        "f1": _divide(2 * tp, support + predicted),
        "support": support,
    }


def _f1(t: np.ndarray, p: np.ndarray, k: int) -> np.ndarray:
    return _per_class(_confusion(t, p, k))["f1"]


def confusion(y_true: ArrayLike, y_pred: ArrayLike, num_labels: int) -> np.ndarray:
    """Confusion matrix of counts, rows = true class, columns = predicted class."""
    t, p = check_pair(y_true, y_pred, num_labels)
    return _confusion(t, p, num_labels)


def per_class(y_true: ArrayLike, y_pred: ArrayLike, num_labels: int) -> dict[str, np.ndarray]:
    """Per-class ``precision``, ``recall``, ``f1`` and ``support`` for all classes.

    Undefined ratios (class never predicted / never present) are 0, matching
    sklearn's ``zero_division=0``, so absent classes show up instead of vanishing.
    """
    t, p = check_pair(y_true, y_pred, num_labels)
    return _per_class(_confusion(t, p, num_labels))


def accuracy(y_true: ArrayLike, y_pred: ArrayLike, num_labels: int) -> float:
    """Share of examples whose predicted label equals the true label."""
    t, p = check_pair(y_true, y_pred, num_labels)
    return float(np.mean(t == p))


def macro_f1(y_true: ArrayLike, y_pred: ArrayLike, num_labels: int) -> float:
    """Unweighted mean F1 over all ``num_labels`` classes (absent classes count 0).

    Equals ``f1_score(..., labels=range(num_labels), average="macro",
    zero_division=0)``; without ``labels`` sklearn would drop classes that
    appear in neither vector and overstate the score.
    """
    t, p = check_pair(y_true, y_pred, num_labels)
    return float(_f1(t, p, num_labels).mean())


def weighted_f1(y_true: ArrayLike, y_pred: ArrayLike, num_labels: int) -> float:
    """Support-weighted mean F1, as sklearn's ``average="weighted"``."""
    t, p = check_pair(y_true, y_pred, num_labels)
    pc = _per_class(_confusion(t, p, num_labels))
    return float(np.average(pc["f1"], weights=pc["support"]))


def zero_f1_classes(y_true: ArrayLike, y_pred: ArrayLike, num_labels: int) -> int:
    """Number of classes (out of all ``num_labels``) whose F1 is exactly 0.

    A compact measure of how much of the long tail a model ignores: a
    majority-class predictor scores ``num_labels - 1``.
    """
    t, p = check_pair(y_true, y_pred, num_labels)
    return int(np.count_nonzero(_f1(t, p, num_labels) == 0))


def _tier_means(f1: np.ndarray, class_tiers: Sequence[str]) -> dict[str, float]:
    tiers = np.asarray(class_tiers, dtype=object)
    return {str(tier): float(f1[tiers == tier].mean()) for tier in dict.fromkeys(class_tiers)}


def _check_tiers(class_tiers: Sequence[str], num_labels: int | None = None) -> None:
    if np.ndim(class_tiers) != 1 or len(class_tiers) == 0:
        raise ValueError(
            f"class_tiers must be a non-empty 1-D sequence of tier names, got shape {np.shape(class_tiers)}"
        )
    if num_labels is not None and len(class_tiers) != num_labels:
        raise ValueError(f"class_tiers must have one entry per class ({num_labels}), got {len(class_tiers)}")


def tier_f1(y_true: ArrayLike, y_pred: ArrayLike, class_tiers: Sequence[str]) -> dict[str, float]:
    """Macro-F1 within each frequency tier (e.g. head / mid / tail).

    ``class_tiers[c]`` is the tier of class ``c``; its length is the number of
    classes. Per-class F1 is computed on all examples, then averaged over each
    tier's classes, so a tail class the model never predicts pulls the tail
    score down. Keys follow the order in which tier names first appear.
    """
    _check_tiers(class_tiers)
    k = len(class_tiers)
    t, p = check_pair(y_true, y_pred, k)
    return _tier_means(_f1(t, p, k), class_tiers)


# ---------------------------------------------------------------------------
# Probabilistic metrics
# ---------------------------------------------------------------------------


def softmax(logits: ArrayLike, temperature: float = 1.0) -> np.ndarray:
    """Softmax over the last axis; subtracting the row max keeps exp() finite."""
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}")
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def ece(y_true: ArrayLike, probs: ArrayLike, n_bins: int = 15) -> float:
    """Expected calibration error of the top-class confidence.

    Binning is pinned so values are comparable across weeks: ``n_bins``
    equal-width bins, bin ``i`` = ``(i/n_bins, (i+1)/n_bins]`` (confidence 0
    goes to the first bin, confidences a rounding error above 1 to the last).
    ECE = sum over bins of (n_bin / n) * |accuracy_bin - mean confidence_bin|.
    """
    if isinstance(n_bins, bool) or not isinstance(n_bins, (int, np.integer)) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
    t, p = _check_prob_pair(y_true, probs)
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == t).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    gap = np.bincount(bins, weights=correct - conf, minlength=n_bins)
    # (n_bin/n) * |acc_bin - conf_bin| == |sum(correct - conf) in bin| / n
    return float(np.abs(gap).sum() / len(t))


def nll(y_true: ArrayLike, probs: ArrayLike) -> float:
    """Mean negative log-likelihood of the true class (probabilities clipped at 1e-12)."""
    t, p = _check_prob_pair(y_true, probs)
    return float(-np.log(np.clip(p[np.arange(len(t)), t], 1e-12, None)).mean())


# ---------------------------------------------------------------------------
# Bootstrap confidence intervals
# ---------------------------------------------------------------------------


def _check_bootstrap_args(metric: Metric, n_boot: int, alpha: float) -> None:
    if not callable(metric):
        raise ValueError(f"metric must be a callable (y_true, y_pred, num_labels) -> float, got {metric!r}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ValueError(f"n_boot must be a positive int, got {n_boot!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")


def _resamples(n: int, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Yield bootstrap index vectors; one draw of size n per resample, in order."""
    rng = np.random.default_rng(seed)
    for _ in range(n_boot):
        yield rng.integers(0, n, size=n)


def _percentiles(stats: np.ndarray, alpha: float) -> tuple[float, float]:
    low, high = np.percentile(stats, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def bootstrap_ci(
    metric: Metric,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    num_labels: int,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict:
    """Percentile-bootstrap confidence interval for ``metric`` over the test set.

    Examples are resampled with replacement from ``np.random.default_rng(seed)``
    so every reported interval can be reproduced exactly. ``estimate`` is the
    metric on the full data, not the bootstrap mean. For macro-F1 with rare
    classes the bootstrap distribution is biased low (resamples drop rare
    examples), so ``estimate`` can sit near or above ``high``.
    """
    _check_bootstrap_args(metric, n_boot, alpha)
    t, p = check_pair(y_true, y_pred, num_labels)
    stats = np.array([metric(t[i], p[i], num_labels) for i in _resamples(len(t), n_boot, seed)])
    low, high = _percentiles(stats, alpha)
    return {
        "estimate": float(metric(t, p, num_labels)),
        "low": low,
        "high": high,
        "n_boot": int(n_boot),
        "alpha": float(alpha),
        "seed": seed,
    }


def paired_bootstrap_diff(
    metric: Metric,
    y_true: ArrayLike,
    pred_a: ArrayLike,
    pred_b: ArrayLike,
    num_labels: int,
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
) -> dict:
    """Paired bootstrap of ``metric(b) - metric(a)`` on the same test set.

    Both models are scored on the same resampled indices, so example
    difficulty cancels and the interval is much tighter than comparing two
    separate CIs. ``p_value`` is two-sided: twice the smaller of the shares of
    resampled differences that are <= 0 and >= 0, capped at 1.
    """
    _check_bootstrap_args(metric, n_boot, alpha)
    t, a = check_pair(y_true, pred_a, num_labels)
    b = as_label_array(pred_b, num_labels, name="pred_b")
    if len(b) != len(t):
        raise ValueError(f"y_true has {len(t)} labels but pred_b has {len(b)}")
    diffs = np.array(
        [metric(t[i], b[i], num_labels) - metric(t[i], a[i], num_labels) for i in _resamples(len(t), n_boot, seed)]
    )
    low, high = _percentiles(diffs, alpha)
    p_value = min(1.0, 2 * min(np.mean(diffs <= 0), np.mean(diffs >= 0)))
    return {
        "estimate": float(metric(t, b, num_labels) - metric(t, a, num_labels)),
        "low": low,
        "high": high,
        "p_value": float(p_value),
        "n_boot": int(n_boot),
        "alpha": float(alpha),
        "seed": seed,
    }


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def summary(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    num_labels: int,
    class_tiers: Sequence[str] | None = None,
    label_names: Sequence[str] | None = None,
) -> dict:
    """Standard evaluation report, JSON-serialisable (plain Python numbers only).

    Computes one confusion matrix and derives every number from it, so the
    headline metrics and the per-class table can never disagree.
    """
    t, p = check_pair(y_true, y_pred, num_labels)
    if label_names is not None and len(label_names) != num_labels:
        raise ValueError(f"label_names must have one entry per class ({num_labels}), got {len(label_names)}")
    if class_tiers is not None:
        _check_tiers(class_tiers, num_labels)
    pc = _per_class(_confusion(t, p, num_labels))
    names = [str(c) for c in range(num_labels)] if label_names is None else list(label_names)
    report = {
        "accuracy": float(np.mean(t == p)),
        "macro_f1": float(pc["f1"].mean()),
        "weighted_f1": float(np.average(pc["f1"], weights=pc["support"])),
        "zero_f1_classes": int(np.count_nonzero(pc["f1"] == 0)),
        "num_examples": int(len(t)),
        "per_class": [
            {
                "label": c,
                "name": str(names[c]),
                "precision": float(pc["precision"][c]),
                "recall": float(pc["recall"][c]),
                "f1": float(pc["f1"][c]),
                "support": int(pc["support"][c]),
            }
            for c in range(num_labels)
        ],
    }
    if class_tiers is not None:
        report["tier_f1"] = _tier_means(pc["f1"], class_tiers)
    return report


def pareto_front(points, maximise) -> list[int]:
    """Indices of the points no other point beats: at least as good on every axis, better on one.

    `points` is (n, k); `maximise[j]` says whether axis j is better high (F1) or low (latency).
    Identical points do not beat each other, so both stay on the front.

    >>> pareto_front([[0.20, 5.0], [0.25, 9.0], [0.18, 6.0]], maximise=[True, False])
    [0, 1]
    """
    values = np.asarray(points, dtype=float)
    if values.ndim != 2 or values.shape[1] != len(maximise):
        raise ValueError(f"points must be (n, {len(maximise)}), got shape {values.shape}")
    signed = np.where(np.asarray(maximise, dtype=bool), values, -values)  # higher is better on every axis
    at_least = (signed[:, None, :] >= signed[None, :, :]).all(axis=2)  # [i, j]: i is >= j everywhere
    better = (signed[:, None, :] > signed[None, :, :]).any(axis=2)
    beaten = (at_least & better).any(axis=0)
    return [int(i) for i in np.flatnonzero(~beaten)]


def agreement_matrix(predictions: np.ndarray) -> np.ndarray:
    """Share of identical test predictions for every pair of students: (S, N) labels -> (S, S).

    One row against all later rows at a time keeps memory at S x N; 200 students x 21,432 test rows
    take about a second.
    """
    preds = np.asarray(predictions)
    n = len(preds)
    out = np.eye(n)
    for i in range(n - 1):
        same = (preds[i + 1 :] == preds[i]).mean(axis=1)
        out[i, i + 1 :] = same
        out[i + 1 :, i] = same
    return out
