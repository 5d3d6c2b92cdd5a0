"""Course copies for re-execution, with the test split perturbed so that test use shows.

A grading re-run gets its own `COURSE_CACHE` holding a copy of the course. Its raw test file never
carries the true labels, and nothing in it can be regenerated from the shipped generator or the
public data: every draw comes from a seed derived from the course folder's secret salt, afresh for
each student, week, variant and run.

- `permuted`: the real test texts; the labels on disk are drawn afresh from the kept labels (another
  label distribution every run), so the label filter keeps the same rows and ids. Predictions from
  this run are the ones scored, with the grader's own labels.
- `replaced`: every kept test text swapped for a new text from the course's distribution (same class
  vocabularies and prior, a secret sample seed), labels on disk drawn afresh again. The grader keeps
  the new texts' true labels (`Perturbed.truth`) outside the copy.

An honest notebook never looks at test before `final_evaluation`, so its val predictions and its
choices are identical across the runs (invariance), and it scores alike on the real test texts, on
the replacements and on val (test-side invariance): a model that looked the test set up does not.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from course import synthetic
from course.config import load_config
from course.contract import clean_merge_map, load_contract

VARIANTS = ("permuted", "replaced")
SALT_FILE = ".grading-salt"  # in the course folder; never inside a copy a student process sees


@dataclass
class Perturbed:
    """A perturbed copy: its course.toml, and for `replaced` the true labels of the new test texts
    (row id -> course label id)."""

    course_toml: Path
    truth: dict[str, int] | None = None


def course_salt(root: Path) -> bytes:
    """The course folder's secret, made on first use (32 random bytes, owner-only)."""
    path = Path(root) / SALT_FILE
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32), encoding="utf-8")
        path.chmod(0o600)
    return bytes.fromhex(path.read_text(encoding="utf-8").strip())


def run_seed(salt: bytes, *parts: object) -> int:
    """A 63-bit seed from the salt and the run's identity (student, week, variant, index)."""
    message = "/".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hmac.new(salt, message, hashlib.sha256).digest()[:8], "big") >> 1


def perturbed_course(course_toml: Path, cache: Path, variant: str, seed: int) -> Perturbed:
    """Copy a synthetic course folder into `cache` (same relative place) and perturb its raw test."""
    if variant not in VARIANTS:
        raise ValueError(f"variant {variant!r}; expected one of {VARIANTS}")
    source = Path(course_toml).parent
    target = cache / "synthetic" / source.name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    config = load_config(target / "course.toml")
    contract = load_contract(config)
    spec = config.dataset
    test_path = next(spec.path.glob(f"{spec.test_split}.*"))
    test = pd.read_parquet(test_path)
    merge = clean_merge_map(contract.merge_map)
    kept = np.flatnonzero(test[spec.label_column].map(lambda x: merge.get(x, x)).isin(contract.labels).to_numpy())
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(len(contract.labels)))  # a label distribution of this run's own
    test.loc[kept, spec.label_column] = np.asarray(contract.labels)[
        rng.choice(len(contract.labels), len(kept), p=weights)
    ]
    truth = None
    if variant == "replaced":
        plan = synthetic.make_plan(_generator_seed(config.name))
        y, texts = synthetic.fresh_sample(plan, _generator_seed(config.name), len(kept), int(rng.integers(2**62)))
        test.loc[kept, spec.text_column] = texts
        truth = {f"test:{row}": contract.labels.index(plan.kept[i]) for row, i in zip(kept, y)}
    test.to_parquet(test_path, index=False)
    return Perturbed(target / "course.toml", truth)


def _generator_seed(course_name: str) -> int:
    """The seed the synthetic course was generated with, from its name (`synthetic-6430-2144-seed0`)."""
    match = re.search(r"seed(\d+)$", course_name)
    if match is None:
        raise ValueError(f"{course_name!r} is not a synthetic course: grading perturbs synthetic courses only")
    return int(match.group(1))
