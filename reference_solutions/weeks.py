"""The instructor's reference pipelines, week by week, and the summary table they produce.

A pipeline is one thing a week asks for (the TF-IDF baseline, the full fine-tune, a class-weighted
run), run for one seed through the student API, so its run record is exactly what a student's would
be. A week runs its pipelines, then writes `summary.md` and `summary.csv` with the course's published
number beside each of ours. Runs use self-check mode: the instructor may see test metrics, and the
reference runs never choose anything by them.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Callable

import nbformat
import numpy as np
import pandas as pd

from course import api, metrics
from course import bands as bands_mod
from course.bands import Band
from course.errors import InputError
from course.profiles import from_env
from course.runrecord import RunRecord, read_record
from notebooks.cells import without_hidden_tests
from reference_solutions import analysis, runners, summaries
from reference_solutions.baselines import run_baseline
from reference_solutions.engine import TrainConfig, train

SEEDS = (42, 123, 7)  # the course's SEED=42, its week-2 second seed 123, and one more


Pipeline = Callable[[runners.Job], dict]  # one run of one pipeline -> its row of the week's table


def profile_knobs(profile: str, out_dir: Path) -> dict:
    """The knobs of a profile's course, with records under `out_dir/runs`, for `api.configured`."""
    return {**vars(from_env({"COURSE_PROFILE": profile})), "runs_dir": out_dir / "runs", "mode": "self-check"}


def _row(job: runners.Job, record: RunRecord, seconds: float) -> dict:
    val = record.metrics["val"]
    test = record.metrics.get("test", {})
    tiers = val.get("tier_f1", {})
    return {
        "week": job.week,
        "pipeline": job.pipeline,
        "seed": job.seed,
        "val_accuracy": val["accuracy"],
        "val_macro_f1": val["macro_f1"],
        "val_weighted_f1": val["weighted_f1"],
        "val_zero_f1": val["zero_f1_classes"],
        "head_f1": tiers.get("head"),
        "mid_f1": tiers.get("mid"),
        "tail_f1": tiers.get("tail"),
        "test_macro_f1": test.get("macro_f1"),
        "seconds": round(seconds, 2),
        "run": record.run,
        **{k: v for k, v in record.extra.get("summary", {}).items() if isinstance(v, (int, float, str))},
    }


def _timed_row(job: runners.Job, produce: Callable[[], Path]) -> dict:
    """Run one pipeline for one seed in its own settings scope and make its record a row of the table.
    The seed also draws the capped train sample; the scope's fresh split store gives the record the
    run's own access log."""
    start = time.perf_counter()
    with api.configured(seed=job.seed):
        path = produce()
    return _row(job, read_record(path), time.perf_counter() - start)


def baseline(kind: str) -> Pipeline:
    """A week-1 baseline (`baselines.KINDS`) through the student API, as a row of the week's table."""

    def run(job: runners.Job) -> dict:
        return _timed_row(job, lambda: Path(run_baseline(kind, run=job.run, extra={"seed": job.seed})["record"]))

    return run


def finetune(**overrides) -> Pipeline:
    """A fine-tune with the profile's knobs plus `overrides` (full profile: the course's recipe)."""

    def run(job: runners.Job) -> dict:
        def produce() -> Path:
            config = TrainConfig.from_settings(
                api.settings,
                seed=job.seed,
                output_dir=runners.checkpoint_dir(job.run),
                disable_progress=True,
                **overrides,
            )
            return train(config, run=job.run).record_path

        return _timed_row(job, produce)

    return run


def timed(runner: runners.Runner) -> Pipeline:
    """A week-3..6 runner (which returns its record's path) as a row of the week's table."""

    def run(job: runners.Job) -> dict:
        return _timed_row(job, lambda: runner(job))

    return run


# Week -> pipeline -> runner. The full profile's learning rate comes from settings (3e-5, inside the
# course's 1e-5..5e-5 range); week 2 trains 3 epochs as the homework does.
PIPELINES: dict[str, dict[str, Pipeline]] = {
    "week1": {
        "majority": baseline("majority"),
        "tfidf": baseline("course_tfidf"),
        "tfidf_fast": baseline("fast_tfidf"),
        "modernbert": finetune(schedule="linear", warmup_ratio=0.1),  # epochs from the profile: full 2, smoke 1
    },
    "week2": {
        "linear": finetune(epochs=3, schedule="linear", class_weights="none"),
        "cosine": finetune(epochs=3, schedule="cosine", class_weights="none"),
        "sqrt_weighted": finetune(epochs=3, schedule="linear", class_weights="sqrt_inverse"),
        "batch16": finetune(epochs=3, schedule="linear", class_weights="none", batch_size=16),
    },
    "week3": {
        "lora_encoder": timed(runners.lora_runner("encoder")),
        "lora_encoder_sqrt": timed(runners.lora_runner("encoder", class_weights="sqrt_inverse")),
        "qwen_lora": timed(runners.lora_runner("decoder")),
        "qwen_lora_sqrt": timed(runners.lora_runner("decoder", class_weights="sqrt_inverse")),
    },
    "week4": {
        "encoder": timed(runners.encoder_runner()),
        "sqrt_weighted": timed(runners.encoder_runner(class_weights="sqrt_inverse")),
        "calibrated": timed(runners.calibrated_runner()),
    },
    "week5": {f"encoder_{p}": timed(runners.quantized_runner(p)) for p in ("fp", "int8", "nf4", "onnx_int8")},
    "week6": {
        "teacher": timed(runners.teacher_runner()),
        "vanilla_student": timed(runners.vanilla_student_runner()),
        "distilled_student": timed(runners.distilled_student_runner()),
    },
}
NOISE_PIPELINE = {"week2": "linear"}  # run over every seed: the seed noise floor


