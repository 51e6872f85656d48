"""Exercise 02-tokenization: how each answer is run and judged (the cases are in the notebook).

Task 1 defines three functions, so its cases come in kinds of their own: the whole round trip
(vocabulary, ids, text), encoding or decoding with a given vocabulary, and an unknown character
that must be refused. Task 5 encodes and decodes with merges the test cell learned (plain lists
of pairs). The other tasks are plain calls compared with `minigpt.tokenizers`.

Withheld while grading, besides the references: every part of `CharTokenizer` and
`BPETokenizer` that does a task's work (building the byte table of decoding included), and the
private helpers that merge a pair or find the pair to merge.
"""

from __future__ import annotations

from typing import Any

from minigpt.probes.judge import fail, same_kind, same_value, short
from minigpt.probes.spec import NOTHING, Answer, Case, Kind, TaskSpec
from minigpt.tokenizers import BPETokenizer, CharTokenizer

# Adapters: minigpt's tokenizers are classes; the tasks are functions.


def vocab_of(text: str) -> list[str]:
    """char_vocab: the sorted distinct characters."""
    return CharTokenizer.fit(text).itos


def encode_chars(text: str, vocab: list[str]) -> list[int]:
    """char_encode with a given vocabulary."""
    return CharTokenizer(vocab).encode(text)


def decode_chars(ids: list[int], vocab: list[str]) -> str:
    """char_decode with a given vocabulary."""
    return CharTokenizer(vocab).decode(ids)


def learned_merges(text: str, num_merges: int) -> list[tuple[int, int]]:
    """train_bpe: the merges BPETokenizer.train learns, in order."""
    return BPETokenizer.train(text, num_merges).merges


def encode_bytes(text: str, merges: list) -> list[int]:
    """bpe_encode: the UTF-8 bytes of the text with every merge applied in order."""
    return BPETokenizer(merges).encode(text)


def decode_bytes(ids: list[int], merges: list) -> str:
    """bpe_decode: the bytes of every id joined, then decoded."""
    return BPETokenizer(merges).decode(ids)


def same_text(got: Any, want: str, what: str) -> None:
    """`got` is the string `want`; else say where they part, with a few characters of each."""
    same_kind(got, want, what)
    if got == want:
        return
    at = next((i for i, (a, b) in enumerate(zip(got, want, strict=False)) if a != b), None)
    if at is None:
        at = min(len(got), len(want))
    fail(
        f"{what}: expected {len(want)} characters, got {len(got)}; they differ from character "
        f"{at} on: expected {want[at : at + 12]!r}, got {got[at : at + 12]!r}"
    )


def _wanted(case: Case, expected: dict | None, key: str) -> Any:
    """The hand-written expected value of a case when it has one, else the reference's."""
    if case.expected is not NOTHING:
        return case.expected
    return None if expected is None else expected[key]


# Task 1: the character tokenizer.


def chars_round_trip(answer: Answer, text: str) -> dict:
    """The vocabulary of a text, the ids of the text with it, and the text decoded back."""
    vocab = answer.char_vocab(text)
    ids = answer.char_encode(text, vocab)
    return {"vocab": vocab, "ids": ids, "back": answer.char_decode(ids, vocab)}


def judge_chars_round_trip(case: Case, mine: dict, expected: dict | None) -> None:
    what = case.what
    vocab, ids, back = mine.get("vocab"), mine.get("ids"), mine.get("back")
    same_kind(vocab, [], f"char_vocab({what})")
    same_value(vocab, expected["vocab"], f"char_vocab({what}): the sorted distinct characters")
    same_kind(ids, [], f"char_encode({what}, vocab)")
    same_value(ids, expected["ids"], f"char_encode({what}, vocab)")
    same_kind(back, "", f"char_decode(ids, vocab) for {what}")
    same_text(back, case.inputs["text"], f"char_decode(char_encode({what})): the round trip")


def chars_encode(answer: Answer, text: str, vocab: list[str]) -> dict:
    return {"ids": answer.char_encode(text, vocab)}


def judge_chars_encode(case: Case, mine: dict, expected: dict | None) -> None:
    same_kind(mine.get("ids"), [], case.what)
    same_value(mine.get("ids"), _wanted(case, expected, "ids"), case.what)


def chars_decode(answer: Answer, ids: list[int], vocab: list[str]) -> dict:
    return {"text": answer.char_decode(ids, vocab)}


def judge_chars_decode(case: Case, mine: dict, expected: dict | None) -> None:
    same_text(mine.get("text"), _wanted(case, expected, "text"), case.what)


def chars_unknown(answer: Answer, text: str, vocab: list[str]) -> dict:
    """char_encode on a text with a character outside the vocabulary: did it raise?"""
    try:
        ids = answer.char_encode(text, vocab)
    except Exception as error:  # any exception is the right answer here
        return {"raised": type(error).__name__}
    return {"raised": None, "ids": ids}


