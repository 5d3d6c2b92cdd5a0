"""The course's split construction, exactly as the course defines it, plus ids and fingerprints.

train = raw train rows at train_indices, val = raw train rows at val_indices, test = every raw test
row; in each, the merge map is applied to the raw label and rows whose merged label is not in the
label list are dropped. Every row gets a stable id ("train:123", "test:45") naming its raw split and
position, so predictions can be matched to rows without trusting their order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from course.config import CourseConfig
from course.contract import Contract
from course.errors import UserError

SPLITS = ("train", "val", "test")
COLUMNS = ["id", "raw_index", "text", "label", "label_name"]


class SplitError(UserError, ValueError):
    """The raw data and the contract disagree (sizes, or rows the contract expects to keep)."""


@dataclass(frozen=True)
class Splits:
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    labels: list[str]
    fingerprints: dict[str, str]

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in SPLITS:
            raise KeyError(f"unknown split {name!r}; the splits are {', '.join(SPLITS)}")
        return getattr(self, name)


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 over the (raw index, label name, text) rows, in order.

    Two runs with equal fingerprints saw the same rows with the same labels; one changed character
    in any text changes it. Test rows whose labels are withheld hash with an empty label.
    """
    digest = hashlib.sha256()
    names = frame["label_name"] if "label_name" in frame else pd.Series([""] * len(frame))
    for index, name, text in zip(frame["raw_index"], names, frame["text"]):
        digest.update(f"{int(index)}\t{name}\t{text}\n".encode("utf-8"))
    return digest.hexdigest()


def _select(
    raw: pd.DataFrame, rows: np.ndarray, split_prefix: str, config: CourseConfig, contract: Contract
) -> tuple[pd.DataFrame, int]:
    label_col, text_col = config.dataset.label_column, config.dataset.text_column
    picked = raw.iloc[rows]
    merged = picked[label_col].map(lambda raw_label: contract.merge_map.get(raw_label, raw_label))
    label_id = {name: i for i, name in enumerate(contract.labels)}
    keep = merged.isin(label_id).to_numpy()
    frame = pd.DataFrame(
        {
            "id": [f"{split_prefix}:{i}" for i in rows[keep]],
            "raw_index": rows[keep].astype(np.int64),
            "text": picked[text_col].to_numpy()[keep],
            "label": merged[keep].map(label_id).to_numpy(dtype=np.int64),
            "label_name": merged[keep].to_numpy(),
        }
    )
    return frame, int((~keep).sum())


def build_splits(raw_train: pd.DataFrame, raw_test: pd.DataFrame, config: CourseConfig, contract: Contract) -> Splits:
    """Build train / val / test and check their sizes against the course config."""
    expected = config.expected
    for name, raw, want in (("train", raw_train, expected["raw_train"]), ("test", raw_test, expected["raw_test"])):
        if len(raw) != want:
            raise SplitError(f"raw {name} split has {len(raw)} rows; {config.path} expects {want}")
    train, lost_train = _select(raw_train, np.asarray(contract.train_indices), "train", config, contract)
    val, lost_val = _select(raw_train, np.asarray(contract.val_indices), "train", config, contract)
    test, _ = _select(raw_test, np.arange(len(raw_test)), "test", config, contract)
    for name, frame, lost in (("train", train, lost_train), ("val", val, lost_val)):
        if lost:
            raise SplitError(
                f"{lost} rows at {name}_indices.json have a merged label outside label_list.json; "
                f"the contract says every indexed row is kept"
            )
    if len(test) != expected["test"]:
        raise SplitError(
            f"test split has {len(test)} rows after the label filter; {config.path} expects {expected['test']}"
        )
    frames = {"train": train, "val": val, "test": test}
    return Splits(
        **frames,
        labels=list(contract.labels),
        fingerprints={name: fingerprint(frame) for name, frame in frames.items()},
    )
