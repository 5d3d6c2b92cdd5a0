"""Where and in what precision the engine runs, and the seeding that makes a run repeatable.

bf16 on Ampere and newer GPUs (no loss scaling needed), fp16 with a gradient scaler on older ones
(T4), fp32 on CPU, where autocast is slower for these models.
"""

from __future__ import annotations

import contextlib
import random

import numpy as np
import torch

from course import profiles


def resolve_device(name: str) -> torch.device:
    """'auto' is CUDA when present, else CPU. Asking for CUDA without one fails now, not mid-run."""
    resolved = profiles.resolve_device(name)
    if resolved.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} but torch.cuda.is_available() is False; use 'auto' or 'cpu'")
    return torch.device(resolved)


def resolve_precision(precision: str, device: torch.device) -> str:
    """The precision a run really uses. On GPUs of compute capability >= 8 (A100, L4, H100) bf16: it
    has fp32's range, so no loss scaling. Below (T4, V100) fp16, whose small range needs the gradient
    scaler, and bf16 is not fast there. On CPU fp32: autocast there is slower for these models."""
    if device.type != "cuda":
        if precision not in ("auto", "fp32"):
            raise ValueError(f"precision={precision!r} needs a CUDA device; on CPU the engine trains in fp32")
        return "fp32"
    if precision != "auto":
        return precision
    major, _ = torch.cuda.get_device_capability(device)
    return "bf16" if major >= 8 else "fp16"


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Mixed precision for the forward pass: matmuls in fp16/bf16, softmax, norms and losses in fp32
    (autocast's own per-op rules). A no-op in fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and every GPU): model init and dropout depend on them."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
