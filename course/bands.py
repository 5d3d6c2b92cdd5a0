"""Bands: the metric range a week's reference pipeline lands in, which grading scores against.

`bands/<profile>.yaml` holds week -> pipeline -> split -> metric -> {mean, std, boot_se, lower, upper,
n, source}. The spread is the larger of the seed-to-seed std and the bootstrap standard error of the
metric on val: a deterministic pipeline (TF-IDF) has no seed noise, but its number still moves with
the sample it is scored on. lower / upper = mean -/+ 2 x spread.

`smoke.yaml` comes from real runs (`course bands`). `full.yaml` carries the course's published
numbers with the file each comes from, and an assumed spread of 0.02 until a GPU run replaces it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import yaml

from course import metrics

BANDS_DIR = Path(__file__).with_name("reference_bands")
METRICS = ("macro_f1", "accuracy")


def load_bands(profile: str, folder: Path = BANDS_DIR) -> dict:
    path = folder / f"{profile}.yaml"
    if not path.is_file():
        return {}
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: expected a mapping week -> pipeline -> split -> metric")
    return loaded


def lookup(profile: str, week: str, pipeline: str, split: str = "val", metric: str = "macro_f1",
           folder: Path = BANDS_DIR) -> dict | None:
    """One band, or None when that pipeline has none for this profile."""
    return load_bands(profile, folder).get(week, {}).get(pipeline, {}).get(split, {}).get(metric)


def published(week: str) -> dict[str, dict]:
    """The course's published val numbers for a week: pipeline -> {metric: value, source}."""
    out = {}
    for pipeline, splits in load_bands("full").get(week, {}).items():
        val = splits.get("val", {})
        entry = {metric: band["mean"] for metric, band in val.items()}
        entry["source"] = next((band["source"] for band in val.values()), "")
        out[pipeline] = entry
    return out


def band(values: list[float], boot_se: float, source: str) -> dict:
    """A band from per-seed values and the bootstrap standard error of one run's metric."""
    values = np.asarray(values, dtype=float)
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    spread = max(std, boot_se)
    mean = float(values.mean())
    return {"mean": round(mean, 4), "std": round(std, 4), "boot_se": round(boot_se, 4),
            "lower": round(mean - 2 * spread, 4), "upper": round(mean + 2 * spread, 4),
            "n": int(len(values)), "source": source}


def bootstrap_se(y_true, y_pred, num_labels: int, metric: str, seed: int = 0) -> float:
    """Standard error of a metric over val resamples (pinned RNG), from the 95% interval's width."""
    fn = {"macro_f1": metrics.macro_f1, "accuracy": metrics.accuracy}[metric]
    ci = metrics.bootstrap_ci(fn, y_true, y_pred, num_labels, n_boot=500, seed=seed)
    return (ci["high"] - ci["low"]) / (2 * 1.96)


def write_band(profile: str, week: str, pipeline: str, split_bands: dict, folder: Path = BANDS_DIR) -> Path:
    """Replace one pipeline's bands in `<profile>.yaml`, keeping every other entry, atomically."""
    bands = load_bands(profile, folder)
    bands.setdefault(week, {})[pipeline] = split_bands
    path = folder / f"{profile}.yaml"
    folder.mkdir(parents=True, exist_ok=True)
    header = f"# Bands for the {profile} profile, written by `course bands`. See course/bands.py.\n"
    with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".tmp", encoding="utf-8") as tmp:
        tmp.write(header + yaml.safe_dump(bands, sort_keys=True))
    os.replace(tmp.name, path)
    return path
