"""Course copies for re-execution, with the test split perturbed so that test use shows.

A grading re-run gets its own `COURSE_CACHE` holding a copy of the course. Its raw test file never
carries the true labels:

- `permuted`: the real test texts, labels shuffled among the kept rows (so the label filter keeps the
  same rows and the same ids). Predictions from this run are the ones scored.
- `replaced`: every test text swapped for another text of the same shape (the same generator, another
  seed) and labels shuffled again. Shuffling texts among rows would hide a model fitted on the test
  texts, so the texts themselves change.

An honest notebook never looks at test before `final_evaluation`, so its val predictions and its
choices are identical across the two runs; any difference is proof that test data steered training
or selection.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from course import synthetic
from course.config import load_config
from course.contract import clean_merge_map

VARIANTS = ("permuted", "replaced")


def perturbed_course(course_toml: Path, cache: Path, variant: str, seed: int = 1) -> Path:
    """Copy a synthetic course folder into `cache` (same relative place) and perturb its raw test."""
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r}; expected one of {VARIANTS}")
    source = Path(course_toml).parent
    target = cache / "synthetic" / source.name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    config = load_config(target / "course.toml")
    spec = config.dataset
    test_path = next(spec.path.glob(f"{spec.test_split}.*"))
    test = pd.read_parquet(test_path)
    merge = _merge_map(target / "contract" / "label_merge_mapping.json")
    labels = set(_json(target / "contract" / "label_list.json"))
    kept = test[spec.label_column].map(lambda x: merge.get(x, x)).isin(labels).to_numpy()
    rng = np.random.default_rng(seed)
    rows = np.flatnonzero(kept)
    test.loc[rows, spec.label_column] = test.loc[rng.permutation(rows), spec.label_column].to_numpy()
    if variant == "replaced":
        plan = synthetic.make_plan(0)
        _, fresh = synthetic.generate_raw(plan, len(test), len(test), seed=1000 + seed)
        test[spec.text_column] = fresh["Consumer Complaint"].to_numpy()
    test.to_parquet(test_path, index=False)
    return target / "course.toml"


def _json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def _merge_map(path: Path) -> dict[str, str]:
    return clean_merge_map(_json(path))
