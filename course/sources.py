"""Raw rows: the hub dataset, or local csv / parquet / jsonl files with the same two columns.

Row order is meaning here: the contract's indices are positions in the raw train split, so a reader
never drops, sorts or de-duplicates rows. A missing text becomes "" and is kept in its place.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from course.config import CourseConfig
from course.errors import InputError, MissingFileError

SUFFIXES = (".parquet", ".csv", ".jsonl")


def read_raw(path: Path | str, label_column: str = "Issue", text_column: str = "Consumer Complaint") -> pd.DataFrame:
    """Read one raw split, every row kept, as a frame with exactly the label and text columns."""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"raw data file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        frame = pd.read_parquet(path)
    elif suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    elif suffix == ".jsonl":
        frame = pd.read_json(path, lines=True, dtype=False)
    else:
        raise InputError(f"{path}: unsupported file type {suffix!r}; use one of {', '.join(SUFFIXES)}")
    missing = [c for c in (label_column, text_column) if c not in frame.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {missing}; found {list(frame.columns)}. "
            f"Raw files need a label column {label_column!r} and a text column {text_column!r}."
        )
    frame = frame[[label_column, text_column]].reset_index(drop=True)
    frame[text_column] = frame[text_column].fillna("").astype(str)
    frame[label_column] = frame[label_column].fillna("").astype(str)
    return frame


def find_split_file(folder: Path, split: str) -> Path:
    """The one file in `folder` named `<split>.<ext>` for a supported extension."""
    found = [folder / f"{split}{s}" for s in SUFFIXES if (folder / f"{split}{s}").is_file()]
    if len(found) != 1:
        wanted = " or ".join(f"{split}{s}" for s in SUFFIXES)
        detail = "none" if not found else ", ".join(p.name for p in found)
        raise MissingFileError(f"{folder}: expected exactly one of {wanted}, found {detail}")
    return found[0]


def load_raw(config: CourseConfig, data_dir: Path | str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(raw_train, raw_test) for a course: a local folder if one is named, else the config's source.

    `data_dir` (or `COURSE_DATA_DIR`) lets the real course run from files exported once from the hub,
    which is how a grading machine without internet gets the real rows. The variable is for a course
    without files of its own: a synthetic course always reads its own (a grader that holds the real
    course's files also grades on the synthetic one).
    """
    spec = config.dataset
    folder = data_dir or spec.path or os.environ.get("COURSE_DATA_DIR")
    if folder:
        folder = Path(folder)
        return tuple(  # type: ignore[return-value]
            read_raw(find_split_file(folder, split), spec.label_column, spec.text_column)
            for split in (spec.train_split, spec.test_split)
        )
    from datasets import (
        load_dataset,  # imported here: slow, and only the hub path needs it
    )

    hub = load_dataset(spec.hub_id)
    frames = []
    for split in (spec.train_split, spec.test_split):
        frame = hub[split].select_columns([spec.label_column, spec.text_column]).to_pandas()
        frame[spec.text_column] = frame[spec.text_column].fillna("").astype(str)
        frame[spec.label_column] = frame[spec.label_column].fillna("").astype(str)
        frames.append(frame)
    return frames[0], frames[1]
