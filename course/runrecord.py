"""Run records: the JSON file `final_evaluation` leaves behind and the grader reads.

A record holds the predictions with their row ids (never bare positions), the val metrics, the split
fingerprints, the settings, timings, the environment and the split-access log. Scores, when the
model gave them, go to a `.scores.npz` beside it (JSON would be tens of MB) and the record pins that
file's sha256. Both are written atomically: a crash mid-write never leaves half a record.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import re
import sys
from pathlib import Path

import numpy as np

from course.errors import UserError
from course.files import atomic_write
from course.provenance import record_digest

SCHEMA = 1
RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
REQUIRED = ("schema", "run", "course", "fingerprints", "predictions", "metrics", "settings", "access_log")


class RecordError(UserError, ValueError):
    """A run record that is missing, unreadable, or lacks a field the grader needs."""


def record_path(runs_dir: Path, run: str) -> Path:
    if not isinstance(run, str) or not RUN_NAME.match(run):
        raise ValueError(
            f"run name {run!r} is not usable as a file name: use letters, digits, '_', '-', '.' "
            f"(e.g. run='week1_modernbert')"
        )
    return Path(runs_dir) / f"{run}.json"


def write_record(path: Path, record: dict, scores: dict[str, np.ndarray] | None = None) -> Path:
    """Write the record (and its scores file, if any) atomically; returns the record's path."""
    if scores:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **{k: np.asarray(v, dtype=np.float32) for k, v in scores.items()})
        payload = buffer.getvalue()
        scores_path = path.with_suffix(".scores.npz")
        atomic_write(scores_path, payload)
        record["scores"] = {"file": scores_path.name, "sha256": hashlib.sha256(payload).hexdigest()}
    if "provenance" in record:
        record["provenance"]["digest"] = record_digest(record)
    atomic_write(path, json.dumps(record, indent=1))
    return path


def read_record(path: Path) -> dict:
    """Read a record and check it has every field the grader relies on."""
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"run record not found: {path}")
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RecordError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(record, dict):
        raise RecordError(f"{path}: expected a JSON object at the top level")
    missing = [key for key in REQUIRED if key not in record]
    if missing:
        raise RecordError(f"{path}: missing field(s) {', '.join(missing)}")
    if record["schema"] != SCHEMA:
        raise RecordError(f"{path}: schema {record['schema']!r}, this harness reads schema {SCHEMA}")
    return record


def environment() -> dict:
    """Versions and hardware, so a number can be traced to what produced it."""
    env = {"python": sys.version.split()[0], "platform": platform.platform(), "numpy": np.__version__}
    for module in ("torch", "transformers", "peft", "sklearn"):
        loaded = sys.modules.get(module)
        if loaded is not None:
            env[module] = getattr(loaded, "__version__", "?")
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
    return env


def predictions_digest(predictions: dict) -> str:
    """sha256 of a record's val and test predictions: a repeated final_evaluation that changed them shows."""
    text = json.dumps({s: predictions[s] for s in sorted(predictions)}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
