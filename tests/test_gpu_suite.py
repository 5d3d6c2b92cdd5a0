"""benchmarks/gpu_suite.py in --cpu-smoke mode: every section runs for real on tiny, randomly initialised
models, so the code the GPU machine will run once has been through every path here first."""

import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_suite.py"
SECTIONS = [
    "finetune_throughput",
    "lora_training_encoder",
    "lora_training_decoder",
    "quantization_encoder",
    "quantization_decoder",
]


def load_suite():
    """benchmarks/ is not a package: import the script from its path (registered in sys.modules first,
    as its dataclass needs to find its own module)."""
    spec = importlib.util.spec_from_file_location("gpu_suite", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def suite():
    return load_suite()


@pytest.fixture(scope="module")
def smoke(suite, tmp_path_factory):
    """One --cpu-smoke run, shared by the tests below: (return code, JSON report, markdown, out folder)."""
    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("gpu_suite")
    code = suite.main(["--cpu-smoke", "--out", str(out)])
    return code, json.loads((out / "gpu_suite.json").read_text()), (out / "gpu_suite.md").read_text(), out


def rows(report, section):
    return {row.get("mode") or row["variant"]: row for row in report["sections"][section]["rows"]}


def test_every_section_runs_without_errors(smoke):
    code, report, _, _ = smoke
    errors = {name: s.get("error", {}).get("message") for name, s in report["sections"].items() if not s["ok"]}
    assert errors == {}
    assert code == 0
    assert list(report["sections"]) == SECTIONS
    assert report["mode"] == "cpu-smoke" and report["failed"] == [] and report["wall_seconds"] > 0


def test_finetune_throughput_compares_course_and_engine(smoke):
    _, report, _, _ = smoke
    section = report["sections"]["finetune_throughput"]
    assert [row["side"] for row in section["rows"]] == ["course", "engine"]
    assert all(row["examples_per_s"] > 0 and row["real_tokens_per_s"] > 0 for row in section["rows"])
    assert section["ratio_examples_per_s"] > 0


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_lora_trains_a_small_share_of_the_parameters(smoke, kind):
    _, report, _, _ = smoke
    by_mode = rows(report, f"lora_training_{kind}")
    full, lora = by_mode["full"], by_mode["LoRA r=8"]
    assert full["trainable_params"] == full["total_params"]
    assert 0 < lora["trainable_params"] < 0.25 * full["trainable_params"]
    for row in (full, lora):
        assert row["examples_per_s"] > 0 and row["real_tokens_per_s"] > 0 and row["steps"] > 0
        assert 0 <= row["padding_share"] < 1 and row["final_loss"] == pytest.approx(row["final_loss"])


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_quantized_models_are_smaller_and_timed(smoke, kind):
    _, report, _, _ = smoke
    by_variant = rows(report, f"quantization_{kind}")
    assert list(by_variant) == ["fp32", "int8", "nf4"]  # fp32 on CPU, bf16 on GPU
    reference = by_variant["fp32"]
    assert by_variant["int8"]["footprint_mb"] < reference["footprint_mb"]
    assert by_variant["nf4"]["footprint_mb"] < reference["footprint_mb"]
    for row in by_variant.values():
        assert row["latency_ms_batch1"] > 0 and row["latency_ms_batch8"] > 0
        assert 0 <= row["argmax_agreement"] <= 1 and row["max_abs_logit_diff"] >= 0
    assert reference["argmax_agreement"] == 1 and reference["max_abs_logit_diff"] == 0


def test_markdown_names_each_section(smoke, suite):
    _, _, markdown, out = smoke
    assert (out / "gpu_suite.md").is_file()
    for name in SECTIONS:
        assert suite.TITLES[name] in markdown
    assert "total wall time" in markdown and "FAILED" not in markdown


def test_a_failing_section_is_recorded_and_the_others_still_run(suite, tmp_path, monkeypatch):
    def broken(plan):
        raise RuntimeError("no such kernel")

    monkeypatch.setattr(suite, "finetune_section", broken)
    monkeypatch.setattr(suite, "training_section", lambda kind, plan, device: {"rows": []})
    monkeypatch.setattr(suite, "quantization_section", lambda kind, plan, device: {"rows": []})
    assert suite.main(["--cpu-smoke", "--out", str(tmp_path)]) == 1
    report = json.loads((tmp_path / "gpu_suite.json").read_text())
    assert report["failed"] == ["finetune_throughput"]
    assert report["sections"]["finetune_throughput"]["error"]["type"] == "RuntimeError"
    assert report["sections"]["finetune_throughput"]["error"]["message"] == "no such kernel"
    assert all(report["sections"][name]["ok"] for name in SECTIONS[1:])
    assert "FAILED: RuntimeError: no such kernel" in (tmp_path / "gpu_suite.md").read_text()


def test_a_failing_variant_keeps_the_other_variants(suite, tmp_path, monkeypatch):
    measure_variant = suite.measure_variant

    def int8_breaks(folder, quantization, *args):
        if quantization is not None and quantization.load_in_8bit:
            raise ValueError("int8 kernel missing")
        return measure_variant(folder, quantization, *args)

    monkeypatch.setattr(suite, "measure_variant", int8_breaks)
    monkeypatch.setattr(suite, "finetune_section", lambda plan: {"rows": []})
    monkeypatch.setattr(suite, "training_section", lambda kind, plan, device: {"rows": []})
    assert suite.main(["--cpu-smoke", "--out", str(tmp_path)]) == 1
    report = json.loads((tmp_path / "gpu_suite.json").read_text())
    assert report["failed"] == ["quantization_encoder", "quantization_decoder"]
    by_variant = rows(report, "quantization_decoder")
    assert by_variant["int8"]["error"]["message"] == "int8 kernel missing"
    assert by_variant["fp32"]["latency_ms_batch1"] > 0 and 0 <= by_variant["nf4"]["argmax_agreement"] <= 1
    assert "ValueError: int8 kernel missing" in (tmp_path / "gpu_suite.md").read_text()


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
def test_without_cuda_it_asks_for_cpu_smoke(suite, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        suite.main(["--out", str(tmp_path)])
    assert exit_info.value.code == 2
    assert "--cpu-smoke" in capsys.readouterr().err
