"""The `course` command as a user runs it: a real subprocess, real files, exit codes and messages."""

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from conftest import CONTRACT_DIR, REAL_SAMPLE, needs_contract, needs_sample

COURSE = [sys.executable, "-m", "harness.cli"]


def run(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([*COURSE, *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_demo_small_runs_offline_and_keeps_outputs(tmp_path):
    out = tmp_path / "demo"
    proc = run("demo", "--size", "small", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    for section in ("1. The synthetic course", "2. Audit", "3. Majority class", "everything is in"):
        assert section in proc.stdout
    audit = json.loads((out / "audit.json").read_text())
    assert audit["labels"]["num_labels"] == 113
    record = json.loads((out / "runs" / "majority.json").read_text())
    assert record["metrics"]["val"]["zero_f1_classes"] == 112
    assert (out / "plots" / "label_distribution.png").stat().st_size > 1000
    engine = json.loads((out / "runs" / "week1_tiny_modernbert.json").read_text())
    assert engine["extra"]["history"] and engine["metrics"]["val"]["macro_f1"] > 0
    summary = {s["student"]: s for s in json.loads((out / "course_dir" / "results" / "week1" / "summary.json").read_text())}
    assert summary["honest"]["integrity"] == "clean"
    assert summary["trains_on_test"]["integrity"] == "critical"
    assert summary["corrupt"]["score"] == 0
    assert (out / "site" / "index.html").is_file() and "leaderboard:" in proc.stdout
    assert "7. Week 5 reference" in proc.stdout
    week5 = pd.read_csv(out / "reference" / "week5" / "week5_summary.csv").set_index("pipeline")
    assert list(week5.index) == ["encoder_fp", "encoder_int8", "encoder_nf4", "encoder_onnx_int8"]
    assert (week5.loc[["encoder_int8", "encoder_nf4", "encoder_onnx_int8"], "weight_mb"] < week5.loc["encoder_fp", "weight_mb"]).all()
    assert "week5_encoder_onnx_int8_s42" in (out / "reference" / "recommendation.md").read_text()


def test_reference_names_an_unknown_week_or_pipeline(tmp_path):
    proc = run("reference", "week9", "--out", str(tmp_path))
    assert proc.returncode != 0 and "unknown week 'week9'" in proc.stderr
    proc = run("reference", "week5", "--pipeline", "encoder_int3", "--out", str(tmp_path))
    assert proc.returncode != 0 and "week5 has no pipeline encoder_int3" in proc.stderr
    assert "encoder_onnx_int8" in proc.stderr


@needs_contract
@needs_sample
def test_audit_real_sample_matches_pandas(tmp_path):
    proc = run("audit", "--data", str(REAL_SAMPLE), "--contract-dir", str(CONTRACT_DIR),
               "--json", str(tmp_path / "audit.json"), "--plots", str(tmp_path / "plots"))
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "audit.json").read_text())
    sample = pd.read_csv(REAL_SAMPLE)
    kept = sample[sample["in_course_113"]]["Consumer Complaint"]
    assert result["redaction"]["xxxx_share"] == pytest.approx(kept.str.contains("XXXX").mean())
    assert result["length_words"]["median"] == kept.str.split().str.len().median()
    assert f"{result['labels']['under_50']} of 113 labels have fewer than 50" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["label_distribution.png",
                                                                        "length_histogram.png"]


@needs_contract
def test_contract_command_names_a_tampered_file(tmp_path):
    ok = run("contract", "--contract-dir", str(CONTRACT_DIR))
    assert ok.returncode == 0 and "contract verified" in ok.stdout
    bad = tmp_path / "contract"
    shutil.copytree(CONTRACT_DIR, bad)
    (bad / "val_indices.json").write_text("[1, 2, 3]")
    proc = run("contract", "--contract-dir", str(bad))
    assert proc.returncode == 2
    assert "val_indices.json: sha256 is" in proc.stderr and "Traceback" not in proc.stderr


def test_audit_bad_file_is_one_clear_line(tmp_path):
    bad = tmp_path / "complaints.csv"
    pd.DataFrame({"Issue": ["x"], "narrative": ["y"]}).to_csv(bad, index=False)
    proc = run("audit", "--data", str(bad), "--course", "synthetic-small")
    assert proc.returncode == 2
    assert "complaints.csv: missing column(s) ['Consumer Complaint']" in proc.stderr
    assert "Traceback" not in proc.stderr


@needs_contract
def test_synthetic_like_real_writes_loadable_raw_files(tmp_path):
    proc = run("synthetic", "--like", "real", "--contract-dir", str(CONTRACT_DIR), "--out", str(tmp_path / "raw"))
    assert proc.returncode == 0, proc.stderr
    check = run("audit", "--course", "real", "--data", str(tmp_path / "raw"), "--contract-dir", str(CONTRACT_DIR))
    assert check.returncode == 0, check.stderr
    assert "rows lost" in check.stdout and "train 16, test 7" in check.stdout
