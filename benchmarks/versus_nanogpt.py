"""minigpt against nanoGPT's own model.py, side by side in one process, at the same shape.

Training: minigpt runs its `train` loop; nanoGPT's model runs the steps its train.py takes (its
own AdamW from configure_optimizers, gradient clipping, loss.item() every step). Both draw the
same batches and follow the same learning-rate schedule. Chunks of steps take turns, several
rounds, and the median of each side is compared. On a CPU the clock is this process's CPU time
(one thread), so other programs on a shared machine do not count against either side.
Goals (issue 12): on a CPU, at nanoGPT's CPU shape (cpu-small: 4 layers, 128 dims, context 64,
batch 12) in float32 on one thread, minigpt trains at >= 1.2x nanoGPT's tokens/s; on a GPU, at
the gpu-baby shape in bfloat16, at >= 1.0x.

Sampling (CPU): 500 tokens at temperature 1.0 at the cpu-small shape, minigpt with its KV cache
against nanoGPT's generate, split into the steps while the window of 64 fills and the steps
after it slides. Goal: >= 1.2x in both. minigpt's cached and plain paths must give the same
tokens (checked).

--quality trains both models for the full 2000 iterations (float32), each with its own recipe
(minigpt: the cpu-small preset; nanoGPT: its shakespeare_char learning rates), and compares the
validation loss on 200 batches of 64: the speed must cost nothing there.

nanoGPT is loaded from the folder given with --nanogpt (a checkout of
github.com/karpathy/nanoGPT); none of its code is copied here. Without it, the benchmark says
so and stops.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import torch
import torch.nn as nn
from common import save

from minigpt.data import get_batch, load_char_splits
from minigpt.generate import generate
from minigpt.model import GPT
from minigpt.presets import get_preset
from minigpt.speed import autocast_for
from minigpt.train import TrainConfig, estimate_loss, learning_rate_at, train
from minigpt.utils import pick_device

NANOGPT_RECIPE = {"learning_rate": 1e-3, "min_lr": 1e-4}  # config/train_shakespeare_char.py


def load_nanogpt(path: Path) -> ModuleType | None:
    """nanoGPT's model.py, imported from a checkout (or the file itself), or None."""
    file = path / "model.py" if path.is_dir() else path
    if not file.exists():
        return None
    spec = importlib.util.spec_from_file_location("nanogpt_model", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def clock(device: torch.device) -> float:
    """On a CPU, this process's CPU time: on one thread it is the time the work took, and the
    time other programs held the core does not count. On a GPU, the wall clock."""
    return time.process_time() if device.type == "cpu" else time.perf_counter()


def nanogpt_pair(nanogpt: ModuleType, shape, recipe: TrainConfig, device: torch.device):
    """nanoGPT's model at minigpt's shape, and its optimizer as its train.py makes it."""
    torch.manual_seed(0)
    config = nanogpt.GPTConfig(
        block_size=shape.block_size,
        vocab_size=shape.vocab_size,
        n_layer=shape.n_layer,
        n_head=shape.n_head,
        n_embd=shape.n_embd,
        dropout=shape.dropout,
        bias=True,
    )
    with contextlib.redirect_stdout(io.StringIO()):  # it prints its parameter count
        model = nanogpt.GPT(config).to(device)
        optimizer = model.configure_optimizers(
            recipe.weight_decay, recipe.learning_rate, (recipe.beta1, recipe.beta2), device.type
        )
    return model, optimizer


def nanogpt_steps(model, optimizer, data, recipe, steps, first, generator, device) -> float:
    """Seconds for `steps` training steps the way nanoGPT's train.py takes them."""
    model.train()
    sync(device)
    began = clock(device)
    for step in range(first, first + steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step, recipe)
        x, y = get_batch(data, recipe.batch_size, model.config.block_size, generator, device)
        with autocast_for(device, recipe.mixed_precision):
            _, loss = model(x, y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), recipe.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss.item()
    sync(device)
    return clock(device) - began


def minigpt_steps(model: GPT, data, val, recipe: TrainConfig, steps: int, device) -> float:
    """Seconds for `steps` steps of minigpt's loop. The loop also evaluates on one batch per
    split before and after; that costs minigpt about one step's time, and is counted."""
    quiet = replace(recipe, max_iters=steps, eval_interval=steps + 1, eval_iters=1)
    sync(device)
    began = clock(device)
    with contextlib.redirect_stdout(io.StringIO()):
        train(model, data, val, quiet, device, progress=False)
    sync(device)
    return clock(device) - began


def float32_shape(preset, vocab_size: int):
    """The preset's model as minigpt runs it in float32: with the fused attention kernel, which
    the CPU recipes choose wherever they train in float32 (see minigpt.presets)."""
    return replace(preset.model, vocab_size=vocab_size, use_torch_kernel=True)


def training_speed(nanogpt, splits, preset, device, rounds: int, chunk: int) -> dict:
    shape = float32_shape(preset, splits.tokenizer.vocab_size)
    recipe = replace(preset.train, mixed_precision=device.type == "cuda")
    torch.manual_seed(0)
    ours = GPT(shape)
    theirs, optimizer = nanogpt_pair(nanogpt, shape, recipe, device)
    tokens = chunk * recipe.batch_size * shape.block_size
    mine, nano = [], []
    for r in range(rounds + 1):  # round 0 warms both up and is not counted
        generator = torch.Generator().manual_seed(r)
        took = nanogpt_steps(theirs, optimizer, splits.train, recipe, chunk, 0, generator, device)
        ours_took = minigpt_steps(ours, splits.train, splits.val, recipe, chunk, device)
        if r:
            nano.append(tokens / took)
            mine.append(tokens / ours_took)
    ratio = statistics.median(mine) / statistics.median(nano)
    return {
        "training: minigpt tokens/s": round(statistics.median(mine)),
        "training: nanoGPT tokens/s": round(statistics.median(nano)),
        "training: ratio (goal >= 1.2 on a CPU, >= 1.0 on a GPU)": round(ratio, 3),
        "training: per-round ratios": [round(a / b, 3) for a, b in zip(mine, nano, strict=True)],
    }


def sampling_speed(nanogpt, preset, rounds: int, tokens: int = 500) -> dict:
    """Tokens/s while the window fills, after it slides, and over `tokens` from one token.

    minigpt samples with the attention of its float32 recipe (the fused kernel) and, as
    `written-out`, with the one its recipes train with in bfloat16.
    """
    shape = float32_shape(preset, 65)
    torch.manual_seed(0)
    ours = GPT(shape).eval()
    written = GPT(replace(shape, use_torch_kernel=False)).eval()
    written.load_state_dict(ours.state_dict())
    theirs, _ = nanogpt_pair(nanogpt, shape, preset.train, torch.device("cpu"))
    theirs.eval()
    window = shape.block_size
    one = torch.zeros(1, 1, dtype=torch.long)
    full = torch.randint(65, (1, window), generator=torch.Generator().manual_seed(1))
    phases = {  # (prompt, new tokens)
        f"window filling ({window - 1} tokens)": (one, window - 1),
        f"window sliding ({tokens - window + 1} tokens)": (full, tokens - window + 1),
        f"{tokens} tokens from one": (one, tokens),
    }

    def ours_run(prompt, n, use_cache, model=ours):
        return generate(
            model, prompt, n, 1.0, generator=torch.Generator().manual_seed(0), use_cache=use_cache
        )

    def timed(run) -> float:
        began = clock(torch.device("cpu"))
        run()
        return clock(torch.device("cpu")) - began

    figures = {}
    for name, (prompt, n) in phases.items():
        if not torch.equal(ours_run(prompt, n, True), ours_run(prompt, n, False)):
            raise RuntimeError(f"{name}: the KV-cache path gave other tokens than the plain path")
        mine, nano, mine_written = [], [], []
        for _ in range(rounds):
            with torch.no_grad():
                nano.append(n / timed(lambda p=prompt, n=n: theirs.generate(p, n, temperature=1.0)))
            mine.append(n / timed(lambda p=prompt, n=n: ours_run(p, n, True)))
            mine_written.append(n / timed(lambda p=prompt, n=n: ours_run(p, n, True, written)))
        nano_speed = statistics.median(nano)
        figures[f"sampling, {name}: minigpt tokens/s"] = round(statistics.median(mine), 1)
        figures[f"sampling, {name}: nanoGPT tokens/s"] = round(nano_speed, 1)
        figures[f"sampling, {name}: ratio (goal >= 1.2)"] = round(
            statistics.median(mine) / nano_speed, 3
        )
        figures[f"sampling, {name}: ratio, written-out attention"] = round(
            statistics.median(mine_written) / nano_speed, 3
        )
    return figures


def quality(nanogpt, splits, preset, device) -> dict:
    """Validation loss after a full run of each, float32, each with its own learning rates."""
    shape = float32_shape(preset, splits.tokenizer.vocab_size)
    ours_recipe = replace(preset.train, mixed_precision=False)
    theirs_recipe = replace(ours_recipe, **NANOGPT_RECIPE)
    torch.manual_seed(0)
    ours = GPT(shape)
    ours_history = train(ours, splits.train, splits.val, ours_recipe, device, progress=False)
    theirs, optimizer = nanogpt_pair(nanogpt, shape, theirs_recipe, device)
    seconds = nanogpt_steps(
        theirs,
        optimizer,
        splits.train,
        theirs_recipe,
        theirs_recipe.max_iters,
        0,
        torch.Generator().manual_seed(theirs_recipe.seed),
        device,
    )
    val = {"val": splits.val}

    def final(model) -> float:
        generator = torch.Generator().manual_seed(0)
        losses = estimate_loss(model, val, shape.block_size, 64, 200, generator, device, False)
        return round(losses["val"], 4)

    iters = ours_recipe.max_iters
    return {
        f"quality: minigpt val loss after {iters} iterations (200 batches of 64)": final(ours),
        f"quality: nanoGPT val loss after {iters} iterations (200 batches of 64)": final(theirs),
        "quality: minigpt training seconds": round(ours_history.seconds, 1),
        "quality: nanoGPT training seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--nanogpt", type=Path, help="a nanoGPT checkout (or its model.py)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--preset", help="default: cpu-small on a CPU, gpu-baby on a GPU")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--chunk", type=int, default=40, help="training steps per turn")
    parser.add_argument("--quality", action="store_true", help="also train both in full")
    parser.add_argument("--name", default=None, help="results file name (default by device)")
    args = parser.parse_args(argv)

    nanogpt = load_nanogpt(args.nanogpt) if args.nanogpt else None
    if nanogpt is None:
        where = args.nanogpt or "no --nanogpt given"
        print(f"skipped: nanoGPT's model.py is not available ({where}); pass --nanogpt PATH")
        return 0
    device = pick_device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    preset = get_preset(args.preset or ("gpu-baby" if device.type == "cuda" else "cpu-small"))
    splits = load_char_splits()
    figures = {
        "device": str(device),
        "threads": torch.get_num_threads(),
        "shape": preset.description,
        "precision": "bfloat16 autocast" if device.type == "cuda" else "float32",
    }
    figures.update(training_speed(nanogpt, splits, preset, device, args.rounds, args.chunk))
    if device.type == "cpu":
        figures.update(sampling_speed(nanogpt, preset, args.rounds))
    if args.quality:
        figures.update(quality(nanogpt, splits, preset, device))
    name = args.name or f"versus_nanogpt_{device.type}"
    save(name, figures, "Side by side in one process; medians of interleaved rounds.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
