"""GPU suite: training throughput and quantized inference for the course's two model shapes, one run.

On the GPU machine (one NVIDIA H200; budget under 8 minutes, the step counts sized for about 5):

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/gpu_suite.py --out gpu_results

On CPU, every section with tiny configs, to check the code (well under a minute on 2 cores):

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/gpu_suite.py --cpu-smoke --out /tmp/gpu_suite

Nothing is downloaded: every model is built from its config with random weights, and the inputs are
synthetic token ids with the real complaints' length profile (`finetune_throughput.synthetic_examples`:
median 63 tokens, 15% cut at 128). Speed and memory depend on shapes, not on weight values. Sections:

1. finetune_throughput: the week-1 homework recipe (HF Trainer style: padding to 128, fp16, foreach
   AdamW) against `reference_solutions.engine` (length-grouped batches, bf16, fused AdamW), on the
   ModernBERT-base shape. This is `benchmarks/finetune_throughput.py --gpu --steps 60`, run in-process.
2. lora_training_encoder / lora_training_decoder: full fine-tuning against LoRA r=8
   (`reference_solutions.lora.with_lora`) on the ModernBERT-base shape (batch 32) and the
   Qwen2.5-0.5B shape (batch 16), 113 labels: examples/s, real (unpadded) tokens/s, peak memory,
   trainable parameters. Both use the engine's step: bf16 autocast, fused AdamW over the trainable
   parameters only, length-grouped batches padded to their longest example (multiple of 8).
3. quantization_encoder / quantization_decoder: bitsandbytes LLM.int8 and NF4 against the unquantized
   model (bf16 on GPU, fp32 on CPU), each reloaded from a saved folder through `from_pretrained`, as a
   student would load one. Latency per example at batch 1 and 64 (`reference_solutions.measure`),
   inference memory above the loaded weights, `get_memory_footprint()`, and how far predictions move:
   share of argmax agreeing with the unquantized model and the largest logit difference. With random
   weights the logits of the 113 classes lie close together, so the agreement here likely understates
   what a trained classifier, with clearer margins, would keep. LLM.int8 casts bf16 inputs to fp16
   internally; the non-quantized layers (embeddings, norms, classifier) stay in the compute dtype.

Each section runs on its own: one that fails records its error in the JSON and the others still run
(the exit code is then 1). Results go to `--out` as gpu_suite.json and gpu_suite.md, rewritten after
every section so that a run cut short keeps what it finished.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import gc
import importlib.metadata
import importlib.util
import json
import logging
import math
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import transformers
from tabulate import tabulate

from reference_solutions import compression, engine, lora, measure

NUM_LABELS = 113
LEARNING_RATE = 1e-4  # one rate for every run: it does not change the speed being measured
SEED = 0
logging.getLogger("bitsandbytes").setLevel(logging.ERROR)  # per-call fp16 cast notices, CPU kernel hints


def _load_sibling(name: str):
    """benchmarks/ is not a package: load a script next to this one by its path."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


finetune_throughput = _load_sibling("finetune_throughput")


@dataclasses.dataclass(frozen=True)
class Plan:
    """How much each section measures. The GPU plan fits the suite in about 5 minutes on an H200
    (ModernBERT-base trains at ~20-40 steps/s, Qwen 0.5B at ~5-10); the smoke plan only checks that
    every code path runs."""

    finetune_argv: tuple[str, ...]
    train_batch_size: dict[str, int]
    train_warmup: int
    train_steps: dict[str, int]
    latency_batch_sizes: tuple[int, int]
    latency_repeats: int
    eval_examples: int  # the inputs for latency and agreement


GPU_PLAN = Plan(
    finetune_argv=("--gpu", "--steps", "60"),
    train_batch_size={"encoder": 32, "decoder": 16},
    train_warmup=10,
    train_steps={"encoder": 100, "decoder": 40},
    latency_batch_sizes=(1, 64),
    latency_repeats=30,
    eval_examples=256,
)
SMOKE_PLAN = Plan(
    finetune_argv=("--cpu", "--model-size", "small", "--steps", "2", "--warmup", "1", "--batch-size", "4"),
    train_batch_size={"encoder": 4, "decoder": 4},
    train_warmup=1,
    train_steps={"encoder": 2, "decoder": 2},
    latency_batch_sizes=(1, 8),
    latency_repeats=3,
    eval_examples=16,
)
SHAPES = {"encoder": "ModernBERT-base shape", "decoder": "Qwen2.5-0.5B shape"}


