"""Seeded random tensors, so every test sees the same numbers on every run."""

from __future__ import annotations

import torch


def randn(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
