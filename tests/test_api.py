"""The student API on the small synthetic course: what it returns, what it logs, what it writes."""

import hashlib
import json

import numpy as np
import pytest

import course
from course import api, metrics
from course.models import smoke_tokenizer
from course.runrecord import RecordError, RunRecord, read_record
from course.splits import fingerprint


@pytest.fixture
def student(tmp_path):
    """A fresh process-like state: small synthetic course, runs in a temp folder, submit mode."""
    with api.configured(
        course="synthetic-small",
        runs_dir=tmp_path / "runs",
        mode="submit",
        max_train_examples=None,
        data_dir=None,
        contract_dir=None,
    ):
        yield api


def majority_predict(train_ds):
    label = int(np.bincount(train_ds["label"]).argmax())
    return lambda texts: [label] * len(texts)


def test_labels_and_counts(student):
    assert course.NUM_LABELS == 113 == len(course.LABELS)
    assert course.LABELS == sorted(course.LABELS)
    assert course.settings is api.settings


def test_load_course_data_never_returns_test(student):
    out = course.load_course_data()
    assert len(out) == 2
    train_ds, val_ds = out
    data = student.store().data
    assert len(train_ds) == len(data.splits.train) and len(val_ds) == len(data.splits.val)
    assert set(train_ds.column_names) == {"id", "text", "label", "label_name"}
    assert not set(train_ds["id"]) & set(val_ds["id"])
    test_ids = set(data.splits.test["id"])
    assert not test_ids & (set(train_ds["id"]) | set(val_ds["id"]))
    assert train_ds.features["label"].names == course.LABELS


def test_tokenized_and_sliced(student):
    data = student.store().data
    tok = smoke_tokenizer(data.config.name, data.splits.train["text"])
    train_ds, val_ds = course.load_course_data(tokenizer=tok, max_length=32, slices=True)
    lengths = [len(ids) for ids in val_ds["input_ids"]]
    assert max(lengths) == 32 and min(lengths) < 32  # truncated, not padded
    assert val_ds["input_ids"][0][0] == tok.cls_token_id
    assert {"tier", "length", "redacted", "numeric"} <= set(train_ds.column_names)
    redacted = np.array(["XXXX" in t for t in val_ds["text"]])
    assert (np.array(val_ds["redacted"]) == redacted).all()


def test_max_train_examples_caps_train_only(student):
    full_val = len(student.store().data.splits.val)
    with student.configured(max_train_examples=300):
        train_ds, val_ds = course.load_course_data()
        again, _ = course.load_course_data()
    assert len(train_ds) == 300 and len(val_ds) == full_val
    assert again["id"] == train_ds["id"]  # seeded: the same sample every call
    assert len(course.load_course_data()[0]) == len(student.store().data.splits.train)  # the cap ended with the block


def test_evaluate_is_the_course_summary(student):
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 113, 500)
    y_pred = np.where(rng.random(500) < 0.5, y_true, rng.integers(0, 113, 500))
    got = course.evaluate(y_true, y_pred)
    assert got["macro_f1"] == pytest.approx(metrics.macro_f1(y_true, y_pred, 113))
    assert set(got["tier_f1"]) == {"head", "mid", "tail"}
    assert got["per_class"][0]["name"] == course.LABELS[0]


def test_final_evaluation_writes_a_complete_record(student, tmp_path):
    train_ds, val_ds = course.load_course_data()
    shown = course.final_evaluation(majority_predict(train_ds), run="week1_majority")
    assert set(shown) == {"run", "record", "val"}  # submit mode: no test metrics shown
    record = read_record(tmp_path / "runs" / "week1_majority.json")
    data = student.store().data
    for split in ("val", "test"):
        ids = record.predictions[split].ids
        assert sorted(ids) == sorted(data.splits[split]["id"]) and len(set(ids)) == len(ids)
    assert "test" not in record.metrics
    assert record.metrics["val"]["macro_f1"] == pytest.approx(shown["val"]["macro_f1"])
    assert record.fingerprints == data.splits.fingerprints
    assert record.settings["course"] == "synthetic-small" and record.calls == 1
    assert record.timings["test"]["ms_per_example"] >= 0
    phases = [(e["split"], e["op"], e["phase"]) for e in record.access_log]
    assert ("train", "load_course_data", "before_final_evaluation") in phases
    assert ("test", "final_evaluation", "final_evaluation") in phases
    assert not [p for p in phases if p[0] == "test" and p[2] != "final_evaluation"]
    assert all("test_api.py" in e["caller"] for e in record.access_log)


def test_self_check_shows_test_and_scores_are_saved(student, tmp_path):
    def predict(texts):  # scores, not labels
        scores = np.zeros((len(texts), 113), dtype=np.float32)
        scores[:, 3] = 1.0
        return scores

    with student.configured(mode="self-check"):
        shown = course.final_evaluation(predict, run="scored")
    assert "test" in shown and shown["test"]["accuracy"] > 0
    record = read_record(tmp_path / "runs" / "scored.json")
    npz = tmp_path / "runs" / record.scores["file"]
    assert hashlib.sha256(npz.read_bytes()).hexdigest() == record.scores["sha256"]
    with np.load(npz) as scores:
        assert scores["test"].shape == (len(student.store().data.splits.test), 113)
    assert record.predictions["val"].labels[:3] == [3, 3, 3]


def test_grading_mode_hides_test_labels(student, tmp_path):
    with student.configured(mode="grading"):
        test = student.store().read("test", "probe")
        shown = course.final_evaluation(lambda texts: [0] * len(texts), run="graded")
    assert "label" not in test.columns and "label_name" not in test.columns
    assert "test" not in shown
    record = read_record(tmp_path / "runs" / "graded.json")
    splits = student.store().data.splits
    assert record.fingerprints["test"] == fingerprint(splits.test.drop(columns=["label_name"]))
    assert record.fingerprints["test"] != splits.fingerprints["test"]
    assert "test" not in record.metrics


