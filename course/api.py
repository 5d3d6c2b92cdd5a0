"""The student API: the only door to the course's data, metrics and final evaluation.

`load_course_data` returns train and val, never test. The test texts are reachable only inside
`final_evaluation`, which runs the student's `predict` on val and test once, writes the run record
and shows test metrics only in self-check mode. Every read goes through the logging split store.
Code around a notebook (the grader, the reference pipelines, tests) sets knobs only for a block,
with `configured(...)`, so no run inherits another's course, mode or seed.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from course import metrics, provenance, runrecord
from course.access import SplitStore
from course.catalog import cached_course, config_for
from course.contract import load_contract
from course.profiles import Settings, from_env
from course.slices import slice_frame
from course.splits import fingerprint

settings: Settings = from_env()  # one object for the process: notebooks import it, so it is updated in place
_store: SplitStore | None = None  # the active scope's split store; `configured` swaps it in and out


def store() -> SplitStore:
    """The active scope's split store, built on first use from `settings`."""
    global _store
    if _store is None:
        data = cached_course(
            settings.course,
            str(settings.data_dir) if settings.data_dir else None,
            str(settings.contract_dir) if settings.contract_dir else None,
        )
        _store = SplitStore(data, hide_test_labels=settings.mode == "grading")
    return _store


def _apply(changes: dict[str, Any]) -> None:
    """Set knobs on the shared `settings` object and drop the split store, whose course, mode and
    access log belong to the old values. Unknown names fail before anything changes."""
    global _store
    unknown = [key for key in changes if not hasattr(settings, key)]
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]!r}; settings are {', '.join(vars(settings))}")
    for key, value in changes.items():
        setattr(settings, key, value)
    _store = None


@contextmanager
def configured(**knobs: Any) -> Iterator[Settings]:
    """Use these knobs for the block, then put back the previous ones and their split store.

    How the demo, the grader, the reference pipelines and tests change settings: a block cannot leak
    its course, mode or seed into whatever runs next, even when it raises. The block starts with a
    fresh split store, so a run record written inside it logs only the block's own reads. `settings`
    is changed in place, so `from course import settings` keeps seeing the active values.

    >>> with configured(epochs=5) as active:
    ...     active.epochs
    5
    >>> settings.epochs == 5
    False
    """
    global _store
    saved, saved_store = dict(vars(settings)), _store
    _apply(knobs)
    try:
        yield settings
    finally:
        for key, value in saved.items():
            setattr(settings, key, value)
        _store = saved_store


def course_labels() -> list[str]:
    """The active course's labels, from its contract alone (no raw data is read)."""
    if _store is not None:
        return list(_store.data.contract.labels)
    return load_contract(config_for(settings.course), settings.contract_dir).labels


def load_course_data(tokenizer=None, max_length: int | None = None, slices: bool = False, padding: bool | str = False):
    """(train_ds, val_ds) as `datasets.Dataset`s with columns id, text, label, label_name.

    With a tokenizer, adds input_ids / attention_mask, truncated to `max_length` (default
    `settings.max_length`) and unpadded unless `padding` says otherwise: the collator pads each batch,
    which transformers 5 no longer does for ModernBERT. With `slices=True`, adds the pinned slice
    columns tier / length / redacted / numeric. `settings.max_train_examples` caps train (a seeded
    sample) so grading re-runs stay fast; val is always whole, so val metrics stay comparable.
    """
    import datasets

    st = store()
    frames = [st.read("train", "load_course_data"), st.read("val", "load_course_data")]
    cap = settings.max_train_examples
    if cap is not None and cap < len(frames[0]):
        frames[0] = frames[0].sample(n=cap, random_state=settings.seed).sort_index()
    labels = st.data.contract.labels
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "text": datasets.Value("string"),
            "label": datasets.ClassLabel(names=labels),
            "label_name": datasets.Value("string"),
        }
    )
    out = []
    for frame in frames:
        frame = frame[["id", "text", "label", "label_name"]].reset_index(drop=True)
        ds = datasets.Dataset.from_pandas(frame, features=features, preserve_index=False)
        if slices:
            cols = slice_frame(frame["text"], frame["label"].to_numpy(), st.data.tiers)
            for name in cols.columns:
                ds = ds.add_column(name, cols[name].tolist())
        if tokenizer is not None:
            length = max_length or settings.max_length
            ds = ds.map(
                lambda batch: tokenizer(batch["text"], truncation=True, max_length=length, padding=padding),
                batched=True,
                desc="tokenizing",
            )
        out.append(ds)
    return out[0], out[1]


