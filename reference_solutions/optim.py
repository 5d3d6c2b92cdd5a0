"""Loss weights, the optimizer and the learning-rate schedule of the fine-tuning engine (the week-1 and
week-2 recipes: class weights with mean 1, AdamW without decay on biases and norms, warmup then decay)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR


def class_weights(labels: Sequence[int], num_labels: int, kind: str = "sqrt_inverse") -> torch.Tensor:
    """Per-class loss weights from train label counts: count^0 (none), count^-1 (inverse) or
    count^-1/2 (sqrt_inverse, the week-2 recipe), scaled to mean 1 over the classes present in train,
    so the loss keeps the scale the learning rate was tuned for. Classes absent from train get 0: no
    training example ever carries their weight."""
    power = {"none": 0.0, "sqrt_inverse": 0.5, "inverse": 1.0}[kind]
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=num_labels).astype(np.float64)
    present = counts > 0
    weights = np.zeros(num_labels)
    weights[present] = counts[present] ** -power
    weights /= weights[present].mean()
    return torch.tensor(weights, dtype=torch.float32)


def build_optimizer(
    model: torch.nn.Module, learning_rate: float, weight_decay: float, fused: bool
) -> torch.optim.AdamW:
    """AdamW over the trainable parameters, decaying matrices only: biases and LayerNorm weights
    (the 1-D tensors) set scales and offsets, and pulling them to 0 distorts the layer rather than
    regularising it. `fused` runs the whole update as a single CUDA kernel."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=learning_rate, fused=fused)


def lr_multiplier(step: int, warmup_steps: int, total_steps: int, schedule: str) -> float:
    """Learning rate at optimizer step `step` as a fraction of the peak: a linear ramp from 0 to 1 over
    `warmup_steps` (as transformers' get_linear_schedule_with_warmup), then 1 (constant), a straight
    line down to 0 at `total_steps` (linear) or half a cosine wave down to 0 (cosine)."""
    if step < warmup_steps:
        return step / warmup_steps
    if schedule == "constant":
        return 1.0
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    if schedule == "linear":
        return 1.0 - progress
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def build_scheduler(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, schedule: str) -> LambdaLR:
    """Warmup then decay, stepped once per optimizer step."""
    return LambdaLR(optimizer, lambda step: lr_multiplier(step, warmup_steps, total_steps, schedule))