def test_second_call_is_recorded(student, tmp_path):
    course.final_evaluation(lambda texts: [0] * len(texts), run="twice")
    course.final_evaluation(lambda texts: [1] * len(texts), run="twice")
    record = read_record(tmp_path / "runs" / "twice.json")
    assert record.calls == 2 and len(record.previous_calls) == 1
    assert record.predictions["val"].labels[0] == 1
    finals = [e for e in record.access_log if e["op"] == "final_evaluation"]
    assert len(finals) == 4  # val and test, twice


@pytest.mark.parametrize(
    "predict, message",
    [
        (lambda texts: [0] * (len(texts) - 1), "predict returned .* outputs for the .* val texts"),
        (lambda texts: np.full((len(texts), 113), np.nan), "NaN"),
        (lambda texts: np.zeros((len(texts), 5)), "113"),
        (lambda texts: [200] * len(texts), "200"),
    ],
)
def test_bad_predictions_are_explained(student, predict, message):
    with pytest.raises(ValueError, match=message):
        course.final_evaluation(predict, run="bad")


def test_bad_run_name_and_records(student, tmp_path):
    with pytest.raises(ValueError, match="run name '../escape' is not usable"):
        course.final_evaluation(lambda texts: [0] * len(texts), run="../escape")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(RecordError, match="broken.json: not valid JSON"):
        read_record(broken)
    broken.write_text(json.dumps({"schema": 1, "run": "x"}))
    with pytest.raises(RecordError, match="missing field.*fingerprints"):
        read_record(broken)


def test_a_record_reads_back_as_written_and_keeps_what_it_does_not_know(student, tmp_path):
    train_ds, _ = course.load_course_data()
    course.final_evaluation(majority_predict(train_ds), run="typed")
    path = tmp_path / "runs" / "typed.json"
    raw = json.loads(path.read_text())
    record = read_record(path)
    assert record.to_json() == raw and list(record.to_json()) == list(raw)  # same fields, same order
    assert record.digest_matches is True and record.val_macro_f1 == raw["metrics"]["val"]["macro_f1"]
    raw["notes"] = "by hand"  # a key the harness does not know is kept, and the digest sees the change
    record = RunRecord.from_json(raw, "typed.json")
    assert record.other == {"notes": "by hand"} and record.to_json()["notes"] == "by hand"
    assert record.digest_matches is False
    del raw["provenance"]["digest"]
    assert RunRecord.from_json(raw, "typed.json").digest_matches is None


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r.__setitem__("fingerprints", ["a", "b"]), "field 'fingerprints' should be an object, got list"),
        (lambda r: r.__setitem__("calls", "2"), "field 'calls' should be an integer, got str"),
        (lambda r: r.__setitem__("scores", 3), "field 'scores' should be an object or null, got int"),
        (lambda r: r["access_log"].append("read test"), "every entry of 'access_log' should be an object"),
        (lambda r: r["predictions"].__setitem__("val", [1, 2]), r"predictions.val needs lists 'ids' and 'labels'"),
        (lambda r: r["predictions"]["test"].pop("labels"), r"predictions.test needs lists 'ids' and 'labels'"),
        (lambda r: r["predictions"]["val"]["ids"].__setitem__(0, 7), r"predictions.val.ids should be the split"),
        (lambda r: r["metrics"]["val"].__setitem__("macro_f1", "0.9"), r"metrics.val.macro_f1 should be a number"),
        (lambda r: r["metrics"].pop("val"), r"metrics.val.macro_f1 should be a number"),
    ],
)
def test_a_record_of_the_wrong_shape_is_named(student, tmp_path, change, message):
    course.final_evaluation(lambda texts: [0] * len(texts), run="shaped")
    raw = json.loads((tmp_path / "runs" / "shaped.json").read_text())
    change(raw)
    with pytest.raises(RecordError, match=f"^shaped.json: {message}"):
        RunRecord.from_json(raw, "shaped.json")


def test_settings_from_env_profiles_and_errors():
    smoke = api.from_env({"COURSE_PROFILE": "smoke"})
    full = api.from_env({"COURSE_PROFILE": "full"})
    assert smoke.model_name == "tiny-modernbert" and smoke.course == "synthetic-small"
    assert full.model_name == "answerdotai/ModernBERT-base" and full.course == "real"
    assert api.from_env({"COURSE_EPOCHS": "3", "COURSE_MAX_TRAIN_EXAMPLES": "all"}).epochs == 3
    with pytest.raises(ValueError, match="COURSE_PROFILE='fast'"):
        api.from_env({"COURSE_PROFILE": "fast"})
    with pytest.raises(ValueError, match="COURSE_EPOCHS='two' should be an integer"):
        api.from_env({"COURSE_EPOCHS": "two"})
    with pytest.raises(ValueError, match="unknown setting 'epoch'"):
        with api.configured(epoch=2):
            pass


def test_configured_restores_settings_and_store(student, tmp_path):
    """A block's knobs and its split store end with the block, even when it raises."""
    outer_store, outer_runs = student.store(), student.settings.runs_dir
    with pytest.raises(RuntimeError):
        with student.configured(mode="grading", runs_dir=tmp_path / "inner", seed=7) as active:
            assert active is course.settings and course.settings.seed == 7
            assert student.store() is not outer_store and student.store().hide_test_labels
            raise RuntimeError("the block fails")
    assert (course.settings.mode, course.settings.runs_dir, course.settings.seed) == ("submit", outer_runs, 42)
    assert student.store() is outer_store
