"""Named recipes: a model shape and a training schedule that belong together.

`cpu-small` is nanoGPT's laptop shape (4 layers, 128 dims, context 64, batch 12, 2000 steps);
`gpu-baby` is its "baby GPT" (6 layers, 384 dims, context 256, batch 64, 5000 steps).
`cpu-capstone` is the capstone's CPU recipe: cpu-small's shape with twice the context, trained
on eight times the tokens, about ten minutes on a laptop CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from minigpt.model import GPTConfig
from minigpt.speed import native_bfloat16
from minigpt.train import TrainConfig

# The CPU recipes train in bfloat16 where the CPU has it natively, else in float32. In bfloat16
# the written-out attention is the faster: PyTorch's fused kernel has a slow backward pass there
# (training ran at two thirds of the speed on an AVX-512 BF16 CPU). In float32 the kernel is the
# faster (7% per training step, 8% when sampling). So they take the kernel exactly for float32.
CPU_ATTENTION_KERNEL = not native_bfloat16(torch.device("cpu"))


@dataclass(frozen=True)
class Preset:
    description: str
    model: GPTConfig
    train: TrainConfig


PRESETS: dict[str, Preset] = {
    "cpu-small": Preset(
        "4 layers, 4 heads, 128 dims, context 64, batch 12, 2000 iterations (a CPU, minutes)",
        # A small model takes a higher learning rate than nanoGPT's 1e-3.
        GPTConfig(
            block_size=64, n_layer=4, n_head=4, n_embd=128, use_torch_kernel=CPU_ATTENTION_KERNEL
        ),
        TrainConfig(max_iters=2000, batch_size=12, learning_rate=3e-3, min_lr=3e-4),
    ),
    "cpu-capstone": Preset(
        "4 layers, 4 heads, 128 dims, context 128, batch 32, 3000 iterations (a CPU, ~10 minutes)",
        # Sized for ten CPU minutes: 0.8M parameters see 12M tokens, 15 per parameter, near the
        # Chinchilla rule's 20; a wider model would see too few. Val loss about 1.52 (measured).
        GPTConfig(
            block_size=128, n_layer=4, n_head=4, n_embd=128, use_torch_kernel=CPU_ATTENTION_KERNEL
        ),
        TrainConfig(max_iters=3000, batch_size=32, learning_rate=3e-3, min_lr=3e-4),
    ),
    "gpu-baby": Preset(
        "6 layers, 6 heads, 384 dims, context 256, batch 64, 5000 iterations, dropout 0.2 (a GPU)",
        GPTConfig(block_size=256, n_layer=6, n_head=6, n_embd=384, dropout=0.2),
        TrainConfig(max_iters=5000, batch_size=64, learning_rate=1e-3, min_lr=1e-4, eval_iters=200),
    ),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
