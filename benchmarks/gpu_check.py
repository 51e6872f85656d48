"""One command for a GPU session: everything the course runs on a GPU, timed, in one record.

    .venv/bin/python benchmarks/gpu_check.py [--nanogpt PATH]

On a CUDA machine (planned to finish in under 10 minutes on an H100-class GPU) it
1. trains the gpu-baby preset the way `minigpt train --preset gpu-baby --compile` does
   (bfloat16 autocast, or float16 with a gradient scaler; TF32; fused AdamW; the fused attention
   kernel; pinned batches; torch.compile where Triton is present) and records the time and the
   validation loss (goal: <= 1.47 within 3 minutes on an H100-class GPU);
2. executes every book chapter and every solution notebook on the GPU, in full mode while the
   notebook budget lasts and in quick mode after it, and records pass or fail and seconds each;
3. measures generation with and without the KV cache at the gpu-baby shape;
4. with --nanogpt, compares training throughput with nanoGPT's model.py at the same shape
   (goal >= 1.0x; skipped with a message without it).
Everything lands in results/gpu_check.json (and results.md). A failing step is recorded and the
others still run; the exit status is 1 if any step failed.

Without CUDA it runs the same steps on the CPU in quick mode: training shrunk to a few steps,
notebooks in quick mode, short benchmarks. The test suite runs it that way (on two notebooks),
so a GPU session spends its minutes measuring, not debugging.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from dataclasses import replace
from pathlib import Path

import nbformat
import torch
from common import RESULTS, save
from nbclient import NotebookClient

from minigpt.data import load_char_splits
from minigpt.model import GPT
from minigpt.presets import get_preset
from minigpt.speed import autocast_dtype
from minigpt.train import TrainConfig, estimate_loss, train
from minigpt.utils import QUICK_ENV, pick_device

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_BUDGET_S = 240  # full-mode notebooks on a GPU; the rest run in quick mode
# In full mode on a GPU the capstone page trains gpu-baby, which step 1 measures already.
QUICK_ON_GPU = {"09-capstone.ipynb"}


def gpu_baby_recipe(device: torch.device) -> tuple[object, TrainConfig]:
    """gpu-baby as it is on a GPU; on a CPU shrunk to a few small steps of the same code."""
    preset = get_preset("gpu-baby")
    if device.type == "cuda":
        return preset.model, replace(preset.train, compile=True)
    shape = replace(preset.model, n_layer=2, block_size=64)
    quick = replace(preset.train, max_iters=4, batch_size=4, eval_interval=2, eval_iters=2)
    return shape, quick


def check_training(device: torch.device, checkpoint: Path) -> dict:
    shape, recipe = gpu_baby_recipe(device)
    torch.manual_seed(recipe.seed)
    splits = load_char_splits()
    model = GPT(replace(shape, vocab_size=splits.tokenizer.vocab_size))
    began = time.perf_counter()
    history = train(
        model, splits.train, splits.val, recipe, device, False, checkpoint, splits.tokenizer
    )
    wall = time.perf_counter() - began
    batches = 200 if device.type == "cuda" else 2
    final = estimate_loss(
        model,
        {"val": splits.val},
        shape.block_size,
        64,
        batches,
        torch.Generator().manual_seed(0),
        device,
    )
    dtype = autocast_dtype(device, recipe.mixed_precision)
    return {
        "gpu-baby: precision": str(dtype) if dtype is not None else "float32",
        "gpu-baby: iterations": recipe.max_iters,
        "gpu-baby: wall seconds (with evaluations and compiling)": round(wall, 1),
        "gpu-baby: training seconds (steps only)": round(history.seconds, 1),
        "gpu-baby: compiling seconds": round(history.compile_seconds, 1),
        "gpu-baby: training tokens/s": round(history.tokens_per_second),
        f"gpu-baby: val loss, {batches} batches of 64 (goal <= 1.47 on a GPU)": round(
            final["val"], 4
        ),
    }


def notebooks(match: str | None) -> list[Path]:
    found = sorted((ROOT / "book").glob("*.ipynb")) + sorted(ROOT.glob("solutions/*/*.ipynb"))
    return [p for p in found if match is None or match in p.name]


def run_notebook(path: Path, quick: bool) -> tuple[bool, float, str]:
    """Execute a notebook in its own kernel; (passed, seconds, the error's last line)."""
    os.environ[QUICK_ENV] = "1" if quick else ""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    began = time.perf_counter()
    try:
        client.execute()
        return True, time.perf_counter() - began, ""
    except Exception as err:  # a failing cell, a dead kernel, a timeout: all are a failure
        last = (str(err).strip().splitlines() or [type(err).__name__])[-1]
        return False, time.perf_counter() - began, last[:200]


def check_notebooks(device: torch.device, match: str | None) -> dict:
    figures = {}
    spent = 0.0
    saved = os.environ.get(QUICK_ENV)
    os.environ["TQDM_DISABLE"] = "1"
    try:
        for path in notebooks(match):
            quick = device.type != "cuda" or spent > NOTEBOOK_BUDGET_S or path.name in QUICK_ON_GPU
            passed, seconds, error = run_notebook(path, quick)
            spent += seconds
            mode = "quick" if quick else "full"
            verdict = "pass" if passed else f"FAIL: {error}"
            figures[f"notebook {path.relative_to(ROOT)}"] = f"{verdict} ({mode}, {seconds:.1f} s)"
            print(path.name, figures[f"notebook {path.relative_to(ROOT)}"], flush=True)
    finally:
        os.environ[QUICK_ENV] = saved or ""
    return figures


def check_generation(device: torch.device) -> dict:
    """KV cache against the plain path. Float32 products stay float32 here (training switched
    TF32 on): the check that both paths sample the same tokens needs full precision."""
    from generation_kv_cache import measure

    tf32 = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        on_gpu = device.type == "cuda"
        figures = measure(device) if on_gpu else measure(device, "cpu-small", longest=80)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = tf32
    return {f"generation: {key}": value for key, value in figures.items() if key != "device"}


def check_versus_nanogpt(device: torch.device, nanogpt: Path | None) -> dict:
    import versus_nanogpt

    module = versus_nanogpt.load_nanogpt(nanogpt) if nanogpt else None
    if module is None:
        return {"versus nanoGPT": "skipped: pass --nanogpt PATH (a nanoGPT checkout)"}
    splits = load_char_splits()
    if device.type == "cuda":
        preset, rounds, chunk = get_preset("gpu-baby"), 4, 20
    else:
        preset, rounds, chunk = get_preset("cpu-small"), 1, 2
    return versus_nanogpt.training_speed(module, splits, preset, device, rounds, chunk)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", help="default: cuda when there is one, else cpu")
    parser.add_argument("--nanogpt", type=Path, help="a nanoGPT checkout, for the comparison")
    parser.add_argument("--notebooks", help="only notebooks whose file name contains this")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to write results")
    args = parser.parse_args(argv)

    device = pick_device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    mode = "full" if device.type == "cuda" else "quick (no CUDA here)"
    figures: dict = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    }
    figures["mode"] = mode
    print(f"GPU check on {figures['device']}, {mode}", flush=True)
    steps = {
        "training": lambda: check_training(device, args.results / "gpu_check_gpu-baby.pt"),
        "notebooks": lambda: check_notebooks(device, args.notebooks),
        "generation": lambda: check_generation(device),
        "versus nanoGPT": lambda: check_versus_nanogpt(device, args.nanogpt),
    }
    failed = []
    began = time.perf_counter()
    for name, step in steps.items():
        started = time.perf_counter()
        try:
            figures.update(step())
        except Exception:  # record it and go on: one broken step must not hide the others
            failed.append(name)
            figures[f"{name}: FAILED"] = traceback.format_exc().strip().splitlines()[-1][:300]
            traceback.print_exc()
        figures[f"{name}: seconds"] = round(time.perf_counter() - started, 1)
    (args.results / "gpu_check_gpu-baby.pt").unlink(missing_ok=True)
    failed += [key for key, value in figures.items() if str(value).startswith("FAIL")]
    figures["total seconds"] = round(time.perf_counter() - began, 1)
    figures["all passed"] = not failed
    name = "gpu_check" if device.type == "cuda" else "gpu_check_cpu_quick"
    save(name, figures, "benchmarks/gpu_check.py: " + mode, args.results)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