def model_config(kind: str, smoke: bool) -> transformers.PretrainedConfig:
    """ModernBERT-base (the config defaults) or Qwen2.5-0.5B, or tiny versions of both for --cpu-smoke.
    The tiny vocabularies need the special token ids moved inside them."""
    if kind == "encoder" and smoke:
        return transformers.ModernBertConfig(
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=128,
            vocab_size=1000,
            pad_token_id=0,
            cls_token_id=1,
            bos_token_id=1,
            sep_token_id=2,
            eos_token_id=2,
            num_labels=NUM_LABELS,
        )
    if kind == "encoder":
        return transformers.ModernBertConfig(num_labels=NUM_LABELS)
    if smoke:
        return transformers.Qwen2Config(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=1000,
            max_position_embeddings=512,
            tie_word_embeddings=True,
            pad_token_id=0,
            num_labels=NUM_LABELS,
        )
    return transformers.Qwen2Config(
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        vocab_size=151936,
        max_position_embeddings=32768,
        tie_word_embeddings=True,
        rope_theta=1000000.0,
        pad_token_id=151643,
        num_labels=NUM_LABELS,
    )  # 151643 = <|endoftext|>, Qwen2.5's pad token


def build_model(kind: str, smoke: bool) -> torch.nn.Module:
    """A randomly initialised classifier on CPU in fp32, the same weights on every call."""
    torch.manual_seed(SEED)
    return transformers.AutoModelForSequenceClassification.from_config(model_config(kind, smoke))


