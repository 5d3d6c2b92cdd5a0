"""Bands: the metric range a week's reference pipeline lands in, which grading scores against.

`bands/<profile>.yaml` holds week -> pipeline -> split -> metric -> {mean, std, boot_se, lower, upper,
n, source}. The spread is the larger of the seed-to-seed std and the bootstrap standard error of the
metric on val: a deterministic pipeline (TF-IDF) has no seed noise, but its number still moves with
the sample it is scored on. lower / upper = mean -/+ 2 x spread.

`smoke.yaml` comes from real runs (`course bands`). `full.yaml` carries the course's published
numbers with the file each comes from, and an assumed spread of 0.02 until a GPU run replaces it.

Each entry is read into a `Band`, which checks its fields, and written from one; this module is the
only place that reads or writes these files. `find` gives the typed record. `lookup` and `load_bands`
give the same values as plain dicts in the file's shape, because the grader stores a band in its JSON
results and the leaderboard walks the loaded file as data: a dict goes through both unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import yaml

from course import metrics
from course.errors import UserError
from course.files import atomic_write

BANDS_DIR = Path(__file__).with_name("reference_bands")
METRICS = ("macro_f1", "accuracy")
LEVELS = ("week", "pipeline", "split", "metric")


class BandsError(UserError, ValueError):
    """A bands file that is not week -> pipeline -> split -> metric -> band, or a band with a bad field."""


def _number(value: object, where: str, key: str, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BandsError(f"{where}: {key} is {value!r}; expected a number{' or null' if optional else ''}")
    return float(value)


@dataclass(frozen=True)
class Band:
    """One metric's band for one pipeline and split. std and boot_se are None for published numbers,
    which came without a spread."""

    mean: float
    std: float | None
    boot_se: float | None
    lower: float
    upper: float
    n: int
    source: str

    @classmethod
    def from_values(cls, values: list[float], boot_se: float, source: str) -> Band:
        """A band from per-seed values and the bootstrap standard error of one run's metric."""
        array = np.asarray(values, dtype=float)
        std = float(array.std(ddof=1)) if len(array) > 1 else 0.0
        spread = max(std, boot_se)
        mean = float(array.mean())
        return cls(
            mean=round(mean, 4),
            std=round(std, 4),
            boot_se=round(boot_se, 4),
            lower=round(mean - 2 * spread, 4),
            upper=round(mean + 2 * spread, 4),
            n=int(len(array)),
            source=source,
        )

    @classmethod
    def from_dict(cls, raw: object, where: str) -> Band:
        """Check one entry of a bands file; `where` (file and key path) starts every error message.

        >>> Band.from_dict({"mean": 0.2, "std": None, "boot_se": None, "lower": 0.18, "upper": 0.22,
        ...                 "n": 1, "source": "slides"}, "full.yaml: week1/tfidf/val/macro_f1").upper
        0.22
        >>> Band.from_dict({"mean": 0.2}, "x.yaml: w/p/val/macro_f1")
        Traceback (most recent call last):
        ...
        course.bands.BandsError: x.yaml: w/p/val/macro_f1: missing boot_se, lower, n, source, std, upper
        """
        if not isinstance(raw, dict):
            raise BandsError(f"{where}: expected a mapping of band fields, got {type(raw).__name__}")
        fields = set(cls.__dataclass_fields__)
        missing, unknown = sorted(fields - set(raw)), sorted(set(raw) - fields)
        if missing or unknown:
            parts = ([f"missing {', '.join(missing)}"] if missing else []) + (
                [f"unknown {', '.join(unknown)}"] if unknown else []
            )
            raise BandsError(f"{where}: {'; '.join(parts)}")
        n, source = raw["n"], raw["source"]
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise BandsError(f"{where}: n is {n!r}; expected a count of runs >= 1")
        if not isinstance(source, str):
            raise BandsError(f"{where}: source is {source!r}; expected text naming where the band comes from")
        band = cls(
            mean=_number(raw["mean"], where, "mean"),
            std=_number(raw["std"], where, "std", True),
            boot_se=_number(raw["boot_se"], where, "boot_se", True),
            lower=_number(raw["lower"], where, "lower"),
            upper=_number(raw["upper"], where, "upper"),
            n=n,
            source=source,
        )
        if band.lower > band.upper:
            raise BandsError(f"{where}: lower {band.lower} is above upper {band.upper}")
        return band

    def as_dict(self) -> dict:
        """The entry as it stands in the YAML file."""
        return asdict(self)