def evaluate(y_true: Sequence[int], y_pred) -> dict:
    """The course metrics: accuracy, macro-F1 over every course label, weighted F1, zero-F1 count,
    per-class P/R/F1 and the pinned tier F1. `y_pred` may be labels or (n, NUM_LABELS) scores."""
    data = store().data
    return metrics.summary(
        y_true, y_pred, len(data.contract.labels), class_tiers=data.tiers, label_names=data.contract.labels
    )


def _fingerprints(st: SplitStore) -> dict[str, str]:
    """The splits' fingerprints; where test labels are withheld, test's is taken without them."""
    prints = dict(st.data.splits.fingerprints)
    if st.hide_test_labels:
        prints["test"] = fingerprint(st.data.splits.test.drop(columns=["label_name"]))
    return prints


def _run_predict(predict: Callable, texts: list[str], split: str, num_labels: int):
    start = time.perf_counter()
    output = predict(texts)
    seconds = time.perf_counter() - start
    array = np.asarray(output.detach().cpu() if hasattr(output, "detach") else output)
    if len(array) != len(texts):
        raise ValueError(f"predict returned {len(array)} outputs for the {len(texts)} {split} texts")
    try:
        labels = metrics.as_label_array(array, num_labels, name=f"predict(...) on {split}")
    except ValueError as err:
        raise ValueError(f"{err} (predict must return labels or a (n, {num_labels}) score array)") from None
    scores = array.astype(np.float32) if array.ndim == 2 else None
    return labels, scores, seconds


def final_evaluation(predict: Callable[[list[str]], object], run: str, extra: dict | None = None) -> dict:
    """Run `predict` on val and test once, write `runs/<run>.json`, and return what may be shown.

    `predict(list_of_texts)` returns labels or (n, NUM_LABELS) scores. The return value holds val
    metrics always and test metrics only in self-check mode (`COURSE_MODE=self-check`); in grading mode
    this process never sees test labels at all. Calling it again for the same run is allowed and
    recorded: the record keeps a count and the earlier calls' val macro-F1. `extra` (JSON-ready) is
    stored under "extra": hyperparameters, per-epoch history, training cost.
    """
    path = runrecord.record_path(settings.runs_dir, run)
    st = store()
    data = st.data
    num_labels = len(data.contract.labels)
    with st.final_phase():
        frames = {split: st.read(split, "final_evaluation") for split in ("val", "test")}
        outputs = {
            split: _run_predict(predict, frame["text"].tolist(), split, num_labels) for split, frame in frames.items()
        }

    shown = {"val": evaluate(frames["val"]["label"].to_numpy(), outputs["val"][0])}
    if settings.mode == "self-check":
        shown["test"] = evaluate(frames["test"]["label"].to_numpy(), outputs["test"][0])

    previous = []
    if path.is_file():
        try:
            old = runrecord.read_record(path)
            previous = old.previous_calls + [
                {
                    "created": old.created,
                    "val_macro_f1": old.val_macro_f1,
                    "predictions_sha256": runrecord.predictions_digest(old.predictions),
                }
            ]
        except runrecord.RecordError:
            previous = [{"created": None, "val_macro_f1": None, "note": "unreadable earlier record"}]
    predictions = {
        split: runrecord.SplitPredictions(frames[split]["id"].tolist(), outputs[split][0].tolist()) for split in frames
    }
    record = runrecord.RunRecord(
        run=run,
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        calls=len(previous) + 1,
        predictions_sha256=runrecord.predictions_digest(predictions),
        previous_calls=previous,
        course={
            "name": data.config.name,
            "num_labels": num_labels,
            "contract_sha256": data.config.sha256["label_list.json"],
        },
        fingerprints=_fingerprints(st),
        predictions=predictions,
        metrics={split: {k: v for k, v in m.items() if k != "per_class"} for split, m in shown.items()},
        settings=settings.as_dict(),
        timings={
            split: {
                "seconds": round(outputs[split][2], 4),
                "ms_per_example": round(1000 * outputs[split][2] / max(len(frames[split]), 1), 4),
            }
            for split in frames
        },
        environment=runrecord.environment(),
        provenance={"profile": settings.profile, "device": provenance.device_name(), **provenance.executed_code()},
        access_log=list(st.log),
        extra=extra or {},
    )
    scores = {split: outputs[split][1] for split in frames if outputs[split][1] is not None}
    runrecord.write_record(path, record, scores or None)
    val = shown["val"]
    line = f"[{run}] val macro-F1 {val['macro_f1']:.4f}  accuracy {val['accuracy']:.4f}"
    if "test" in shown:
        line += f"  | test macro-F1 {shown['test']['macro_f1']:.4f} (self-check only)"
    print(f"{line}  -> {path}")
    return {"run": run, "record": str(path), **shown}