def describe_config(model: torch.nn.Module) -> dict:
    """The shape that was measured, so that a table read later says which model it was."""
    config = model.config
    return {
        "hidden_size": config.hidden_size,
        "num_hidden_layers": config.num_hidden_layers,
        "vocab_size": config.vocab_size,
        "attention": config._attn_implementation,
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def examples_for(config: transformers.PretrainedConfig, n: int) -> list[list[int]]:
    """`n` token id sequences with the real length profile, free of special tokens: a pad id inside a
    sequence would make the decoder classify from the wrong position."""
    names = ("pad_token_id", "bos_token_id", "eos_token_id", "cls_token_id", "sep_token_id")
    special = {getattr(config, name, None) for name in names} - {None}
    return finetune_throughput.synthetic_examples(n, config.vocab_size, special, np.random.default_rng(SEED))


def synchronize(device: torch.device) -> None:
    """Wait for the GPU: its kernels run asynchronously, so a clock read without this times the queueing."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def free_memory() -> None:
    """Drop what the last measurement left behind, so the next one starts from an empty GPU."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def describe(err: BaseException) -> dict[str, str]:
    """The error as the JSON keeps it; the traceback is what a one-shot GPU run leaves to debug from."""
    return {"type": type(err).__name__, "message": str(err), "traceback": traceback.format_exc()}


# ---------------------------------------------------------------------------------------------------
# 1. The week-1 engine against the course recipe
# ---------------------------------------------------------------------------------------------------


def finetune_section(plan: Plan) -> dict:
    """finetune_throughput.py's own run; its JSON is kept whole under `details`."""
    with tempfile.TemporaryDirectory(prefix="gpu-suite-finetune-") as folder:
        path = Path(folder) / "finetune_throughput.json"
        code = finetune_throughput.main([*plan.finetune_argv, "--json", str(path)])
        if code != 0:
            raise RuntimeError(f"finetune_throughput.main returned {code}")
        details = json.loads(path.read_text())
    return {"rows": details["results"], "ratio_examples_per_s": details["ratio_examples_per_s"], "details": details}


# ---------------------------------------------------------------------------------------------------
# 2. Full fine-tuning against LoRA
# ---------------------------------------------------------------------------------------------------


def train_throughput(init_model: torch.nn.Module, kind: str, mode: str, plan: Plan, device: torch.device) -> dict:
    """Train a copy of `init_model` (in full, or its LoRA adapters and head) for the plan's warm-up
    steps, then time its steps. Peak memory covers everything from moving the model to the device on:
    weights, gradients, optimizer states and activations."""
    batch_size, warmup, steps = plan.train_batch_size[kind], plan.train_warmup, plan.train_steps[kind]
    examples = examples_for(init_model.config, (warmup + steps) * batch_size)
    labels = np.random.default_rng(SEED).integers(0, NUM_LABELS, size=len(examples))
    # Length-grouped, as the engine trains; the longest batch comes first, inside the warm-up.
    batches = engine.length_grouped_batches([len(e) for e in examples], batch_size, SEED, 1)
    precision = engine.resolve_precision("auto", device)  # bf16 on an H200, fp32 on CPU
    loss_fn = torch.nn.CrossEntropyLoss()

    with measure.PeakMemory(device) as peak:
        model = copy.deepcopy(init_model)
        if mode == "lora":
            model = lora.with_lora(model, kind, r=8)
        model = model.to(device).train()
        optimizer = engine.build_optimizer(model, LEARNING_RATE, 0.01, fused=device.type == "cuda")
        scheduler = engine.build_scheduler(optimizer, 0, len(batches), "constant")
        scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
        pad_id = model.config.pad_token_id

        def step(indices: list[int]) -> torch.Tensor:
            input_ids, attention_mask = engine.pad_batch([examples[i] for i in indices], pad_id)
            batch = {
                "input_ids": input_ids.to(device),
                "attention_mask": attention_mask.to(device),
                "labels": torch.as_tensor(labels[indices]).to(device),
            }
            return engine.train_step(model, batch, loss_fn, optimizer, scheduler, scaler, precision, 1.0)

        for indices in batches[:warmup]:
            step(indices)
        synchronize(device)
        start = time.perf_counter()
        losses = [step(indices) for indices in batches[warmup:]]
        synchronize(device)
        seconds = time.perf_counter() - start

    timed = batches[warmup:]
    real = sum(len(examples[i]) for b in timed for i in b)
    padded = sum(len(b) * math.ceil(max(len(examples[i]) for i in b) / 8) * 8 for b in timed)
    counts = lora.parameter_counts(model)
    row = {
        "model": kind,
        "shape": SHAPES[kind],
        "mode": "LoRA r=8" if mode == "lora" else "full",
        "precision": precision,
        "batch_size": batch_size,
        "steps": len(timed),
        "seconds": seconds,
        "examples_per_s": batch_size * len(timed) / seconds,
        "real_tokens_per_s": real / seconds,
        "padding_share": 1 - real / padded,
        "peak_memory_mb": peak.mb,
        "peak_memory_kind": peak.kind,
        "trainable_params": counts["trainable"],
        "total_params": counts["total"],
        "trainable_share": counts["share"],
        "final_loss": float(torch.stack(losses).float().mean()),
    }
    return row


def training_section(kind: str, plan: Plan, device: torch.device) -> dict:
    """Full fine-tune, then LoRA, from the same initial weights on the same batches."""
    init_model = build_model(kind, plan is SMOKE_PLAN)
    rows = []
    for mode in ("full", "lora"):
        rows.append(train_throughput(init_model, kind, mode, plan, device))
        free_memory()  # the copy just trained is garbage now: give its GPU memory back first
    return {
        "config": describe_config(init_model),
        "rows": rows,
        "lora_speedup_examples_per_s": rows[1]["examples_per_s"] / rows[0]["examples_per_s"],
    }


# ---------------------------------------------------------------------------------------------------
# 3. Quantized inference
# ---------------------------------------------------------------------------------------------------


def quantization_configs(dtype: torch.dtype) -> list[tuple[str, transformers.BitsAndBytesConfig | None]]:
    """The unquantized reference first, then LLM.int8 and NF4, as week 5 loads them
    (`compression.bnb_config`: the classification head stays in full precision)."""
    return [
        ("bf16" if dtype == torch.bfloat16 else "fp32", None),
        ("int8", compression.bnb_config("int8", dtype)),
        ("nf4", compression.bnb_config("nf4", dtype)),
    ]


def measure_variant(
    folder: str,
    quantization: transformers.BitsAndBytesConfig | None,
    dtype: torch.dtype,
    examples: list[list[int]],
    plan: Plan,
    device: torch.device,
) -> tuple[dict, np.ndarray]:
    """Load the saved model as `quantization` says and time it; also return its logits on `examples`."""
    start = time.perf_counter()
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        folder, dtype=dtype, quantization_config=quantization, device_map={"": str(device)}
    ).eval()
    load_seconds = time.perf_counter() - start
    pad_id = model.config.pad_token_id

    @torch.inference_mode()
    def predict(sequences: list[list[int]]) -> np.ndarray:
        input_ids, attention_mask = engine.pad_batch(sequences, pad_id)
        logits = model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device)).logits
        return logits.float().cpu().numpy()

    small, large = plan.latency_batch_sizes
    with measure.PeakMemory(device) as peak:
        latency_small = measure.latency_ms(predict, examples, small, plan.latency_repeats)
        latency_large = measure.latency_ms(predict, examples, large, plan.latency_repeats)
        logits = np.concatenate([predict(examples[i : i + large]) for i in range(0, len(examples), large)])
    row = {
        "load_seconds": load_seconds,
        "footprint_mb": model.get_memory_footprint() / 2**20,
        f"latency_ms_batch{small}": latency_small["median_ms"],
        f"latency_ms_batch{large}": latency_large["median_ms"],
        "latency": {str(small): latency_small, str(large): latency_large},
        "inference_peak_mb": peak.mb,
        "inference_peak_kind": peak.kind,
    }
    return row, logits


