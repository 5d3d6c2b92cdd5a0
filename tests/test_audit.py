import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from course.audit import audit, format_report, plot

SHARED = Path(__file__).resolve().parents[2] / "shared"
SAMPLE = SHARED / "data" / "cfpb_real_sample.csv"
CONTRACT = SHARED / "course_contract"
needs_real = pytest.mark.skipif(
    not (SAMPLE.exists() and (CONTRACT / "label_list.json").exists()), reason="real sample or contract absent"
)

LABELS = ["A", "B", "C"]
MERGE_MAP = {"_comment": "ignored", "a-old": "A", "B": "B", "z-old": "Z", "unused": "C"}
LONG = " ".join(["word"] * 70)


def _frame(issues, texts):
    return pd.DataFrame({"Issue": issues, "Consumer Complaint": texts})


@pytest.fixture
def tiny():
    train = _frame(
        ["a-old", "A", "B", "B", "z-old", "Q", "A"],
        [
            "I was charged XXXX on XX/XX/2019",  # 6 words, redacted, numeric
            "short one",
            "they took {$200.00} from me",  # 5 words, dollar, numeric
            "XXXX XXXX called me",
            "dropped row XXXX",
            "another dropped",
            LONG,
        ],
    )
    test = _frame(["a-old", "Z", "C"], ["x", "y", "z"])
    return train, test


def _tokenizer(texts, vocab_size=5000):
    """A real WordLevel tokenizer trained offline, adding [CLS] ... [SEP]."""
    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    tok.train_from_iterator(texts, trainers.WordLevelTrainer(vocab_size=vocab_size, special_tokens=specials))
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[(s, tok.token_to_id(s)) for s in ("[CLS]", "[SEP]")]
    )
    wrapped = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]"
    )
    return tok, wrapped


def test_merge_story_by_hand(tiny):
    train, test = tiny
    result = audit(train, LABELS, MERGE_MAP, raw_test=test)
    json.dumps(result)  # plain Python types only
    assert result["rows"] == {"train": 7, "test": 3}
    merge = result["merge"]
    assert merge["raw_labels"] == 7  # a-old, A, B, z-old, Q, Z, C
    assert merge["merged_labels"] == 5  # A, B, Z, Q, C
    assert merge["kept_labels"] == 3
    assert merge["dropped_labels"] == [{"label": "Z", "rows": 2}, {"label": "Q", "rows": 1}]
    assert merge["rows_merged"] == 3  # two a-old, one z-old; the no-op B->B changes nothing
    assert merge["rows_lost"] == {"train": 2, "test": 1}
    assert merge["map_entries"] == 4
    assert merge["noop_entries"] == ["B"]


def test_train_index_restricts_the_train_rows(tiny):
    train, test = tiny
    result = audit(train, LABELS, MERGE_MAP, raw_test=test, train_index=[0, 2, 4, 6])
    lab = result["labels"]
    assert lab["train_rows"] == 3  # row 4 is z-old, dropped
    assert lab["counts"] == {"A": 2, "B": 1, "C": 0}
    assert lab["present"] == 2
    assert lab["top_label"] == "A"
    assert lab["top_share"] == pytest.approx(2 / 3)
    assert lab["under_50"] == 3 and lab["under_10"] == 3  # absent C included
    assert lab["tiers"] == {"A": "head", "B": "head", "C": "tail"}
    assert result["redaction"] == {"xxxx_share": pytest.approx(1 / 3), "dollar_share": pytest.approx(1 / 3)}
    assert result["length_words"]["median"] == 6
    assert result["length_words"]["max"] == 70
    assert sum(result["length_words"]["histogram"]["counts"]) == 3
    assert result["slices"]["tier"] == {"head": 3, "mid": 0, "tail": 0}
    assert result["slices"]["length"] == {"short": 2, "medium": 0, "long": 1}
    assert result["slices"]["numeric"] == {"true": 2, "false": 1}
    # the merge story still covers every raw row
    assert result["merge"]["rows_lost"] == {"train": 2, "test": 1}

    everything = audit(train, LABELS, MERGE_MAP)
    assert everything["labels"]["counts"] == {"A": 3, "B": 2, "C": 0}
    assert "test" not in everything["rows"]


