import numpy as np
import pytest

from course.slices import TIER_SIZES, frequency_tiers, slice_frame, word_counts


def _labels_from_counts(counts):
    return np.repeat(np.arange(len(counts)), counts)


def test_ties_break_by_lower_id_and_absent_classes_are_tail():
    # 70 present classes: class 69 is most frequent, classes 0..68 tie at one example.
    counts = [1] * 69 + [5] + [0]  # class 70 is absent
    tiers = frequency_tiers(_labels_from_counts(counts), num_labels=71)
    assert [c for c, t in enumerate(tiers) if t == "head"] == list(range(19)) + [69]
    assert [c for c, t in enumerate(tiers) if t == "mid"] == list(range(19, 59))
    assert [c for c, t in enumerate(tiers) if t == "tail"] == list(range(59, 69)) + [70]


def test_absent_classes_are_tail_even_when_their_rank_is_high():
    tiers = frequency_tiers([7, 7, 3, 100], num_labels=113)
    assert tiers[7] == tiers[3] == tiers[100] == "head"
    assert tiers.count("head") == 3
    assert tiers.count("mid") == 0
    assert tiers.count("tail") == 110


def test_113_classes_split_20_40_53_by_count():
    counts = np.random.default_rng(0).permutation(np.arange(1, 114))
    tiers = frequency_tiers(_labels_from_counts(counts), num_labels=113)
    assert TIER_SIZES == (20, 40)
    assert [tiers.count(t) for t in ("head", "mid", "tail")] == [20, 40, 53]
    assert {c for c in range(113) if tiers[c] == "head"} == {c for c in range(113) if counts[c] >= 94}
    assert {c for c in range(113) if tiers[c] == "mid"} == {c for c in range(113) if 54 <= counts[c] <= 93}


def test_labels_outside_the_class_range_are_rejected():
    with pytest.raises(ValueError):
        frequency_tiers([0, 5], num_labels=5)
    with pytest.raises(ValueError):
        frequency_tiers([-1], num_labels=5)


def test_word_counts_split_on_any_whitespace():
    assert word_counts(["", "  a  b\nc\t", "x"]).tolist() == [0, 3, 1]


def test_length_bins_at_the_cut_offs():
    texts = [" ".join(["w"] * n) for n in (34, 35, 65, 66)]
    frame = slice_frame(texts, [0, 0, 0, 0], ["head"])
    assert frame["length"].tolist() == ["short", "medium", "medium", "long"]


@pytest.mark.parametrize(
    "text, redacted, numeric",
    [
        ("it cost $5", False, True),
        ("account 12345", False, True),
        ("in 2019.", False, True),
        ("on 2019-05-01", False, True),
        ("code abc1234", False, False),
        ("code 1234abc", False, False),
        ("only 123", False, False),
        ("paid {$100.00}", False, True),
        ("paid {$XXXX}", True, False),
        ("paid {$XXX}", False, False),
        ("on XX/XX/XXXX", True, False),
        ("lowercase xxxx", False, False),
    ],
)
def test_redaction_and_numeric_patterns(text, redacted, numeric):
    row = slice_frame([text], [1], ["head", "tail"]).iloc[0]
    assert row["redacted"] == redacted
    assert row["numeric"] == numeric
    assert row["tier"] == "tail"


def test_slice_frame_has_one_row_per_text_and_checks_lengths():
    frame = slice_frame(["a", "b XXXX"], [0, 1], ["head", "mid"])
    assert list(frame.columns) == ["tier", "length", "redacted", "numeric"]
    assert frame["tier"].tolist() == ["head", "mid"]
    assert frame["redacted"].tolist() == [False, True]
    with pytest.raises(ValueError):
        slice_frame(["a", "b"], [0], ["head"])
