"""The course's data contract: five files that fix the labels, the merge map and the split indices.

The files are pinned by sha256 in the course config. They come from a local folder (an explicit
argument, `COURSE_CONTRACT_DIR`, or the config's `dir`) or are downloaded once into a cache and
verified there. Every check names the file and the values it found, because a contract that is off
by one row silently changes every number the course reports.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from course.config import CONTRACT_FILES, CourseConfig
from course.errors import UserError
from course.files import atomic_write


class ContractError(UserError, ValueError):
    """A contract file that is missing, tampered with, or inconsistent with the course config."""


@dataclass(frozen=True)
class Contract:
    labels: list[str]
    merge_map: dict[str, str]  # comment keys (starting with "_") removed
    train_indices: list[int]
    val_indices: list[int]
    baseline: dict
    folder: Path


def clean_merge_map(raw: dict[str, str]) -> dict[str, str]:
    """The merge map without its comment entries: the published file documents itself with keys that
    start with "_", which are not labels and must never relabel a row.

    >>> clean_merge_map({"_note": "old forms", "Old wording": "New wording"})
    {'Old wording': 'New wording'}
    """
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_root() -> Path:
    """Where downloads and generated courses live; `COURSE_CACHE` moves it (tests use a tmp dir)."""
    return Path(os.environ.get("COURSE_CACHE", Path.home() / ".cache" / "course-harness"))


def locate(config: CourseConfig, contract_dir: Path | str | None = None) -> Path:
    """Find the folder holding the contract files, downloading them if no local folder is named.
    COURSE_CONTRACT_DIR is for a course whose config names no folder of its own (the real one)."""
    chosen = contract_dir or config.contract_dir or os.environ.get("COURSE_CONTRACT_DIR")
    if chosen:
        folder = Path(chosen)
        if not folder.is_dir():
            raise ContractError(f"contract folder not found: {folder}")
        return folder
    if not config.contract_url:
        raise ContractError(f"{config.path}: no contract url and no contract folder given")
    folder = cache_root() / "contracts" / config.name / config.sha256["label_list.json"][:12]
    for name in CONTRACT_FILES:
        target = folder / name
        if target.is_file() and sha256_file(target) == config.sha256[name]:
            continue
        download(config.contract_url.format(file=name), target)
    return folder


def download(url: str, target: Path, timeout: float = 60.0) -> None:
    """Fetch one file atomically: a partial download never sits where a verified file should."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            payload = response.read()
    except OSError as err:
        raise ContractError(
            f"could not download {url} ({err}); on a machine without internet pass "
            f"--contract-dir or set COURSE_CONTRACT_DIR to a folder holding {target.name}"
        ) from err
    atomic_write(target, payload)


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ContractError(f"{path}: not valid JSON ({err})") from err


def _index_list(path: Path, raw_rows: int) -> list[int]:
    values = _read_json(path)
    if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ContractError(f"{path}: expected a JSON list of integer row indices")
    if len(set(values)) != len(values):
        raise ContractError(f"{path}: {len(values) - len(set(values))} duplicate indices")
    bad = [v for v in values if not 0 <= v < raw_rows]
    if bad:
        raise ContractError(
            f"{path}: index {bad[0]} is out of range for a raw train split of {raw_rows} rows ({len(bad)} such indices)"
        )
    return values


def load_contract(config: CourseConfig, contract_dir: Path | str | None = None) -> Contract:
    """Locate, hash-check and validate the five contract files against the course config."""
    folder = locate(config, contract_dir)
    for name in CONTRACT_FILES:
        path = folder / name
        if not path.is_file():
            raise ContractError(f"contract file missing: {path}")
        actual = sha256_file(path)
        if actual != config.sha256[name]:
            raise ContractError(f"{path}: sha256 is {actual}, but {config.path} pins {config.sha256[name]}")

    expected = config.expected
    labels = _read_json(folder / "label_list.json")
    if not isinstance(labels, list) or not all(isinstance(v, str) for v in labels):
        raise ContractError(f"{folder / 'label_list.json'}: expected a JSON list of label strings")
    if len(set(labels)) != len(labels):
        raise ContractError(f"{folder / 'label_list.json'}: labels are not unique")
    if len(labels) != expected["num_labels"]:
        raise ContractError(
            f"{folder / 'label_list.json'}: {len(labels)} labels, config expects {expected['num_labels']}"
        )

    merge_raw = _read_json(folder / "label_merge_mapping.json")
    if not isinstance(merge_raw, dict):
        raise ContractError(f"{folder / 'label_merge_mapping.json'}: expected a JSON object")
    merge_map = clean_merge_map(merge_raw)
    known = set(labels)
    for source, target in merge_map.items():
        if target not in known:
            raise ContractError(
                f"{folder / 'label_merge_mapping.json'}: {source!r} maps to {target!r}, which is not in label_list.json"
            )

    train = _index_list(folder / "train_indices.json", expected["raw_train"])
    val = _index_list(folder / "val_indices.json", expected["raw_train"])
    for name, values, want in (
        ("train_indices.json", train, expected["train"]),
        ("val_indices.json", val, expected["val"]),
    ):
        if len(values) != want:
            raise ContractError(f"{folder / name}: {len(values)} indices, config expects {want}")
    overlap = sorted(set(train) & set(val))
    if overlap:
        raise ContractError(
            f"{folder}: train_indices.json and val_indices.json share {len(overlap)} indices (first: {overlap[:5]})"
        )
    baseline = _read_json(folder / "baseline_results.json")
    return Contract(labels, merge_map, train, val, baseline if isinstance(baseline, dict) else {}, folder)
