"""The model and tokenizer a reference pipeline trains: tiny course models built from a config, or
pretrained ones from a local folder or the hub, with an error that says what to do when neither works."""

from __future__ import annotations

import os
from typing import Any

import torch

from course import api, models


class ModelNotAvailableError(OSError):
    """A model or tokenizer name that is neither a tiny course model, nor local, nor downloadable."""


def _not_available(name: str, err: OSError) -> ModelNotAvailableError:
    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
    why = (
        "HF_HUB_OFFLINE is set"
        if offline
        else "it could not be downloaded (network unavailable, or no such model on the hub)"
    )
    return ModelNotAvailableError(
        f"model {name!r} is not in the local Hugging Face cache or a local folder, and {why}. Download it "
        f"on a machine with internet, or use model_name='tiny-modernbert' for a smoke run. ({err})"
    )


def load_tokenizer(name: str):
    """The tokenizer for `name`. Tiny course models use a WordPiece trained once on the course's train
    texts (never val or test). Decoder tokenizers without a pad token pad with their end-of-text token."""
    data = api.store().data
    try:
        tokenizer = models.load_tokenizer(name, data.config.name, data.splits.train["text"])
    except OSError as err:
        raise _not_available(name, err) from err
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(name: str, tokenizer, labels: list[str], **config_overrides: Any) -> torch.nn.Module:
    """A sequence classifier with one output per course label: a tiny config with random weights, or
    pretrained weights with a freshly initialised classification head. `config_overrides` change the
    architecture (week 6's student: fewer layers; from the hub, the first layers' weights are kept)."""
    try:
        return models.build_classifier(name, len(labels), tokenizer, labels, **config_overrides)
    except OSError as err:
        raise _not_available(name, err) from err