def quantization_section(kind: str, plan: Plan, device: torch.device) -> dict:
    """Save the random-init model once, then load and measure each variant. A variant that fails
    records its error and the others are still measured."""
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    init_model = build_model(kind, plan is SMOKE_PLAN)
    examples = examples_for(init_model.config, plan.eval_examples)
    config = describe_config(init_model)
    rows, reference = [], None
    with tempfile.TemporaryDirectory(prefix=f"gpu-suite-{kind}-") as folder:
        init_model.to(dtype).save_pretrained(folder)
        del init_model
        for variant, quantization in quantization_configs(dtype):
            try:
                measured, logits = measure_variant(folder, quantization, dtype, examples, plan, device)
            except Exception as err:
                measured, logits = {"error": describe(err)}, None
            free_memory()  # the variant's model is garbage now: give its GPU memory back before the next
            if quantization is None:
                reference = logits
            if logits is not None and reference is not None:
                measured["argmax_agreement"] = float(np.mean(logits.argmax(1) == reference.argmax(1)))
                measured["max_abs_logit_diff"] = float(np.abs(logits - reference).max())
            rows.append({"model": kind, "shape": SHAPES[kind], "variant": variant} | measured)
    return {"config": config, "dtype": str(dtype), "examples": len(examples), "rows": rows}


# ---------------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------------

TITLES = {
    "finetune_throughput": "1. Week-1 engine against the course recipe (ModernBERT, full fine-tune)",
    "lora_training_encoder": "2a. Full fine-tune against LoRA r=8: encoder (ModernBERT-base shape)",
    "lora_training_decoder": "2b. Full fine-tune against LoRA r=8: decoder (Qwen2.5-0.5B shape)",
    "quantization_encoder": "3a. bitsandbytes INT8 and NF4: encoder (ModernBERT-base shape)",
    "quantization_decoder": "3b. bitsandbytes INT8 and NF4: decoder (Qwen2.5-0.5B shape)",
}
TRAIN_COLUMNS = [
    ("mode", "{}"),
    ("precision", "{}"),
    ("examples_per_s", "{:.1f}"),
    ("real_tokens_per_s", "{:.0f}"),
    ("padding_share", "{:.0%}"),
    ("peak_memory_mb", "{:.0f}"),
    ("trainable_params", "{:,}"),
    ("trainable_share", "{:.2%}"),
    ("final_loss", "{:.3f}"),
]


def columns_for(name: str, plan: Plan) -> list[tuple[str, str]]:
    """The (key, format) pairs a section's table shows; the JSON keeps every key."""
    if name == "finetune_throughput":
        return [
            ("side", "{}"),
            ("precision", "{}"),
            ("optimizer", "{}"),
            ("examples_per_s", "{:.1f}"),
            ("real_tokens_per_s", "{:.0f}"),
            ("padding_share", "{:.0%}"),
            ("ms_per_step", "{:.0f}"),
            ("mfu_real_tokens", "{:.1%}"),
            ("peak_memory_mb", "{:.0f}"),
        ]
    if name.startswith("lora_training"):
        return TRAIN_COLUMNS
    small, large = plan.latency_batch_sizes
    return [
        ("variant", "{}"),
        ("footprint_mb", "{:.1f}"),
        (f"latency_ms_batch{small}", "{:.2f}"),
        (f"latency_ms_batch{large}", "{:.3f}"),
        ("inference_peak_mb", "{:.0f}"),
        ("argmax_agreement", "{:.1%}"),
        ("max_abs_logit_diff", "{:.4f}"),
        ("load_seconds", "{:.1f}"),
    ]


