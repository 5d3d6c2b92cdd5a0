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
from dataclasses import asdict, dataclass, field
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


@dataclass
class SplitPredictions:
    """One split's predicted labels with their row ids (never bare positions: rows can be reordered)."""

    ids: list
    labels: list


@dataclass
class RunRecord:
    """A run as `final_evaluation` wrote it.

    The types here are the shape the grader may rely on without checking again; what the values mean
    (the ids are the split's, the labels in range, the fingerprints the course's) is for the grading
    layers to judge and report. Keys this harness does not know are kept in `other`, so a record reads
    and writes back unchanged. A dataclass, not pydantic: the student's install stays light, and the
    validation is a dozen explicit lines with messages that name the field.
    """

    run: str
    course: dict
    fingerprints: dict
    predictions: dict[str, SplitPredictions]
    metrics: dict[str, dict]
    settings: dict
    access_log: list[dict]
    schema: int = SCHEMA
    created: str | None = None
    calls: int = 1
    predictions_sha256: str | None = None
    previous_calls: list[dict] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    environment: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    scores: dict | None = None
    other: dict = field(default_factory=dict)
    digest_matches: bool | None = field(default=None, compare=False)  # set by from_json; None: no digest

    @property
    def val_macro_f1(self) -> float:
        return float(self.metrics["val"]["macro_f1"])

    def ms_per_example(self, split: str = "test") -> float | None:
        return (self.timings.get(split) or {}).get("ms_per_example")

    @classmethod
    def from_json(cls, data: object, source: str) -> RunRecord:
        """Validate a record's JSON; a RecordError names `source` and the first field that is wrong."""
        if not isinstance(data, dict):
            raise RecordError(f"{source}: expected a JSON object at the top level")
        missing = [key for key in REQUIRED if key not in data]
        if missing:
            raise RecordError(f"{source}: missing field(s) {', '.join(missing)}")
        if data["schema"] != SCHEMA:
            raise RecordError(f"{source}: schema {data['schema']!r}, this harness reads schema {SCHEMA}")
        known = set(_ORDER)
        for name, kind in _TYPES.items():
            if name in data and not isinstance(data[name], kind):
                raise RecordError(f"{source}: field {name!r} should be {_NAMES[kind]}, got {type(data[name]).__name__}")
        for name in ("access_log", "previous_calls"):
            if not all(isinstance(entry, dict) for entry in data.get(name, [])):
                raise RecordError(f"{source}: every entry of {name!r} should be an object")
        predictions = {}
        for split, pred in data["predictions"].items():
            if not (
                isinstance(pred, dict) and isinstance(pred.get("ids"), list) and isinstance(pred.get("labels"), list)
            ):
                raise RecordError(f"{source}: predictions.{split} needs lists 'ids' and 'labels'")
            if not all(isinstance(i, str) for i in pred["ids"]):
                raise RecordError(f"{source}: predictions.{split}.ids should be the split's row ids (strings)")
            predictions[split] = SplitPredictions(pred["ids"], pred["labels"])
        val = data["metrics"].get("val")
        if (
            not isinstance(val, dict)
            or isinstance(val.get("macro_f1"), bool)
            or not isinstance(val.get("macro_f1"), (int, float))
        ):
            raise RecordError(f"{source}: metrics.val.macro_f1 should be a number")
        stored = data.get("provenance", {}).get("digest")
        values = {k: v for k, v in data.items() if k in known and k != "predictions"}
        return cls(
            **values,
            predictions=predictions,
            other={k: v for k, v in data.items() if k not in known},
            digest_matches=None if not stored else stored == record_digest(data),
        )

    def to_json(self) -> dict:
        """The record's JSON object: the fields in the order `final_evaluation` writes them (the optional
        ones only when set), then `other`."""
        out = {name: getattr(self, name) for name in _ORDER if getattr(self, name) is not None}
        out["predictions"] = {split: asdict(pred) for split, pred in self.predictions.items()}
        return {**out, **self.other}


_ORDER = (
    "schema",
    "run",
    "created",
    "calls",
    "predictions_sha256",
    "previous_calls",
    "course",
    "fingerprints",
    "predictions",
    "metrics",
    "settings",
    "timings",
    "environment",
    "provenance",
    "access_log",
    "extra",
    "scores",
)
_TYPES = {
    "run": str,
    "course": dict,
    "fingerprints": dict,
    "predictions": dict,
    "metrics": dict,
    "settings": dict,
    "access_log": list,
    "created": (str, type(None)),
    "calls": int,
    "predictions_sha256": (str, type(None)),
    "previous_calls": list,
    "timings": dict,
    "environment": dict,
    "provenance": dict,
    "extra": dict,
    "scores": (dict, type(None)),
}
_NAMES = {str: "a string", dict: "an object", list: "a list", int: "an integer"} | {
    (str, type(None)): "a string or null",
    (dict, type(None)): "an object or null",
}


def record_path(runs_dir: Path, run: str) -> Path:
    if not isinstance(run, str) or not RUN_NAME.match(run):
        raise ValueError(
            f"run name {run!r} is not usable as a file name: use letters, digits, '_', '-', '.' "
            f"(e.g. run='week1_modernbert')"
        )
    return Path(runs_dir) / f"{run}.json"


def write_record(path: Path, record: RunRecord, scores: dict[str, np.ndarray] | None = None) -> Path:
    """Write the record (and its scores file, if any) atomically, with the digest of its contents;
    returns the record's path."""
    if scores:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **{k: np.asarray(v, dtype=np.float32) for k, v in scores.items()})
        payload = buffer.getvalue()
        scores_path = path.with_suffix(".scores.npz")
        atomic_write(scores_path, payload)
        record.scores = {"file": scores_path.name, "sha256": hashlib.sha256(payload).hexdigest()}
    data = record.to_json()
    if record.provenance:
        data["provenance"]["digest"] = record_digest(data)
    atomic_write(path, json.dumps(data, indent=1))
    return path


def read_record(path: Path) -> RunRecord:
    """Read a record and check it has every field the grader relies on, in the shape it relies on."""
    path = Path(path)
    if not path.is_file():
        raise RecordError(f"run record not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RecordError(f"{path}: not valid JSON ({err})") from err
    return RunRecord.from_json(data, str(path))


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


def predictions_digest(predictions: dict[str, SplitPredictions]) -> str:
    """sha256 of a record's val and test predictions: a repeated final_evaluation that changed them shows."""
    plain = {s: asdict(predictions[s]) for s in sorted(predictions)}
    text = json.dumps(plain, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
