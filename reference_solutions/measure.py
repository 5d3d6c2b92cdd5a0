"""What a model costs to run: latency per example, size, peak memory. Weeks 3, 5 and 6 and the GPU
suite measure the same way, so their numbers sit on one table.

Latency is wall time per example for `predict(texts)`, tokenization included (what a caller waits for),
median over timed batches after an untimed warm-up batch (first calls allocate and pick kernels), with
the GPU synchronised around each batch. Peak memory is the CUDA allocator's high-water mark on GPU; on
CPU it is the growth of the process's resident set while the model is loaded and run, sampled every
millisecond (an approximation: memory freed earlier and reused does not show as growth).
"""

from __future__ import annotations

import io
import os
import platform
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def latency_ms(
    predict: Callable[[list[str]], np.ndarray], texts: Sequence[str], batch_size: int, repeats: int = 5
) -> dict[str, float]:
    """Milliseconds per example at `batch_size`: median and p90 over `repeats` timed batches."""
    texts = list(texts)
    if len(texts) < batch_size:
        raise ValueError(f"latency at batch {batch_size} needs at least {batch_size} texts, got {len(texts)}")
    predict(texts[:batch_size])
    times = []
    for i in range(repeats):
        start = (i * batch_size) % (len(texts) - batch_size + 1)
        batch = texts[start : start + batch_size]
        _sync()
        began = time.perf_counter()
        predict(batch)
        _sync()
        times.append(1000 * (time.perf_counter() - began) / len(batch))
    return {
        "median_ms": float(np.median(times)),
        "p90_ms": float(np.percentile(times, 90)),
        "batch_size": batch_size,
        "repeats": repeats,
    }


def state_dict_bytes(model: torch.nn.Module) -> int:
    """Bytes of the model's weights as `torch.save` writes them (quantized tensors at their stored width)."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.tell()


def folder_bytes(folder: str | Path) -> int:
    """Size on disk of a saved model or adapter folder."""
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:  # Linux: the second field is resident pages
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """`with PeakMemory(device) as peak: ...` then `peak.mb`: CUDA max allocated during the block, or
    on CPU the peak growth of resident memory over its value when the block began."""

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.mb = 0.0
        self._stop = threading.Event()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, _rss_bytes())
            time.sleep(0.001)

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._start = torch.cuda.memory_allocated(self.device)
        else:
            self._start = self._peak = _rss_bytes()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.mb = (torch.cuda.max_memory_allocated(self.device) - self._start) / 2**20
        else:
            self._stop.set()
            self._thread.join()
            self._peak = max(self._peak, _rss_bytes())
            self.mb = (self._peak - self._start) / 2**20

    @property
    def kind(self) -> str:
        return "cuda_max_allocated" if self.device.type == "cuda" else "cpu_rss_growth_sampled"


def peak_memory_mb(device: torch.device) -> float:
    """A training run's memory cost: CUDA max allocated since the run reset the counter, or on CPU the
    process's max resident set size (which includes whatever ran before)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    import resource  # POSIX only, hence imported here

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # macOS reports bytes, Linux KiB


def hardware(device: torch.device, precision: str) -> dict[str, Any]:
    """What a run ran on, so its throughput can be compared with runs on other machines."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return {
            "device": "cuda",
            "name": torch.cuda.get_device_name(device),
            "compute_capability": f"{major}.{minor}",
            "precision": precision,
        }
    return {
        "device": "cpu",
        "name": platform.processor() or platform.machine(),
        "compute_capability": None,
        "precision": precision,
        "threads": torch.get_num_threads(),
    }
