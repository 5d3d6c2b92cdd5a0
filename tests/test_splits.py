"""Split construction on the real contract with raw data of the real shape, and its failure modes."""

import numpy as np
import pandas as pd
import pytest
from conftest import CONTRACT_DIR, REAL_SAMPLE, needs_contract, needs_sample

from course.catalog import config_for, open_course, write_real_shaped_raw
from course.contract import load_contract
from course.sources import read_raw
from course.splits import SplitError, build_splits, fingerprint


@pytest.fixture(scope="module")
def real_shaped(tmp_path_factory):
    """The real contract with synthetic raw rows of the real shape (64,292 + 21,439)."""
    if not CONTRACT_DIR.is_dir():
        pytest.skip(f"{CONTRACT_DIR} absent")
    config = config_for("real")
    contract = load_contract(config, CONTRACT_DIR)
    folder = write_real_shaped_raw(config, contract, tmp_path_factory.mktemp("raw"), seed=3)
    return config, contract, folder, open_course(config, folder, CONTRACT_DIR)


def test_real_sizes_and_indices(real_shaped):
    config, contract, _, data = real_shaped
    splits = data.splits
    assert (len(splits.train), len(splits.val), len(splits.test)) == (57846, 6430, 21432)
    assert splits.train["raw_index"].tolist() == contract.train_indices
    assert splits.val["raw_index"].tolist() == contract.val_indices
    assert splits.train["id"].iloc[0] == f"train:{contract.train_indices[0]}"
    assert splits.test["id"].str.startswith("test:").all()
    assert set(splits.test["label_name"]) <= set(contract.labels)
    # Label ids are positions in the label list.
    names = np.asarray(contract.labels)[splits.val["label"].to_numpy()]
    assert (names == splits.val["label_name"].to_numpy()).all()
    assert len(data.tiers) == 113 and data.tiers.count("head") == 20 and data.tiers.count("mid") == 40


def test_test_filter_drops_only_labels_outside_the_list(real_shaped):
    config, contract, folder, data = real_shaped
    raw_test = read_raw(folder / "test.parquet")
    merged = raw_test["Issue"].map(lambda x: contract.merge_map.get(x, x))
    outside = ~merged.isin(contract.labels)
    assert outside.sum() == 7
    kept_rows = np.flatnonzero(~outside.to_numpy())
    assert data.splits.test["raw_index"].tolist() == kept_rows.tolist()


def test_merge_map_is_applied(real_shaped):
    config, contract, folder, data = real_shaped
    raw_train = read_raw(folder / "train.parquet")
    old_forms = (
        raw_train["Issue"].iloc[contract.train_indices].isin([k for k, v in contract.merge_map.items() if k != v])
    )
    assert old_forms.sum() > 100  # the generator really emits old-form wordings
    assert not data.splits.train["label_name"].isin([k for k, v in contract.merge_map.items() if k != v]).any()


def test_fingerprints_are_stable_and_sensitive(real_shaped):
    _, _, _, data = real_shaped
    prints = data.splits.fingerprints
    assert len(set(prints.values())) == 3
    assert fingerprint(data.splits.val) == prints["val"]
    edited = data.splits.val.copy()
    edited.loc[5, "text"] = edited.loc[5, "text"] + "."
    assert fingerprint(edited) != prints["val"]
    relabelled = data.splits.val.copy()
    relabelled.loc[5, "label_name"] = "something else"
    assert fingerprint(relabelled) != prints["val"]


def test_wrong_raw_size_is_named(real_shaped):
    config, contract, folder, _ = real_shaped
    raw_train, raw_test = read_raw(folder / "train.parquet"), read_raw(folder / "test.parquet")
    with pytest.raises(SplitError, match="raw train split has 64291 rows; .*expects 64292"):
        build_splits(raw_train.iloc[:-1], raw_test, config, contract)


def test_indexed_row_with_dropped_label_is_refused(real_shaped):
    config, contract, folder, _ = real_shaped
    raw_train, raw_test = read_raw(folder / "train.parquet"), read_raw(folder / "test.parquet")
    raw_train.loc[contract.val_indices[10], "Issue"] = "A label nobody kept"
    with pytest.raises(SplitError, match="1 rows at val_indices.json have a merged label outside"):
        build_splits(raw_train, raw_test, config, contract)


def test_read_raw_keeps_every_row_in_place(tmp_path):
    frame = pd.DataFrame({"Issue": ["a", "b", None], "Consumer Complaint": ["x", None, "z"], "extra": [1, 2, 3]})
    frame.to_csv(tmp_path / "train.csv", index=False)
    frame.to_json(tmp_path / "train.jsonl", orient="records", lines=True)
    for name in ("train.csv", "train.jsonl"):
        got = read_raw(tmp_path / name)
        assert list(got.columns) == ["Issue", "Consumer Complaint"]
        assert got["Consumer Complaint"].tolist() == ["x", "", "z"]
        assert got["Issue"].tolist() == ["a", "b", ""]
    frame.drop(columns=["Issue"]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match=r"bad.csv: missing column\(s\) \['Issue'\]; found"):
        read_raw(tmp_path / "bad.csv")
    (tmp_path / "train.xlsx").write_text("x")
    with pytest.raises(ValueError, match="unsupported file type '.xlsx'"):
        read_raw(tmp_path / "train.xlsx")


@needs_contract
@needs_sample
def test_merge_map_on_real_raw_labels():
    """The real sample's raw labels, merged by our loader's map, equal the sample's own merged column."""
    contract = load_contract(config_for("real"), CONTRACT_DIR)
    sample = pd.read_csv(REAL_SAMPLE)
    merged = sample["Issue"].map(lambda x: contract.merge_map.get(x, x))
    assert (merged == sample["issue_merged"]).all()
    assert merged.isin(contract.labels).sum() == sample["in_course_113"].sum() == 4389
    assert (sample["Issue"] != merged).sum() > 0
