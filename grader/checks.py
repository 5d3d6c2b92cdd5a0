"""The checks that notebook test cells call, so nbgrader, `course check` and pytest run the same code.

Each check raises `AssertionError` with a message a student can act on (what failed, where, how to
fix it) and returns None: nbgrader reads a number left as a test cell's value as partial credit. Public checks appear in released notebooks; hidden checks are
added back at grading (nbgrader's hidden-test regions) and compare against the reference bands.
"""

from __future__ import annotations

from pathlib import Path

from course import api, bands
from course.runrecord import RunRecord
from grader import artifacts


def _record_path(run: str) -> Path:
    return Path(api.settings.runs_dir) / f"{run}.json"


def check_run(run: str) -> None:
    """The run record exists and is complete: fixed split, every val and test id once, sane labels."""
    _checked_record(run)


def _checked_record(run: str) -> RunRecord:
    path = _record_path(run)
    assert path.is_file(), (
        f"no run record {path}: call final_evaluation(predict, run={run!r}) once, at the end of the notebook"
    )
    check = artifacts.check_record(path, api.store().data)
    problems = [f"[{f.rule}] {f.message}" for f in check.findings]
    assert not problems, f"run record {path} has problems:\n  " + "\n  ".join(problems)
    return check.record


def check_metrics(m: dict) -> None:
    """`m` is what `evaluate` returns: keys present, values in [0, 1], macro-F1 over all labels."""
    assert isinstance(m, dict), f"expected the dict returned by evaluate(...), got {type(m).__name__}"
    missing = [k for k in ("accuracy", "macro_f1", "weighted_f1", "zero_f1_classes") if k not in m]
    assert not missing, f"missing metric(s) {missing}: compute them with course.evaluate(y_true, y_pred)"
    for key in ("accuracy", "macro_f1", "weighted_f1"):
        assert 0.0 <= m[key] <= 1.0, f"{key} = {m[key]} is not in [0, 1]"


def check_val_above(run: str, minimum: float) -> None:
    """Val macro-F1 of a run is above `minimum` (e.g. clearly better than the majority class)."""
    value = _checked_record(run).val_macro_f1
    assert value > minimum, (
        f"val macro-F1 of {run!r} is {value:.4f}, not above {minimum:.4f}: the model learned little; "
        f"check that you fit on train_ds and predict the texts you are given"
    )


def check_band(run: str, week: str, pipeline: str) -> None:
    """Hidden check: val macro-F1 reaches the lower edge of the week's reference band for this profile."""
    value = _checked_record(run).val_macro_f1
    band = bands.lookup(api.settings.profile, week, pipeline)
    assert band is not None, f"no {api.settings.profile} band for {week}/{pipeline}: ask the instructor"
    assert value >= band["lower"], (
        f"val macro-F1 {value:.4f} is below the reference band [{band['lower']:.4f}, {band['upper']:.4f}] "
        f"for {week}/{pipeline}"
    )


# ---------------------------------------------------------------------------------------------------
# Checks for the weekly notebooks (weeks 1-6). Each raises AssertionError with what to fix and returns None.
# ---------------------------------------------------------------------------------------------------


def check_history(history, max_epochs: int) -> None:
    """A training history: one dict per epoch run (1..max_epochs, early stopping may cut it short),
    each with the epoch number and the val macro-F1 measured after it."""
    assert isinstance(history, list) and history, (
        "history should be a non-empty list with one dict per epoch, as train_model returns"
    )
    assert len(history) <= max_epochs, f"history has {len(history)} entries for at most {max_epochs} epoch(s)"
    for i, row in enumerate(history, 1):
        assert isinstance(row, dict) and "val_macro_f1" in row and "epoch" in row, (
            f"history[{i - 1}] needs the keys 'epoch' and 'val_macro_f1' (evaluate on val after every epoch)"
        )
        assert row["epoch"] == i, f"history[{i - 1}]['epoch'] is {row['epoch']}, expected {i}"
        assert 0.0 <= row["val_macro_f1"] <= 1.0, f"epoch {i}: val macro-F1 {row['val_macro_f1']} not in [0, 1]"


