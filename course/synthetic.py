"""A synthetic stand-in for the CFPB consumer-complaints course, so the harness runs offline.

The real course trains on `determined-ai/consumer_complaints_medium` (columns `Issue`, `Consumer
Complaint`) and ships five contract files. This module writes a raw dataset shaped like the real one
(113 kept classes with a long-tailed prior, old-form label wordings merged into canonical ones, a few
rare dropped labels, redacted complaint texts) and the matching contract, so every module can be
tested end to end without the network.

Texts are bags of words with sentence punctuation, mixing three sources: a generic complaint pool
shared by all classes, words shared by every issue of a product family (so related issues get
confused with each other, as in the real data), and a few class-specific words drawn at a low rate
(so TF-IDF + logistic regression learns the head classes while the rare tail stays hard).
"""

import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from course import synthetic_words as wordlists
from course.contract import clean_merge_map

# ----------------------------------------------------------------------------- knobs

_PRIOR_EXPONENT, _PRIOR_CUTOFF = 0.9, 35.0  # p(rank r) ~ r^-0.9 exp(-r/35): head ~23%, long tail
_OLD_FORM_SHARE = 0.30  # of a merge target's rows, how many carry an old-form label
_MEDIAN_WORDS, _LENGTH_SIGMA = 47.0, 0.9  # lognormal length; a few texts pass 300 words
_CLASS_RATE, _FAMILY_RATE = 0.08, 0.12  # mean share of class-specific and family words per text
_SIGNAL_SHAPE = 0.3  # Beta shape of the per-text class rate: small = many texts with no signal
_HEAD_FAMILY_BOOST = 0.5  # how strongly the head family's issues crowd the top of the prior
_SIBLING_SHARE = 0.3  # texts written as another issue of the same family (consumers pick loosely)
_REDACTED_SHARE, _DOLLAR_SHARE = 0.63, 0.25  # texts with XXXX; of those, texts with {$XXX}
_REDACT_RATE = 0.03  # extra redaction tokens per word in redacted texts
_NUMERIC_SHARE = 0.18  # texts with an unredacted amount, year or account number
_SENTENCE_END, _COMMA = 1 / 12, 1 / 15
_DEFAULT_UNCOVERED = 16  # raw train rows with a dropped label in the real course


@dataclass(frozen=True)
class LabelPlan:
    """Which raw labels exist and what the course does with each: keep, merge into a kept one, drop."""

    kept: list[str]
    merges: dict[str, str]
    dropped: list[str]

    @property
    def raw_labels(self) -> list[str]:
        """Every distinct raw label that can appear in the `Issue` column."""
        return sorted(set(self.kept) | set(self.merges) | set(self.dropped))


def make_plan(seed: int = 0) -> LabelPlan:
    """The embedded synthetic course: 113 kept, 33 old-form merges plus one no-op, 7 dropped.

    The real mapping carries one entry that maps a label to itself; the seed picks which kept label
    (among those without old forms) gets that no-op entry. Names never depend on the seed.
    """
    kept = sorted(label for labels in wordlists.FAMILIES.values() for label in labels)
    targets = set(wordlists.OLD_FORMS.values())
    candidates = [label for label in kept if label not in targets]
    noop = candidates[np.random.default_rng(seed).integers(len(candidates))]
    return LabelPlan(kept=kept, merges={**wordlists.OLD_FORMS, noop: noop}, dropped=list(wordlists.DROPPED))


def plan_from_contract(labels: list[str], merge_map: dict[str, str], n_dropped: int = 7) -> LabelPlan:
    """The real course's shape: its labels and merges, plus invented rare labels to drop."""
    merges = clean_merge_map(merge_map)
    taken = set(labels) | set(merges)
    dropped = [label for label in wordlists.DROPPED if label not in taken][:n_dropped]
    if len(dropped) < n_dropped:
        raise ValueError(f"at most {len(dropped)} dropped labels available, asked for {n_dropped}")
    return LabelPlan(kept=list(labels), merges=merges, dropped=dropped)


# ----------------------------------------------------------------------------- generation


def _family_of(label: str) -> str:
    for family, labels in wordlists.FAMILIES.items():
        if label in labels:
            return family
    lowered = label.lower()
    for family, keywords in wordlists.FAMILY_KEYWORDS:
        if any(k in lowered for k in keywords):
            return family
    return "other service"