def judge_chars_unknown(case: Case, mine: dict, expected: dict | None) -> None:
    if mine.get("raised"):
        return
    ids, text = mine.get("ids"), case.inputs["text"]
    if isinstance(ids, list) and len(ids) < len(text):
        fail(
            f"{case.what}: char_encode returned {short(ids)}, {len(ids)} ids for {len(text)} "
            "characters: it left out the unknown character, and must raise an error instead "
            "(do not skip unknown characters)"
        )
    fail(
        f"{case.what}: char_encode returned {short(ids)} instead of raising an error: the text "
        "holds a character that is not in the vocabulary, and it must not get an id"
    )


# Task 5: BPE encoding and decoding.


def bpe_round_trip(answer: Answer, text: str, merges: list) -> dict:
    """The ids of a text, and the text decoded back from them."""
    ids = answer.bpe_encode(text, merges)
    return {"ids": ids, "back": answer.bpe_decode(ids, merges)}


def judge_bpe_round_trip(case: Case, mine: dict, expected: dict | None) -> None:
    what = case.what
    ids, back = mine.get("ids"), mine.get("back")
    same_kind(ids, [], f"bpe_encode({what})")
    same_value(ids, expected["ids"], f"bpe_encode({what}): the ids")
    same_kind(back, "", f"bpe_decode of the ids of {what}")
    same_text(back, case.inputs["text"], f"bpe_decode(bpe_encode({what})): the round trip")


def bpe_decode_only(answer: Answer, ids: list[int], merges: list) -> dict:
    return {"text": answer.bpe_decode(ids, merges)}


TASKS = {
    "char-tokenizer": TaskSpec(
        functions=("char_vocab", "char_encode", "char_decode"),
        reference={
            "char_vocab": "minigpt.probes.ch02_tokenization:vocab_of",
            "char_encode": "minigpt.probes.ch02_tokenization:encode_chars",
            "char_decode": "minigpt.probes.ch02_tokenization:decode_chars",
        },
        promise="char_vocab: the sorted distinct characters as a list; char_encode: a list of "
        "ints, raising an error on an unknown character; char_decode: a string",
        kinds={
            "round_trip": Kind(run=chars_round_trip, judge=judge_chars_round_trip),
            "encode": Kind(run=chars_encode, judge=judge_chars_encode),
            "decode": Kind(run=chars_decode, judge=judge_chars_decode),
            "unknown": Kind(run=chars_unknown, judge=judge_chars_unknown, uses_reference=False),
        },
        withheld=(
            "minigpt.tokenizers:CharTokenizer.__init__",
            "minigpt.tokenizers:CharTokenizer.fit",
            "minigpt.tokenizers:CharTokenizer.encode",
            "minigpt.tokenizers:CharTokenizer.decode",
        ),
    ),
    "count-pairs": TaskSpec(
        functions=("count_pairs",),
        reference={"count_pairs": "minigpt.tokenizers:pair_counts"},
        promise="a dict {(a, b): count} of neighbouring pairs, overlaps counted, keys in order "
        "of first appearance",
        withheld=("minigpt.tokenizers:most_frequent_pair",),
    ),
    "merge-pair": TaskSpec(
        functions=("merge_pair",),
        reference={"merge_pair": "minigpt.tokenizers:merge"},
        promise="a new list with every occurrence of pair replaced by new_id, left to right, "
        "without overlaps",
        keeps_inputs=True,
        withheld=("minigpt.tokenizers:_merge_array",),
    ),
    "train-bpe": TaskSpec(
        functions=("train_bpe",),
        reference={"train_bpe": "minigpt.probes.ch02_tokenization:learned_merges"},
        promise="the list of up to num_merges pairs, in the order learned, merge k making id "
        "256 + k",
        pieces=("count_pairs", "merge_pair"),
        withheld=("minigpt.tokenizers:BPETokenizer.train", "minigpt.tokenizers:_repeated_pair"),
    ),
    "bpe-encode-decode": TaskSpec(
        functions=("bpe_encode", "bpe_decode"),
        reference={
            "bpe_encode": "minigpt.probes.ch02_tokenization:encode_bytes",
            "bpe_decode": "minigpt.probes.ch02_tokenization:decode_bytes",
        },
        promise="bpe_encode: a list of ids; bpe_decode: the string, decoded from all the bytes "
        "joined",
        kinds={
            "round_trip": Kind(run=bpe_round_trip, judge=judge_bpe_round_trip),
            "decode": Kind(run=bpe_decode_only, judge=judge_chars_decode),
        },
        pieces=("merge_pair",),
        withheld=(
            "minigpt.tokenizers:BPETokenizer.__init__",
            "minigpt.tokenizers:BPETokenizer.encode",
            "minigpt.tokenizers:BPETokenizer.decode",
            "minigpt.tokenizers:BPETokenizer.sequence_lengths",
        ),
    ),
}
