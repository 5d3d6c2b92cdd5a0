"""Week 5's CPU INT8 path against full precision: ONNX Runtime dynamic INT8 vs PyTorch fp32 (the
anchor), with bitsandbytes' CPU INT8 and NF4 beside them, on one saved ModernBERT.

    HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 .venv/bin/python benchmarks/cpu_int8.py [--size small|base]

The model is built from a config with random weights (latency depends on shapes, not values): `small`
is hidden 256 / 4 layers (about a minute), `base` is ModernBERT-base's shape (several minutes). Inputs
are token ids with the real complaints' length profile (median 63 tokens, 15% cut at 128). Reported per
variant: ms per example at batch 1 and 32 (median over repeats, after a warm-up batch), weight size,
argmax agreement with fp32, and the speed-up over fp32. One thread for every engine (torch and ONNX
Runtime), so the ratio compares kernels rather than thread scheduling on a shared machine.
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
import torch
import transformers
from finetune_throughput import synthetic_examples  # benchmarks/ is on sys.path when run as a script

from reference_solutions import compression, measure

SMALL = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=512)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=["small", "base"], default="small")
    parser.add_argument("--examples", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)

    config = transformers.ModernBertConfig(num_labels=113, **(SMALL if args.size == "small" else {}))
    model = transformers.ModernBertForSequenceClassification(config).eval()
    special = {config.pad_token_id, config.cls_token_id, config.sep_token_id, config.bos_token_id, config.eos_token_id}
    sequences = synthetic_examples(args.examples, config.vocab_size, special, np.random.default_rng(0))
    rows, reference = [], None
    with tempfile.TemporaryDirectory(prefix="cpu-int8-") as folder:
        model.save_pretrained(folder)
        for precision in ("fp", "onnx_int8", "int8", "nf4"):
            variant = compression.load_variant(folder, precision, torch.device("cpu"), config.pad_token_id)
            logits = variant.logits(sequences)
            reference = logits if reference is None else reference
            rows.append(
                {
                    "variant": precision,
                    "weight_mb": variant.weight_bytes / 2**20,
                    "agree": float((logits.argmax(1) == reference.argmax(1)).mean()),
                    **{
                        f"bs{bs}_ms": measure.latency_ms(variant.logits, sequences, bs, args.repeats)["median_ms"]
                        for bs in (1, 32)
                    },
                }
            )
    fp = rows[0]
    print(f"ModernBERT {args.size} (hidden {config.hidden_size}, {config.num_hidden_layers} layers), CPU, 1 thread")
    print(
        f"{'variant':10s} {'weights MB':>10s} {'bs1 ms/ex':>10s} {'bs32 ms/ex':>11s} {'speed-up bs1':>13s} "
        f"{'speed-up bs32':>14s} {'argmax = fp32':>14s}"
    )
    for r in rows:
        print(
            f"{r['variant']:10s} {r['weight_mb']:10.1f} {r['bs1_ms']:10.2f} {r['bs32_ms']:11.2f} "
            f"{fp['bs1_ms'] / r['bs1_ms']:12.2f}x {fp['bs32_ms'] / r['bs32_ms']:13.2f}x {r['agree']:14.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
