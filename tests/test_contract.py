"""Course config and contract: the real files verify, and every kind of tampering is named."""

import functools
import http.server
import json
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import CONTRACT_DIR, needs_contract

from course.config import REAL_CONFIG, ConfigError, load_config
from course.contract import ContractError, clean_merge_map, load_contract, sha256_file

FILES = [
    "label_list.json",
    "label_merge_mapping.json",
    "train_indices.json",
    "val_indices.json",
    "baseline_results.json",
]


@pytest.fixture
def real_config():
    return load_config(REAL_CONFIG)


@pytest.fixture
def contract_copy(tmp_path):
    folder = tmp_path / "contract"
    shutil.copytree(CONTRACT_DIR, folder)
    return folder


def repin(config, folder):
    """The config with its hashes re-pinned to the files in `folder` (to reach the semantic checks)."""
    return replace(config, sha256={f: sha256_file(folder / f) for f in FILES})


def rewrite(path: Path, edit) -> None:
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))


def test_real_config_pins_the_course():
    config = load_config(REAL_CONFIG)
    assert config.dataset.hub_id == "determined-ai/consumer_complaints_medium"
    assert (config.dataset.label_column, config.dataset.text_column) == ("Issue", "Consumer Complaint")
    assert (config.expected["train"], config.expected["val"], config.expected["test"]) == (57846, 6430, 21432)
    assert config.max_length == 128
    assert "a7b7c44d3d9dbab9dae693c6d25a09fcac3efe5e" in config.contract_url


@needs_contract
def test_real_contract_loads(real_config):
    contract = load_contract(real_config, CONTRACT_DIR)
    assert len(contract.labels) == 113 and contract.labels == sorted(contract.labels)
    assert len(contract.merge_map) == 36 and not any(k.startswith("_") for k in contract.merge_map)
    assert len(contract.train_indices) == 57846 and len(contract.val_indices) == 6430
    assert not set(contract.train_indices) & set(contract.val_indices)
    assert contract.baseline["val"]["macro_f1"] == 0.1324


@needs_contract
@pytest.mark.parametrize("name", FILES)
def test_tampered_file_fails_with_its_name(real_config, contract_copy, name):
    with open(contract_copy / name, "a") as fh:
        fh.write(" ")
    with pytest.raises(ContractError, match=rf"{name}: sha256 is [0-9a-f]{{64}}, but .* pins"):
        load_contract(real_config, contract_copy)


@needs_contract
@pytest.mark.parametrize("name", FILES)
def test_missing_file_fails_with_its_name(real_config, contract_copy, name):
    (contract_copy / name).unlink()
    with pytest.raises(ContractError, match=f"contract file missing: .*{name}"):
        load_contract(real_config, contract_copy)


@needs_contract
def test_overlapping_indices_are_named(real_config, contract_copy):
    rewrite(contract_copy / "val_indices.json", lambda v: [0, 1] + v[2:])  # 0 and 1 are train rows
    with pytest.raises(ContractError, match=r"share 2 indices \(first: \[0, 1\]\)"):
        load_contract(repin(real_config, contract_copy), contract_copy)


@needs_contract
def test_index_out_of_range_is_named(real_config, contract_copy):
    rewrite(contract_copy / "train_indices.json", lambda v: v[:-1] + [64292])
    with pytest.raises(ContractError, match=r"train_indices.json: index 64292 is out of range .* 64292 rows"):
        load_contract(repin(real_config, contract_copy), contract_copy)


@needs_contract
def test_merge_map_comment_keys_are_dropped():
    """The published map documents itself with "_" keys; no reader may take one for a label."""
    assert clean_merge_map({"_comment": "old forms", "_source": "cfpb", "Old": "New"}) == {"Old": "New"}


def test_merge_target_outside_label_list_is_named(real_config, contract_copy):
    rewrite(contract_copy / "label_merge_mapping.json", lambda m: {**m, "Old wording": "No such label"})
    with pytest.raises(ContractError, match="'Old wording' maps to 'No such label', which is not in label_list"):
        load_contract(repin(real_config, contract_copy), contract_copy)


