"""Fine-tuning throughput: the course's homework recipe against the engine's training step.

On a GPU (the ModernBERT-base shape, built from its config with random weights: nothing is downloaded):

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/finetune_throughput.py --gpu --json bench_gpu.json

On CPU (the default where there is no GPU: a small ModernBERT config, about a minute):

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/finetune_throughput.py

One CPU thread, so that the numbers measure the work done rather than OpenMP's per-op
synchronisation, which dominates these small ops on a shared 2-core VM.

Both sides train the same model config from the same initial weights on the same examples with the same
hyperparameters (AdamW, lr 3e-5, weight decay 0.01, 10% warmup then linear decay, grad clip 1.0, batch 32):

* course recipe (the week-1 homework, HF Trainer style): every example padded to 128 tokens
  (padding="max_length"), random batch order, fp16 autocast with a GradScaler on GPU (fp32 on CPU),
  plain `torch.optim.AdamW` (default foreach implementation, not fused), loss from `model(..., labels=)`.
* engine (`reference_solutions.engine`): length-grouped batches padded to their longest example
  (rounded up to a multiple of 8), bf16 autocast on GPUs of compute capability >= 8 (fp16 + scaler
  below, fp32 on CPU), fused AdamW on GPU, its `train_step`.

The texts are synthetic token ids whose lengths follow the real data: a lognormal with median 63
tokens and 15% of examples above 128 (cut at 128), the two facts measured on the CFPB complaints.
Throughput is measured over `--steps` steps after `--warmup` steps, on one pool of examples both
sides see (`torch.cuda.synchronize()` around the timed region on GPU). FLOPs count REAL (unpadded)
tokens only: 6 x non-embedding parameters x tokens, plus attention 12 x layers x hidden x length^2
per example, so padding counts as waste. MFU divides by `--peak-tflops`, default 989: the dense bf16
peak of an H100/H200 SXM (use 312 for an A100, 65 for a T4's fp16).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import transformers

from reference_solutions import engine

NUM_LABELS = 113
MAX_LENGTH = 128
MEDIAN_TOKENS, SHARE_TRUNCATED = 63, 0.15  # measured on the real complaints (ModernBERT tokenizer)
SMALL = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=512)


def synthetic_examples(n: int, vocab_size: int, special_ids: set[int], rng: np.random.Generator) -> list[list[int]]:
    """Token id sequences with the real data's length profile. Lognormal: median exp(mu) = 63, and
    P(length > 128) = 0.15 fixes sigma = ln(128 / 63) / z_0.85."""
    sigma = math.log(MAX_LENGTH / MEDIAN_TOKENS) / statistics.NormalDist().inv_cdf(1 - SHARE_TRUNCATED)
    lengths = np.clip(np.rint(rng.lognormal(math.log(MEDIAN_TOKENS), sigma, size=n)), 4, MAX_LENGTH).astype(int)
    ordinary = np.setdiff1d(np.arange(vocab_size), sorted(special_ids))
    return [rng.choice(ordinary, size=length).tolist() for length in lengths]


def course_step(model, batch, optimizer, scheduler, scaler, precision: str) -> torch.Tensor:
    """The homework's step, as HF Trainer runs it: loss from the model, scaled backward, clip, step."""
    with engine.autocast(batch["input_ids"].device, precision):
        loss = model(**batch).loss
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def run_side(side: str, init_model, examples, labels, warmup_batches, timed_batches, device, args) -> dict:
    """Train a copy of `init_model` on `warmup_batches`, then time `timed_batches`."""
    model = copy.deepcopy(init_model).to(device).train()
    pad_id = model.config.pad_token_id
    total_steps = len(warmup_batches) + len(timed_batches)
    warmup_steps = round(0.1 * total_steps)
    if side == "course":
        precision = "fp16" if device.type == "cuda" else "fp32"
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-5, weight_decay=0.01)
        width = MAX_LENGTH  # padding="max_length"
    else:
        precision = engine.resolve_precision("auto", device)
        optimizer = engine.build_optimizer(model, 3e-5, 0.01, fused=device.type == "cuda")
        width = 8  # pad to the batch's longest, rounded up to a multiple of 8
    scheduler = engine.build_scheduler(optimizer, warmup_steps, total_steps, "linear")
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    loss_fn = torch.nn.CrossEntropyLoss()
    forward = torch.compile(model) if side == "engine" and args.compile else model

    def step(indices: list[int]) -> torch.Tensor:
        input_ids, attention_mask = engine.pad_batch([examples[i] for i in indices], pad_id, width)
        batch = {
            "input_ids": input_ids.to(device),
            "attention_mask": attention_mask.to(device),
            "labels": torch.as_tensor(labels[indices]).to(device),
        }
        if side == "course":
            return course_step(model, batch, optimizer, scheduler, scaler, precision)
        return engine.train_step(forward, batch, loss_fn, optimizer, scheduler, scaler, precision, 1.0)

    for indices in warmup_batches:
        step(indices)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    losses = [step(indices) for indices in timed_batches]
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start

    real = [len(examples[i]) for b in timed_batches for i in b]
    padded = sum(
        len(b) * (width if side == "course" else math.ceil(max(len(examples[i]) for i in b) / 8) * 8)
        for b in timed_batches
    )
    n_layers, hidden = model.config.num_hidden_layers, model.config.hidden_size
    non_embedding = sum(p.numel() for name, p in model.named_parameters() if "embeddings" not in name)
    flops = 6 * non_embedding * sum(real) + 12 * n_layers * hidden * sum(n * n for n in real)
    result = {
        "side": side,
        "precision": precision,
        "optimizer": ("fused " if side == "engine" and device.type == "cuda" else "") + "AdamW",
        "padding": "max_length 128" if side == "course" else "longest, multiple of 8",
        "order": "random" if side == "course" else "length-grouped",
        "steps": len(timed_batches),
        "seconds": seconds,
        "ms_per_step": 1000 * seconds / len(timed_batches),
        "examples_per_s": len(real) / seconds,
        "real_tokens_per_s": sum(real) / seconds,
        "padding_share": 1 - sum(real) / padded,
        "tflops_per_s_real": flops / seconds / 1e12,
        "final_loss": float(torch.stack(losses[-5:]).float().mean()),
    }
    if device.type == "cuda":
        result["mfu_real_tokens"] = result["tflops_per_s_real"] / args.peak_tflops
        result["peak_memory_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    model = optimizer = forward = None  # the closure holds them: drop them before emptying the CUDA cache
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--gpu",
        action="store_true",
        help="run on CUDA with the ModernBERT-base shape (the default when CUDA is available)",
    )
    parser.add_argument("--cpu", action="store_true", help="run on CPU even when CUDA is available")
    parser.add_argument("--model-size", choices=["small", "base"], help="default: base on GPU, small on CPU")
    parser.add_argument("--steps", type=int, help="timed steps per side (default: 100 on GPU, 20 on CPU)")
    parser.add_argument("--warmup", type=int, help="untimed steps first (default: 10 on GPU, 2 on CPU)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--peak-tflops", type=float, default=989.0, help="the accelerator's dense bf16 peak; 989 = H100/H200 SXM"
    )
    parser.add_argument("--compile", action="store_true", help="torch.compile the engine side")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args(argv)

    if args.gpu and not torch.cuda.is_available():
        parser.error("--gpu given but torch.cuda.is_available() is False")
    device = torch.device("cuda" if (args.gpu or torch.cuda.is_available()) and not args.cpu else "cpu")
    on_gpu = device.type == "cuda"
    size = args.model_size or ("base" if on_gpu else "small")
    steps = args.steps or (100 if on_gpu else 20)
    warmup = args.warmup if args.warmup is not None else (10 if on_gpu else 2)

    torch.manual_seed(args.seed)
    config = transformers.ModernBertConfig(num_labels=NUM_LABELS, **(SMALL if size == "small" else {}))
    init_model = transformers.ModernBertForSequenceClassification(config)
    rng = np.random.default_rng(args.seed)
    special = {config.pad_token_id, config.cls_token_id, config.sep_token_id, config.bos_token_id, config.eos_token_id}
    n_warmup, n_timed = warmup * args.batch_size, steps * args.batch_size
    examples = synthetic_examples(n_warmup + n_timed, config.vocab_size, special, rng)
    labels = rng.integers(0, NUM_LABELS, size=len(examples))

    # Warm-up and timed pools are disjoint; within each, both sides see the same examples, each in
    # its own order: random for the course, length-grouped (seed, epoch 1) for the engine.
    pools = {"warmup": np.arange(n_warmup), "timed": np.arange(n_warmup, n_warmup + n_timed)}
    batching = {}
    for side, grouped in (("course", False), ("engine", True)):
        batching[side] = [
            [
                [int(pool[i]) for i in b]
                for b in engine.length_grouped_batches(
                    [len(examples[i]) for i in pool], args.batch_size, args.seed, 1, group_by_length=grouped
                )
            ]
            for pool in pools.values()
        ]

    threads = torch.get_num_threads()
    name = torch.cuda.get_device_name(device) if on_gpu else f"CPU, {threads} thread{'s' * (threads > 1)}"
    non_embedding = sum(p.numel() for n, p in init_model.named_parameters() if "embeddings" not in n)
    print(
        f"device: {name}; model: ModernBERT {size} (hidden {config.hidden_size}, {config.num_hidden_layers} "
        f"layers, {non_embedding / 1e6:.1f}M non-embedding params, attention {config._attn_implementation})"
    )
    print(
        f"data: {len(examples)} synthetic examples, median {np.median([len(e) for e in examples]):.0f} tokens, "
        f"{np.mean([len(e) == MAX_LENGTH for e in examples]):.0%} at the {MAX_LENGTH} cap; "
        f"batch {args.batch_size}, {warmup} warm-up + {steps} timed steps per side"
    )

    results = [
        run_side(side, init_model, examples, labels, *batching[side], device, args) for side in ("course", "engine")
    ]

    columns = [
        ("side", "{}"),
        ("precision", "{}"),
        ("optimizer", "{}"),
        ("examples_per_s", "{:.1f}"),
        ("real_tokens_per_s", "{:.0f}"),
        ("padding_share", "{:.0%}"),
        ("ms_per_step", "{:.0f}"),
        ("tflops_per_s_real", "{:.3f}"),
    ]
    if on_gpu:
        columns += [("mfu_real_tokens", "{:.1%}"), ("peak_memory_mb", "{:.0f}")]
    rows = [[fmt.format(r[key]) for key, fmt in columns] for r in results]
    widths = [max(len(key), *(len(row[i]) for row in rows)) for i, (key, _) in enumerate(columns)]
    print()
    print("  ".join(key.ljust(w) for (key, _), w in zip(columns, widths)))
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)))
    ratio = results[1]["examples_per_s"] / results[0]["examples_per_s"]
    print(f"\nengine / course recipe, examples/s: {ratio:.2f}x")
    if on_gpu:
        print(f"MFU is on real (unpadded) tokens against a {args.peak_tflops:g} TFLOP/s peak (--peak-tflops).")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "device": name,
                    "model_size": size,
                    "hidden_size": config.hidden_size,
                    "num_hidden_layers": config.num_hidden_layers,
                    "non_embedding_params": non_embedding,
                    "batch_size": args.batch_size,
                    "steps": steps,
                    "warmup": warmup,
                    "peak_tflops": args.peak_tflops,
                    "torch": torch.__version__,
                    "transformers": transformers.__version__,
                    "results": results,
                    "ratio_examples_per_s": ratio,
                },
                indent=2,
            )
        )
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