Bands = dict[str, dict[str, dict[str, dict[str, Band]]]]  # week -> pipeline -> split -> metric -> band


def _path(profile: str, folder: Path) -> Path:
    return Path(folder) / f"{profile}.yaml"


def _read(profile: str, folder: Path) -> Bands:
    """Every band of a profile's file, checked; {} when the profile has no file yet."""
    path = _path(profile, folder)
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))

    def walk(node: object, keys: tuple[str, ...]) -> dict | Band:
        if len(keys) == len(LEVELS):
            return Band.from_dict(node, f"{path}: {'/'.join(keys)}")
        if not isinstance(node, dict):
            where = f"{path}: {'/'.join(keys)}" if keys else str(path)
            raise BandsError(f"{where}: expected a mapping {' -> '.join(LEVELS[len(keys) :])} -> band")
        return {str(key): walk(value, (*keys, str(key))) for key, value in node.items()}

    return walk(loaded, ())


def _plain(bands: Bands) -> dict:
    return {
        week: {
            pipeline: {
                split: {metric: band.as_dict() for metric, band in by_metric.items()}
                for split, by_metric in splits.items()
            }
            for pipeline, splits in pipelines.items()
        }
        for week, pipelines in bands.items()
    }


def load_bands(profile: str, folder: Path = BANDS_DIR) -> dict:
    """A profile's whole bands file, checked, as plain dicts in the file's shape (the leaderboard's view)."""
    return _plain(_read(profile, folder))


def find(
    profile: str, week: str, pipeline: str, split: str = "val", metric: str = "macro_f1", folder: Path = BANDS_DIR
) -> Band | None:
    """One band, or None when that pipeline has none for this profile."""
    return _read(profile, folder).get(week, {}).get(pipeline, {}).get(split, {}).get(metric)


def lookup(
    profile: str, week: str, pipeline: str, split: str = "val", metric: str = "macro_f1", folder: Path = BANDS_DIR
) -> dict | None:
    """`find` as the file's dict: what the grader indexes (`band["lower"]`) and stores in its results."""
    band = find(profile, week, pipeline, split, metric, folder)
    return None if band is None else band.as_dict()


def published(week: str) -> dict[str, dict]:
    """The course's published val numbers for a week: pipeline -> {metric: value, source}."""
    out = {}
    for pipeline, splits in _read("full", BANDS_DIR).get(week, {}).items():
        val = splits.get("val", {})
        entry: dict = {metric: band.mean for metric, band in val.items()}
        entry["source"] = next((band.source for band in val.values()), "")
        out[pipeline] = entry
    return out


def bootstrap_se(y_true, y_pred, num_labels: int, metric: str, seed: int = 0) -> float:
    """Standard error of a metric over val resamples (pinned RNG), from the 95% interval's width."""
    fn = {"macro_f1": metrics.macro_f1, "accuracy": metrics.accuracy}[metric]
    ci = metrics.bootstrap_ci(fn, y_true, y_pred, num_labels, n_boot=500, seed=seed)
    return (ci["high"] - ci["low"]) / (2 * 1.96)


def write_band(
    profile: str, week: str, pipeline: str, split_bands: dict[str, dict[str, Band]], folder: Path = BANDS_DIR
) -> Path:
    """Replace one pipeline's bands (split -> metric -> band) in `<profile>.yaml`, keeping every other
    entry, atomically: a grader reading the file never sees half of it."""
    bands = _read(profile, folder)
    bands.setdefault(week, {})[pipeline] = split_bands
    header = f"# Bands for the {profile} profile, written by `course bands`. See course/bands.py.\n"
    return atomic_write(_path(profile, folder), header + yaml.safe_dump(_plain(bands), sort_keys=True))
