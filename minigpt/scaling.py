"""What scale buys: loss by position in the context window, and the arithmetic of compute.

A model's loss is an average over every position of its window, but position 0 predicts from a
single token and the last position from a whole window. Splitting the loss by position shows
how much the extra context is worth. The compute rules of thumb let us compare our runs with
published ones: training costs about 6 N D floating-point operations for N parameters and D
tokens (Kaplan et al., 2020), and a compute-optimal run sees about 20 tokens per parameter
(Hoffmann et al., 2022, "Chinchilla").
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from minigpt.data import get_batch

CHINCHILLA_TOKENS_PER_PARAMETER = 20


@torch.no_grad()
def loss_by_position(
    model: nn.Module,
    data: torch.Tensor,
    batch_size: int,
    num_batches: int,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """Mean cross-entropy at each position of the window, shape (block_size,), in eval mode.

    Entry t is the loss of predicting token t + 1 from the t + 1 tokens before it, so the first
    entry is what the model does with one token of context and the last with a full window.
    """
    if num_batches < 1:
        raise ValueError(f"num_batches must be at least 1, got {num_batches}")
    was_training = model.training
    model.eval()
    block_size = model.config.block_size
    total = torch.zeros(block_size, dtype=torch.float64)
    for _ in range(num_batches):
        x, y = get_batch(data, batch_size, block_size, generator, device)
        logits, _ = model(x)
        losses = F.cross_entropy(logits.float().transpose(1, 2), y, reduction="none")  # (B, T)
        total += losses.mean(dim=0).double().cpu()
    model.train(was_training)
    return (total / num_batches).float()


def training_flops(num_parameters: int, num_tokens: int) -> float:
    """About 6 N D: each token costs 2 N operations forward (a multiply and an add per weight)
    and twice that backward. Attention's own work is left out, as in the published estimates."""
    return 6.0 * num_parameters * num_tokens


def compute_optimal_tokens(num_parameters: int) -> int:
    """The Chinchilla rule of thumb: a model of N parameters is best trained on about 20 N tokens
    when the compute budget is fixed."""
    return CHINCHILLA_TOKENS_PER_PARAMETER * num_parameters
