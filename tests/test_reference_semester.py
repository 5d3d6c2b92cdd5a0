"""`course reference week3..week6 --profile smoke`, end to end on the synthetic course: real PEFT,
real bitsandbytes (its CPU backend), real ONNX Runtime, real distillation, and the recommendation
report opened in a real browser. About 2-3 minutes on 2 cores."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from course.runrecord import read_record
from reference_solutions import weeks

WEEKS = ("week3", "week4", "week5", "week6")


@pytest.fixture(scope="module")
def semester(tmp_path_factory):
    """Every week's smoke run under one root (as `course reference` lays them out), with wall times."""
    root = tmp_path_factory.mktemp("reference_runs")
    tables, seconds = {}, {}
    for week in WEEKS:
        start = time.perf_counter()
        tables[week] = weeks.run_week(week, "smoke", root / week)
        seconds[week] = time.perf_counter() - start
    print("smoke wall seconds per week:", {w: round(s, 1) for w, s in seconds.items()})
    return root, tables


def _summary(root: Path, week: str) -> str:
    return (root / week / f"{week}_summary.md").read_text(encoding="utf-8")


def _extra(root: Path, week: str, pipeline: str) -> dict:
    return read_record(root / week / "runs" / f"{week}_{pipeline}_s42.json").extra


def test_every_pipeline_recorded_and_summarised(semester):
    root, tables = semester
    for week in WEEKS:
        table = tables[week]
        assert list(table["pipeline"]) == list(weeks.PIPELINES[week]), week
        assert (table["val_macro_f1"] > 0.005).all(), f"{week}: every model beats the majority class (~.003)"
        assert pd.read_csv(root / week / f"{week}_summary.csv")["pipeline"].tolist() == list(weeks.PIPELINES[week])
        assert "| pipeline |" in _summary(root, week)


def test_week3_lora_counts_merge_and_latency(semester):
    root, _ = semester
    for pipeline, kind in (("lora_encoder", "encoder"), ("qwen_lora", "decoder")):
        extra = _extra(root, "week3", pipeline)
        s = extra["summary"]
        assert extra["lora"]["kind"] == kind and extra["lora"]["r"] == 16
        assert 0 < s["trainable_parameters"] < 0.25 * s["total_parameters"]
        assert extra["trainable_parameters"] == s["trainable_parameters"], "the engine trained only the adapters"
        assert s["merge_max_abs_diff"] < 1e-4 and s["reload_max_abs_diff"] < 1e-5
        assert s["latency_bs1_ms"] > 0 and s["latency_bs32_ms"] > 0 and s["adapter_mb"] > 0
    weighted = _extra(root, "week3", "lora_encoder_sqrt")
    assert weighted["config"]["class_weights"] == "sqrt_inverse"
    assert "## LoRA" in _summary(root, "week3")


def test_week4_analysis_and_calibration(semester):
    root, _ = semester
    png = root / "week4" / "week4_confusion.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = _summary(root, "week4")
    for heading in (
        "## Tiers",
        "## Slices",
        "## Confusions",
        "## sqrt-weighted minus unweighted",
        "## Temperature scaling",
    ):
        assert heading in text
    calibrated = _extra(root, "week4", "calibrated")["calibration"]
    assert calibrated["argmax_changed"] == 0
    assert calibrated["ece_after"] < calibrated["ece_before"]
    encoder = read_record(root / "week4" / "runs" / "week4_encoder_s42.json")
    scaled = read_record(root / "week4" / "runs" / "week4_calibrated_s42.json")
    assert encoder.predictions == scaled.predictions, "temperature scaling never changes a prediction"


def test_week5_variants_shrink_and_are_compared_with_full_precision(semester):
    root, tables = semester
    fp = _extra(root, "week5", "encoder_fp")["summary"]
    assert fp["flips"] == 0 and fp["delta_macro_f1"] == 0
    for precision in ("int8", "nf4", "onnx_int8"):
        s = _extra(root, "week5", f"encoder_{precision}")["summary"]
        assert s["weight_mb"] < fp["weight_mb"], precision
        assert s["delta_macro_f1_low"] <= s["delta_macro_f1"] <= s["delta_macro_f1_high"]
        assert s["latency_bs1_ms"] > 0 and s["ece_after"] <= s["ece_before"] + 0.02
    assert _extra(root, "week5", "encoder_int8")["summary"]["layers"]["int8"] > 0
    assert _extra(root, "week5", "encoder_nf4")["summary"]["layers"]["4bit"] > 0
    text = _summary(root, "week5")
    assert "Pareto front" in text and "## Constraint check" in text and "Recommended" in text
    assert (root / "week5" / "week5_pareto.png").is_file()


def test_week6_distillation_from_a_train_only_teacher(semester):
    root, _ = semester
    teacher, vanilla = _extra(root, "week6", "teacher"), _extra(root, "week6", "vanilla_student")
    distilled = _extra(root, "week6", "distilled_student")
    assert vanilla["summary"]["layers"] < teacher["summary"]["layers"]
    assert distilled["summary"]["layers"] == vanilla["summary"]["layers"]
    grid = distilled["kd_grid"]
    assert len(grid) == 6 and {(g["T"], g["alpha"]) for g in grid} == {(t, a) for t in (1, 4, 8) for a in (0.7, 0.9)}
    assert distilled["chosen"] == max(grid, key=lambda g: g["val_macro_f1"])["name"]
    assert distilled["loss"].startswith("kd(") and vanilla["loss"] == "cross_entropy"
    assert teacher["config"]["epochs"] == vanilla["config"]["epochs"] + 1
    for run in ("teacher", "distilled_student"):
        log = read_record(root / "week6" / "runs" / f"week6_{run}_s42.json").access_log
        test = [e for e in log if e["split"] == "test"]
        assert test and all(e["op"] == "final_evaluation" for e in test), f"{run}: test read only to be scored"
    assert list((root / "week6" / "checkpoints" / "teacher_logits").glob("teacher-*.npy")), "logits cached"
    text = _summary(root, "week6")
    assert "## KD grid" in text and "## Distilled minus vanilla" in text


def test_recommendation_report_covers_every_model(semester, page):
    root, tables = semester
    md = (root / "week6" / "recommendation.md").read_text(encoding="utf-8")
    runs = [r for week in WEEKS for r in tables[week]["run"]]
    for run in runs:
        assert f"| {run} |" in md
    page.goto((root / "week6" / "recommendation.html").as_uri())
    rows = page.eval_on_selector_all("#models tbody tr", "rows => rows.map(r => r.cells[0].textContent.trim())")
    assert sorted(rows) == sorted(runs)
    chosen = page.locator("#recommended").inner_text()
    assert chosen.startswith("Recommended: week")
    assert page.locator("tr.chosen").count() == 1
    assert page.evaluate("document.querySelector('img').naturalWidth") > 0, "the Pareto plot loads"
    assert not page.problems, page.problems


def test_report_refuses_an_empty_folder(semester, tmp_path):
    from reference_solutions import report

    with pytest.raises(ValueError, match="no run records"):
        report.write_report(tmp_path, tmp_path)
    bad = tmp_path / "weekX" / "runs"
    bad.mkdir(parents=True)
    (bad / "broken.json").write_text("{not json", encoding="utf-8")
    root, _ = semester
    table, skipped = report.collect(tmp_path)
    assert table.empty and len(skipped) == 1 and "broken.json" in skipped[0]
    json.loads((root / "week6" / "runs" / "week6_teacher_s42.json").read_text())  # untouched
