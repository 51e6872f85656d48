"""Tokenizers: text to integer ids and back.

Two kinds: one id per character (small vocabulary, long sequences), and byte-level byte-pair
encoding (starts from the 256 byte values, then merges the most frequent adjacent pair, again
and again, trading a larger vocabulary for shorter sequences).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np


class UnknownSymbolError(ValueError):
    """Text holds a symbol, or ids hold a value, that the vocabulary does not know."""


class CharTokenizer:
    """One token per distinct character of the text it was fitted on, in sorted order."""

    def __init__(self, chars: Sequence[str]):
        if len(set(chars)) != len(chars):
            raise ValueError("the vocabulary holds a character twice")
        self.itos = list(chars)
        self.stoi = {ch: i for i, ch in enumerate(self.itos)}

    @classmethod
    def fit(cls, text: str) -> CharTokenizer:
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[ch] for ch in text]
        except KeyError:
            unknown = sorted(set(text) - self.stoi.keys())
            raise UnknownSymbolError(
                f"{len(unknown)} character(s) not in the vocabulary of {self.vocab_size}: "
                f"{''.join(unknown)[:20]!r}. Fit the tokenizer on a text that contains them."
            ) from None

    def decode(self, ids: Sequence[int]) -> str:
        ids = [int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < self.vocab_size]
        if bad:
            raise UnknownSymbolError(
                f"id {bad[0]} is outside the vocabulary (0 to {self.vocab_size - 1})"
            )
        return "".join(self.itos[i] for i in ids)

    def to_dict(self) -> dict:
        return {"kind": "char", "chars": self.itos}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> CharTokenizer:
        tokenizer = tokenizer_from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        if not isinstance(tokenizer, cls):
            raise ValueError(f"{path} holds a {type(tokenizer).__name__}, not a {cls.__name__}")
        return tokenizer


_PAIR_BASE = 1 << 31


def pair_counts(ids: Sequence[int]) -> dict[tuple[int, int], int]:
    """How often each adjacent pair occurs, in order of first appearance.

    Overlapping pairs all count: "aaa" holds the pair (a, a) twice.
    """
    arr = np.asarray(ids, dtype=np.int64)
    if len(arr) < 2:
        return {}
    codes = arr[:-1] * _PAIR_BASE + arr[1:]  # one integer per pair: sorting ints is fast
    unique, first, counts = np.unique(codes, return_index=True, return_counts=True)
    order = np.argsort(first, kind="stable")
    return {divmod(int(unique[i]), _PAIR_BASE): int(counts[i]) for i in order}


def most_frequent_pair(ids: Sequence[int]) -> tuple[int, int]:
    """The pair to merge next: the most frequent one, ties going to the pair seen first."""
    counts = pair_counts(ids)
    if not counts:
        raise ValueError("need at least two ids to find a pair")
    return max(counts, key=counts.get)  # max keeps the first of equal counts


def merge(ids: Sequence[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every occurrence of `pair` by `new_id`, scanning left to right.

    Occurrences may not overlap: with pair (a, a), "aaa" becomes [new, a], not [new, new].
    """
    return _merge_array(np.asarray(ids, dtype=np.int64), pair, new_id).tolist()


def _merge_array(arr: np.ndarray, pair: tuple[int, int], new_id: int) -> np.ndarray:
    if len(arr) < 2:
        return arr
    hits = np.flatnonzero((arr[:-1] == pair[0]) & (arr[1:] == pair[1]))
    if len(hits) == 0:
        return arr
    if pair[0] == pair[1]:
        # In a run of back-to-back hits (a repeated token) only every other one is a real match.
        run_start = np.ones(len(hits), dtype=bool)
        run_start[1:] = np.diff(hits) != 1
        run_id = np.cumsum(run_start) - 1
        first_of_run = hits[run_start][run_id]
        hits = hits[(hits - first_of_run) % 2 == 0]
    out = arr.copy()
    out[hits] = new_id
    keep = np.ones(len(arr), dtype=bool)
    keep[hits + 1] = False
    return out[keep]


_BINCOUNT_LIMIT = 1 << 22  # vocabulary squared; above it a table of all pairs uses too much memory