def _label_words(label: str) -> list[str]:
    words = re.sub(r"[^a-z0-9'\-]+", " ", label.lower()).split()
    return [w for w in words if w not in wordlists.STOPWORDS and len(w) > 1]


def _padded(rows: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Ragged index lists as a padded matrix plus lengths, for vectorised sampling."""
    lengths = np.array([len(r) for r in rows])
    matrix = np.zeros((len(rows), lengths.max()), dtype=np.int64)
    for i, r in enumerate(rows):
        matrix[i, : len(r)] = r
    return matrix, lengths


@dataclass
class _Vocabulary:
    forms: np.ndarray  # object array: 6 written forms per word (plain/comma/period x lower/Capital)
    generic_p: np.ndarray  # sampling weights over generic word ids (ids 0..len-1)
    family: np.ndarray  # family id of each class
    family_words: tuple[np.ndarray, np.ndarray]  # padded word ids per family, lengths
    class_words: tuple[np.ndarray, np.ndarray]  # padded word ids per class, lengths
    redactions: np.ndarray  # word ids of XXXX spans
    dollars: np.ndarray  # word ids of {$XXX} spans


def _vocabulary(classes: list[str], rng: np.random.Generator) -> _Vocabulary:
    """Word ids for every pool; each class gets its label's words plus a few seed-chosen extras."""
    words: list[str] = []
    index: dict[str, int] = {}

    def ids(pool: list[str]) -> list[int]:
        for w in pool:
            if w not in index:
                index[w] = len(words)
                words.append(w)
        return [index[w] for w in pool]

    generic = ids(wordlists.GENERIC)
    generic_p = 1.0 / np.arange(1, len(generic) + 1) ** 0.8
    families = list(wordlists.FAMILY_WORDS)
    family_rows = [ids(wordlists.FAMILY_WORDS[f]) for f in families]
    family = np.array([families.index(_family_of(c)) for c in classes])

    n_extra = 5  # cycling through a shuffled pool hands each specific word to about three classes
    extras = np.resize(rng.permutation(len(wordlists.SPECIFIC)), (len(classes), n_extra))
    class_rows = [
        ids(list(dict.fromkeys(_label_words(c) + [wordlists.SPECIFIC[i] for i in e]))) for c, e in zip(classes, extras)
    ]
    redactions, dollars = ids(wordlists.REDACTIONS), ids(wordlists.DOLLAR_REDACTIONS)

    capital = [w[0].upper() + w[1:] for w in words]
    forms = np.array([[w, w + ",", w + ".", c, c + ",", c + "."] for w, c in zip(words, capital)], dtype=object).ravel()
    return _Vocabulary(
        forms,
        generic_p / generic_p.sum(),
        family,
        _padded(family_rows),
        _padded(class_rows),
        np.array(redactions),
        np.array(dollars),
    )


def _pick(padded: tuple[np.ndarray, np.ndarray], rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    matrix, lengths = padded
    return matrix[rows, (rng.random(len(rows)) * lengths[rows]).astype(np.int64)]


def _numeric_token(rng: np.random.Generator) -> str:
    """An unredacted figure that matches the course's numeric-slice regex."""
    kind = rng.integers(3)
    if kind == 0:
        return f"${rng.integers(5, 5000)}" + (".00" if rng.random() < 0.5 else "")
    if kind == 1:
        return str(rng.integers(2008, 2020))
    return str(rng.integers(1000, 99999999))


def _texts(y: np.ndarray, vocab: _Vocabulary, rng: np.random.Generator) -> list[str]:
    """Complaint texts for class ids `y`, built as word-id arrays and joined once per row."""
    n = len(y)
    lengths = np.clip(np.exp(rng.normal(np.log(_MEDIAN_WORDS), _LENGTH_SIGMA, n)), 3, 1500).astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)])
    row = np.repeat(np.arange(n), lengths)
    n_words = len(row)

    # Each text has its own signal rate: some are vivid, some say nothing specific.
    class_rate = rng.beta(_SIGNAL_SHAPE, _SIGNAL_SHAPE * (1 / _CLASS_RATE - 1), n)[row]
    u = rng.random(n_words)
    is_class = u < class_rate
    is_family = ~is_class & (u < class_rate + _FAMILY_RATE)
    word = rng.choice(len(vocab.generic_p), size=n_words, p=vocab.generic_p)
    word[is_family] = _pick(vocab.family_words, vocab.family[y[row[is_family]]], rng)
    word[is_class] = _pick(vocab.class_words, y[row[is_class]], rng)

    # Redactions: a redacted text gets XXXX spans (one at least, placed last so nothing hides it)
    # and sometimes a {$XXX} amount.
    redacted = rng.random(n) < _REDACTED_SHARE
    extra = redacted[row] & (rng.random(n_words) < _REDACT_RATE)
    word[extra] = rng.choice(vocab.redactions, extra.sum())
    dollar_rows = np.flatnonzero(redacted & (rng.random(n) < _DOLLAR_SHARE))
    dollar_at = starts[dollar_rows] + (rng.random(len(dollar_rows)) * lengths[dollar_rows]).astype(np.int64)
    word[dollar_at] = rng.choice(vocab.dollars, len(dollar_at))
    first = starts[:-1][redacted] + (rng.random(redacted.sum()) * lengths[redacted]).astype(np.int64)
    word[first] = rng.choice(vocab.redactions, len(first))

    # Punctuation: sentences end at random and at the end of each text; the next word is capitalised.
    is_last = np.zeros(n_words, dtype=bool)
    is_last[starts[1:] - 1] = True
    period = is_last | (rng.random(n_words) < _SENTENCE_END)
    comma = ~period & (rng.random(n_words) < _COMMA)
    capital = np.zeros(n_words, dtype=bool)
    capital[0] = True
    capital[1:] = period[:-1]
    tokens = vocab.forms[word * 6 + capital * 3 + np.where(period, 2, comma.astype(np.int64))].tolist()

    for r in np.flatnonzero(rng.random(n) < _NUMERIC_SHARE):  # a few thousand rows: a loop is fine
        at = starts[r] + rng.integers(lengths[r])
        if word[at] in vocab.redactions:
            continue
        tail = tokens[at][-1] if tokens[at][-1] in ".," else ""
        tokens[at] = _numeric_token(rng) + tail
    return [" ".join(tokens[a:b]) for a, b in zip(starts[:-1], starts[1:])]


