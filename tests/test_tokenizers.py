import random

import pytest

from minigpt import tokenizers
from minigpt.tokenizers import (
    BPETokenizer,
    CharTokenizer,
    UnknownSymbolError,
    merge,
    most_frequent_pair,
    pair_counts,
)


def test_char_tokenizer_round_trips_all_of_shakespeare(shakespeare):
    tokenizer = CharTokenizer.fit(shakespeare)
    ids = tokenizer.encode(shakespeare)
    assert tokenizer.vocab_size == 65 and len(ids) == len(shakespeare)
    assert tokenizer.decode(ids) == shakespeare
    assert tokenizer.itos[:3] == ["\n", " ", "!"]  # sorted by code point


def test_char_tokenizer_names_the_unknown_symbols():
    tokenizer = CharTokenizer.fit("hello")
    with pytest.raises(UnknownSymbolError, match="'wz'"):
        tokenizer.encode("howzw")
    with pytest.raises(UnknownSymbolError, match="id 9 is outside the vocabulary"):
        tokenizer.decode([0, 9])


def test_char_tokenizer_saves_and_loads(tmp_path):
    tokenizer = CharTokenizer.fit("to be or not to be\n")
    tokenizer.save(tmp_path / "tok.json")
    again = CharTokenizer.load(tmp_path / "tok.json")
    assert again.itos == tokenizer.itos
    with pytest.raises(ValueError, match="not a BPETokenizer"):
        BPETokenizer.load(tmp_path / "tok.json")


def test_pair_counts_count_overlapping_pairs_in_order_of_appearance():
    assert pair_counts([7, 7, 7, 1]) == {(7, 7): 2, (7, 1): 1}
    assert list(pair_counts([3, 1, 2, 3, 1])) == [(3, 1), (1, 2), (2, 3)]
    assert pair_counts([5]) == {}


def test_ties_go_to_the_pair_seen_first():
    assert most_frequent_pair([1, 2, 3, 4, 3, 4, 1, 2]) == (1, 2)


@pytest.mark.parametrize(
    ("ids", "pair", "expected"),
    [
        ([97, 97, 97], (97, 97), [256, 97]),  # "aaa": left to right, no overlap
        ([97, 97, 97, 97], (97, 97), [256, 256]),
        ([1, 97, 97, 97, 2, 97, 97], (97, 97), [1, 256, 97, 2, 256]),
        ([1, 2, 1, 2, 3], (1, 2), [300, 300, 3]),
        ([1, 2, 3], (3, 1), [1, 2, 3]),
    ],
)
def test_merge_replaces_non_overlapping_pairs_left_to_right(ids, pair, expected):
    new_id = 300 if pair == (1, 2) else 256
    assert merge(ids, pair, new_id) == expected


def test_bpe_training_learns_the_expected_merges():
    tokenizer = BPETokenizer.train("aaabdaaabac", 3)
    assert tokenizer.merges == [(97, 97), (256, 97), (257, 98)]
    assert tokenizer.vocab[258] == b"aaab"
    assert tokenizer.encode("aaabdaaabac") == [258, 100, 258, 97, 99]


def test_bpe_round_trips_shakespeare_and_unseen_text(shakespeare):
    tokenizer = BPETokenizer.train(shakespeare[:100_000], 100)
    assert tokenizer.vocab_size == 356
    ids = tokenizer.encode(shakespeare)
    assert tokenizer.decode(ids) == shakespeare
    assert 1.5 < len(shakespeare) / len(ids) < 2.5
    for text in ["", "x", "naïve café ☕ 東京 🙂", "ROMEO:\n\tzzzz!!"]:
        assert tokenizer.decode(tokenizer.encode(text)) == text


def test_bpe_saves_loads_and_rejects_unknown_ids(tmp_path):
    tokenizer = BPETokenizer.train("the cat sat on the mat " * 5, 10)
    tokenizer.save(tmp_path / "bpe.json")
    again = BPETokenizer.load(tmp_path / "bpe.json")
    assert again.merges == tokenizer.merges
    assert again.encode("the mat") == tokenizer.encode("the mat")
    with pytest.raises(UnknownSymbolError, match="id 999"):
        again.decode([104, 999])


def _train_slowly(text, num_merges):
    """The BPE loop spelled out with the public building blocks: what `train` must agree with."""
    ids, merges = list(text.encode("utf-8")), []
    for new_id in range(256, 256 + num_merges):
        counts = pair_counts(ids)
        if not counts or max(counts.values()) < 2:
            break
        pair = most_frequent_pair(ids)
        ids = merge(ids, pair, new_id)
        merges.append(pair)
    return merges


def test_bpe_training_matches_the_plain_loop_including_ties():
    rng = random.Random(0)
    for _ in range(60):
        alphabet = rng.choice(["ab", "abc", "aab ", "xé🙂"])
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 50)))
        num_merges = rng.randint(0, 10)
        assert BPETokenizer.train(text, num_merges).merges == _train_slowly(text, num_merges)
    # "banana bandana": after "an", the pairs "ban" and "ana" tie; "ban" is seen first.
    assert BPETokenizer.train("banana bandana", 5).merges == [(97, 110), (98, 256), (256, 97)]


def test_bpe_training_without_the_pair_table_learns_the_same(shakespeare, monkeypatch):
    text = shakespeare[:5_000]
    fast = BPETokenizer.train(text, 30).merges
    monkeypatch.setattr(tokenizers, "_BINCOUNT_LIMIT", 0)  # the path for very large vocabularies
    assert BPETokenizer.train(text, 30).merges == fast == _train_slowly(text, 30)


def test_sequence_lengths_follow_each_merge():
    tokenizer = BPETokenizer.train("banana bandana", 3)
    assert tokenizer.sequence_lengths("banana bandana") == [14, 10, 8, 6]
    assert tokenizer.sequence_lengths("") == [0, 0, 0, 0]
    unseen = "a banana, café 🙂"
    lengths = tokenizer.sequence_lengths(unseen)
    assert lengths[0] == len(unseen.encode())
    assert lengths[-1] == len(tokenizer.encode(unseen))
    assert all(a >= b for a, b in zip(lengths, lengths[1:], strict=False))
