"""Bits per byte: a loss that compares models whose tokenizers differ.

A loss in nats per token depends on what a token is: a BPE token holds about two characters, so
its loss per token is naturally higher than a character model's. Summed over a whole text, the
cross-entropy is the number of nats the model needs to encode that text; divided by ln 2 it is
in bits, and divided by the text's length in UTF-8 bytes it is bits per byte, whatever the
tokenizer. (A model that stored each byte as it is would need 8.)
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


@torch.no_grad()
def text_cross_entropy(
    model: nn.Module,
    ids: torch.Tensor,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
) -> tuple[float, int]:
    """Total cross-entropy in nats of predicting every token of `ids` (N,) after the first, and
    how many tokens that is (N - 1). In eval mode.

    The text is cut into consecutive windows of block_size tokens, each with the next
    block_size tokens as targets, so every token is predicted exactly once, from the tokens
    before it in its window (the last window may be shorter).
    """
    if ids.dim() != 1 or len(ids) < 2:
        raise ValueError(f"ids: expected a 1-d tensor of at least 2 tokens, got {tuple(ids.shape)}")
    was_training = model.training
    model.eval()
    block_size, predicted = model.config.block_size, len(ids) - 1
    full = list(range(0, predicted - block_size + 1, block_size))
    total = 0.0
    for first in range(0, len(full), batch_size):
        total += _summed_loss(model, ids, full[first : first + batch_size], block_size, device)
    done = len(full) * block_size
    if done < predicted:
        total += _summed_loss(model, ids, [done], predicted - done, device)
    model.train(was_training)
    return total, predicted


def _summed_loss(
    model: nn.Module, ids: torch.Tensor, starts: list[int], length: int, device
) -> float:
    """Summed cross-entropy of the windows ids[s : s + length] against the tokens after them."""
    x = torch.stack([ids[s : s + length] for s in starts]).to(device)
    y = torch.stack([ids[s + 1 : s + length + 1] for s in starts]).to(device)
    logits, _ = model(x)
    return F.cross_entropy(
        logits.float().reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum"
    ).item()


def bits_per_byte(total_nats: float, num_bytes: int) -> float:
    """Nats summed over a text -> bits per UTF-8 byte of that text."""
    if num_bytes < 1:
        raise ValueError(f"num_bytes must be positive, got {num_bytes}")
    return total_nats / math.log(2) / num_bytes
