"""Causality: what a next-token model may see, and a test that proves it sees nothing more.

A language model is trained on every position of a sequence at once, with the whole sequence
in its input. Only a causal mask keeps position t from reading the token it must predict. The
leak test here checks that promise from the outside: change the inputs after t and the outputs
up to t must not move. It treats the model as a black box, so it works on one attention head,
on a whole GPT, or on any function of a sequence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import torch
import torch.nn as nn
import torch.nn.functional as F

from minigpt.attention import causal_mask, scaled_dot_product_attention

Token = TypeVar("Token")


def training_pairs(tokens: Sequence[Token]) -> list[tuple[list[Token], Token]]:
    """Every (context, next token) example hidden in one sequence: len(tokens) - 1 of them.

    A window of T + 1 tokens is T inputs and T shifted targets, so it holds T examples, one per
    context length from 1 to T. A causal model learns from all of them in a single pass.
    """
    tokens = list(tokens)
    return [(tokens[: t + 1], tokens[t + 1]) for t in range(len(tokens) - 1)]


def causal_weights(scores: torch.Tensor) -> torch.Tensor:
    """Softmax over keys with the future removed: scores (..., T, T) -> weights (..., T, T).

    Future scores become -inf before the softmax: exp(-inf) = 0, so they get exactly zero
    weight and do not appear in the normalizing sum either.
    """
    T = scores.size(-1)
    allowed = causal_mask(T, scores.device)
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) masked) v for (..., T, d) inputs: each query sees keys 0..t only."""
    return scaled_dot_product_attention(q, k, v, causal_mask(q.size(-2), q.device))


def perturb_future(
    x: torch.Tensor,
    t: int,
    generator: torch.Generator | None = None,
    vocab_size: int | None = None,
    dim: int = 1,
) -> torch.Tensor:
    """A copy of x whose positions after t (along `dim`) are replaced; positions 0..t are kept.

    Float inputs get fresh standard normal values. Token ids (integer tensors) need
    `vocab_size` and are shifted by a random amount between 1 and vocab_size - 1, so every
    future token really changes.
    """
    changed = x.clone()
    future = changed.narrow(dim, t + 1, x.size(dim) - t - 1)
    if x.is_floating_point():
        noise = torch.randn(future.shape, generator=generator, dtype=x.dtype)
        future.copy_(noise.to(x.device))
    else:
        if vocab_size is None or vocab_size < 2:
            raise ValueError("token ids need vocab_size >= 2 to be perturbed")
        shift = torch.randint(1, vocab_size, future.shape, generator=generator).to(x.device)
        future.copy_((future + shift) % vocab_size)
    return changed


def output_change(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    changed: torch.Tensor,
    dim: int = 1,
) -> torch.Tensor:
    """The largest absolute change of fn's output at each position (along `dim`): shape (T,)."""
    with torch.no_grad():
        difference = (fn(changed) - fn(x)).abs().float().nan_to_num(nan=0.0)
    difference = difference.movedim(dim, 0)
    return difference.reshape(difference.size(0), -1).amax(dim=1).cpu()


def leaks(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    vocab_size: int | None = None,
    atol: float = 1e-5,
    dim: int = 1,
) -> bool:
    """True if some output at a position <= t moves when the inputs after t are changed.

    Tries every cut t = 0 .. T-2. A causal function passes for any input; one failing cut is
    proof of a leak. `atol` absorbs floating-point noise, far below any real leak.
    """
    for t in range(x.size(dim) - 1):
        changed = perturb_future(x, t, generator, vocab_size, dim)
        if output_change(fn, x, changed, dim)[: t + 1].max() > atol:
            return True
    return False


def influence_matrix(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    vocab_size: int | None = None,
    dim: int = 1,
) -> torch.Tensor:
    """(T, T) map: entry [i, j] is how much output i moves when input j alone is replaced.

    For a causal function everything above the diagonal (j > i) is zero.
    """
    T = x.size(dim)
    columns = []
    for j in range(T):
        only_j = perturb_future(x, j - 1, generator, vocab_size, dim)
        if j + 1 < T:  # put back everything after j, so that only position j differs
            only_j.narrow(dim, j + 1, T - j - 1).copy_(x.narrow(dim, j + 1, T - j - 1))
        columns.append(output_change(fn, x, only_j, dim))
    return torch.stack(columns, dim=1)


class TinyAttentionLM(nn.Module):
    """Embeddings, one attention head and a linear head: the smallest attention language model.

    `causal=False` drops the mask, so each position can read the token it is asked to predict.
    The book trains both kinds to show what the mask is for.
    """

    def __init__(self, vocab_size: int, block_size: int, n_embd: int = 64, causal: bool = True):
        super().__init__()
        self.causal = causal
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(block_size, n_embd)
        self.query = nn.Linear(n_embd, n_embd, bias=False)
        self.key = nn.Linear(n_embd, n_embd, bias=False)
        self.value = nn.Linear(n_embd, n_embd, bias=False)
        self.head = nn.Linear(n_embd, vocab_size)

    def _attend(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        T = idx.size(1)
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(T, device=idx.device))
        mask = causal_mask(T, idx.device) if self.causal else None
        q, k, v = self.query(x), self.key(x), self.value(x)
        out, weights = scaled_dot_product_attention(q, k, v, mask, return_weights=True)
        return x + out, weights

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        """Token ids (B, T) -> logits (B, T, vocab_size)."""
        return self.head(self._attend(idx)[0])

    @torch.no_grad()
    def attention_weights(self, idx: torch.Tensor) -> torch.Tensor:
        """The head's attention matrix for idx: (B, T, T), rows are queries."""
        return self._attend(idx)[1]


def prefix_loss(
    model: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor
) -> float:
    """Mean cross-entropy when position t is computed from x[:, :t+1] alone, as in generation.

    For a causal model this equals the ordinary loss over all positions; for a model that
    peeks at the future it is the honest score, since while generating there is no future.
    """
    with torch.no_grad():
        last_logits = [model(x[:, : t + 1])[:, -1] for t in range(x.size(1))]
        logits = torch.stack(last_logits, dim=1)
        return F.cross_entropy(logits.flatten(0, 1), y.flatten()).item()