def check_lr_schedule(fn, kind: str = "linear", total: int = 100, warmup: int = 10) -> None:
    """`fn(step, total, warmup, kind)` is a warmup-then-decay multiplier: 0 at step 0, 1 at the end of
    warmup, then linear or cosine decay to 0 at `total` (or constant 1)."""
    import math

    values = [float(fn(step, total, warmup, kind)) for step in range(total + 1)]
    assert abs(values[0]) < 1e-9, f"the multiplier at step 0 is {values[0]}, expected 0 (warmup starts from 0)"
    assert abs(values[warmup] - 1.0) < 1e-6, (
        f"the multiplier at the end of warmup (step {warmup}) is {values[warmup]}, expected 1"
    )
    rising = values[: warmup + 1]
    assert all(b > a for a, b in zip(rising, rising[1:])), "during warmup the multiplier should rise every step"
    middle = warmup + (total - warmup) // 2
    if kind == "constant":
        assert all(abs(v - 1.0) < 1e-6 for v in values[warmup:]), "a constant schedule stays at 1 after warmup"
        return
    falling = values[warmup:]
    assert all(b <= a + 1e-12 for a, b in zip(falling, falling[1:])), f"a {kind} schedule never rises after warmup"
    assert abs(values[total]) < 1e-6, f"the multiplier at the last step is {values[total]}, expected 0"
    assert abs(values[middle] - 0.5) < 0.02, (
        f"half-way through the decay the {kind} multiplier is {values[middle]:.3f}, expected 0.5"
    )
    quarter = warmup + (total - warmup) // 4
    expected = 0.75 if kind == "linear" else 0.5 * (1 + math.cos(math.pi / 4))
    assert abs(values[quarter] - expected) < 0.02, (
        f"a quarter of the way through the decay the {kind} multiplier is {values[quarter]:.3f}, "
        f"expected {expected:.3f}"
    )


def check_batch(batch, pad_token_id: int) -> None:
    """A dynamically padded batch: input_ids / attention_mask / labels tensors, padded to the batch's
    own longest example (not to max_length), pad positions masked."""
    import torch

    for key in ("input_ids", "attention_mask", "labels"):
        assert key in batch, f"the batch has no {key!r}: build it with tokenizer.pad(...) and add the labels"
    ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
    assert isinstance(ids, torch.Tensor) and ids.ndim == 2, "input_ids should be a 2-D tensor (return_tensors='pt')"
    assert mask.shape == ids.shape, f"attention_mask {tuple(mask.shape)} and input_ids {tuple(ids.shape)} differ"
    assert labels.shape == (ids.shape[0],), f"labels should have one entry per row, got {tuple(labels.shape)}"
    assert int(mask.sum(1).max()) == ids.shape[1], (
        "the batch is longer than its longest example: pad each batch to its own longest row (dynamic padding)"
    )
    assert bool((ids[mask == 0] == pad_token_id).all()), "positions with attention_mask 0 must hold the pad token"


def check_class_weights(weights, counts, kind: str = "sqrt_inverse") -> None:
    """Class weights from train counts: finite and positive, mean 1 over the classes present in train (the
    course's sanity check), and proportional to 1/sqrt(count) (or 1/count) among those classes."""
    import numpy as np

    w = np.asarray(weights.detach().cpu() if hasattr(weights, "detach") else weights, dtype=float)
    counts = np.asarray(counts, dtype=float)
    assert w.shape == counts.shape, f"one weight per class: got shape {w.shape}, expected {counts.shape}"
    assert np.isfinite(w).all() and (w > 0).all(), (
        "every weight must be finite and > 0 (give absent classes a value too)"
    )
    present = counts > 0
    assert abs(w[present].mean() - 1.0) < 1e-3, (
        f"the weights of classes present in train should average 1, got {w[present].mean():.4f}: "
        "divide by their mean so the loss keeps its scale"
    )
    power = {"sqrt_inverse": 0.5, "inverse": 1.0}[kind]
    ratio = w[present] * counts[present] ** power
    assert ratio.std() / ratio.mean() < 1e-3, f"weights are not proportional to 1/count^{power} among present classes"


def check_lora(model, max_share: float = 0.25) -> None:
    """A PEFT LoRA model: LoRA matrices trainable, base weights frozen, the classification head trained,
    and the trainable share well below full fine-tuning."""
    named = list(model.named_parameters())
    trainable = [(n, p) for n, p in named if p.requires_grad]
    total = sum(p.numel() for _, p in named)
    share = sum(p.numel() for _, p in trainable) / max(total, 1)
    assert any("lora_" in n for n, _ in trainable), "no trainable LoRA matrices: wrap the model with get_peft_model"
    frozen_base = [n for n, p in named if p.requires_grad and "lora_" not in n and "modules_to_save" not in n]
    assert not frozen_base, f"base weights are still trainable ({frozen_base[:3]}): LoRA freezes the base model"
    assert any("modules_to_save" in n for n, _ in trainable), (
        "the classification head is not trained: list it in modules_to_save (a fresh head must learn)"
    )
    assert 0 < share < max_share, f"trainable share {share:.2%} is not below {max_share:.0%}"


