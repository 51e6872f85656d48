"""How long `make book` takes from an empty cache: the whole build and each page's execution.

    python benchmarks/book_build.py [--avx2] [--busy] [--keep DIR] [--jobs N] [--fresh-clone]

--avx2 runs as an AVX2-only CPU (most laptops) would: bfloat16 autocast off (MINIGPT_NO_BF16=1)
and torch, MKL and oneDNN limited to AVX2 kernels. --busy keeps a CPU-bound process running
beside the build, as on a shared machine. --keep builds into DIR (empty) and keeps the site.
--jobs N executes N notebooks at once (default: one per core, as `make book` does; 1 is the
old one-after-another build). --fresh-clone clones the committed HEAD into a scratch folder and
times `make install` (a new .venv, from the warm pip cache) and then `make book` there: what a
newcomer's first `make book` costs.

Goals on a 2-core CPU in float32: every chapter page < 2 minutes, the capstone < 5, the whole
cold build < 6 including the install from a warm pip cache, with the capstone as the longest
pole, and the build succeeds with a busy neighbour. The build is tools/build_book.py, as
`make book` runs it; each page's time is the execution time jupyter-cache records for it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import save
from jupyter_cache import get_cache

from minigpt.speed import native_bfloat16

ROOT = Path(__file__).resolve().parents[1]
# What a CPU without AVX-512 runs: no bfloat16 autocast, and AVX2 kernels in torch, MKL, oneDNN.
AVX2_ONLY = {
    "MINIGPT_NO_BF16": "1",
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "DNNL_MAX_CPU_ISA": "AVX2",
}


def page_seconds(build_dir: Path) -> dict[str, float]:
    """Execution time of each page, as jupyter-cache stored it with its successful run."""
    cache = get_cache(build_dir / ".jupyter_cache")
    return {
        Path(record.uri).stem: round(record.data.get("execution_seconds", float("nan")), 1)
        for record in cache.list_cache_records()
    }


def fresh_clone_build(scratch: Path, jobs: int, figures: dict) -> dict[str, float]:
    """`make install`, then `make book`, timed in a clone of the committed HEAD."""
    clone = scratch / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    figures["commit"] = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True
    ).stdout.strip()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    total = 0.0
    for target, options in (("install", []), ("book", [f"BOOK_JOBS={jobs}"])):
        began = time.perf_counter()
        done = subprocess.run(["make", target, *options], cwd=clone, env=env, capture_output=True,
                              text=True)  # fmt: skip
        seconds = round(time.perf_counter() - began, 1)
        total += seconds
        figures[f"make {target} (s)"] = seconds
        figures[f"make {target} succeeded"] = done.returncode == 0
        if done.returncode:
            print(done.stdout[-3000:], done.stderr[-2000:])
            break
    figures["cold make book from a fresh clone, install included (s)"] = round(total, 1)
    return page_seconds(clone / "_build")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--avx2", action="store_true", help="run as an AVX2-only CPU would")
    parser.add_argument("--busy", action="store_true", help="a CPU-bound process runs beside")
    parser.add_argument("--keep", type=Path, help="build into this folder and keep it")
    parser.add_argument("--jobs", type=int, help="notebooks at once (default: one per core)")
    parser.add_argument(
        "--fresh-clone", action="store_true", help="make install, then make book, in a clone"
    )
    args = parser.parse_args()
    os.environ.pop("MINIGPT_QUICK", None)
    if args.avx2:
        os.environ.update(AVX2_ONLY)
    figures: dict = {"bfloat16 autocast": native_bfloat16(torch.device("cpu"))}
    figures["busy neighbour"] = args.busy
    figures["kernel threads (OMP_NUM_THREADS)"] = os.environ.get("OMP_NUM_THREADS", "1")
    neighbour = None
    if args.busy:
        neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    jobs = args.jobs or len(os.sched_getaffinity(0))
    figures["notebooks at once"] = jobs
    try:
        with tempfile.TemporaryDirectory() as scratch:
            if args.fresh_clone:
                pages = fresh_clone_build(Path(scratch), jobs, figures)
            else:
                out = str(args.keep.resolve()) if args.keep else scratch
                command = [sys.executable, str(ROOT / "tools" / "build_book.py"), str(ROOT)]
                command += ["--path-output", out, "--jobs", str(jobs)]
                began = time.perf_counter()
                done = subprocess.run(command, capture_output=True, text=True)
                figures["cold book build (s)"] = round(time.perf_counter() - began, 1)
                figures["cold book build succeeded"] = done.returncode == 0
                if done.returncode:
                    print(done.stdout[-3000:], done.stderr[-2000:])
                pages = page_seconds(Path(out) / "_build")
    finally:
        if neighbour is not None:
            neighbour.kill()
            neighbour.wait()
    for name in sorted(pages):
        figures[f"{name} (s)"] = pages[name]
    name = "book_build" + ("_avx2" if args.avx2 else "") + ("_busy" if args.busy else "")
    name += "_fresh_clone" if args.fresh_clone else ""
    name += "_serial" if jobs == 1 else ""
    how = (
        "as AVX2-only: float32, AVX2 kernels ("
        + " ".join(f"{k}={v}" for k, v in AVX2_ONLY.items())
        + ")"
        if args.avx2
        else "bfloat16 where native"
    )
    beside = (
        "a CPU-bound process running beside it" if args.busy else "nothing else of ours running"
    )
    at_once = "one notebook at a time" if jobs == 1 else f"{jobs} notebooks at once"
    where = (
        "`make install` then `make book` in a fresh clone of HEAD, the pip cache warm"
        if args.fresh_clone
        else "tools/build_book.py into an empty folder"
    )
    save(
        name,
        figures,
        f"Full mode, CPU, {how}, {beside}; {where}, {at_once}; pages timed by jupyter-cache.",
    )


if __name__ == "__main__":
    main()
