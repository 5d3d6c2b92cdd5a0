"""Models and tokenizers by name: the hub's, or tiny ones built offline for the smoke profile.

`tiny-modernbert` and `tiny-qwen2` are real transformers classes (ModernBertForSequenceClassification,
Qwen2ForSequenceClassification) with small configs and random weights, paired with a WordPiece
tokenizer trained on the course's own train texts. Nothing is downloaded, so the smoke profile runs
on any CPU, in CI and in grading re-runs, through exactly the code paths the full profile uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from course.contract import cache_root

TINY_MODELS = ("tiny-modernbert", "tiny-qwen2")
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece(texts: Iterable[str], out_dir: Path, vocab_size: int = 8000):
    """Train a BERT-style WordPiece tokenizer on `texts` and save it as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]",
                                   model_max_length=512)
    fast.save_pretrained(out_dir)
    return fast


def smoke_tokenizer(course_name: str, train_texts: Iterable[str]):
    """The course's own WordPiece tokenizer, trained once per course and cached."""
    from transformers import PreTrainedTokenizerFast

    folder = cache_root() / "tokenizers" / course_name
    if (folder / "tokenizer.json").is_file():
        return PreTrainedTokenizerFast.from_pretrained(folder)
    return train_wordpiece(train_texts, folder)


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
        config = transformers.ModernBertConfig(**{
            **dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                   num_attention_heads=4, max_position_embeddings=512, global_attn_every_n_layers=2,
                   local_attention=64, pad_token_id=tokenizer.pad_token_id, cls_token_id=tokenizer.cls_token_id,
                   sep_token_id=tokenizer.sep_token_id, bos_token_id=tokenizer.cls_token_id,
                   eos_token_id=tokenizer.sep_token_id, num_labels=num_labels, id2label=id2label,
                   label2id=label2id),
            **config_overrides})
        return transformers.ModernBertForSequenceClassification(config)
    if name == "tiny-qwen2":
        config = transformers.Qwen2Config(**{
            **dict(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                   pad_token_id=tokenizer.pad_token_id, num_labels=num_labels, id2label=id2label,
                   label2id=label2id),
            **config_overrides})
        return transformers.Qwen2ForSequenceClassification(config)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        name, num_labels=num_labels, id2label=id2label, label2id=label2id, **config_overrides)
    if model.config.pad_token_id is None and tokenizer.pad_token_id is not None:
        model.config.pad_token_id = tokenizer.pad_token_id  # decoders classify at the last non-pad token
    return model
