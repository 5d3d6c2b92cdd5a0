"""Course configs: what data a course uses and which contract files define its splits.

A course is described by one `course.toml`. The real course ships inside this package
(`course/course.toml`); the synthetic course writes its own beside the data it generates. Both go
through the same loader and the same split construction, so everything tested on the synthetic
course is the code path the real course takes.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from course.errors import UserError

REAL_CONFIG = Path(__file__).with_name("course.toml")
CONTRACT_FILES = (
    "label_list.json",
    "label_merge_mapping.json",
    "train_indices.json",
    "val_indices.json",
    "baseline_results.json",
)
EXPECTED_KEYS = ("raw_train", "raw_test", "train", "val", "test", "num_labels")


class ConfigError(UserError, ValueError):
    """A course.toml that is missing a field or holds a value of the wrong kind."""


@dataclass(frozen=True)
class DatasetSpec:
    """Where the raw rows come from: the hub, or local files (one per raw split)."""

    source: str  # "hub" or "files"
    train_split: str = "train"
    test_split: str = "test"
    label_column: str = "Issue"
    text_column: str = "Consumer Complaint"
    hub_id: str | None = None
    path: Path | None = None  # folder holding <train_split>.<ext> and <test_split>.<ext>


@dataclass(frozen=True)
class CourseConfig:
    name: str
    max_length: int
    dataset: DatasetSpec
    sha256: dict[str, str]
    expected: dict[str, int]
    contract_url: str | None = None  # with a `{file}` placeholder
    contract_dir: Path | None = None  # a local folder that already holds the files
    path: Path | None = field(default=None, compare=False)  # the toml this came from


def _require(table: dict, key: str, kind: type, where: str, path: Path):
    if key not in table:
        raise ConfigError(f"{path}: [{where}] has no '{key}'")
    value = table[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ConfigError(f"{path}: [{where}] {key} should be {kind.__name__}, got {value!r}")
    return value


def load_config(path: Path | str) -> CourseConfig:
    """Read and check a course.toml; relative paths in it are taken from the file's folder."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"course config not found: {path}")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML ({err})") from err
    for table in ("course", "dataset", "contract", "expected"):
        if not isinstance(raw.get(table), dict):
            raise ConfigError(f"{path}: missing table [{table}]")
    course, data, contract, expected = raw["course"], raw["dataset"], raw["contract"], raw["expected"]

    source = _require(data, "source", str, "dataset", path)
    if source not in ("hub", "files"):
        raise ConfigError(f"{path}: [dataset] source should be 'hub' or 'files', got {source!r}")
    data_path = data.get("path")
    dataset = DatasetSpec(
        source=source,
        train_split=data.get("train_split", "train"),
        test_split=data.get("test_split", "test"),
        label_column=data.get("label_column", "Issue"),
        text_column=data.get("text_column", "Consumer Complaint"),
        hub_id=_require(data, "hub_id", str, "dataset", path) if source == "hub" else None,
        path=(path.parent / _require(data, "path", str, "dataset", path)) if source == "files" else None,
    )
    if data_path is not None and source == "hub":
        raise ConfigError(f"{path}: [dataset] path is only for source = 'files'")

    sha = contract.get("sha256", {})
    missing = [f for f in CONTRACT_FILES if f not in sha]
    if missing:
        raise ConfigError(f"{path}: [contract.sha256] lacks {', '.join(missing)}")
    for key in EXPECTED_KEYS:
        _require(expected, key, int, "expected", path)
    if "url" not in contract and "dir" not in contract:
        raise ConfigError(f"{path}: [contract] needs a 'url' (with {{file}}) or a local 'dir'")
    return CourseConfig(
        name=_require(course, "name", str, "course", path),
        max_length=_require(course, "max_length", int, "course", path),
        dataset=dataset,
        sha256={f: sha[f] for f in CONTRACT_FILES},
        expected={k: expected[k] for k in EXPECTED_KEYS},
        contract_url=contract.get("url"),
        contract_dir=(path.parent / contract["dir"]) if "dir" in contract else None,
        path=path,
    )


def write_config(config: CourseConfig, path: Path) -> None:
    """Write a course.toml for local files (the synthetic course); paths become relative to it."""
    base = path.parent
    dataset = {
        "source": config.dataset.source,
        "train_split": config.dataset.train_split,
        "test_split": config.dataset.test_split,
        "label_column": config.dataset.label_column,
        "text_column": config.dataset.text_column,
    }
    if config.dataset.path is not None:
        dataset["path"] = str(Path(config.dataset.path).relative_to(base))
    contract: dict = {"sha256": dict(config.sha256)}
    if config.contract_dir is not None:
        contract["dir"] = str(Path(config.contract_dir).relative_to(base))
    if config.contract_url is not None:
        contract["url"] = config.contract_url
    doc = {
        "course": {"name": config.name, "max_length": config.max_length},
        "dataset": dataset,
        "contract": contract,
        "expected": dict(config.expected),
    }
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