def section_markdown(name: str, section: dict, plan: Plan) -> str:
    """One heading and one table; a failed section shows its error, a failed row its own."""
    lines = [f"## {TITLES[name]}", ""]
    if "config" in section:
        lines += [
            ", ".join(
                f"{key} {value:,}" if isinstance(value, int) else f"{key} {value}"
                for key, value in section["config"].items()
            ),
            "",
        ]
    if "rows" in section:
        columns = columns_for(name, plan)
        table = [[fmt.format(row[key]) if key in row else "" for key, fmt in columns] for row in section["rows"]]
        headers = [key for key, _ in columns]
        if any("error" in row for row in section["rows"]):
            headers.append("error")
            for cells, row in zip(table, section["rows"]):
                cells.append(f"{row['error']['type']}: {row['error']['message'][:120]}" if "error" in row else "")
        lines += [tabulate(table, headers=headers, tablefmt="github"), ""]
    if "ratio_examples_per_s" in section:
        lines += [f"engine / course recipe, examples/s: {section['ratio_examples_per_s']:.2f}x", ""]
    if "lora_speedup_examples_per_s" in section:
        lines += [f"LoRA / full fine-tune, examples/s: {section['lora_speedup_examples_per_s']:.2f}x", ""]
    if not section["ok"] and "rows" not in section:
        lines += [f"FAILED: {section['error']['type']}: {section['error']['message']}", ""]
    lines += [f"({section['seconds']:.1f} s)", ""]
    return "\n".join(lines)


def run_section(fn: Callable[[], dict]) -> dict:
    """Run one section; an exception, or a row that recorded one, marks it failed."""
    start = time.perf_counter()
    try:
        section = fn()
        failed = [row["error"] for row in section["rows"] if "error" in row]
        section = {"ok": not failed, **({"error": failed[0]} if failed else {}), **section}
    except Exception as err:
        section = {"ok": False, "error": describe(err)}
    free_memory()
    return {**section, "seconds": time.perf_counter() - start}


def write_report(out: Path, report: dict, plan: Plan) -> None:
    """gpu_suite.json and gpu_suite.md, from everything measured so far."""
    versions = ", ".join(f"{name} {version}" for name, version in report["versions"].items())
    header = [f"# GPU suite ({report['mode']})", "", f"device: {report['device']}; {versions}", ""]
    if "wall_seconds" in report:
        failed = ", ".join(report["failed"]) or "none"
        header += [f"total wall time: {report['wall_seconds']:.1f} s; failed sections: {failed}", ""]
    markdown = "\n".join(header + [section_markdown(name, s, plan) for name, s in report["sections"].items()])
    (out / "gpu_suite.json").write_text(json.dumps(report, indent=2))
    (out / "gpu_suite.md").write_text(markdown)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for gpu_suite.json and gpu_suite.md")
    parser.add_argument(
        "--cpu-smoke",
        action="store_true",
        help="every section on CPU with tiny configs and few steps: checks the code, not the speed",
    )
    args = parser.parse_args(argv)
    if not args.cpu_smoke and not torch.cuda.is_available():
        parser.error("no CUDA device: run this on a GPU machine, or pass --cpu-smoke for the small CPU check")

    started = time.perf_counter()
    plan = SMOKE_PLAN if args.cpu_smoke else GPU_PLAN
    device = torch.device("cpu") if args.cpu_smoke else torch.device("cuda", 0)
    args.out.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    report = {
        "mode": "cpu-smoke" if args.cpu_smoke else "gpu",
        "device": (
            torch.cuda.get_device_name(device)
            if device.type == "cuda"
            else f"CPU, {threads} thread{'s' * (threads > 1)}"
        ),
        "versions": {
            name: importlib.metadata.version(name) for name in ("torch", "transformers", "peft", "bitsandbytes")
        },
        "plan": dataclasses.asdict(plan),
        "sections": {},
    }
    sections = {
        "finetune_throughput": lambda: finetune_section(plan),
        "lora_training_encoder": lambda: training_section("encoder", plan, device),
        "lora_training_decoder": lambda: training_section("decoder", plan, device),
        "quantization_encoder": lambda: quantization_section("encoder", plan, device),
        "quantization_decoder": lambda: quantization_section("decoder", plan, device),
    }
    for name, fn in sections.items():
        print(f"\n=== {name} ===", flush=True)
        report["sections"][name] = run_section(fn)
        print(section_markdown(name, report["sections"][name], plan), flush=True)
        write_report(args.out, report, plan)

    report["failed"] = [name for name, s in report["sections"].items() if not s["ok"]]
    report["wall_seconds"] = time.perf_counter() - started
    write_report(args.out, report, plan)
    print(f"\nwrote {args.out / 'gpu_suite.json'} and {args.out / 'gpu_suite.md'}")
    print(
        f"total wall time: {report['wall_seconds']:.1f} s (imports not included); "
        f"failed sections: {', '.join(report['failed']) or 'none'}"
    )
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