def test_no_train_rows_left_is_an_error(tiny):
    train, _ = tiny
    with pytest.raises(ValueError, match="no train rows"):
        audit(train, LABELS, MERGE_MAP, train_index=[4, 5])


def test_token_lengths_count_special_tokens(tiny):
    train, _ = tiny
    raw_tok, tokenizer = _tokenizer(train["Consumer Complaint"])
    result = audit(train, LABELS, MERGE_MAP, tokenizer=tokenizer, max_length=7)
    kept = train.loc[[0, 1, 2, 3, 6], "Consumer Complaint"].tolist()
    lengths = np.array([len(e.ids) for e in raw_tok.encode_batch(kept)])
    # Whitespace splits "XX/XX/2019" into 5 tokens and "{$200.00}" into 5; [CLS] and [SEP] add 2.
    assert sorted(lengths.tolist()) == [4, 6, 11, 12, 72]
    tokens = result["length_tokens"]
    assert tokens["max_length"] == 7
    assert tokens["share_truncated"] == pytest.approx(3 / 5)
    assert tokens["median"] == 11


def test_report_and_plots(tiny, tmp_path):
    train, test = tiny
    result = audit(train, LABELS, MERGE_MAP, raw_test=test)
    report = format_report(result)
    assert "top class 'A' holds 60.0% of train" in report
    assert "3 of 3 labels have fewer than 50 train examples" in report
    assert "'Z'" in report  # the dropped label is named
    paths = plot(result, tmp_path / "plots")
    assert [p.name for p in paths] == ["label_distribution.png", "length_histogram.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 1000 for p in paths)


def test_empty_texts_are_counted_and_train_index_is_by_row_number():
    raw = _frame(["A", "B", "A"], ["one", "", "three"])
    result = audit(raw, LABELS, MERGE_MAP, train_index=[1, 2])
    assert result["labels"]["counts"] == {"A": 1, "B": 1, "C": 0}
    assert result["empty_texts"] == {"train": 1}
    assert "(1 with empty text)" in format_report(result)


@pytest.fixture(scope="module")
def real():
    raw = pd.read_csv(SAMPLE, keep_default_na=False)
    labels = json.loads((CONTRACT / "label_list.json").read_text())
    merge_map = json.loads((CONTRACT / "label_merge_mapping.json").read_text())
    raw_tok, tokenizer = _tokenizer(raw["Consumer Complaint"])
    result = audit(raw, labels, merge_map, tokenizer=tokenizer, max_length=128)
    return raw, labels, raw_tok, result


@needs_real
def test_real_sample_matches_its_own_columns(real):
    raw, labels, _, result = real
    kept = raw[raw["in_course_113"]]
    assert result["labels"]["train_rows"] == len(kept) == 4389
    assert result["merge"]["rows_lost"] == {"train": len(raw) - 4389}
    assert result["merge"]["rows_merged"] == int((raw["Issue"] != raw["issue_merged"]).sum())
    expected = kept["issue_merged"].value_counts().reindex(labels, fill_value=0).to_dict()
    assert result["labels"]["counts"] == expected
    assert result["labels"]["present"] == 63
    text = kept["Consumer Complaint"]
    assert result["redaction"]["xxxx_share"] == pytest.approx(text.str.contains("XXXX").mean())
    assert result["length_words"]["median"] == text.str.split().str.len().median()
    assert result["labels"]["under_50"] == sum(n < 50 for n in expected.values())


@needs_real
def test_real_sample_token_truncation_and_report(real):
    raw, _, raw_tok, result = real
    texts = raw.loc[raw["in_course_113"], "Consumer Complaint"].tolist()
    direct = np.mean([len(e.ids) > 128 for e in raw_tok.encode_batch(texts)])
    assert 0 < direct < 1
    assert result["length_tokens"]["share_truncated"] == pytest.approx(direct)
    report = format_report(result)
    assert repr(result["labels"]["top_label"]) in report
    assert f"{result['labels']['under_50']} of 113 labels have fewer than 50 train examples" in report
