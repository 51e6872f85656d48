"""Self-attention, written out step by step, with a switch to PyTorch's fused kernel.

Each token builds a query ("what am I looking for"), a key ("what do I hold") and a value
("what I pass on"). Scores are query-key dot products scaled by 1/sqrt(head size); a causal
mask hides the future; softmax turns scores into weights that average the values.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from minigpt.shapes import check_shape


def softmax_with_temperature(
    scores: torch.Tensor, temperature: float = 1.0, dim: int = -1
) -> torch.Tensor:
    """softmax(scores / T): T < 1 sharpens the distribution, T > 1 flattens it.

    The maximum is subtracted first so that large scores cannot overflow exp().
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    scaled = scores / temperature
    scaled = scaled - scaled.amax(dim=dim, keepdim=True)
    exp = scaled.exp()
    return exp / exp.sum(dim=dim, keepdim=True)


def causal_mask(size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """A (size, size) boolean matrix, True where query t may look at key s, that is s <= t."""
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout: nn.Module | None = None,
    return_weights: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """softmax(q k^T / sqrt(d)) v over the last two dimensions, for any leading dimensions.

    `mask` is boolean, True where attention is allowed; blocked scores become -inf before the
    softmax, so they get exactly zero weight.
    """
    if q.size(-1) != k.size(-1) or k.size(-2) != v.size(-2):
        raise ValueError(
            f"q, k, v do not fit together: q {tuple(q.shape)}, k {tuple(k.shape)}, "
            f"v {tuple(v.shape)} (need q[-1] == k[-1] and k[-2] == v[-2])"
        )
    scores = q @ k.transpose(-2, -1) / math.sqrt(k.size(-1))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    out = (dropout(weights) if dropout is not None else weights) @ v
    return (out, weights) if return_weights else out


class Head(nn.Module):
    """One causal attention head, spelled out with its own query, key and value projections."""

    def __init__(self, n_embd: int, head_size: int, block_size: int):
        super().__init__()
        self.query = nn.Linear(n_embd, head_size, bias=False)
        self.key = nn.Linear(n_embd, head_size, bias=False)
        self.value = nn.Linear(n_embd, head_size, bias=False)
        self.register_buffer("mask", causal_mask(block_size), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_shape(x, ("B", "T", self.query.in_features), "Head input x")
        T = x.size(1)
        return scaled_dot_product_attention(
            self.query(x), self.key(x), self.value(x), self.mask[:T, :T]
        )


class MultiHeadAttention(nn.Module):
    """Several heads side by side, concatenated, then mixed by one output projection."""

    def __init__(self, n_embd: int, n_head: int, block_size: int):
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd={n_embd} must be divisible by n_head={n_head}")
        self.heads = nn.ModuleList(
            Head(n_embd, n_embd // n_head, block_size) for _ in range(n_head)
        )
        self.proj = nn.Linear(n_embd, n_embd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(torch.cat([head(x) for head in self.heads], dim=-1))


class LayerCache:
    """Keys and values of one layer for every position processed so far (the KV cache).

    The buffers are allocated once for the whole context window and filled in place, so a
    generation step copies only the newest position.
    """

    def __init__(self, capacity: int):
        self.capacity = capacity
        self.length = 0
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None

    def extend(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append k, v (B, heads, T, head size); return everything cached so far."""
        start, end = self.length, self.length + k.size(-2)
        if end > self.capacity:
            raise ValueError(f"the cache holds {self.capacity} positions, asked for {end}")
        if self.keys is None:
            shape = (*k.shape[:-2], self.capacity, k.size(-1))
            self.keys = k.new_empty(shape)
            self.values = v.new_empty(shape)
        self.keys[..., start:end, :] = k
        self.values[..., start:end, :] = v
        self.length = end
        return self.keys[..., :end, :], self.values[..., :end, :]


class CausalSelfAttention(nn.Module):
    """All heads at once: one matrix product makes q, k and v for every head.

    Same maths as MultiHeadAttention, arranged for speed. `use_torch_kernel` picks PyTorch's
    fused scaled_dot_product_attention; False runs the written-out version above.
    """

    def __init__(
        self, n_embd: int, n_head: int, dropout: float = 0.0, use_torch_kernel: bool = True
    ):
        super().__init__()
        if n_embd % n_head:
            raise ValueError(f"n_embd={n_embd} must be divisible by n_head={n_head}")
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.dropout = dropout
        self.attn_dropout = nn.Dropout(dropout)
        self.resid_dropout = nn.Dropout(dropout)
        self.use_torch_kernel = use_torch_kernel

    def _split_heads(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        return tuple(t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))

    def forward(self, x: torch.Tensor, cache: LayerCache | None = None) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self._split_heads(x)
        past = 0
        if cache is not None:
            past = cache.length
            k, v = cache.extend(k, v)
        # Query i sits at position past + i and may see keys 0 .. past + i.
        mask = None if T == 1 else causal_mask(past + T, x.device)[past:]
        if self.use_torch_kernel:
            y = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=None if past == 0 else mask,
                dropout_p=self.dropout if self.training else 0.0,
                is_causal=past == 0 and T > 1,
            )
        else:
            y = scaled_dot_product_attention(q, k, v, mask, self.attn_dropout)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.proj(y))

    def last_query(self, x: torch.Tensor) -> torch.Tensor:
        """The attention output (B, 1, C) of the last position of x (B, T, C) alone.

        The last position may see every position, so no mask is needed: forward(x)[:, -1:]
        without the other T - 1 queries.
        """
        B, T, C = x.shape
        q, k, v = self._split_heads(x)
        q = q[:, :, -1:]
        if self.use_torch_kernel:
            y = F.scaled_dot_product_attention(q, k, v)
        else:
            y = scaled_dot_product_attention(q, k, v)
        return self.resid_dropout(self.proj(y.transpose(1, 2).reshape(B, 1, C)))

    @torch.no_grad()
    def weights(self, x: torch.Tensor) -> torch.Tensor:
        """The attention matrix of every head for input x: shape (B, n_head, T, T)."""
        q, k, v = self._split_heads(x)
        _, weights = scaled_dot_product_attention(
            q, k, v, causal_mask(x.size(1), x.device), return_weights=True
        )
        return weights


def average_past(x: torch.Tensor) -> torch.Tensor:
    """Replace each position of x (..., T, C) by the mean of itself and all earlier positions.

    A loop over positions would do; one product with a row-normalized lower-triangular matrix
    does the same for every position and batch at once. Attention is this, with learned weights.
    """
    weights = causal_mask(x.size(-2), x.device).to(x.dtype)
    weights = weights / weights.sum(dim=-1, keepdim=True)
    return weights @ x


def attention_head(
    x: torch.Tensor,
    w_q: torch.Tensor,
    w_k: torch.Tensor,
    w_v: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """One head from plain matrices: x (..., T, C) and each w (C, head size) -> (..., T, head size).

    The computation of `Head` as a function, so that a test can hand it any weights.
    """
    return scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v, mask)


def cross_attention(
    x: torch.Tensor,
    memory: torch.Tensor,
    w_q: torch.Tensor,
    w_k: torch.Tensor,
    w_v: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """One head of cross-attention: queries from x (..., T_dec, C), keys and values from
    memory (..., T_enc, C); returns (..., T_dec, head size), one output per query.

    This is how the decoder of an encoder-decoder Transformer reads the encoder's output (the
    memory). The weights are (..., T_dec, T_enc), and no causal mask is needed: the memory is
    known in full before decoding starts. `mask` (T_dec, T_enc), True where allowed, can still
    hide positions such as padding.
    """
    if x.size(-1) != w_q.size(0) or memory.size(-1) != w_k.size(0):
        raise ValueError(
            f"x {tuple(x.shape)} and memory {tuple(memory.shape)} must end in the rows of "
            f"w_q {tuple(w_q.shape)} and w_k {tuple(w_k.shape)}"
        )
    return scaled_dot_product_attention(x @ w_q, memory @ w_k, memory @ w_v, mask)


def split_heads(x: torch.Tensor, n_head: int) -> torch.Tensor:
    """(..., T, C) -> (..., n_head, T, C // n_head): head h gets channels h*hs to (h+1)*hs - 1.

    Putting the head axis before T lets one batched matrix product serve every head at once.
    """
    *lead, T, C = x.shape
    if C % n_head:
        raise ValueError(f"{C} channels cannot be split into {n_head} heads of equal size")
    return x.reshape(*lead, T, n_head, C // n_head).transpose(-3, -2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(..., n_head, T, hs) -> (..., T, n_head * hs): the heads' outputs side by side, in order."""
    x = x.transpose(-3, -2)
    return x.reshape(*x.shape[:-2], x.size(-2) * x.size(-1))


def multi_head_attention(
    x: torch.Tensor,
    w_q: torch.Tensor,
    w_k: torch.Tensor,
    w_v: torch.Tensor,
    w_o: torch.Tensor,
    n_head: int,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Multi-head attention from plain (C, C) matrices; x (..., T, C) -> (..., T, C).

    Head h uses columns h*hs to (h+1)*hs - 1 of w_q, w_k and w_v (hs = C // n_head); the heads'
    outputs are concatenated and mixed by w_o. `MultiHeadAttention` without its output bias.
    """
    q, k, v = (split_heads(x @ w, n_head) for w in (w_q, w_k, w_v))
    return merge_heads(scaled_dot_product_attention(q, k, v, mask)) @ w_o
