"""Week 5: the same trained classifier at lower precision, and what each precision costs and breaks.

Four variants of one saved model:

* `fp`: full precision (bf16 on a GPU of compute capability >= 8, fp16 on older GPUs, fp32 on CPU).
* `int8`: bitsandbytes LLM.int8, every Linear layer's weights stored in 8 bits (outlier columns kept
  in 16 bits). On CUDA and, since bitsandbytes 0.45, on CPU.
* `nf4`: bitsandbytes 4-bit NormalFloat weights, computed in the fp dtype.
* `onnx_int8`: the CPU deployment path. The model exported to ONNX and quantized by ONNX Runtime's
  dynamic quantization (weights int8 per channel, activations quantized per batch on the fly), run by
  ONNX Runtime's CPU kernels. `torch.ao` dynamic quantization is deprecated, and torchao's int8 CPU
  path was slower than fp32 in eager mode here; ONNX Runtime is what a CPU service would run.

The classification head stays in full precision in every variant (`KEEP`): it is small and freshly
trained, and bitsandbytes' 4-bit layers on CPU need it skipped.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from reference_solutions import engine

PRECISIONS = ("fp", "int8", "nf4", "onnx_int8")
KEEP = ["classifier", "score"]  # classification heads (ModernBERT, Qwen2) stay in full precision


def fp_dtype(device: torch.device) -> torch.dtype:
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.get_device_capability(device)[0] >= 8 else torch.float16


@dataclass
class Variant:
    """A loaded variant: `logits(sequences)` runs it on token id sequences; `weight_bytes` is its
    weights' size (in memory for torch models, the file for ONNX)."""

    precision: str
    logits: Callable[[Sequence[Sequence[int]]], np.ndarray]
    weight_bytes: int
    model: object  # the transformers model, or the onnxruntime InferenceSession


def bnb_config(precision: str, compute_dtype: torch.dtype):
    """bitsandbytes' config for "int8" (LLM.int8) or "nf4" (4-bit NormalFloat computing in
    `compute_dtype`), with the classification heads kept in full precision."""
    from transformers import BitsAndBytesConfig

    if precision == "int8":
        return BitsAndBytesConfig(load_in_8bit=True, llm_int8_skip_modules=KEEP)
    if precision == "nf4":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=compute_dtype,
            llm_int8_skip_modules=KEEP,
        )
    raise ValueError(f"bitsandbytes precisions are int8 and nf4, not {precision!r}")


def load_variant(
    folder: str | Path,
    precision: str,
    device: torch.device,
    pad_token_id: int,
    batch_size: int = 64,
    max_length: int = 128,
) -> Variant:
    """The model saved in `folder` (by `save_pretrained`) at `precision`. `max_length` is the longest
    input the ONNX export must serve (the course truncates at 128 tokens)."""
    from transformers import AutoModelForSequenceClassification

    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {PRECISIONS}")
    folder = Path(folder)
    if precision == "onnx_int8":
        return _onnx_variant(folder, pad_token_id, batch_size, max_length)
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)  # one cast warning per matmul otherwise
    dtype = fp_dtype(device)
    if precision == "fp":
        model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=dtype).to(device)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            folder, quantization_config=bnb_config(precision, dtype), device_map={"": device}
        )
    model.eval()

    def logits(sequences: Sequence[Sequence[int]]) -> np.ndarray:
        return engine.predict_logits(model, sequences, pad_token_id, batch_size, "fp32")

    return Variant(precision, logits, int(model.get_memory_footprint()), model)


def quantized_layers(model: torch.nn.Module) -> dict[str, int]:
    """How many Linear layers are stored in 8 bits and in 4 bits, and how many stayed full precision."""
    import bitsandbytes as bnb

    kinds = {"int8": bnb.nn.Linear8bitLt, "4bit": bnb.nn.Linear4bit}
    counts = {name: sum(isinstance(m, kind) for m in model.modules()) for name, kind in kinds.items()}
    counts["full"] = sum(type(m) is torch.nn.Linear for m in model.modules())
    return counts


# ---------------------------------------------------------------------------------------------------
# ONNX Runtime
# ---------------------------------------------------------------------------------------------------


class _Logits(torch.nn.Module):
    """The classifier as a function of (input_ids, attention_mask) -> logits, for the exporter."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def export_onnx(folder: str | Path, out: str | Path, max_length: int) -> Path:
    """Export the fp32 model in `folder` to ONNX with dynamic batch and length axes. The example input
    is `max_length` long, so every length-dependent branch (ModernBERT's sliding-window mask) is traced
    on the path that long inputs take, and shorter ones are masked by the same graph."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32).eval()
    ids = torch.full((2, max_length), model.config.pad_token_id or 0, dtype=torch.long)
    ids[:, 0] = model.config.bos_token_id if model.config.bos_token_id is not None else 1
    mask = torch.ones_like(ids)
    mask[1, max_length // 2 :] = 0
    out = Path(out)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer notes on shape-dependent Python branches, covered above
        torch.onnx.export(
            _Logits(model),
            (ids, mask),
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=["logits"],
            dynamo=False,
            opset_version=17,
            dynamic_axes={
                "input_ids": {0: "batch", 1: "length"},
                "attention_mask": {0: "batch", 1: "length"},
                "logits": {0: "batch"},
            },
        )
    return out


def quantize_onnx(src: str | Path, dst: str | Path) -> Path:
    """ONNX Runtime dynamic quantization: int8 weights (per output channel) for every MatMul and Gemm
    except the classification head's."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(src), load_external_data=False).graph
    keep = [n.name for n in graph.node if any(k in n.name for k in KEEP)]
    root = logging.getLogger()
    level, root.level = root.level, logging.ERROR  # it advises a pre-processing pass that changes nothing here
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True, nodes_to_exclude=keep)
    finally:
        root.setLevel(level)
    return Path(dst)


def _onnx_variant(folder: Path, pad_token_id: int, batch_size: int, max_length: int) -> Variant:
    """Export and quantize once (the files stay in `folder`), then run with ONNX Runtime on CPU."""
    import onnxruntime as ort

    path = folder / "model.int8.onnx"
    if not path.is_file():
        quantize_onnx(export_onnx(folder, folder / "model.onnx", max_length), path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # as many threads as torch has: a fair race
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def logits(sequences: Sequence[Sequence[int]]) -> np.ndarray:
        order = np.argsort([len(s) for s in sequences], kind="stable")
        parts = []
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            ids, mask = engine.pad_batch([sequences[i] for i in rows], pad_token_id)
            parts.append(session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0])
        out = np.empty((len(sequences), parts[0].shape[1]), dtype=np.float32)
        out[order] = np.concatenate(parts)
        return out

    return Variant("onnx_int8", logits, path.stat().st_size, session)