@needs_contract
def test_wrong_counts_are_named(real_config, contract_copy):
    rewrite(contract_copy / "label_list.json", lambda v: v[:-1])
    with pytest.raises(ContractError, match="112 labels, config expects 113"):
        load_contract(repin(real_config, contract_copy), contract_copy)
    shutil.copy(CONTRACT_DIR / "label_list.json", contract_copy / "label_list.json")
    rewrite(contract_copy / "val_indices.json", lambda v: v[:-1])
    with pytest.raises(ContractError, match="val_indices.json: 6429 indices, config expects 6430"):
        load_contract(repin(real_config, contract_copy), contract_copy)


@needs_contract
def test_duplicate_and_non_integer_indices(real_config, contract_copy):
    rewrite(contract_copy / "train_indices.json", lambda v: v[:-1] + [v[0]])
    with pytest.raises(ContractError, match="train_indices.json: 1 duplicate indices"):
        load_contract(repin(real_config, contract_copy), contract_copy)
    rewrite(contract_copy / "train_indices.json", lambda v: ["0"] + v[1:])
    with pytest.raises(ContractError, match="train_indices.json: expected a JSON list of integer"):
        load_contract(repin(real_config, contract_copy), contract_copy)


@needs_contract
def test_env_var_names_the_folder(real_config, contract_copy, monkeypatch):
    monkeypatch.setenv("COURSE_CONTRACT_DIR", str(contract_copy))
    assert load_contract(real_config).folder == contract_copy
    monkeypatch.setenv("COURSE_CONTRACT_DIR", str(contract_copy / "nope"))
    with pytest.raises(ContractError, match="contract folder not found: .*nope"):
        load_contract(real_config)


@pytest.fixture
def served(contract_copy):
    """The contract files on a loopback HTTP server: the real download path, no internet."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(contract_copy))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{{file}}", contract_copy
    server.shutdown()


@needs_contract
def test_download_verifies_and_caches(real_config, served, tmp_path, monkeypatch):
    url, folder = served
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path / "cache"))
    config = replace(real_config, contract_url=url)
    contract = load_contract(config)
    assert contract.folder.is_relative_to(tmp_path / "cache")
    assert len(contract.labels) == 113
    # Tamper on the server: the cached, verified copy is still used, nothing is re-fetched.
    (folder / "label_list.json").write_text("[]")
    assert load_contract(config).labels == contract.labels
    # A tampered cache is re-downloaded, and the tampered download is refused by name.
    (contract.folder / "label_list.json").write_text("[]")
    with pytest.raises(ContractError, match="label_list.json: sha256 is"):
        load_contract(config)


def test_unreachable_url_says_what_to_do(real_config, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE", str(tmp_path))
    config = replace(real_config, contract_url="http://127.0.0.1:9/{file}")
    with pytest.raises(ContractError, match="could not download .*COURSE_CONTRACT_DIR"):
        load_contract(config)


def test_config_errors_name_file_and_field(tmp_path):
    path = tmp_path / "course.toml"
    path.write_text(REAL_CONFIG.read_text().replace("max_length = 128", 'max_length = "long"'))
    with pytest.raises(ConfigError, match=r"course.toml: \[course\] max_length should be int, got 'long'"):
        load_config(path)
    path.write_text(REAL_CONFIG.read_text().replace('"val_indices.json" = ', '"val.json" = '))
    with pytest.raises(ConfigError, match=r"\[contract.sha256\] lacks val_indices.json"):
        load_config(path)
    path.write_text("[course]\nname = 'x'\n")
    with pytest.raises(ConfigError, match=r"missing table \[dataset\]"):
        load_config(path)
    path.write_text("not = [toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
    with pytest.raises(ConfigError, match="course config not found"):
        load_config(tmp_path / "absent.toml")


def test_a_course_with_its_own_files_ignores_the_real_course_variables(monkeypatch, tmp_path):
    """A grader holding the real course's files (COURSE_DATA_DIR, COURSE_CONTRACT_DIR) also grades on the
    synthetic course, which must keep reading its own."""
    from course.catalog import config_for
    from course.sources import load_raw

    monkeypatch.setenv("COURSE_CONTRACT_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "elsewhere"))
    config = config_for("synthetic-small")
    assert load_contract(config).folder == config.contract_dir
    assert len(load_raw(config)[0]) == config.expected["raw_train"]
