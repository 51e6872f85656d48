"""Train a preset (`cpu-small` unless told) and measure tokens/s, time and validation loss.

Goals: `cpu-small` reaches val loss <= 1.88 after 2000 iterations at >= 20,000 training
tokens/s on a 2-core CPU (issue 2); `cpu-capstone`, the capstone's CPU recipe, finishes in
about ten minutes (issue 5). The final loss is estimated on 200 batches for a steadier figure
than the 20 batches the training log uses.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch
from common import save

from minigpt.data import load_char_splits
from minigpt.model import GPT
from minigpt.presets import get_preset
from minigpt.speed import native_bfloat16
from minigpt.train import estimate_loss, train
from minigpt.utils import pick_device, seed_everything


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--preset", default="cpu-small")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=1337)
    args = parser.parse_args()

    device = pick_device(args.device)
    preset = get_preset(args.preset)
    seed_everything(args.seed)
    splits = load_char_splits()
    model = GPT(replace(preset.model, vocab_size=splits.tokenizer.vocab_size))
    started = time.perf_counter()
    history = train(model, splits.train, splits.val, replace(preset.train, seed=args.seed), device)
    wall = time.perf_counter() - started
    final = estimate_loss(
        model,
        {"train": splits.train, "val": splits.val},
        preset.model.block_size,
        64,
        200,
        torch.Generator().manual_seed(0),
        device,
    )
    save(
        "train_" + args.preset.replace("-", "_"),
        {
            "device": str(device),
            "bfloat16 autocast": native_bfloat16(device),
            "iterations": preset.train.max_iters,
            "preset": f"{args.preset}: {preset.description}",
            "training tokens/s": round(history.tokens_per_second),
            "training seconds (steps only)": round(history.seconds, 1),
            "wall seconds (with evaluations)": round(wall, 1),
            "val loss, log estimate (20 batches)": round(history.val_loss[-1], 4),
            "val loss, 200 batches of 64": round(final["val"], 4),
            "train loss, 200 batches of 64": round(final["train"], 4),
        },
    )


if __name__ == "__main__":
    main()
