"""Week 4: where a model fails. Slices, tiers, confusions, and whether one model really beats another.

Everything here reads val predictions (a run record's, or an array) beside the course's val split and
its pinned slices (`course.slices`): tier by train frequency, length in words, XXXX redaction, numbers.
Test is never read: the analysis is what the next model is designed from.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from course import api, metrics
from course.runrecord import RunRecord
from course.slices import slice_frame

TIERS = ("head", "mid", "tail")


def val_truth(ids: Sequence[str]) -> np.ndarray:
    """The val labels of `ids`, in that order."""
    val = api.store().data.splits.val.set_index("id")
    return val.loc[list(ids), "label"].to_numpy()


def record_val(record: RunRecord) -> tuple[np.ndarray, np.ndarray]:
    """(truth, predicted labels) of a run record's val predictions."""
    val = record.predictions["val"]
    return val_truth(val.ids), np.asarray(val.labels)


def slice_table(ids: Sequence[str], pred: np.ndarray) -> pd.DataFrame:
    """Accuracy and macro-F1 (over the classes present in the slice) for every pinned slice value."""
    data = api.store().data
    val = data.splits.val.set_index("id").loc[list(ids)]
    truth, pred = val["label"].to_numpy(), np.asarray(pred)
    k = len(data.contract.labels)
    frame = slice_frame(val["text"], truth, data.tiers)
    rows = []
    for column in frame.columns:
        for value in sorted(frame[column].unique(), key=str):
            mask = (frame[column] == value).to_numpy()
            pc = metrics.per_class(truth[mask], pred[mask], k)
            present = pc["support"] > 0
            rows.append(
                {
                    "slice": column,
                    "value": str(value),
                    "examples": int(mask.sum()),
                    "accuracy": float((truth[mask] == pred[mask]).mean()),
                    "macro_f1_present": float(pc["f1"][present].mean()),
                }
            )
    return pd.DataFrame(rows)


def tail_destinations(truth: np.ndarray, pred: np.ndarray, top: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Where the val errors of tail classes go (share to head, mid, tail), and the top confused pairs.

    The course found about 90% of tail errors land outside the tail: the model is pulled toward the
    frequent classes, which is what class weights try to undo.
    """
    data = api.store().data
    tiers = np.asarray(data.tiers)
    tail = tiers[truth] == "tail"
    errors = tail & (pred != truth)
    rows = {"tail examples": int(tail.sum()), "tail errors": int(errors.sum())}
    for tier in TIERS:
        rows[f"errors to {tier}"] = float((tiers[pred[errors]] == tier).mean()) if errors.any() else 0.0
    pairs = pd.Series(list(zip(truth[errors], pred[errors]))).value_counts().head(top)
    named = [
        {"true": data.contract.labels[t], "predicted": data.contract.labels[p], "count": int(n)}
        for (t, p), n in pairs.items()
    ]
    return pd.DataFrame([rows]), pd.DataFrame(named)


def confusion_heatmap(truth: np.ndarray, pred: np.ndarray, out: Path, top: int = 20, title: str = "") -> Path:
    """PNG of the row-normalised confusion matrix over the `top` most frequent val classes (rows: true,
    columns: predicted; a last column collects predictions outside them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = api.store().data
    k = len(data.contract.labels)
    classes = np.argsort(-np.bincount(truth, minlength=k), kind="stable")[:top]
    cm = metrics.confusion(truth, pred, k)[classes]
    shown = np.concatenate([cm[:, classes], cm.sum(1, keepdims=True) - cm[:, classes].sum(1, keepdims=True)], 1)
    share = shown / np.maximum(shown.sum(1, keepdims=True), 1)
    names = [data.contract.labels[c][:38] for c in classes]
    fig, ax = plt.subplots(figsize=(11, 9))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(classes) + 1), [*range(1, len(classes) + 1), "other"], fontsize=7)
    ax.set_yticks(range(len(classes)), [f"{i + 1}. {n}" for i, n in enumerate(names)], fontsize=7)
    ax.set_xlabel("predicted (column i = row i's class)")
    ax.set_ylabel("true class")
    ax.set_title(title or f"val confusion, top {len(classes)} classes (row share)")
    fig.colorbar(image, ax=ax, fraction=0.04)
    return save_png(fig, out)


def save_png(fig, out: Path) -> Path:
    """Write a matplotlib figure as a PNG (its folder made as needed) and free it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110, bbox_inches="tight")  # long class names stay inside the image
    plt.close(fig)
    return out


def compare(
    truth: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> pd.DataFrame:
    """Paired bootstrap of b − a for macro-F1 and each tier's F1: both models scored on the same
    resampled val rows, so a difference whose interval excludes 0 is more than resampling noise."""
    data = api.store().data
    k, tiers = len(data.contract.labels), list(data.tiers)
    rows = [
        {
            "metric": "macro_f1",
            **metrics.paired_bootstrap_diff(metrics.macro_f1, truth, pred_a, pred_b, k, n_boot=n_boot, seed=seed),
        }
    ]
    for tier in TIERS:
        metric = lambda t, p, n, tier=tier: metrics.tier_f1(t, p, tiers)[tier]  # noqa: E731
        rows.append(
            {
                "metric": f"{tier}_f1",
                **metrics.paired_bootstrap_diff(metric, truth, pred_a, pred_b, k, n_boot=n_boot, seed=seed),
            }
        )
    return pd.DataFrame(rows)[["metric", "estimate", "low", "high", "p_value"]]