def check_temperature(temperature, logits, labels) -> None:
    """A fitted temperature: positive, and no worse than T=1 in NLL on the rows it was fitted on."""
    import numpy as np

    from course import metrics

    t = float(temperature)
    assert np.isfinite(t) and t > 0, f"temperature must be a finite number > 0, got {temperature!r}"
    fitted = metrics.nll(labels, metrics.softmax(logits, t))
    plain = metrics.nll(labels, metrics.softmax(logits, 1.0))
    assert fitted <= plain + 1e-6, (
        f"NLL at T={t:.3f} ({fitted:.4f}) is worse than at T=1 ({plain:.4f}) on the fitting rows: "
        "T should minimise NLL there"
    )


def check_kd_loss(fn) -> None:
    """`fn(student_logits, teacher_logits, labels, T, alpha)` is Hinton's loss:
    alpha * T^2 * KL(softmax(teacher/T) || softmax(student/T)) (mean over examples) + (1 - alpha) * CE."""
    import torch
    import torch.nn.functional as F

    gen = torch.Generator().manual_seed(0)
    for T, alpha, n, k in ((4.0, 0.7, 8, 113), (1.0, 0.9, 5, 7), (8.0, 0.3, 16, 113)):
        student = torch.randn(n, k, generator=gen) * 3
        teacher = torch.randn(n, k, generator=gen) * 3
        labels = torch.randint(0, k, (n,), generator=gen)
        p_t = F.softmax(teacher / T, -1)
        kl = (p_t * (F.log_softmax(teacher / T, -1) - F.log_softmax(student / T, -1))).sum(-1).mean()
        expected = alpha * T * T * kl + (1 - alpha) * F.cross_entropy(student, labels)
        got = fn(student, teacher, labels, T, alpha)
        assert torch.is_tensor(got) and got.ndim == 0, "the KD loss should be a scalar tensor (so it can backward)"
        assert torch.isfinite(got), "the KD loss is not finite"
        assert abs(float(got) - float(expected)) < 1e-4 * max(1.0, abs(float(expected))), (
            f"KD loss at T={T}, alpha={alpha} is {float(got):.5f}, expected {float(expected):.5f}: check the KL "
            "direction (teacher is the target), log_softmax on the student, reduction='batchmean' and the T^2 factor"
        )


def check_quantized(model, bits: int, keep: tuple = ("classifier", "score")) -> None:
    """A bitsandbytes-quantized model: some Linear layers are 8-bit (LLM.int8) or 4-bit, and the
    classification head (`keep`) is not."""
    import bitsandbytes as bnb

    kind = {8: bnb.nn.Linear8bitLt, 4: bnb.nn.Linear4bit}[bits]
    layers = [name for name, module in model.named_modules() if isinstance(module, kind)]
    assert layers, (
        f"no {kind.__name__} layers: reload the saved model with "
        f"from_pretrained(folder, quantization_config=BitsAndBytesConfig(...))"
    )
    head = [name for name in layers if name.split(".")[-1] in keep]
    assert not head, f"the classification head {head} is quantized: skip it (llm_int8_skip_modules)"


def check_extra(run: str, *keys: str) -> None:
    """The run record's `extra` holds the named entries (final_evaluation(..., extra={...}))."""
    extra = _checked_record(run).extra
    missing = [k for k in keys if k not in extra]
    assert not missing, f"run {run!r}: extra lacks {missing}; pass them to final_evaluation(..., extra=...)"


def check_chosen_on_val(run: str, best: bool = True, tolerance: float = 0.005) -> None:
    """Hidden check: the record's `extra` lists the candidates (name, val_macro_f1) and the chosen one,
    the chosen one is the best on val (when `best`), and the submitted predictions are that model's:
    their val macro-F1 equals the one measured for the chosen candidate."""
    record = _checked_record(run)
    extra = record.extra
    candidates, chosen = extra.get("candidates"), extra.get("chosen")
    assert isinstance(candidates, list) and candidates, (
        f"run {run!r}: extra['candidates'] should list every model you compared, with its val macro-F1"
    )
    scores = {}
    for c in candidates:
        assert isinstance(c, dict) and "name" in c and "val_macro_f1" in c, (
            f"run {run!r}: each candidate needs 'name' and 'val_macro_f1', got {c!r}"
        )
        scores[c["name"]] = float(c["val_macro_f1"])
    assert chosen in scores, f"run {run!r}: extra['chosen'] = {chosen!r} is not one of the candidates {list(scores)}"
    if best:
        assert scores[chosen] >= max(scores.values()) - 1e-9, (
            f"run {run!r}: chose {chosen!r} (val macro-F1 {scores[chosen]:.4f}) but "
            f"{max(scores, key=scores.get)!r} scored {max(scores.values()):.4f} on val"
        )
    measured = record.val_macro_f1
    assert abs(measured - scores[chosen]) <= tolerance, (
        f"run {run!r}: the submitted predictions score {measured:.4f} on val, but the chosen model {chosen!r} "
        f"scored {scores[chosen]:.4f}: predict with the model you chose"
    )
