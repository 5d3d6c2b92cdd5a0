"""The reference pipelines of weeks 3 to 6: each trains (or reuses) a model through the engine,
measures what its week asks about, and writes a run record through `course.final_evaluation`.

A runner is `runner(job) -> record path`, where the `Job` names the week, pipeline and seed. It runs
inside `api.configured(seed=job.seed)` (weeks.py), so the seed that draws the capped train sample is
the run's. The record's `extra["summary"]` holds the week's key numbers as flat values (latency, size,
ECE, trainable share, ...): the week's summary table and the recommendation report read them from
there. Models that several pipelines share (the week-1-recipe encoder that weeks 4 and 5 analyse and
compress, week 6's teacher) are trained once per seed and kept in the job's `TrainedModels`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from course import api, metrics
from reference_solutions import analysis, calibration, compression, distill, engine, lora, measure
from reference_solutions.engine import TrainConfig, TrainResult

LATENCY_TEXTS = 64  # val texts timed: batch 1 over 20 of them, batch 32 over the rest


def checkpoint_dir(tag: str) -> Path:
    """Where a run keeps its checkpoints: beside the runs folder, so one output folder holds a week."""
    return api.settings.runs_dir.parent / "checkpoints" / tag


class TrainedModels:
    """The week-1 recipe's models that several pipelines share, trained once per course, model, seed
    and recipe. The caller (`weeks.run_week`) makes one per week, so a trained model lives exactly as
    long as the week that needs it and never carries over into another week, test or profile."""

    def __init__(self) -> None:
        self._results: dict[tuple, TrainResult] = {}

    def get(self, seed: int, tag: str, **overrides: Any) -> TrainResult:
        """The week-1 recipe (profile knobs + `overrides`) for `seed`, trained on first request."""
        s = api.settings
        key = (s.course, s.model_name, seed, tag, tuple(sorted(overrides.items())))
        if key not in self._results:
            config = TrainConfig.from_settings(
                s, seed=seed, output_dir=checkpoint_dir(f"{tag}_s{seed}"), disable_progress=True, **overrides
            )
            self._results[key] = engine.train(config)
        return self._results[key]


@dataclass(frozen=True)
class Job:
    """One run of one pipeline: its week, name and seed, and the week's shared models."""

    week: str
    pipeline: str
    seed: int
    models: TrainedModels

    @property
    def run(self) -> str:
        """The run's name: its record is `runs/<run>.json`, its checkpoints `checkpoints/<run>`."""
        return f"{self.week}_{self.pipeline}_s{self.seed}"

    def record(self, predict: Callable[[list[str]], np.ndarray], extra: dict) -> Path:
        """Score `predict` through `course.final_evaluation` under this run's name; the record's path."""
        return Path(api.final_evaluation(predict, run=self.run, extra=extra)["record"])


Runner = Callable[[Job], Path]


def _labels() -> list[str]:
    return list(api.store().data.contract.labels)


def _val_sequences(tokenizer, max_length: int) -> tuple[list[list[int]], np.ndarray, list[str], list[str]]:
    """Val token ids, labels, texts and ids, in `load_course_data` order."""
    _, val = api.load_course_data(tokenizer=tokenizer, max_length=max_length)
    return list(val["input_ids"]), np.asarray(val["label"]), list(val["text"]), list(val["id"])


def _latency(predict: Callable[[list[str]], np.ndarray], texts: list[str]) -> dict[str, float]:
    """ms per example at batch 1 (median of 20) and batch 32 (median of 5), tokenization included."""
    texts = texts[:LATENCY_TEXTS]
    return {
        "bs1_ms": measure.latency_ms(predict, texts, 1, repeats=20)["median_ms"],
        "bs32_ms": measure.latency_ms(predict, texts, min(32, len(texts)), repeats=5)["median_ms"],
    }


