"""The fine-tuning engine, on the small synthetic course with real (tiny, randomly initialised)
transformers models: no mocks, every run trains for real on CPU."""

import copy
import dataclasses
import json
import math

import numpy as np
import pytest
import torch
import transformers

from course import api
from course.models import build_classifier
from reference_solutions import engine
from reference_solutions.engine import (
    NonFiniteLossError,
    TrainConfig,
    length_grouped_batches,
    pad_batch,
    train,
)
from reference_solutions.loading import ModelNotAvailableError
from reference_solutions.optim import class_weights, lr_multiplier

TRAIN_EXAMPLES = 400


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The small synthetic course, 400 train examples, run records in a temp folder."""
    with api.configured(
        course="synthetic-small",
        runs_dir=tmp_path_factory.mktemp("runs"),
        mode="submit",
        max_train_examples=TRAIN_EXAMPLES,
        data_dir=None,
        contract_dir=None,
    ):
        yield api


@pytest.fixture(scope="module")
def tokenizer(course):
    return engine.load_tokenizer("tiny-modernbert")


def config(tmp_path, **changes) -> TrainConfig:
    knobs = dict(
        model_name="tiny-modernbert",
        epochs=2,
        batch_size=32,
        learning_rate=2e-3,
        output_dir=tmp_path / "ckpt",
        disable_progress=True,
    )
    return TrainConfig(**(knobs | changes))


def tiny_model_with_dropout(tokenizer, seed: int = 0):
    """tiny-modernbert with dropout on, so that resuming exactly also needs the RNG state back."""
    torch.manual_seed(seed)
    return build_classifier(
        "tiny-modernbert",
        113,
        tokenizer,
        api.course_labels(),
        embedding_dropout=0.1,
        mlp_dropout=0.1,
        classifier_dropout=0.1,
    )


# --- configuration ------------------------------------------------------------------------------------


def test_config_from_settings_and_validation(course, tmp_path):
    cfg = TrainConfig.from_settings(api.settings, epochs=3, output_dir=tmp_path)
    assert (cfg.model_name, cfg.batch_size, cfg.learning_rate, cfg.seed, cfg.epochs) == (
        api.settings.model_name,
        api.settings.batch_size,
        api.settings.learning_rate,
        api.settings.seed,
        3,
    )
    assert json.loads(json.dumps(cfg.as_dict()))["output_dir"] == str(tmp_path)
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig("tiny-modernbert", schedule="step")
    with pytest.raises(ValueError, match="precision"):
        engine.resolve_precision("fp16", torch.device("cpu"))
    assert engine.resolve_precision("auto", torch.device("cpu")) == "fp32"


# --- schedule, class weights, batching ------------------------------------------------------------------


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_schedule_warmup_then_decay(schedule):
    """10 warmup steps, then 100 decay steps: checked through the LambdaLR the engine builds."""
    param = torch.nn.Parameter(torch.zeros(2, 2))
    optimizer = torch.optim.AdamW([param], lr=1e-3)
    scheduler = engine.build_scheduler(optimizer, warmup_steps=10, total_steps=110, schedule=schedule)
    lrs = []
    for _ in range(111):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[0] == 0.0 and lrs[5] == pytest.approx(0.5e-3)
    assert lrs[10] == pytest.approx(1e-3) and max(lrs) == pytest.approx(1e-3)
    assert lrs[60] == pytest.approx(0.5e-3)  # halfway through the decay, for both shapes
    quarter = 0.75 if schedule == "linear" else 0.5 * (1 + math.cos(math.pi / 4))  # 0.854 for cosine
    assert lrs[35] == pytest.approx(1e-3 * quarter)
    assert lrs[110] == pytest.approx(0.0, abs=1e-12)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))  # never rises after warmup
    assert lr_multiplier(60, 10, 110, "constant") == 1.0


def test_class_weights():
    labels = [0] * 100 + [1] * 25 + [3] * 4
    sqrt = class_weights(labels, 5, "sqrt_inverse")
    present = torch.tensor([True, True, False, True, False])
    assert sqrt[present].mean().item() == pytest.approx(1.0)
    assert (sqrt[~present] == 0).all()
    assert (sqrt[1] / sqrt[0]).item() == pytest.approx(math.sqrt(100 / 25))
    assert (sqrt[3] / sqrt[1]).item() == pytest.approx(math.sqrt(25 / 4))
    inverse = class_weights(labels, 5, "inverse")
    assert inverse[present].mean().item() == pytest.approx(1.0)
    assert (inverse[3] / inverse[0]).item() == pytest.approx(100 / 4)
    assert torch.equal(class_weights(labels, 5, "none")[present], torch.ones(3))


def test_pad_batch_pads_to_longest_rounded_to_8(course, tokenizer):
    input_ids, attention_mask = pad_batch([[5] * 5, [6] * 17, [7] * 9], pad_token_id=0)
    assert input_ids.shape == attention_mask.shape == (3, 24)
    assert attention_mask.sum(dim=1).tolist() == [5, 17, 9]
    assert (input_ids[attention_mask == 0] == 0).all() and (input_ids[1, :17] == 6).all()
    assert pad_batch([[1] * 128], 0)[0].shape == (1, 128)
    assert pad_batch([[1] * 3], 0, pad_to_multiple_of=4)[0].shape == (1, 4)
    # on the course's own tokenized texts, length-grouped batches stay far below the 128 cap
    train_ds, _ = api.load_course_data(tokenizer=tokenizer, max_length=128)
    ids = list(train_ds["input_ids"])
    widths = [
        pad_batch([ids[i] for i in b], tokenizer.pad_token_id)[0].shape[1]
        for b in length_grouped_batches([len(s) for s in ids], 32, seed=0, epoch=1)
    ]
    assert all(w % 8 == 0 and w <= 128 for w in widths)
    assert np.mean(widths) < 100


def test_length_grouped_batches():
    lengths = np.random.default_rng(0).lognormal(math.log(63), 0.68, size=1000).clip(3, 128).astype(int)
    batches = length_grouped_batches(lengths, 16, seed=7, epoch=1, mega_batch=8)
    assert batches == length_grouped_batches(lengths, 16, seed=7, epoch=1, mega_batch=8)
    assert batches != length_grouped_batches(lengths, 16, seed=7, epoch=2, mega_batch=8)
    assert batches != length_grouped_batches(lengths, 16, seed=8, epoch=1, mega_batch=8)
    assert sorted(i for b in batches for i in b) == list(range(1000))
    assert max(lengths[batches[0]]) == lengths.max()  # the longest batch first: OOM shows at step 1

    def spread(bs):  # mean (longest - shortest) within a batch
        return np.mean([lengths[b].max() - lengths[b].min() for b in bs])

    random_order = length_grouped_batches(lengths, 16, seed=7, epoch=1, group_by_length=False)
    assert sorted(i for b in random_order for i in b) == list(range(1000))
    assert spread(batches) < 0.25 * spread(random_order)


# --- training runs ------------------------------------------------------------------------------------


def test_training_learns_and_writes_run_record(course, tokenizer, tmp_path):
    cfg = config(tmp_path, epochs=4, class_weights="sqrt_inverse")
    result = train(cfg, run="engine_smoke", tokenizer=tokenizer)

    train_ds, val_ds = api.load_course_data()
    majority = int(np.bincount(train_ds["label"]).argmax())
    majority_f1 = api.evaluate(val_ds["label"], [majority] * len(val_ds))["macro_f1"]
    losses = [h["train_loss"] for h in result.history]
    assert result.completed and len(result.history) == 4
    assert losses[-1] < 0.85 * losses[0]
    assert result.best_val_macro_f1 > 2 * majority_f1
    assert result.best_val_macro_f1 == max(h["val_macro_f1"] for h in result.history)
    assert (cfg.output_dir / "best.pt").is_file() and (cfg.output_dir / "last.pt").is_file()

    record = json.loads(result.record_path.read_text())
    extra = record["extra"]
    assert [h["epoch"] for h in extra["history"]] == [1, 2, 3, 4]
    assert extra["best_epoch"] == result.best_epoch
    assert extra["throughput"]["train_examples_per_s"] > 0 and extra["throughput"]["train_tokens_per_s"] > 0
    assert extra["hardware"]["precision"] == "fp32" and extra["peak_memory_mb"] > 0
    assert extra["trainable_parameters"] == sum(p.numel() for p in result.model.parameters())
    assert TrainConfig(**extra["config"]) == cfg
    # the record's val predictions are the restored best model's, in the dataset's order
    assert record["metrics"]["val"]["macro_f1"] == pytest.approx(result.best_val_macro_f1)
    assert result.val_predictions.shape == (len(val_ds), 113)
    assert np.allclose(result.val_predictions.sum(axis=1), 1, atol=1e-4)
    assert record["predictions"]["val"]["labels"] == result.val_predictions.argmax(axis=1).tolist()


def test_predict_fn_returns_probabilities_in_input_order(course, tokenizer):
    model = tiny_model_with_dropout(tokenizer)
    predict = engine.predict_fn(model, tokenizer, TrainConfig("tiny-modernbert", eval_batch_size=7))
    texts = ["short", "a much longer complaint about a credit report " * 10, "medium length text here", "x"]
    probs = predict(texts)
    assert probs.shape == (4, 113) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)
    assert np.allclose(predict(texts[::-1])[::-1], probs, atol=1e-5)
    assert not np.allclose(probs[0], probs[1], atol=1e-4)
    assert not model.training


def test_resume_is_bit_identical(course, tokenizer, tmp_path):
    straight = train(config(tmp_path / "a"), model=tiny_model_with_dropout(tokenizer), tokenizer=tokenizer)

    cfg = config(tmp_path / "b")
    first = train(
        dataclasses.replace(cfg, stop_after_epochs=1), model=tiny_model_with_dropout(tokenizer), tokenizer=tokenizer
    )
    assert not first.completed and len(first.history) == 1
    resumed = train(
        cfg,
        resume_from=cfg.output_dir / "last.pt",
        model=tiny_model_with_dropout(tokenizer, seed=1),
        tokenizer=tokenizer,
    )

    a = engine.load_checkpoint(tmp_path / "a" / "ckpt" / "last.pt")
    b = engine.load_checkpoint(tmp_path / "b" / "ckpt" / "last.pt")
    assert a["loop"]["epoch"] == b["loop"]["epoch"] == 2
    assert a["model"].keys() == b["model"].keys()
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    init = tiny_model_with_dropout(tokenizer).state_dict()
    assert not torch.equal(init["classifier.weight"], a["model"]["classifier.weight"])  # it did train
    for pa, pb in zip(a["optimizer"]["state"].values(), b["optimizer"]["state"].values()):
        assert pa.keys() == pb.keys() and all(torch.equal(pa[k], pb[k]) for k in pa)
    assert a["scheduler"]["last_epoch"] == b["scheduler"]["last_epoch"] > 0
    assert [h["train_loss"] for h in straight.history] == [h["train_loss"] for h in resumed.history]
    assert resumed.best_epoch == straight.best_epoch
    for (name, pa), pb in zip(straight.model.named_parameters(), resumed.model.parameters()):
        assert torch.equal(pa, pb), name


def test_early_stopping(course, tokenizer, tmp_path):
    # learning rate 0: val macro-F1 never improves after epoch 1, so patience 1 stops after epoch 2
    result = train(
        config(tmp_path, epochs=5, learning_rate=0.0, schedule="constant", early_stopping_patience=1),
        tokenizer=tokenizer,
    )
    assert [h["epoch"] for h in result.history] == [1, 2]
    assert result.best_epoch == 1 and result.completed


def test_resume_refuses_another_model(course, tokenizer, tmp_path):
    cfg = config(tmp_path, epochs=2, stop_after_epochs=1)
    train(cfg, tokenizer=tokenizer)
    checkpoint = cfg.output_dir / "last.pt"
    cfg = dataclasses.replace(cfg, stop_after_epochs=None)

    narrow = copy.deepcopy(tiny_model_with_dropout(tokenizer).config)
    narrow.hidden_size, narrow.intermediate_size = 32, 64
    with pytest.raises(ValueError, match="hidden_size") as err:
        train(
            cfg,
            resume_from=checkpoint,
            model=transformers.ModernBertForSequenceClassification(narrow),
            tokenizer=tokenizer,
        )
    assert str(checkpoint) in str(err.value) and "intermediate_size" in str(err.value)

    fewer_labels = build_classifier("tiny-modernbert", 50, tokenizer)
    with pytest.raises(ValueError, match="num_labels"):
        train(cfg, resume_from=checkpoint, model=fewer_labels, tokenizer=tokenizer)

    qwen = build_classifier("tiny-qwen2", 113, tokenizer, api.course_labels())
    with pytest.raises(ValueError, match="model_name") as err:
        train(
            dataclasses.replace(cfg, model_name="tiny-qwen2"), resume_from=checkpoint, model=qwen, tokenizer=tokenizer
        )
    assert "model_type" in str(err.value)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(course, tokenizer, tmp_path):
    model = tiny_model_with_dropout(tokenizer)
    steps_per_epoch = math.ceil(TRAIN_EXAMPLES / 32)
    calls = {"train": 0}

    def poison(module, inputs, output):  # NaN logits from the 3rd training step of epoch 2 on
        if module.training:
            calls["train"] += 1
            if calls["train"] > steps_per_epoch + 2:
                return output * float("nan")

    model.classifier.register_forward_hook(poison)
    cfg = config(tmp_path, epochs=3)
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, step 16 \(learning rate") as err:
        train(cfg, model=model, tokenizer=tokenizer)
    assert isinstance(err.value, RuntimeError) and "lower learning rate" in str(err.value)
    assert "last.pt (epoch 1) is kept" in str(err.value)

    checkpoint = engine.load_checkpoint(cfg.output_dir / "last.pt")
    assert checkpoint["loop"]["epoch"] == 1
    assert all(torch.isfinite(t).all() for t in checkpoint["model"].values() if t.is_floating_point())
    fresh = tiny_model_with_dropout(tokenizer)
    fresh.load_state_dict(checkpoint["model"])
    assert not list(cfg.output_dir.glob("*.tmp"))


def test_empty_train_split(course, tmp_path):
    with api.configured(max_train_examples=0), pytest.raises(ValueError, match="train split is empty"):
        train(config(tmp_path))


def test_unknown_model_offline(course, tmp_path):
    with pytest.raises(ModelNotAvailableError, match="no-such-org/no-such-model") as err:
        train(config(tmp_path, model_name="no-such-org/no-such-model"))
    message = str(err.value)
    assert "not in the local Hugging Face cache" in message and "HF_HUB_OFFLINE" in message
    assert "tiny-modernbert" in message and isinstance(err.value, OSError)


def test_tiny_qwen2_decoder_trains(course, tmp_path):
    result = train(config(tmp_path, model_name="tiny-qwen2", epochs=1))
    assert result.model.config.pad_token_id == result.tokenizer.pad_token_id is not None
    assert len(result.history) == 1 and math.isfinite(result.history[0]["train_loss"])
    assert result.val_predictions.shape[1] == 113
