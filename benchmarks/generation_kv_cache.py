"""Generation speed with and without the KV cache, for the `gpu-baby` shape (context 256).

Both paths must give the same tokens (checked here too). Three figures:
- within the window: 255 new tokens after a 1-token prompt, the cache never slides;
- 500 new tokens: past position 256 the window slides, every position moves, and each step
  runs the cropped window again, as the plain path does;
- the cost of one new token at a full context of 256, each way.
Weights are random: speed does not depend on what the model learned.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch
from common import save

from minigpt.generate import generate
from minigpt.model import GPT, KVCache
from minigpt.presets import get_preset
from minigpt.utils import pick_device


def sync(device: torch.device) -> None:
    """Wait for queued GPU work, so the clock measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(model: GPT, new_tokens: int, use_cache: bool, device: torch.device):
    start = torch.zeros(1, 1, dtype=torch.long, device=device)
    generate(model, start, 8, generator=torch.Generator().manual_seed(0), use_cache=use_cache)
    sync(device)
    began = time.perf_counter()
    out = generate(
        model, start, new_tokens, generator=torch.Generator().manual_seed(0), use_cache=use_cache
    )
    sync(device)
    return out, time.perf_counter() - began


@torch.no_grad()
def step_costs(model: GPT, device: torch.device, repeats: int = 20) -> tuple[float, float]:
    """Seconds for one new token when the window is one short of full, each way."""
    window = model.config.block_size
    context = torch.randint(65, (1, window), generator=torch.Generator().manual_seed(0))
    context = context.to(device)
    plain = cached = 0.0
    for _ in range(repeats):
        sync(device)
        began = time.perf_counter()
        model(context)
        sync(device)
        plain += time.perf_counter() - began
        cache = KVCache(model.config)
        model(context[:, :-1], cache=cache)
        sync(device)
        began = time.perf_counter()
        model(context[:, -1:], cache=cache)
        sync(device)
        cached += time.perf_counter() - began
    return plain / repeats, cached / repeats


def measure(device: torch.device, preset: str = "gpu-baby", longest: int = 500) -> dict:
    """The figures of this benchmark for one preset's shape; `longest` new tokens at most."""
    torch.manual_seed(0)
    model = GPT(replace(get_preset(preset).model, vocab_size=65)).to(device).eval()
    window = model.config.block_size
    figures = {"device": str(device), "parameters": model.num_parameters()}
    runs = ((window - 1, f"{window - 1} tokens, within the window"), (longest, f"{longest} tokens"))
    for new_tokens, label in runs:
        plain, plain_s = timed(model, new_tokens, False, device)
        cached, cached_s = timed(model, new_tokens, True, device)
        if not torch.equal(plain, cached):
            raise RuntimeError(f"{label}: the cached path produced different tokens")
        figures[f"{label}: plain tokens/s"] = round(new_tokens / plain_s, 1)
        figures[f"{label}: KV-cache tokens/s"] = round(new_tokens / cached_s, 1)
        figures[f"{label}: speedup"] = f"{plain_s / cached_s:.2f}x"
    plain_step, cached_step = step_costs(model, device)
    at = f"one step at a full context of {window}"
    figures[f"{at}: plain ms"] = round(plain_step * 1e3, 2)
    figures[f"{at}: KV-cache ms"] = round(cached_step * 1e3, 2)
    figures[f"{at}: speedup"] = f"{plain_step / cached_step:.2f}x"
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    save("generation_kv_cache", measure(pick_device(args.device)))


if __name__ == "__main__":
    main()
