"""Weeks 3-6's building blocks, each on real objects: PEFT LoRA on ModernBERT and Qwen2, temperature
scaling, the KD loss, bitsandbytes INT8/NF4 and the ONNX Runtime INT8 export, Pareto fronts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from course import api, metrics
from course.models import build_classifier
from grader import checks
from reference_solutions import calibration, compression, distill, engine, lora, measure, report, summaries


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    with api.configured(
        course="synthetic-small",
        runs_dir=tmp_path_factory.mktemp("runs"),
        mode="submit",
        max_train_examples=300,
        data_dir=None,
        contract_dir=None,
    ):
        yield api


@pytest.fixture(scope="module")
def tokenizers(course):
    return {"encoder": engine.load_tokenizer("tiny-modernbert"), "decoder": engine.load_tokenizer("tiny-qwen2")}


def _model(kind, tokenizers, seed=0):
    torch.manual_seed(seed)
    name = {"encoder": "tiny-modernbert", "decoder": "tiny-qwen2"}[kind]
    return build_classifier(name, 113, tokenizers[kind])


def _batch(tokenizer, n=6):
    texts = list(api.load_course_data()[1]["text"][:n])
    enc = tokenizer(texts, truncation=True, max_length=128, padding=True, return_tensors="pt")
    return enc["input_ids"], enc["attention_mask"]


# ---------------------------------------------------------------------------------------------------
# Week 3: LoRA
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_lora_trains_only_the_adapters_and_the_head(kind, tokenizers):
    model = lora.with_lora(_model(kind, tokenizers), kind, r=8)
    checks.check_lora(model)
    adapted = {n.split(".lora_A")[0].split(".")[-1] for n, _ in model.named_parameters() if "lora_A" in n}
    assert adapted == set(lora.TARGETS[kind])
    if kind == "encoder":  # "Wo" is both the attention output and the MLP output
        assert any("attn.Wo.lora_A" in n for n, _ in model.named_parameters())
        assert any("mlp.Wo.lora_A" in n for n, _ in model.named_parameters())
    for name in lora.trainable_names(model):
        assert "lora_" in name or "modules_to_save" in name, name
    assert any("modules_to_save" in n for n in lora.trainable_names(model)), "the head must train"

    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    trained = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    ids, mask = _batch(tokenizers[kind])
    model.config.pad_token_id = tokenizers[kind].pad_token_id
    optimizer = engine.build_optimizer(model, 1e-2, 0.0, fused=False)
    model.train()
    F.cross_entropy(model(input_ids=ids, attention_mask=mask).logits, torch.arange(len(ids))).backward()
    optimizer.step()
    after = dict(model.named_parameters())
    assert all(torch.equal(after[n], p) for n, p in frozen.items()), "a frozen base weight changed"
    changed = [n for n, p in trained.items() if not torch.equal(after[n], p)]
    assert any("lora_B" in n for n in changed) and any("modules_to_save" in n for n in changed)

    counts = lora.parameter_counts(model)
    assert 0 < counts["trainable"] < counts["total"] and counts["share"] == counts["trainable"] / counts["total"]


@pytest.mark.parametrize("kind", ["encoder", "decoder"])
def test_merged_and_reloaded_adapters_give_the_same_logits(kind, tokenizers, tmp_path):
    model = lora.with_lora(_model(kind, tokenizers, seed=3), kind, r=8)
    with torch.no_grad():  # a trained-looking adapter: B is zero at initialisation, which would prove nothing
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    model.config.pad_token_id = tokenizers[kind].pad_token_id
    model.eval()
    ids, mask = _batch(tokenizers[kind])
    with torch.no_grad():
        adapted = model(input_ids=ids, attention_mask=mask).logits
        base_only = model.get_base_model()
    reloaded = lora.reload_adapter(model, _model(kind, tokenizers, seed=3), tmp_path / "adapter")
    assert measure.folder_bytes(tmp_path / "adapter") > 0
    merged = lora.merge(model)
    with torch.no_grad():
        again = reloaded(input_ids=ids, attention_mask=mask).logits
        folded = merged(input_ids=ids, attention_mask=mask).logits
    assert not any("lora_" in n for n, _ in merged.named_parameters())
    assert torch.allclose(folded, adapted, atol=1e-5), (folded - adapted).abs().max()
    assert torch.allclose(again, adapted, atol=1e-6)
    assert (
        base_only is not None
        and (adapted - _model(kind, tokenizers, seed=3).eval()(input_ids=ids, attention_mask=mask).logits).abs().max()
        > 1e-3
    ), "the adapter must matter in this test"


def test_lora_config_rejects_unknown_kinds():
    with pytest.raises(ValueError, match="kind"):
        lora.lora_config("vision")
    with pytest.raises(ValueError, match="rank"):
        lora.lora_config("encoder", r=0)


# ---------------------------------------------------------------------------------------------------
# Week 4: temperature scaling
# ---------------------------------------------------------------------------------------------------


def test_temperature_scaling_lowers_ece_and_keeps_every_prediction():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 20)) * 3
    labels = np.array([rng.choice(20, p=p) for p in metrics.softmax(logits, 2.5)])  # true T is 2.5
    overconfident = calibration.calibrate(logits, labels)
    assert 2.2 < overconfident["temperature"] < 2.9
    assert overconfident["ece_after"] < overconfident["ece_before"] / 2
    assert overconfident["nll_after"] < overconfident["nll_before"]
    assert overconfident["argmax_changed"] == 0
    assert overconfident["fit_rows"] == overconfident["eval_rows"] == 2000
    checks.check_temperature(calibration.fit_temperature(logits[::2], labels[::2]), logits[::2], labels[::2])


def test_fit_temperature_needs_rows():
    with pytest.raises(ValueError, match="at least one row"):
        calibration.fit_temperature(np.zeros((0, 3)), np.zeros(0, dtype=int))


# ---------------------------------------------------------------------------------------------------
# Week 6: the KD loss
# ---------------------------------------------------------------------------------------------------


def test_kd_loss_matches_a_hand_computation():
    student = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 0.0]])
    teacher = torch.tensor([[1.0, 1.0, 0.0], [-1.0, 3.0, 0.5]])
    labels = torch.tensor([0, 2])
    T, alpha = 2.0, 0.7
    expected = 0.0
    for s, t, y in zip(student.tolist(), teacher.tolist(), labels.tolist()):
        p_t = np.exp(np.array(t) / T) / np.exp(np.array(t) / T).sum()
        p_s = np.exp(np.array(s) / T) / np.exp(np.array(s) / T).sum()
        kl = float((p_t * np.log(p_t / p_s)).sum())
        ce = -float(np.log(np.exp(s[y]) / np.exp(s).sum()))
        expected += (alpha * T * T * kl + (1 - alpha) * ce) / len(labels)
    assert abs(float(distill.kd_loss(student, teacher, labels, T, alpha)) - expected) < 1e-6
    checks.check_kd_loss(distill.kd_loss)
    with pytest.raises(ValueError, match="alpha"):
        distill.kd_loss(student, teacher, labels, 1.0, 1.5)


def test_kd_loss_hook_looks_up_each_rows_teacher_logits():
    teacher = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    hook = distill.KDLoss(teacher, T=4.0, alpha=0.9)
    student, labels, rows = torch.randn(3, 4), torch.tensor([0, 1, 2]), torch.tensor([7, 2, 5])
    want = distill.kd_loss(student, torch.from_numpy(teacher[[7, 2, 5]]), labels, 4.0, 0.9)
    assert torch.allclose(hook(student, labels, rows), want)
    assert not torch.allclose(hook(student, labels, torch.tensor([0, 1, 3])), want)
    assert hook.__name__ == "kd(T=4, alpha=0.9)"


# ---------------------------------------------------------------------------------------------------
# Week 5: bitsandbytes and ONNX Runtime
# ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved_encoder(tokenizers, tmp_path_factory):
    folder = tmp_path_factory.mktemp("encoder")
    _model("encoder", tokenizers, seed=1).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def val_sequences(tokenizers):
    _, val = api.load_course_data(tokenizer=tokenizers["encoder"], max_length=128)
    sequences = list(val["input_ids"][:96])
    assert max(map(len, sequences)) > 64, "include inputs longer than the sliding attention window (64)"
    return sequences


def test_quantized_variants_shrink_and_keep_the_head(saved_encoder, tokenizers, val_sequences):
    pad = tokenizers["encoder"].pad_token_id
    fp = compression.load_variant(saved_encoder, "fp", torch.device("cpu"), pad)
    reference = fp.logits(val_sequences)
    for precision, bits in (("int8", 8), ("nf4", 4)):
        variant = compression.load_variant(saved_encoder, precision, torch.device("cpu"), pad)
        checks.check_quantized(variant.model, bits)
        layers = compression.quantized_layers(variant.model)
        assert layers["int8" if bits == 8 else "4bit"] > 0 and layers["full"] >= 1  # the head
        assert variant.weight_bytes < fp.weight_bytes, precision
        logits = variant.logits(val_sequences)
        assert logits.shape == reference.shape and np.isfinite(logits).all()
        assert 0 < np.abs(logits - reference).max() < 1.0, f"{precision}: real quantization, bounded error"


def test_onnx_export_matches_torch_and_int8_shrinks_it(saved_encoder, tokenizers, val_sequences, tmp_path):
    import onnxruntime as ort

    pad = tokenizers["encoder"].pad_token_id
    reference = compression.load_variant(saved_encoder, "fp", torch.device("cpu"), pad).logits(val_sequences)
    fp32 = compression.export_onnx(saved_encoder, tmp_path / "model.onnx", max_length=128)
    session = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
    ids, mask = engine.pad_batch(val_sequences, pad)
    exported = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
    assert np.abs(exported - reference).max() < 1e-4, "the fp32 graph is the torch model, at every length"

    variant = compression.load_variant(saved_encoder, "onnx_int8", torch.device("cpu"), pad)
    assert variant.weight_bytes < fp32.stat().st_size / 2
    logits = variant.logits(val_sequences)
    assert 0 < np.abs(logits - reference).max() < 1.0
    assert (logits.argmax(1) == reference.argmax(1)).mean() > 0.8


def test_unknown_precision_is_refused(saved_encoder):
    with pytest.raises(ValueError, match="unknown precision"):
        compression.load_variant(saved_encoder, "int3", torch.device("cpu"), 0)


def test_latency_and_peak_memory_measure_something():
    texts = [f"text {i}" for i in range(40)]
    timed = measure.latency_ms(lambda batch: np.zeros((len(batch), 3)), texts, 8, repeats=3)
    assert timed["median_ms"] >= 0 and timed["batch_size"] == 8
    with pytest.raises(ValueError, match="at least 64"):
        measure.latency_ms(lambda batch: batch, texts, 64)
    with measure.PeakMemory("cpu") as peak:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
        block.sum()
    assert peak.mb > 32 and peak.kind == "cpu_rss_growth_sampled"


# ---------------------------------------------------------------------------------------------------
# Pareto fronts and the constraint check
# ---------------------------------------------------------------------------------------------------


def test_pareto_fronts():
    frame = pd.DataFrame(
        {"val_macro_f1": [0.5, 0.4, 0.5, 0.6], "latency_bs32_ms": [1.0, 2.0, 1.0, 50.0], "weight_mb": [10, 20, 5, 50]},
        index=["a", "b", "c", "d"],
    )
    week5_axes = ("latency_bs32_ms", "weight_mb")
    assert report.pareto_front(frame, minimise=week5_axes) == ["c", "d"]  # a is beaten by c on size alone; b by both
    assert report.pareto_front(frame, minimise=("latency_bs32_ms",)) == ["a", "c", "d"]  # two axes only: a and c tie
    checked = summaries.constraint_check(frame.assign(ece_after=[0.01, 0.2, 0.04, 0.01]), min_f1=0.45)
    assert list(checked.index[checked["all_ok"]]) == ["a", "c"]  # b: F1 and ECE; d: latency
    assert not checked.loc["d", "latency_ok"] and checked.loc["d", "f1_ok"]


def test_every_reference_pipeline_has_a_smoke_band():
    """`course reference` compares each week's runs with its bands; a pipeline added without running
    `course bands` for it would have nothing to be compared with."""
    from course import bands
    from reference_solutions import weeks

    missing = [
        f"{week}/{name}"
        for week, pipelines in weeks.PIPELINES.items()
        for name in pipelines
        if bands.lookup("smoke", week, name) is None
    ]
    assert not missing, f"run `course bands --week W --pipeline P --profile smoke` for {missing}"


def test_bands_round_trip_as_typed_records_and_name_a_bad_key(tmp_path):
    from course import bands

    band = bands.Band.from_values([0.30, 0.34], boot_se=0.01, source="two seeds")
    assert (band.mean, band.std, band.n) == (0.32, 0.0283, 2) and band.lower < band.mean < band.upper
    bands.write_band("smoke", "week9", "pipe", {"val": {"macro_f1": band}}, folder=tmp_path)
    assert bands.find("smoke", "week9", "pipe", folder=tmp_path) == band
    assert bands.lookup("smoke", "week9", "pipe", folder=tmp_path) == band.as_dict()  # what the grader indexes
    assert bands.load_bands("smoke", tmp_path)["week9"]["pipe"]["val"]["macro_f1"]["upper"] == band.upper
    path = tmp_path / "smoke.yaml"
    path.write_text(path.read_text().replace("n: 2", "n: two"))
    with pytest.raises(bands.BandsError, match=r"smoke.yaml: week9/pipe/val/macro_f1: n is 'two'"):
        bands.lookup("smoke", "week9", "pipe", folder=tmp_path)
    path.write_text("week9: [not, a, mapping]\n")
    with pytest.raises(bands.BandsError, match=r"smoke.yaml: week9: expected a mapping pipeline"):
        bands.load_bands("smoke", tmp_path)
