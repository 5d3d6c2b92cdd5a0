"""The engine's data: the course's splits tokenized once, cut into length-grouped batches that are
padded only to their own longest example.

Complaints have a median of ~63 tokens and only ~15% reach the 128 cap, so padding every example to
128 would spend about half the compute on padding. Batch order depends on (seed, epoch) alone, so a
resumed run sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from course import api


def length_grouped_batches(
    lengths: Sequence[int], batch_size: int, seed: int, epoch: int, group_by_length: bool = True, mega_batch: int = 50
) -> list[list[int]]:
    """One epoch's batches, as lists of example indices.

    The order comes from a generator seeded by (seed, epoch) alone, not from a global RNG that has
    been drawn from an unknown number of times, so a resumed run sees exactly the batches an
    uninterrupted one would. With `group_by_length`: shuffle, cut into mega-batches of `mega_batch`
    batches, sort each mega-batch by length, cut it into batches, shuffle the batch order. Each batch
    then holds examples of similar length (little padding) while every epoch's mix stays random. The
    batch with the longest example goes first, so running out of memory happens at step 1, not later.
    """
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    if not group_by_length:
        return [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    lengths = np.asarray(lengths)
    size = batch_size * mega_batch
    chunks = [order[i : i + size] for i in range(0, len(order), size)]
    order = np.concatenate([chunk[np.argsort(-lengths[chunk], kind="stable")] for chunk in chunks])
    batches = [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    batches = [batches[i] for i in rng.permutation(len(batches))]
    longest = max(range(len(batches)), key=lambda b: lengths[batches[b]].max())
    batches.insert(0, batches.pop(longest))
    return batches


def pad_batch(
    sequences: Sequence[Sequence[int]], pad_token_id: int, pad_to_multiple_of: int = 8
) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask), right-padded to the batch's longest sequence rounded up to a
    multiple of `pad_to_multiple_of`. Multiples of 8 suit tensor cores and keep the number of distinct
    shapes small (what torch.compile recompiles for). Decoder classifiers (Qwen2) find their last real
    token through the pad id, so right padding serves them too."""
    longest = max(len(s) for s in sequences)
    width = math.ceil(longest / pad_to_multiple_of) * pad_to_multiple_of
    input_ids = torch.full((len(sequences), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        input_ids[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
        attention_mask[row, : len(seq)] = 1
    return input_ids, attention_mask


@dataclass
class TokenizedSplits:
    """The course's train and val splits as token ids, unpadded: each batch is padded when it is built."""

    train_ids: list[list[int]]
    train_labels: np.ndarray
    lengths: np.ndarray  # tokens per train example, for length-grouped batches and the token count
    val_ids: list[list[int]]
    val_labels: np.ndarray
    labels: list[str]
    pad_id: int

    def train_batch(self, indices: list[int], pad_to_multiple_of: int, device: torch.device) -> dict[str, torch.Tensor]:
        """One padded training batch on `device`: input_ids, attention_mask, labels."""
        input_ids, attention_mask = pad_batch([self.train_ids[j] for j in indices], self.pad_id, pad_to_multiple_of)
        return {
            "input_ids": input_ids.to(device),
            "attention_mask": attention_mask.to(device),
            "labels": torch.as_tensor(self.train_labels[indices]).to(device),
        }


def tokenized_splits(tokenizer, max_length: int) -> TokenizedSplits:
    """Train (capped by `settings.max_train_examples`) and val through the student API, tokenized once.
    An empty split fails here, with the setting that emptied it, rather than as a division by zero."""
    train_ds, val_ds = api.load_course_data(tokenizer=tokenizer, max_length=max_length)
    for split, ds in (("train", train_ds), ("val", val_ds)):
        if len(ds) == 0:
            raise ValueError(
                f"the {split} split is empty: nothing to train on or select with (check the course "
                f"data and course.settings.max_train_examples={api.settings.max_train_examples})"
            )
    train_ids = list(train_ds["input_ids"])
    return TokenizedSplits(
        train_ids=train_ids,
        train_labels=np.asarray(train_ds["label"]),
        lengths=np.array([len(s) for s in train_ids]),
        val_ids=list(val_ds["input_ids"]),
        val_labels=np.asarray(val_ds["label"]),
        labels=train_ds.features["label"].names,
        pad_id=tokenizer.pad_token_id,
    )