def _raw_labels(y: np.ndarray, plan: LabelPlan, rng: np.random.Generator) -> np.ndarray:
    """Class ids (kept, then dropped) -> raw label strings, a share of kept ones in old-form wording."""
    labels = np.array(plan.kept + plan.dropped, dtype=object)[y]
    sources: dict[str, list[str]] = {}
    for old, new in plan.merges.items():
        if old != new:
            sources.setdefault(new, []).append(old)
    old_form = rng.random(len(y)) < _OLD_FORM_SHARE
    for target, olds in sources.items():
        rows = np.flatnonzero(old_form & (labels == target))
        labels[rows] = np.array(olds, dtype=object)[rng.integers(len(olds), size=len(rows))]
    return labels


def _prior(family: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Long-tailed class prior; a seed-chosen head family holds several of the top ranks, as credit
    reporting does in the real data, so the commonest classes are also the most confusable."""
    n = len(family)
    ranks = np.arange(1, n + 1)
    by_rank = ranks**-_PRIOR_EXPONENT * np.exp(-ranks / _PRIOR_CUTOFF)
    head = family[rng.integers(n)]  # the family of a random issue: big families lead more often
    order = np.argsort(-(rng.random(n) + _HEAD_FAMILY_BOOST * (family == head)))
    prior = np.empty(n)
    prior[order] = by_rank / by_rank.sum()
    return prior


def _siblings(y: np.ndarray, prior: np.ndarray, family: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The class each text is written as: its own, or for some rows a same-family issue drawn by prior.

    Real complainants pick among overlapping issues, so related labels share texts; this caps
    accuracy and makes the rare issues of a family hard to tell from its common ones.
    """
    n_kept = len(prior)
    written = y.copy()
    swap = (rng.random(len(y)) < _SIBLING_SHARE) & (y < n_kept)
    for f in np.unique(family[:n_kept]):
        members = np.flatnonzero(family[:n_kept] == f)
        rows = np.flatnonzero(swap & (family[y] == f))
        written[rows] = rng.choice(members, size=len(rows), p=prior[members] / prior[members].sum())
    return written


def generate_raw(
    plan: LabelPlan,
    n_train: int,
    n_test: int,
    seed: int = 0,
    *,
    uncovered_train: Sequence[int] | None = None,
    n_test_dropped: int = 7,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Raw (train, test) frames with columns `Issue` and `Consumer Complaint`, like the hub dataset.

    Train and test are independent draws from one long-tailed class prior whose head class is chosen
    by the seed. Rows at `uncovered_train` (default: 16 random rows) and `n_test_dropped` random test
    rows carry dropped labels, spread over all of them; no other row does.
    """
    if n_test_dropped > n_test:
        raise ValueError(f"n_test_dropped={n_test_dropped} exceeds n_test={n_test}")
    rng = np.random.default_rng(seed)
    n_kept, n_dropped = len(plan.kept), len(plan.dropped)
    vocab = _vocabulary(plan.kept + plan.dropped, rng)
    prior = _prior(vocab.family[:n_kept], rng)
    if uncovered_train is None:
        uncovered_train = rng.choice(n_train, size=min(_DEFAULT_UNCOVERED, n_train), replace=False)

    frames = []
    for n, dropped_rows in [
        (n_train, np.asarray(uncovered_train, dtype=np.int64)),
        (n_test, rng.choice(n_test, size=n_test_dropped, replace=False)),
    ]:
        y = rng.choice(n_kept, size=n, p=prior)
        y[dropped_rows] = n_kept + rng.permutation(len(dropped_rows)) % n_dropped
        frames.append(
            pd.DataFrame(
                {
                    "Issue": _raw_labels(y, plan, rng),
                    "Consumer Complaint": _texts(_siblings(y, prior, vocab.family, rng), vocab, rng),
                }
            )
        )
    return frames[0], frames[1]


# ----------------------------------------------------------------------------- contract


def fresh_sample(plan: LabelPlan, course_seed: int, n: int, sample_seed: int) -> tuple[np.ndarray, list[str]]:
    """`n` new examples from the distribution of the course generated with `course_seed`: the same
    class vocabularies and prior, rows drawn with `sample_seed`. Returns (kept-label index, text).

    What grading swaps in for the test texts: a model that generalises scores on them as on val and
    test, and no answer key for them exists outside the grader (the sample seed is secret).
    """
    rng = np.random.default_rng(course_seed)
    vocab = _vocabulary(plan.kept + plan.dropped, rng)  # the course's draws, in generate_raw's order
    prior = _prior(vocab.family[: len(plan.kept)], rng)
    rng = np.random.default_rng(sample_seed)
    y = rng.choice(len(plan.kept), size=n, p=prior)
    return y, _texts(_siblings(y, prior, vocab.family, rng), vocab, rng)


def make_contract(
    plan: LabelPlan, raw_train: pd.DataFrame, seed: int = 0, val_fraction: float = 0.1
) -> dict[str, object]:
    """The course's five contract files as Python objects, keyed by file name. Writes nothing.

    Rows whose merged label is kept are split into train/val at random; rows with dropped labels are
    in neither list, exactly as the real course leaves its 16 rare-class rows uncovered.
    """
    merged = raw_train["Issue"].map(lambda label: plan.merges.get(label, label))
    covered = np.flatnonzero(merged.isin(plan.kept).to_numpy())
    rng = np.random.default_rng(seed)
    val = np.sort(rng.choice(covered, size=int(round(val_fraction * len(covered))), replace=False))
    train = np.setdiff1d(covered, val)
    majority = merged.iloc[train].value_counts().index[0]
    return {
        "label_list.json": list(plan.kept),
        "label_merge_mapping.json": {
            "_comment": "Maps old-form label wordings to their canonical forms in label_list.json. "
            "Apply this before any training or evaluation.",
            **plan.merges,
        },
        "train_indices.json": train.tolist(),
        "val_indices.json": val.tolist(),
        "baseline_results.json": {
            "majority_class": {
                "label": majority,
                "val_accuracy": round(float((merged.iloc[val] == majority).mean()), 4),
            },
            "num_classes": len(plan.kept),
        },
    }