def run_week(
    week: str, profile: str, out_dir: Path, seeds: int = 1, pipelines: list[str] | None = None
) -> pd.DataFrame:
    """Run a week's pipelines (all, or those named; noise pipelines over `max(seeds, 3)` seeds) and
    write the summary."""
    if week not in PIPELINES:
        raise InputError(f"unknown week {week!r}; reference pipelines exist for {', '.join(PIPELINES)}")
    unknown = sorted(set(pipelines or []) - set(PIPELINES[week]))
    if unknown:
        raise InputError(f"{week} has no pipeline {', '.join(unknown)}; it has {', '.join(PIPELINES[week])}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    models = runners.TrainedModels()  # shared by this week's pipelines, dropped with the week
    rows = []
    with api.configured(**profile_knobs(profile, out_dir)):
        for name, pipeline in PIPELINES[week].items():
            if pipelines and name not in pipelines:
                continue
            n = max(seeds, 3) if NOISE_PIPELINE.get(week) == name else seeds
            for seed in SEEDS[:n]:
                print(f"[{week}] {name} seed {seed} ...", flush=True)
                rows.append(pipeline(runners.Job(week, name, seed, models)))
        table = pd.DataFrame(rows)
        write_summary(table, week, profile, out_dir)
    return table


def write_summary(table: pd.DataFrame, week: str, profile: str, out_dir: Path) -> None:
    """summary.csv and summary.md: ours (mean over seeds) beside the course's published val macro-F1."""
    published = bands_mod.published(week)
    grouped = (
        table.groupby("pipeline", sort=False)
        .agg(
            seeds=("seed", "count"),
            val_accuracy=("val_accuracy", "mean"),
            val_macro_f1=("val_macro_f1", "mean"),
            val_macro_f1_std=("val_macro_f1", "std"),
            tail_f1=("tail_f1", "mean"),
            test_macro_f1=("test_macro_f1", "mean"),
            seconds=("seconds", "mean"),
        )
        .reset_index()
    )
    grouped["course_val_macro_f1"] = grouped["pipeline"].map(lambda p: published.get(p, {}).get("macro_f1"))
    grouped["course_source"] = grouped["pipeline"].map(lambda p: published.get(p, {}).get("source", ""))
    measured = [
        c
        for c in table.columns
        if c not in grouped.columns and c not in ("week", "seed", "run") and pd.api.types.is_numeric_dtype(table[c])
    ]  # each week's own numbers (extra["summary"])
    if measured:
        grouped = grouped.join(table.groupby("pipeline", sort=False)[measured].mean(), on="pipeline")
    table.to_csv(out_dir / f"{week}_runs.csv", index=False)
    grouped.to_csv(out_dir / f"{week}_summary.csv", index=False)
    lines = [
        f"# {week}, profile {profile}",
        "",
        "Ours: mean over seeds on this profile's course. Course: the published val number (full profile"
        " only compares like with like).",
        "",
        "| pipeline | seeds | val acc | val macro-F1 | ± std | tail F1 | test macro-F1 | s/run | course val macro-F1 | source |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    fmt = lambda v: "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.4f}"  # noqa: E731
    for r in grouped.to_dict("records"):
        lines.append(
            f"| {r['pipeline']} | {r['seeds']} | {fmt(r['val_accuracy'])} | {fmt(r['val_macro_f1'])} | "
            f"{fmt(r['val_macro_f1_std'])} | {fmt(r['tail_f1'])} | {fmt(r['test_macro_f1'])} | "
            f"{r['seconds']:.1f} | {fmt(r['course_val_macro_f1'])} | {r['course_source']} |"
        )
    lines += summaries.SECTIONS.get(week, lambda *_: [])(table, out_dir)
    (out_dir / f"{week}_summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def run_bands(week: str, pipeline: str, profile: str, seeds: int, out_dir: Path) -> dict[str, dict[str, Band]]:
    """Run one pipeline over `seeds` seeds and write its val (and test) bands to `bands/<profile>.yaml`."""
    if pipeline not in PIPELINES.get(week, {}):
        known = ", ".join(f"{w}/{p}" for w in PIPELINES for p in PIPELINES[w])
        raise InputError(f"no reference pipeline {week}/{pipeline}; known: {known}")
    out_dir = Path(out_dir)
    models = runners.TrainedModels()
    source = f"{len(SEEDS[:seeds])} seed(s) of `course bands --week {week} --pipeline {pipeline} --profile {profile}`"
    with api.configured(**profile_knobs(profile, out_dir)):
        rows = [PIPELINES[week][pipeline](runners.Job(week, pipeline, seed, models)) for seed in SEEDS[:seeds]]
        first = read_record(api.settings.runs_dir / f"{rows[0]['run']}.json")
        vals = [{m: r[f"val_{m}"] for m in bands_mod.METRICS} for r in rows]
        return _write_val_bands(profile, week, pipeline, vals, first, source)


def _write_val_bands(
    profile: str, week: str, name: str, vals: list[dict], first: RunRecord, source: str
) -> dict[str, dict[str, Band]]:
    """Val bands from one metrics dict per seed, the bootstrap SE from the first seed's record."""
    truth, pred = analysis.record_val(first)
    k = len(api.store().data.contract.labels)
    split_bands = {
        "val": {
            m: Band.from_values([v[m] for v in vals], bands_mod.bootstrap_se(truth, pred, k, m), source)
            for m in bands_mod.METRICS
        }
    }
    path = bands_mod.write_band(profile, week, name, split_bands)
    print(f"{week}/{name} ({profile}): val macro-F1 band {split_bands['val']['macro_f1'].as_dict()} -> {path}")
    return split_bands


def run_notebook_bands(
    notebook: Path, profile: str, seeds: int, out_dir: Path
) -> dict[str, dict[str, dict[str, Band]]]:
    """Run a solution notebook over `seeds` seeds in the grading sandbox and write one band per run it
    records, as `<week>/solution_<run>` in `bands/<profile>.yaml`.

    What the grader scores a submission against: a student who follows the notebook gets what the
    solution gets, seed noise included. The engine's pipelines are the stronger reference of the week;
    scoring a notebook against them would charge students for the engine's extra tricks.
    """
    from notebooks.sandbox import execute_notebook

    notebook, out_dir = Path(notebook), Path(out_dir)
    week = notebook.name.split("_")[0]
    notebook = _without_hidden_tests(notebook, out_dir / "source" / notebook.name)
    values: dict[str, list[dict]] = {}
    tests: dict[str, list[list[int]]] = {}
    first: dict[str, RunRecord] = {}
    for seed in SEEDS[:seeds]:
        workdir = out_dir / f"{notebook.stem}_s{seed}"
        if workdir.exists():
            shutil.rmtree(workdir)
        result = execute_notebook(
            notebook,
            workdir,
            env={
                "COURSE_PROFILE": profile,
                "COURSE_SEED": str(seed),
                "COURSE_MODE": "self-check",
                "COURSE_RUNS_DIR": "runs",
            },
            timeout_s=1800,
        )
        if result.status != "ok":
            raise RuntimeError(f"{notebook} (seed {seed}) did not run: {result.status}: {result.message}")
        for path in sorted((workdir / "runs").glob("*.json")):
            record = read_record(path)
            values.setdefault(record.run, []).append(record.metrics["val"])
            tests.setdefault(record.run, []).append(record.predictions["test"].labels)
            first.setdefault(record.run, record)
    if not values:
        raise RuntimeError(f"{notebook} wrote no run record")
    command = f"`course bands --notebook {notebook.name} --profile {profile}`"
    with api.configured(**profile_knobs(profile, out_dir)):  # the profile's course, for the bootstrap
        written = {}
        for run, vals in values.items():
            source = f"{len(vals)} seed(s) of {command}"
            written[run] = _write_val_bands(profile, week, f"solution_{run}", vals, first[run], source)
            if len(vals) > 1:
                written[run]["test"] = _write_agreement_band(
                    profile, week, f"solution_{run}", written[run], tests[run], source
                )
        return written


def _without_hidden_tests(notebook: Path, copy: Path) -> Path:
    """The solution as released (hidden checks removed): a band measures the solution's numbers, and
    the hidden checks look up the very band being made (they run on the solution in tests/)."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        cell.source = without_hidden_tests(cell.source)
    copy.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, copy)
    return copy


def _write_agreement_band(
    profile: str, week: str, name: str, split_bands: dict, tests: list[list[int]], source: str
) -> dict[str, Band]:
    """How often independently seeded runs agree on test: the band a shared run stands out against."""
    agree = metrics.agreement_matrix(np.asarray(tests))
    pairs = agree[np.triu_indices(len(tests), k=1)]
    test_bands = {"agreement": Band.from_values(pairs.tolist(), 0.0, f"test agreement between {source}")}
    bands_mod.write_band(profile, week, name, {**split_bands, "test": test_bands})
    return test_bands
