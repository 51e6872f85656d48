"""Embeddings: a table of vectors, one row per token, and the geometry of those vectors.

Multiplying a one-hot vector by a table picks out one of its rows, so an embedding layer is a
matrix product that skips the multiplications. A GPT adds a second table indexed by position,
and the size of that table is the longest context the model can read. Once tokens are vectors,
similarity is an angle (cosine similarity), and relations between words can be differences
between vectors (king - man + woman lands near queen).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F

from minigpt.shapes import ShapeError, check_shape

TOY_FEATURES = ("royal", "masculine", "grown-up", "person", "fruit")
_TOY_TABLE = {
    # hand-made, so that each number can be read: royal, masculine (+) or feminine (-), ...
    "king": (0.93, 0.85, 0.92, 0.98, 0.02),
    "queen": (0.95, -0.88, 0.90, 0.97, 0.01),
    "prince": (0.88, 0.82, 0.15, 0.96, 0.03),
    "princess": (0.90, -0.86, 0.12, 0.95, 0.02),
    "man": (0.04, 0.91, 0.88, 0.99, 0.03),
    "woman": (0.05, -0.90, 0.91, 0.98, 0.02),
    "boy": (0.02, 0.87, 0.08, 0.97, 0.04),
    "girl": (0.03, -0.84, 0.10, 0.96, 0.03),
    "apple": (0.01, 0.02, 0.05, 0.02, 0.97),
    "pear": (0.03, -0.01, 0.04, 0.01, 0.94),
}


def toy_word_embeddings() -> tuple[list[str], torch.Tensor]:
    """Ten words and a hand-made (10, 5) table whose columns are TOY_FEATURES.

    Learned embeddings have no named dimensions; this table has, so the geometry of
    similarity and analogies can be checked by eye before we look at learned ones.
    """
    words = list(_TOY_TABLE)
    return words, torch.tensor([_TOY_TABLE[w] for w in words])


def one_hot_embed(ids: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Embed `ids` (any shape) as one_hot(ids) @ table: (..., V) @ (V, C) -> (..., C).

    The slow way round, on purpose: it shows that an embedding lookup `table[ids]` is a matrix
    product with one-hot vectors, which is why the table can be trained like any other weight.
    """
    check_shape(table, (None, None), "table")
    one_hot = F.one_hot(torch.as_tensor(ids, dtype=torch.long), table.size(0))
    return one_hot.to(table.dtype) @ table


def embed_tokens_and_positions(
    idx: torch.Tensor, tok_table: torch.Tensor, pos_table: torch.Tensor
) -> torch.Tensor:
    """x[b, t] = tok_table[idx[b, t]] + pos_table[t]: what a GPT feeds its first block.

    The position table has one row per position, so a sequence longer than its rows (the
    model's block_size) cannot be embedded: that is the context length limit.
    """
    check_shape(tok_table, (None, "C"), "tok_table")
    check_shape(pos_table, (None, tok_table.size(1)), "pos_table")
    if idx.dim() != 2:
        raise ShapeError(f"idx: expected shape (B, T), got {tuple(idx.shape)}")
    T, block_size = idx.size(1), pos_table.size(0)
    if block_size < T:
        raise ShapeError(
            f"idx: expected at most block_size={block_size} positions, got T={T}; "
            f"crop the context to its last {block_size} tokens"
        )
    positions = torch.arange(T, device=idx.device)
    return tok_table[idx] + pos_table[positions]  # (B, T, C) + (T, C) broadcasts over B


def cosine_similarity(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """cos of the angle between a and b along the last dimension, broadcasting the others.

    Unlike the dot product it ignores length: a rare token's vector may be long or short, but
    what it means is in its direction. (..., C) and (..., C) -> (...), values in [-1, 1].
    """
    a_unit = a / a.norm(dim=-1, keepdim=True).clamp_min(eps)
    b_unit = b / b.norm(dim=-1, keepdim=True).clamp_min(eps)
    return (a_unit * b_unit).sum(dim=-1)


def nearest_neighbours(
    query: torch.Tensor, table: torch.Tensor, k: int = 5, exclude: Iterable[int] = ()
) -> list[int]:
    """The ids of the k rows of `table` most similar to `query` (by cosine), best first.

    Rows in `exclude` are skipped, for example the query's own token.
    """
    check_shape(table, (None, query.size(-1)), "table")
    scores = cosine_similarity(query.detach().unsqueeze(0), table.detach())
    skipped = list(exclude)
    if skipped:
        scores[torch.tensor(skipped, dtype=torch.long)] = float("-inf")
    if not 1 <= k <= table.size(0) - len(set(skipped)):
        raise ValueError(f"k must be between 1 and the number of candidate rows, got {k}")
    return scores.topk(k).indices.tolist()


def analogy(table: torch.Tensor, a: int, b: int, c: int) -> int:
    """a is to b as c is to ?: the row nearest to table[b] - table[a] + table[c].

    With a = man, b = king, c = woman the answer should be queen. The three given words are
    excluded, because the target vector is usually closest to b or c themselves.
    """
    target = table[b] - table[a] + table[c]
    return nearest_neighbours(target, table, k=1, exclude=(a, b, c))[0]
