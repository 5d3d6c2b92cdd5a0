"""The engine's checkpoints: everything the next epoch depends on, so a killed run resumes exactly.

A checkpoint holds the weights, the optimizer moments, the schedule position, the loss scale, every
random number generator and the loop's own counters. Files are written under a temporary name and
renamed into place: a crash mid-write never replaces the last good checkpoint with half of one.
"""

from __future__ import annotations

import math
import os
import random
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch
from torch.optim.lr_scheduler import LambdaLR

if TYPE_CHECKING:
    from reference_solutions.engine import TrainConfig

# Config entries that describe where a model came from or how it is run, not what it computes.
_IGNORED_CONFIG_KEYS = {
    "_name_or_path",
    "transformers_version",
    "dtype",
    "torch_dtype",
    "architectures",
    "output_attentions",
    "output_hidden_states",
    "return_dict",
}


@dataclass
class LoopState:
    """The training loop's own counters: together with the weights, optimizer, schedule, scaler and
    RNG states they are everything a resumed run needs."""

    epoch: int = 0  # epochs completed
    global_step: int = 0
    best_val_macro_f1: float = -math.inf
    best_epoch: int = 0
    epochs_without_improvement: int = 0
    history: list[dict] = field(default_factory=list)

    def end_epoch(self, epoch: int, val_macro_f1: float) -> bool:
        """Count `epoch` as done; True when its val macro-F1 is the best so far (the epoch to keep)."""
        improved = val_macro_f1 > self.best_val_macro_f1
        if improved:
            self.best_val_macro_f1, self.best_epoch, self.epochs_without_improvement = val_macro_f1, epoch, 0
        else:
            self.epochs_without_improvement += 1
        self.epoch = epoch
        return improved


def rng_states() -> dict[str, Any]:
    """Every generator a training step may draw from. Dropout masks come from torch's."""
    numpy_state = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (numpy_state[0], numpy_state[1].tolist(), *numpy_state[2:]),  # lists: loadable safely
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def restore_rng_states(states: dict[str, Any]) -> None:
    """Put every generator back where `rng_states` found it."""
    random.setstate(states["python"])
    name, keys, *rest = states["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(states["torch"])
    if states["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def _replace(path: Path, write: Callable[[Path], None]) -> None:
    """`write` the file under a temporary name, then rename it to `path`. Written straight to disk
    rather than through `course.files.atomic_write`, which takes the bytes in memory: a full-profile
    checkpoint (weights plus AdamW moments) runs to gigabytes."""
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    os.replace(tmp, path)


def save_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: LambdaLR,
    scaler: torch.amp.GradScaler,
    config: TrainConfig,
    loop: LoopState,
) -> None:
    """Write everything the next epoch depends on, atomically."""
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": rng_states(),
        "loop": asdict(loop),
        "train_config": config.as_dict(),
        "model_config": {**model.config.to_dict(), "num_labels": model.config.num_labels},
    }
    _replace(path, lambda tmp: torch.save(state, tmp))


def keep_best(last_path: Path, best_path: Path) -> None:
    """Copy the checkpoint just written to `best_path`, atomically: best.pt is never half-written either."""
    _replace(best_path, lambda tmp: shutil.copyfile(last_path, tmp))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint as a dict, on the CPU. `weights_only=True`: tensors and plain Python values only,
    so loading a checkpoint file cannot run code."""
    return torch.load(path, map_location="cpu", weights_only=True)


def check_compatible(checkpoint: dict[str, Any], path: Path, model: torch.nn.Module, config: TrainConfig) -> None:
    """Refuse a checkpoint made for another model before touching any tensor: `load_state_dict` would
    otherwise fail with a wall of shape errors or, with equal shapes (other labels), quietly succeed."""
    saved = {"model_name": checkpoint["train_config"]["model_name"], **checkpoint["model_config"]}
    current = {"model_name": config.model_name, **model.config.to_dict(), "num_labels": model.config.num_labels}
    differing = sorted(
        k for k in saved.keys() | current.keys() if k not in _IGNORED_CONFIG_KEYS and saved.get(k) != current.get(k)
    )
    if differing:

        def short(value: Any) -> str:
            text = repr(value)
            return text if len(text) <= 60 else text[:57] + "..."

        details = "; ".join(f"{k}: checkpoint {short(saved.get(k))}, model {short(current.get(k))}" for k in differing)
        raise ValueError(
            f"checkpoint {path} was made for another model ({details}). Resume with the model "
            "it was made for, or start a fresh run without resume_from."
        )


def resume(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: LambdaLR,
    scaler: torch.amp.GradScaler,
    config: TrainConfig,
) -> LoopState:
    """Load a `last.pt` into the run's model, optimizer, schedule, scaler and generators; the loop's
    counters. The interrupted run's `best.pt` must sit in `config.output_dir`: the run ends on it."""
    checkpoint = load_checkpoint(path)
    check_compatible(checkpoint, path, model, config)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    scaler.load_state_dict(checkpoint["scaler"])
    restore_rng_states(checkpoint["rng"])
    loop = LoopState(**checkpoint["loop"])
    best_path = config.output_dir / "best.pt"
    if not best_path.is_file():
        raise FileNotFoundError(
            f"{best_path} is missing: resume with output_dir set to the interrupted "
            f"run's folder (the one holding {path.name} and best.pt)"
        )
    print(f"resumed from {path}: epoch {loop.epoch} done, step {loop.global_step}")
    return loop
