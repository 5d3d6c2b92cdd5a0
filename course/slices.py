"""The pinned slice definitions: frequency tier, text length, redaction, numbers.

Every per-slice number the harness reports (audit, metrics, leaderboard) comes from
this module, so that "tail accuracy" means the same thing everywhere.

Frequency tiers. The course used three incompatible schemes:

* Week 2: head = classes with >= 2000 train examples, mid = 100-1999, tail = < 100.
* Week 3: "bottom quartile" = classes whose train count is <= sorted_counts[28].
* Weeks 4-6: top 20 / next 40 / bottom 53 classes by train-count rank.

We pin the Weeks 4-6 rank scheme: its tier sizes do not depend on the data, so
tiers are comparable across splits, samples and synthetic data.

Length bins. Short is < 35 words, long is > 65 words, medium is in between
(inclusive). These are the course's fixed cut-offs; its docstring called them
terciles, but they are not computed from the data.
"""

from collections.abc import Iterable

import numpy as np
import pandas as pd

TIERS = ("head", "mid", "tail")
TIER_SIZES = (20, 40)  # head, mid; every other class is tail

LENGTHS = ("short", "medium", "long")
LENGTH_BINS = (35, 65)  # short: < 35 words, long: > 65 words, medium: 35..65

# CFPB redacts names, dates and account numbers as XXXX (also XX/XX/XXXX).
REDACTION_PATTERN = "XXXX"
# A dollar amount ("$5", "{$100.00}") or a free-standing run of >= 4 digits
# ("2019", "12345"); digits glued to letters ("abc1234") do not count.
NUMERIC_PATTERN = r"\$\d|(?<!\w)\d{4,}(?!\w)"


def frequency_tiers(train_labels: Iterable[int], num_labels: int) -> list[str]:
    """Tier of each class id: "head" (20 most frequent), "mid" (next 40), "tail".

    Ties in train count are broken by class id (lower id ranks first) so the
    tiers are deterministic. Classes absent from train are always tail.
    """
    labels = np.asarray(list(train_labels), dtype=int)
    if labels.size and (labels.min() < 0 or labels.max() >= num_labels):
        raise ValueError(f"train labels must be class ids in [0, {num_labels})")
    counts = np.bincount(labels, minlength=num_labels)
    ranked = np.lexsort((np.arange(num_labels), -counts))  # count desc, then id asc
    head, mid = TIER_SIZES
    tiers = np.full(num_labels, "tail", dtype=object)
    tiers[ranked[:head]] = "head"
    tiers[ranked[head : head + mid]] = "mid"
    tiers[counts == 0] = "tail"
    return tiers.tolist()


def word_counts(texts: Iterable[str]) -> np.ndarray:
    """Number of whitespace-separated words in each text."""
    return pd.Series(list(texts), dtype="string").str.split().str.len().fillna(0).to_numpy(dtype=int)


def slice_frame(texts: Iterable[str], labels: Iterable[int], class_tiers: list[str]) -> pd.DataFrame:
    """One row per text with its slices: tier, length, redacted, numeric.

    `labels` are class ids and `class_tiers` is `frequency_tiers(...)` computed on
    the TRAIN labels, so an evaluation split is sliced by train frequency.
    """
    texts = pd.Series(list(texts), dtype="string")
    labels = np.asarray(list(labels), dtype=int)
    if len(labels) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    words = word_counts(texts)
    short, long = LENGTH_BINS
    length = np.where(words < short, "short", np.where(words > long, "long", "medium"))
    return pd.DataFrame(
        {
            "tier": np.asarray(class_tiers, dtype=object)[labels],
            "length": length,
            "redacted": texts.str.contains(REDACTION_PATTERN, regex=False).to_numpy(dtype=bool),
            "numeric": texts.str.contains(NUMERIC_PATTERN, regex=True).to_numpy(dtype=bool),
        }
    )
