"""Autoregressive generation: predict, pick, append, repeat.

The choice of the next token is separate from the model: greedy takes the argmax; sampling
draws from softmax(logits / temperature), optionally restricted to the k most likely tokens
(top-k) or to the smallest set holding probability p (top-p, "nucleus").
"""

from __future__ import annotations

import torch

from minigpt.attention import causal_mask, scaled_dot_product_attention
from minigpt.model import GPT, KVCache


def top_k_filter(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Keep exactly the k largest logits of each row (ties broken by position), -inf elsewhere."""
    if k < 1:
        raise ValueError(f"top_k must be at least 1, got {k}")
    k = min(k, logits.size(-1))
    keep = torch.zeros_like(logits, dtype=torch.bool)
    keep.scatter_(-1, logits.topk(k, dim=-1).indices, True)
    return logits.masked_fill(~keep, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the most likely tokens until their probabilities add up to p, -inf elsewhere.

    The token that crosses p is kept, so the most likely token always survives.
    """
    if not 0.0 < p <= 1.0:
        raise ValueError(f"top_p must be in (0, 1], got {p}")
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs
    drop_sorted = mass_before >= p
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def next_token_distribution(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """Probabilities of the next token from the last logits (B, V), after all filters."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}; use greedy=True")
    logits = logits / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    if top_p is not None:
        logits = top_p_filter(logits, top_p)
    return torch.softmax(logits, dim=-1)


def pick_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """One token id per row of `logits` (B, V), as a (B, 1) tensor."""
    if greedy:
        return logits.argmax(dim=-1, keepdim=True)
    probs = next_token_distribution(logits, temperature, top_k, top_p)
    # Draw on the generator's device so a seeded CPU generator works for a GPU model too.
    where = generator.device if generator is not None else probs.device
    return torch.multinomial(probs.float().to(where), 1, generator=generator).to(logits.device)


@torch.no_grad()
def next_token_logits(
    model: GPT, idx: torch.Tensor, cache: KVCache | None = None
) -> tuple[torch.Tensor, KVCache | None]:
    """Logits (B, V) for the token after idx (B, T), and the cache to pass with the next call.

    The model sees the last block_size tokens. Without a cache every step runs the whole
    window. With one (start from an empty KVCache), the cache holds idx[:, :-1] from the last
    call and only the newest token runs through the model. Once the text is longer than the
    window, the window slides and every token moves to a new position, so every key and value
    changes: the cache can hold nothing exact, and the window runs again as without one.
    Either way a minigpt GPT computes only the last position's output in full (last_logits);
    any other model whose forward returns (logits, loss), such as one of your own, runs in full.
    """
    block_size = model.config.block_size
    if cache is None or idx.size(1) > block_size:
        window = idx[:, -block_size:]
        if isinstance(model, GPT):
            return model.last_logits(window), cache
        logits, _ = model(window)
        return logits[:, -1, :], cache
    if cache.length == idx.size(1) - 1:
        logits, _ = model(idx[:, -1:], cache=cache)
    else:  # a new prompt: fill a fresh cache with all of it
        cache = KVCache(model.config)
        logits, _ = model(idx, cache=cache)
    return logits[:, -1, :], cache


def generate(
    model: GPT,
    idx: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    greedy: bool = False,
    generator: torch.Generator | None = None,
    use_cache: bool = False,
) -> torch.Tensor:
    """Extend idx (B, T) by `max_new_tokens` tokens; returns (B, T + max_new_tokens).

    The model only sees the last block_size tokens. With `use_cache`, keys and values of earlier
    positions are kept and only the newest token is run through the model: the same tokens come
    out, faster. Once the window is full and slides, every position moves, so each step runs
    the cropped window again, as the plain path does (exactness costs the cache's speedup there).
    """
    was_training = model.training
    model.eval()
    cache = KVCache(model.config) if use_cache else None
    # inference_mode skips autograd's bookkeeping on every operation, more than no_grad does;
    # the clone at the end gives back an ordinary tensor that training may use again.
    with torch.inference_mode():
        for _ in range(max_new_tokens):
            logits, cache = next_token_logits(model, idx, cache)
            token = pick_next(logits, temperature, top_k, top_p, greedy, generator)
            idx = torch.cat([idx, token], dim=1)
    model.train(was_training)
    return idx.clone()


def cached_attention_step(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    past_k: torch.Tensor | None = None,
    past_v: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Attention for new positions only, given the keys and values of all earlier ones.

    q, k, v: (..., T_new, D) for the new positions; past_k, past_v: (..., T_past, D) or None.
    Returns (out, keys, values): out (..., T_new, D), and the cache with the new keys and values
    appended, (..., T_past + T_new, D). New position i may see every cached position and the new
    ones up to itself, so the result equals the matching rows of full causal attention: the
    earlier positions' keys and values never change, which is why caching them is exact.
    """
    keys = k if past_k is None else torch.cat([past_k, k], dim=-2)
    values = v if past_v is None else torch.cat([past_v, v], dim=-2)
    past, new = keys.size(-2) - k.size(-2), q.size(-2)
    mask = causal_mask(past + new, q.device)[past:] if new > 1 else None
    return scaled_dot_product_attention(q, keys, values, mask), keys, values
