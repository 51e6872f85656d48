"""Supervised fine-tuning (SFT): train on prompt/response pairs, scoring the response alone.

A pair becomes one sequence, prompt then response, trained with the same next-token loss as
pretraining. The positions whose next token still belongs to the prompt get the target
IGNORE_INDEX, which cross-entropy skips: the model is taught to answer, not to write prompts.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from minigpt.shapes import ShapeError
from minigpt.tokenizers import Tokenizer

IGNORE_INDEX = -100  # F.cross_entropy's default ignore_index: such targets count for nothing


def sft_example(
    tokenizer: Tokenizer, prompt: str, response: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs and targets, both (T,), for one pair: T = len(prompt + response) - 1 tokens.

    Input t is token t of prompt + response and its target is token t + 1, as in pretraining,
    except that the targets inside the prompt are IGNORE_INDEX. The first target that counts
    is the first token of the response, predicted from the whole prompt.
    """
    prompt_ids, response_ids = tokenizer.encode(prompt), tokenizer.encode(response)
    if not prompt_ids or not response_ids:
        raise ValueError("a pair needs a prompt and a response of at least one token each")
    ids = torch.tensor(prompt_ids + response_ids, dtype=torch.long)
    inputs, targets = ids[:-1], ids[1:].clone()
    targets[: len(prompt_ids) - 1] = IGNORE_INDEX
    return inputs, targets


def sft_batch(
    examples: Sequence[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs of different lengths stacked into (B, T), T the longest: each is padded at its end,
    inputs with 0 and targets with IGNORE_INDEX, so padding is read but never scored (a causal
    model never lets a real position see the padding after it)."""
    if not examples:
        raise ValueError("an empty batch")
    longest = max(len(inputs) for inputs, _ in examples)
    x = torch.zeros(len(examples), longest, dtype=torch.long)
    y = torch.full((len(examples), longest), IGNORE_INDEX, dtype=torch.long)
    for row, (inputs, targets) in enumerate(examples):
        if inputs.shape != targets.shape:
            raise ShapeError(
                f"pair {row}: inputs {tuple(inputs.shape)} vs targets {tuple(targets.shape)}"
            )
        x[row, : len(inputs)] = inputs
        y[row, : len(targets)] = targets
    return x, y


def masked_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the positions whose target is not IGNORE_INDEX.

    logits (B, T, V), targets (B, T). The mean is over scored positions only, so a batch of
    long prompts and short answers weighs every answer token the same as any other.
    """
    if logits.dim() != 3 or targets.shape != logits.shape[:2]:
        raise ShapeError(
            f"expected logits (B, T, V) and targets (B, T), got {tuple(logits.shape)} and "
            f"{tuple(targets.shape)}"
        )
    return F.cross_entropy(
        logits.reshape(-1, logits.size(-1)).float(),
        targets.reshape(-1),
        ignore_index=IGNORE_INDEX,
    )
