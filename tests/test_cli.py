"""The `course` command as a user runs it: a real subprocess, real files, exit codes and messages."""

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import CONTRACT_DIR, REAL_SAMPLE, needs_contract, needs_sample

COURSE = [sys.executable, "-m", "harness.cli"]


def run(*args, cwd=None, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*COURSE, *args], capture_output=True, text=True, cwd=cwd, env={**os.environ, **(env or {})}, timeout=600
    )


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory) -> Path:
    """A fresh venv holding the project's wheel (not the checkout); its dependencies come from this venv.

    Building the wheel and installing it with --no-deps proves that the package data (templates,
    assignments, rubrics, bands, course.toml) ships in the wheel and is found through importlib.resources.
    The dependencies are reused through a .pth line so the test stays offline and fast.
    """
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # a clean copy: setuptools' build/ folder in the checkout could hold stale modules
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "build", "*.egg-info", "tests", "benchmarks", "__pycache__", "demo_out"
        ),
    )
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    wheel = next((tmp / "dist").glob("course_harness-*.whl"))
    subprocess.run(
        [*pip, "--python", str(venv / "bin" / "python"), "install", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    purelib = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv


def test_demo_small_runs_from_a_wheel_offline_and_keeps_outputs(tmp_path, wheel_venv):
    out = tmp_path / "demo"
    env = {**os.environ, "PATH": f"{wheel_venv / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    where = subprocess.run(
        [str(wheel_venv / "bin" / "python"), "-c", "import course, grader; print(course.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert str(wheel_venv) in where.stdout, where.stdout + where.stderr  # the wheel's copy, not the checkout
    proc = subprocess.run(
        [str(wheel_venv / "bin" / "course"), "demo", "--size", "small", "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=1200,
    )
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
    summary = {
        s["student"]: s for s in json.loads((out / "course_dir" / "results" / "week1" / "summary.json").read_text())
    }
    assert summary["honest"]["integrity"] == "clean"
    assert summary["trains_on_test"]["integrity"] == "critical"
    assert summary["corrupt"]["score"] == 0
    assert (out / "site" / "index.html").is_file() and "leaderboard:" in proc.stdout
    assert "8. Week 5 reference" in proc.stdout
    assert "7. Week 1 graded on full-profile evidence" in proc.stdout
    full = {
        s["student"]: s for s in json.loads((out / "full_course" / "results" / "week1" / "summary.json").read_text())
    }
    assert full["honest"]["integrity"] == "clean" and full["honest"]["score"] == full["honest"]["max_score"]
    assert {f["rule"] for f in full["edited_predictions"]["findings"]} >= {"record-digest"}
    assert {f["rule"] for f in full["smoke_record"]["findings"]} >= {"wrong-course"}
    week5 = pd.read_csv(out / "reference" / "week5" / "week5_summary.csv").set_index("pipeline")
    assert list(week5.index) == ["encoder_fp", "encoder_int8", "encoder_nf4", "encoder_onnx_int8"]
    assert (
        week5.loc[["encoder_int8", "encoder_nf4", "encoder_onnx_int8"], "weight_mb"]
        < week5.loc["encoder_fp", "weight_mb"]
    ).all()
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
    proc = run(
        "audit",
        "--data",
        str(REAL_SAMPLE),
        "--contract-dir",
        str(CONTRACT_DIR),
        "--json",
        str(tmp_path / "audit.json"),
        "--plots",
        str(tmp_path / "plots"),
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "audit.json").read_text())
    sample = pd.read_csv(REAL_SAMPLE)
    kept = sample[sample["in_course_113"]]["Consumer Complaint"]
    assert result["redaction"]["xxxx_share"] == pytest.approx(kept.str.contains("XXXX").mean())
    assert result["length_words"]["median"] == kept.str.split().str.len().median()
    assert f"{result['labels']['under_50']} of 113 labels have fewer than 50" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["label_distribution.png", "length_histogram.png"]


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