def _softmax_predict(
    logits_of: Callable[[list[list[int]]], np.ndarray], tokenizer, max_length: int, temperature: float = 1.0
) -> Callable[[list[str]], np.ndarray]:
    def predict(texts: list[str]) -> np.ndarray:
        sequences = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
        return metrics.softmax(logits_of(sequences), temperature)

    return predict


# ---------------------------------------------------------------------------------------------------
# Week 3: LoRA
# ---------------------------------------------------------------------------------------------------


def lora_recipe(kind: str) -> dict:
    """Week 3's knobs from the profile: the course's LoRA (r 16, alpha 32, one epoch more than the
    full fine-tune); the encoder at 5x the fine-tune's learning rate (full: 1.5e-4, near the course's
    2e-4; at 10x, one smoke seed of the sqrt-weighted run never left the majority class), the decoder
    at 2x with a quarter of the batch (a 0.5B decoder's memory)."""
    s = api.settings
    if kind == "encoder":
        return dict(model_name=s.model_name, learning_rate=5 * s.learning_rate, epochs=s.epochs + 1)
    return dict(
        model_name=s.decoder_name,
        learning_rate=2 * s.learning_rate,
        epochs=s.epochs + 1,
        batch_size=max(1, s.batch_size // 4),
    )


def lora_runner(kind: str, class_weights: str = "none", r: int = 16, alpha: int = 32) -> Runner:
    """Train LoRA adapters (and the head) on the encoder or decoder; check that a saved adapter reloads
    and that merging leaves the logits unchanged; time the merged model at batch 1 and 32."""

    def run(job: Job) -> Path:
        config = TrainConfig.from_settings(
            api.settings,
            seed=job.seed,
            class_weights=class_weights,
            output_dir=checkpoint_dir(job.run),
            disable_progress=True,
            **lora_recipe(kind),
        )
        tokenizer = engine.load_tokenizer(config.model_name)
        engine.seed_everything(job.seed)
        model = lora.with_lora(engine.load_model(config.model_name, tokenizer, _labels()), kind, r, alpha)
        counts = lora.parameter_counts(model)
        result = engine.train(config, model=model, tokenizer=tokenizer)
        sequences, _, texts, _ = _val_sequences(tokenizer, config.max_length)

        def logits(m: torch.nn.Module) -> np.ndarray:
            return engine.predict_logits(m, sequences, tokenizer.pad_token_id, config.eval_batch_size, "fp32")

        adapted = logits(model)
        engine.seed_everything(job.seed)  # the same base weights the adapter was trained on
        folder = Path(tempfile.mkdtemp(prefix="lora-adapter-"))
        reloaded = lora.reload_adapter(model, engine.load_model(config.model_name, tokenizer, _labels()), folder)
        reloaded_diff = float(np.abs(logits(reloaded) - adapted).max())
        merged = lora.merge(model)
        merged_diff = float(np.abs(logits(merged) - adapted).max())
        predict = engine.predict_fn(merged, tokenizer, config)
        latency = _latency(predict, texts)
        summary = {
            "trainable_parameters": counts["trainable"],
            "total_parameters": counts["total"],
            "trainable_share": counts["share"],
            "adapter_mb": measure.folder_bytes(folder) / 2**20,
            "merge_max_abs_diff": merged_diff,
            "reload_max_abs_diff": reloaded_diff,
            "latency_bs1_ms": latency["bs1_ms"],
            "latency_bs32_ms": latency["bs32_ms"],
            "weight_mb": measure.state_dict_bytes(merged) / 2**20,
            "train_seconds": sum(h["seconds"] for h in result.history),
        }
        extra = {
            **result.extra,
            "lora": {
                "kind": kind,
                "r": r,
                "alpha": alpha,
                "targets": lora.TARGETS[kind],
                "modules_to_save": lora.HEADS[kind],
            },
            "summary": summary,
        }
        return job.record(predict, extra)

    return run


# ---------------------------------------------------------------------------------------------------
# Week 4: calibration (the analysis itself reads records: see summaries.py)
# ---------------------------------------------------------------------------------------------------


def encoder_runner(**overrides) -> Runner:
    """The week-1 recipe's encoder (`overrides`: e.g. class weights), recorded as this week's run."""

    def run(job: Job) -> Path:
        result = job.models.get(job.seed, "encoder", **overrides)
        predict = engine.predict_fn(result.model, result.tokenizer, result.config)
        return job.record(predict, {**result.extra, "summary": _calibration_summary(result)})

    return run


def _calibration_summary(result: TrainResult) -> dict:
    sequences, labels, _, _ = _val_sequences(result.tokenizer, result.config.max_length)
    val_logits = engine.predict_logits(
        result.model, sequences, result.tokenizer.pad_token_id, result.config.eval_batch_size, "fp32"
    )
    return {
        **calibration.calibrate(val_logits, labels),
        "weight_mb": measure.state_dict_bytes(result.model) / 2**20,
        "train_seconds": sum(h["seconds"] for h in result.history),
    }


def calibrated_runner() -> Runner:
    """The week-1 encoder with a temperature fitted on the even val rows: same predictions, better
    probabilities. The record's scores are the calibrated probabilities."""

    def run(job: Job) -> Path:
        result = job.models.get(job.seed, "encoder")
        summary = _calibration_summary(result)
        predict = engine.predict_fn(result.model, result.tokenizer, result.config, summary["temperature"])
        return job.record(predict, {**result.extra, "calibration": summary, "summary": summary})

    return run


# ---------------------------------------------------------------------------------------------------
# Week 5: compression
# ---------------------------------------------------------------------------------------------------


def _saved_encoder(job: Job) -> tuple[TrainResult, Path]:
    result = job.models.get(job.seed, "encoder")
    folder = checkpoint_dir(f"encoder_s{job.seed}") / "saved"
    if not (folder / "config.json").is_file():
        result.model.save_pretrained(folder)
    return result, folder


def quantized_runner(precision: str) -> Runner:
    """The week-1 encoder reloaded at `precision`: weight size, peak memory, latency, val macro-F1 and
    tail F1 against full precision (paired bootstrap), flipped predictions, ECE after temperature
    scaling. Predictions are scored with the temperature fitted on the even val rows."""

    def run(job: Job) -> Path:
        result, folder = _saved_encoder(job)
        config, tokenizer = result.config, result.tokenizer
        device = engine.resolve_device(config.device)
        sequences, labels, texts, _ = _val_sequences(tokenizer, config.max_length)
        with measure.PeakMemory(device) as peak:
            variant = compression.load_variant(
                folder, precision, device, tokenizer.pad_token_id, config.eval_batch_size, config.max_length
            )
            val_logits = variant.logits(sequences)
        pred = val_logits.argmax(1)
        reference = (
            pred
            if precision == "fp"
            else compression.load_variant(folder, "fp", device, tokenizer.pad_token_id, config.eval_batch_size)
            .logits(sequences)
            .argmax(1)
        )
        calibrated = calibration.calibrate(val_logits, labels)
        predict = _softmax_predict(variant.logits, tokenizer, config.max_length, calibrated["temperature"])
        latency = _latency(_softmax_predict(variant.logits, tokenizer, config.max_length), texts)
        deltas = analysis.compare(labels, reference, pred)  # macro-F1 and each tier's F1, variant minus fp
        summary = {
            "precision": precision,
            "weight_mb": variant.weight_bytes / 2**20,
            "peak_memory_mb": peak.mb,
            "peak_memory_kind": peak.kind,
            "latency_bs1_ms": latency["bs1_ms"],
            "latency_bs32_ms": latency["bs32_ms"],
            "flips": int((pred != reference).sum()),
            **{
                f"delta_{r['metric']}{end}": r[key]
                for r in deltas.to_dict("records")
                for end, key in (("", "estimate"), ("_low", "low"), ("_high", "high"))
            },
            "temperature": calibrated["temperature"],
            "ece_before": calibrated["ece_before"],
            "ece_after": calibrated["ece_after"],
            "train_seconds": sum(h["seconds"] for h in result.history),
        }
        if precision in ("int8", "nf4"):
            summary["layers"] = compression.quantized_layers(variant.model)
        return job.record(
            predict, {"base_run": result.extra, "summary": summary, "paired_bootstrap": deltas.to_dict("records")}
        )

    return run


# ---------------------------------------------------------------------------------------------------
# Week 6: distillation
# ---------------------------------------------------------------------------------------------------

KD_GRID = tuple((T, alpha) for T in (1.0, 4.0, 8.0) for alpha in (0.7, 0.9))  # the week-6 homework's grid


def _teacher(job: Job) -> TrainResult:
    """The week-1 encoder trained one epoch longer, on train only."""
    return job.models.get(job.seed, "teacher", epochs=api.settings.epochs + 1)


def _student(job: Job, tag: str, loss: engine.Loss | None) -> TrainResult:
    """A student with half the teacher's layers, trained with the week-1 recipe and `loss`."""
    teacher = _teacher(job)
    config = TrainConfig.from_settings(
        api.settings, seed=job.seed, disable_progress=True, output_dir=checkpoint_dir(f"student_{tag}_s{job.seed}")
    )
    engine.seed_everything(job.seed)
    layers = max(1, teacher.model.config.num_hidden_layers // 2)
    model = engine.load_model(config.model_name, teacher.tokenizer, _labels(), num_hidden_layers=layers)
    return engine.train(config, model=model, tokenizer=teacher.tokenizer, loss=loss)


def _student_record(job: Job, result: TrainResult, extra: dict) -> Path:
    summary = {
        **_calibration_summary(result),
        "layers": result.model.config.num_hidden_layers,
        "total_parameters": sum(p.numel() for p in result.model.parameters()),
    }
    sequences, _, texts, _ = _val_sequences(result.tokenizer, result.config.max_length)
    predict = engine.predict_fn(result.model, result.tokenizer, result.config)
    latency = _latency(predict, texts)
    summary.update(latency_bs1_ms=latency["bs1_ms"], latency_bs32_ms=latency["bs32_ms"])
    return job.record(predict, {**result.extra, **extra, "summary": summary})


def teacher_runner() -> Runner:
    def run(job: Job) -> Path:
        return _student_record(job, _teacher(job), {"role": "teacher, trained on train only"})

    return run


def vanilla_student_runner() -> Runner:
    def run(job: Job) -> Path:
        return _student_record(job, _student(job, "vanilla", None), {"role": "student, no teacher"})

    return run


def distilled_student_runner(grid: tuple = KD_GRID) -> Runner:
    """One student per (T, alpha) of `grid` on the cached teacher logits; the best on val macro-F1 is
    recorded, with the whole grid in `extra["kd_grid"]`."""

    def run(job: Job) -> Path:
        teacher = _teacher(job)
        teacher_logits = distill.cached_teacher_logits(
            teacher, teacher.config, checkpoint_dir("teacher_logits"), f"teacher_s{job.seed}"
        )
        candidates, best = [], None
        for T, alpha in grid:
            result = _student(job, f"kd_T{T:g}_a{alpha:g}", distill.KDLoss(teacher_logits, T, alpha))
            candidates.append(
                {"name": f"T{T:g}_a{alpha:g}", "T": T, "alpha": alpha, "val_macro_f1": result.best_val_macro_f1}
            )
            if best is None or result.best_val_macro_f1 > best[1].best_val_macro_f1:
                best = (candidates[-1], result)
        chosen, result = best
        return _student_record(
            job,
            result,
            {
                "role": "student distilled from the train-only teacher",
                "kd_grid": candidates,
                "candidates": candidates,
                "chosen": chosen["name"],
                "kd": {"T": chosen["T"], "alpha": chosen["alpha"]},
            },
        )

    return run