def _repeated_pair(ids: np.ndarray, vocab_size: int) -> tuple[int, int] | None:
    """`most_frequent_pair(ids)` if it occurs at least twice, else None (nothing to gain)."""
    if len(ids) < 3:
        return None
    if vocab_size * vocab_size > _BINCOUNT_LIMIT:
        counts = pair_counts(ids)
        pair = max(counts, key=counts.get)
        return pair if counts[pair] >= 2 else None
    codes = ids[:-1] * vocab_size + ids[1:]
    table = np.bincount(codes)
    best = table.max()
    if best < 2:
        return None
    tied = np.flatnonzero(table == best)
    code = tied[0] if len(tied) == 1 else codes[np.flatnonzero(np.isin(codes, tied))[0]]
    return divmod(int(code), vocab_size)


class BPETokenizer:
    """Byte-level byte-pair encoding: any string encodes, and decoding gives it back exactly."""

    def __init__(self, merges: Sequence[tuple[int, int]] = ()):
        self.merges = [tuple(int(t) for t in pair) for pair in merges]
        self.vocab = [bytes([b]) for b in range(256)]
        for a, b in self.merges:
            self.vocab.append(self.vocab[a] + self.vocab[b])

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @classmethod
    def train(cls, text: str, num_merges: int) -> BPETokenizer:
        """Learn `num_merges` merges on `text`; stops early when no pair repeats.

        Each step merges `most_frequent_pair` (ties to the pair seen first), counted here with
        a fast `np.bincount` while the vocabulary is small enough: a million bytes and a few
        hundred merges then take seconds instead of minutes.
        """
        ids = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)
        merges = []
        for new_id in range(256, 256 + num_merges):
            pair = _repeated_pair(ids, vocab_size=new_id)  # ids so far are all below new_id
            if pair is None:
                break
            ids = _merge_array(ids, pair, new_id)
            merges.append(pair)
        return cls(merges)

    def encode(self, text: str) -> list[int]:
        """Apply the merges in the order they were learned, the same as in training."""
        ids = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)
        for new_id, pair in enumerate(self.merges, start=256):
            ids = _merge_array(ids, pair, new_id)
        return ids.tolist()

    def sequence_lengths(self, text: str) -> list[int]:
        """Length of `text` in tokens after 0, 1, ..., all merges: the price of each merge.

        Entry k is the length with a vocabulary of 256 + k tokens, so one call draws the
        trade-off between vocabulary size and sequence length.
        """
        ids = np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)
        lengths = [len(ids)]
        for new_id, pair in enumerate(self.merges, start=256):
            ids = _merge_array(ids, pair, new_id)
            lengths.append(len(ids))
        return lengths

    def decode(self, ids: Sequence[int]) -> str:
        try:
            raw = b"".join(self.vocab[int(i)] for i in ids)
        except IndexError:
            bad = next(int(i) for i in ids if not 0 <= int(i) < self.vocab_size)
            raise UnknownSymbolError(
                f"id {bad} is outside the vocabulary (0 to {self.vocab_size - 1})"
            ) from None
        # A slice of a token sequence may cut a multi-byte character; show it as U+FFFD.
        return raw.decode("utf-8", errors="replace")

    def compression_ratio(self, text: str) -> float:
        """UTF-8 bytes per token: how much shorter the sequence got."""
        return len(text.encode("utf-8")) / max(1, len(self.encode(text)))

    def to_dict(self) -> dict:
        return {"kind": "bpe", "merges": [list(pair) for pair in self.merges]}

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict()), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> BPETokenizer:
        tokenizer = tokenizer_from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        if not isinstance(tokenizer, cls):
            raise ValueError(f"{path} holds a {type(tokenizer).__name__}, not a {cls.__name__}")
        return tokenizer


Tokenizer = CharTokenizer | BPETokenizer


def tokenizer_from_dict(data: dict) -> Tokenizer:
    """Rebuild a tokenizer saved with `to_dict` (checkpoints store tokenizers this way)."""
    kind = data.get("kind")
    if kind == "char":
        return CharTokenizer(data["chars"])
    if kind == "bpe":
        return BPETokenizer([tuple(pair) for pair in data["merges"]])
    raise ValueError(f"unknown tokenizer kind {kind!r}: expected 'char' or 'bpe'")
