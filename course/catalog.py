"""Which course is active and where its files are: the real one, or a synthetic one built on demand.

A synthetic course is written once into the cache as a folder that looks exactly like a real course
on disk: `raw/train.parquet`, `raw/test.parquet`, `contract/*.json` and a `course.toml` pinning the
contract's hashes. From there on it goes through the same loader as the real course.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from course import synthetic, synthetic_words
from course.config import (
    REAL_CONFIG,
    CourseConfig,
    DatasetSpec,
    load_config,
    write_config,
)
from course.contract import Contract, cache_root, load_contract, sha256_file
from course.errors import InputError
from course.slices import frequency_tiers
from course.sources import load_raw
from course.splits import Splits, build_splits

FULL_SIZE = (64_292, 21_439)
SYNTHETIC_SIZES = {"synthetic": FULL_SIZE, "synthetic-small": (6_430, 2_144)}


@dataclass(frozen=True)
class CourseData:
    """Everything a run needs about its course: config, contract, splits and the pinned tiers."""

    config: CourseConfig
    contract: Contract
    splits: Splits
    tiers: list[str]  # per class id: head / mid / tail by train count (course.slices)


def write_course(
    out_dir: Path, name: str, raw_train, raw_test, contract_files: dict[str, object], max_length: int = 128
) -> Path:
    """Write raw files, contract and a course.toml that pins them; returns the toml's path."""
    (out_dir / "raw").mkdir(parents=True, exist_ok=True)
    (out_dir / "contract").mkdir(exist_ok=True)
    raw_train.to_parquet(out_dir / "raw" / "train.parquet", index=False)
    raw_test.to_parquet(out_dir / "raw" / "test.parquet", index=False)
    for filename, content in contract_files.items():
        (out_dir / "contract" / filename).write_text(json.dumps(content, indent=1), encoding="utf-8")
    merged = contract_files["label_merge_mapping.json"]
    labels = set(contract_files["label_list.json"])

    def kept(frame) -> int:
        return int(frame["Issue"].map(lambda x: merged.get(x, x)).isin(labels).sum())

    config = CourseConfig(
        name=name,
        max_length=max_length,
        dataset=DatasetSpec(source="files", path=out_dir / "raw"),
        sha256={f: sha256_file(out_dir / "contract" / f) for f in contract_files},
        expected={
            "raw_train": len(raw_train),
            "raw_test": len(raw_test),
            "train": len(contract_files["train_indices.json"]),
            "val": len(contract_files["val_indices.json"]),
            "test": kept(raw_test),
            "num_labels": len(contract_files["label_list.json"]),
        },
        contract_dir=out_dir / "contract",
    )
    write_config(config, out_dir / "course.toml")
    return out_dir / "course.toml"


def generator_version() -> str:
    """A hash of the generator's source and word lists: a cached course is rebuilt whenever
    synthetic.py or synthetic_words.py changes."""
    digest = hashlib.sha256()
    for module in (synthetic, synthetic_words):
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:10]


def synthetic_course(n_train: int, n_test: int, seed: int = 0) -> Path:
    """The course.toml of a synthetic course of this size and seed, generating it on first use."""
    folder = cache_root() / "synthetic" / f"{generator_version()}-{n_train}-{n_test}-seed{seed}"
    if (folder / "course.toml").is_file():
        return folder / "course.toml"
    folder.parent.mkdir(parents=True, exist_ok=True)
    plan = synthetic.make_plan(seed)
    raw_train, raw_test = synthetic.generate_raw(plan, n_train, n_test, seed)
    contract = synthetic.make_contract(plan, raw_train, seed)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".building-"))
    write_course(tmp, f"synthetic-{n_train}-{n_test}-seed{seed}", raw_train, raw_test, contract)
    try:
        os.replace(tmp, folder)  # another process may have finished first; theirs is identical
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder / "course.toml"


def config_for(course: str) -> CourseConfig:
    """Resolve a course name ('real', 'synthetic', 'synthetic-small') or a course.toml path."""
    if course == "real":
        return load_config(REAL_CONFIG)
    if course in SYNTHETIC_SIZES:
        return load_config(synthetic_course(*SYNTHETIC_SIZES[course]))
    if course.endswith(".toml"):
        return load_config(course)
    raise InputError(
        f"unknown course {course!r}: use 'real', 'synthetic', 'synthetic-small' or a path to a course.toml"
    )


def open_course(
    config: CourseConfig, data_dir: Path | str | None = None, contract_dir: Path | str | None = None
) -> CourseData:
    """Load the contract and raw rows of a course and build its splits and tiers."""
    contract = load_contract(config, contract_dir)
    raw_train, raw_test = load_raw(config, data_dir)
    splits = build_splits(raw_train, raw_test, config, contract)
    tiers = frequency_tiers(splits.train["label"].to_numpy(), len(contract.labels))
    return CourseData(config, contract, splits, tiers)


@lru_cache(maxsize=4)
def cached_course(course: str, data_dir: str | None, contract_dir: str | None) -> CourseData:
    """One load per process and course: notebooks call the student API many times."""
    return open_course(config_for(course), data_dir, contract_dir)


def write_real_shaped_raw(config: CourseConfig, contract: Contract, out_dir: Path, seed: int = 0) -> Path:
    """Synthetic raw files shaped exactly like a real course's contract expects, for offline dry runs.

    Rows the contract leaves out get dropped labels, and just enough test rows get them that the
    label filter lands on the configured test size: the real course's loader can then be exercised
    end to end (indices, merge map, filter, sizes) without the hub.
    """
    expected = config.expected
    covered = set(contract.train_indices) | set(contract.val_indices)
    uncovered = [i for i in range(expected["raw_train"]) if i not in covered]
    plan = synthetic.plan_from_contract(contract.labels, contract.merge_map)
    raw_train, raw_test = synthetic.generate_raw(
        plan,
        expected["raw_train"],
        expected["raw_test"],
        seed,
        uncovered_train=uncovered,
        n_test_dropped=expected["raw_test"] - expected["test"],
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    raw_train.to_parquet(out_dir / f"{config.dataset.train_split}.parquet", index=False)
    raw_test.to_parquet(out_dir / f"{config.dataset.test_split}.parquet", index=False)
    return out_dir
