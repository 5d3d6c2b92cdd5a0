"""Models and tokenizers by name: the hub's, or tiny ones built offline for the smoke profile.

`tiny-modernbert` and `tiny-qwen2` are real transformers classes (ModernBertForSequenceClassification,
Qwen2ForSequenceClassification) with small configs and random weights, paired with a WordPiece
tokenizer trained on the course's own train texts. Nothing is downloaded, so the smoke profile runs
on any CPU, in CI and in grading re-runs, through exactly the code paths the full profile uses.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Iterable

from course.contract import cache_root

TINY_MODELS = ("tiny-modernbert", "tiny-qwen2")
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def wordpiece_vocab(texts: Iterable[str], vocab_size: int = 8000) -> list[str]:
    """A deterministic WordPiece vocabulary: special tokens, every character (whole and as '##'
    continuation), then whole words by frequency, ties alphabetical.

    The `tokenizers` trainer breaks frequency ties in hash-map order, so two trainings on the same
    texts can differ by a few tokens; grading compares two runs of a notebook, and a tokenizer that
    differs between them would look like test data changing the model.
    """
    from tokenizers import normalizers, pre_tokenizers

    normalizer, splitter = normalizers.BertNormalizer(lowercase=True), pre_tokenizers.BertPreTokenizer()
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(word for word, _ in splitter.pre_tokenize_str(normalizer.normalize_str(text)))
    chars = sorted({c for word in counts for c in word})
    vocab = SPECIAL_TOKENS + chars + [f"##{c}" for c in chars]
    known = set(vocab)
    words = [w for w in sorted(counts, key=lambda w: (-counts[w], w)) if w not in known]
    return vocab + words[: max(vocab_size - len(vocab), 0)]


def train_wordpiece(texts: Iterable[str], out_dir: Path, vocab_size: int = 8000):
    """A BERT-style WordPiece tokenizer over `wordpiece_vocab(texts)`, saved as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = wordpiece_vocab(texts, vocab_size)
    tok = Tokenizer(models.WordPiece(vocab={token: i for i, token in enumerate(vocab)}, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )
    fast.save_pretrained(out_dir)
    return fast


def smoke_tokenizer(course_name: str, train_texts: Iterable[str]):
    """The course's own WordPiece tokenizer, cached under the course name and a hash of the texts
    (a regenerated course never reuses a stale vocabulary)."""
    from transformers import PreTrainedTokenizerFast

    texts = list(train_texts)
    digest = hashlib.sha256("\x00".join(texts).encode("utf-8")).hexdigest()[:12]
    folder = cache_root() / "tokenizers" / f"{course_name}-{digest}"
    if (folder / "tokenizer.json").is_file():
        return PreTrainedTokenizerFast.from_pretrained(folder)
    return train_wordpiece(texts, folder)


def load_tokenizer(name: str, course_name: str | None = None, train_texts: Iterable[str] | None = None):
    """A tokenizer for a model name: the smoke tokenizer for tiny models, else the hub's."""
    if name in TINY_MODELS:
        if course_name is None or train_texts is None:
            raise ValueError(f"{name} uses a tokenizer trained on the course; pass course_name and train_texts")
        return smoke_tokenizer(course_name, train_texts)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name)


def build_classifier(name: str, num_labels: int, tokenizer, labels: list[str] | None = None, **config_overrides):
    """A sequence classifier for `name`: a tiny config (random init) or a pretrained hub model.

    `config_overrides` replace the tiny configs' defaults (e.g. hidden_size, num_hidden_layers)."""
    import transformers

    id2label = {i: label for i, label in enumerate(labels)} if labels else None
    label2id = {label: i for i, label in enumerate(labels)} if labels else None
    if name == "tiny-modernbert":
        config = transformers.ModernBertConfig(
            **{
                **dict(
                    vocab_size=len(tokenizer),
                    hidden_size=64,
                    intermediate_size=128,
                    num_hidden_layers=2,
                    num_attention_heads=4,
                    max_position_embeddings=512,
                    global_attn_every_n_layers=2,
                    local_attention=64,
                    classifier_pooling="mean",  # as ModernBERT-base's hub config
                    pad_token_id=tokenizer.pad_token_id,
                    cls_token_id=tokenizer.cls_token_id,
                    sep_token_id=tokenizer.sep_token_id,
                    bos_token_id=tokenizer.cls_token_id,
                    eos_token_id=tokenizer.sep_token_id,
                    num_labels=num_labels,
                    id2label=id2label,
                    label2id=label2id,
                ),
                **config_overrides,
            }
        )
        return transformers.ModernBertForSequenceClassification(config)
    if name == "tiny-qwen2":
        config = transformers.Qwen2Config(
            **{
                **dict(
                    vocab_size=len(tokenizer),
                    hidden_size=64,
                    intermediate_size=128,
                    num_hidden_layers=2,
                    num_attention_heads=4,
                    num_key_value_heads=2,
                    max_position_embeddings=512,
                    pad_token_id=tokenizer.pad_token_id,
                    num_labels=num_labels,
                    id2label=id2label,
                    label2id=label2id,
                ),
                **config_overrides,
            }
        )
        return transformers.Qwen2ForSequenceClassification(config)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        name, num_labels=num_labels, id2label=id2label, label2id=label2id, **config_overrides
    )
    if model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id  # decoders classify at the last non-pad token
    return model
