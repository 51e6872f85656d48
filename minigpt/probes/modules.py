"""Probing answers that are PyTorch modules: what they are made of, and equal weights for all.

A module a student writes and minigpt's reference can only be compared if both compute with the
same weights. Neither copies the other's (in a sandbox the reference is not there): both fill
their own parameters, name by name, with numbers that depend only on the name, the shape and a
seed. A module with the names and shapes the task asks for then holds exactly the reference's
weights, whatever its own initialisation did.
"""

from __future__ import annotations

import zlib

import torch
from torch import nn


def structure(module: nn.Module) -> dict:
    """The weights' names and shapes (buffers too), how many numbers it learns, and its mode."""
    return {
        "shapes": {name: list(value.shape) for name, value in module.state_dict().items()},
        "parameters": sum(p.numel() for p in module.parameters()),
        "training": module.training,
    }


def fill(module: nn.Module, seed: int, scale: float = 0.2) -> None:
    """Give every parameter values that depend only on (name, shape, seed).

    Matrices get N(0, 1/fan_in)-sized numbers, vectors (biases, layer-norm weights) 1 +
    small noise, so activations stay in a sensible range. A tied weight, seen under several
    names, gets the values of the first of them in alphabetical order, whichever module holds
    it first (`lm_head.weight` for a GPT's tied head, in the reference as in a correct answer)."""
    weights = module.state_dict(keep_vars=True)
    names: dict[int, list[str]] = {}
    for name, value in weights.items():
        names.setdefault(id(value), []).append(name)
    with torch.no_grad():
        for name, value in weights.items():
            if not isinstance(value, nn.Parameter) or name != min(names[id(value)]):
                continue
            generator = torch.Generator().manual_seed(seed * 1_000_003 + zlib.crc32(name.encode()))
            noise = torch.randn(value.shape, generator=generator, dtype=torch.float32)
            matrix = value.dim() >= 2
            values = noise / value.shape[-1] ** 0.5 if matrix else 1.0 + scale * noise
            value.copy_(values.to(value.dtype))
