"""Week 3: LoRA adapters for the encoder and the decoder classifier, and what to measure about them.

    model = with_lora(build_classifier(...), "encoder", r=8)   # or "decoder"
    counts = parameter_counts(model)                            # trainable / total / share
    merged = merge(model)                                       # plain transformers model again

LoRA freezes the pretrained weights W and learns a low-rank update B·A (rank r, scaled by alpha/r) on
chosen linear layers. Two things are easy to get wrong, and the configs below pin them:

* The classification head is new and random: it must be trained in full (`modules_to_save`), or the
  adapters learn to feed a head that never changes. ModernBERT's classifier is `head` (a dense layer
  and norm) plus `classifier`; Qwen2's is `score`.
* The target modules. ModernBERT fuses q, k and v into one `Wqkv`; its attention output is `attn.Wo`,
  its MLP is `Wi` (input, fused gate and up) and `mlp.Wo` (output). The course's recipe adapts all of
  them. The decoder adapts the attention projections q/k/v/o, as the week-3 homework does.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

import torch

Kind = Literal["encoder", "decoder"]

TARGETS: dict[str, list[str]] = {
    "encoder": ["Wqkv", "Wo", "Wi"],  # "Wo" matches both attn.Wo and mlp.Wo
    "decoder": ["q_proj", "k_proj", "v_proj", "o_proj"],
}
HEADS: dict[str, list[str]] = {"encoder": ["head", "classifier"], "decoder": ["score"]}


def lora_config(kind: Kind, r: int = 8, alpha: int | None = None, dropout: float = 0.05):
    """The course's LoRA config for `kind`; alpha defaults to 2·r, as in the course's runs (r 16,
    alpha 32) and the week-3 notebooks (r 8 and 16)."""
    from peft import LoraConfig

    if kind not in TARGETS:
        raise ValueError(f"LoRA kind must be one of {sorted(TARGETS)}, got {kind!r}")
    if r < 1:
        raise ValueError(f"LoRA rank must be >= 1, got {r}")
    return LoraConfig(
        r=r,
        lora_alpha=2 * r if alpha is None else alpha,
        lora_dropout=dropout,
        target_modules=TARGETS[kind],
        modules_to_save=HEADS[kind],
        task_type="SEQ_CLS",
    )


def with_lora(model: torch.nn.Module, kind: Kind, r: int = 8, alpha: int | None = None) -> torch.nn.Module:
    """`model` wrapped by PEFT: base weights frozen, adapters on TARGETS[kind], the head trained in full."""
    from peft import get_peft_model

    return get_peft_model(model, lora_config(kind, r, alpha))


def parameter_counts(model: torch.nn.Module) -> dict[str, float]:
    """Trainable and total parameters. PEFT keeps a frozen copy of each `modules_to_save` head beside
    the trained one; both are counted in the total, as `print_trainable_parameters` does."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return {"trainable": trainable, "total": total, "share": trainable / total}


def trainable_names(model: torch.nn.Module) -> list[str]:
    """Names of the parameters the optimizer will update: with LoRA, adapters and heads only."""
    return [name for name, p in model.named_parameters() if p.requires_grad]


def merge(model: torch.nn.Module) -> torch.nn.Module:
    """Fold the adapters into the base weights (W + B·A·alpha/r): a plain transformers model with no
    LoRA layers, the same function, and no adapter overhead at inference."""
    return model.merge_and_unload()


def reload_adapter(model: torch.nn.Module, base: torch.nn.Module, folder: str | Path | None = None) -> torch.nn.Module:
    """Save `model`'s adapter (and trained head) and load it onto `base`, a fresh copy of the model it
    was trained from: what a student ships is the adapter folder, megabytes instead of the full model."""
    from peft import PeftModel

    folder = Path(folder or tempfile.mkdtemp(prefix="lora-adapter-"))
    model.save_pretrained(folder)
    return PeftModel.from_pretrained(base, folder).eval()


def adapter_bytes(folder: str | Path) -> int:
    """Size on disk of a saved adapter folder."""
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())
