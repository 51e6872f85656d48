"""How long `make book` takes from an empty cache: the whole build and each page's execution.

    python benchmarks/book_build.py [--float32] [--busy]

--float32 switches bfloat16 autocast off (MINIGPT_NO_BF16=1), which is what an AVX2-only CPU
(most laptops) runs; --busy keeps a CPU-bound process running beside the build, as on a shared
machine. Goals on a 2-core CPU in float32: every chapter page < 2 minutes, the capstone < 5, the
whole cold build < 10, and the build succeeds with a busy neighbour. The build is
tools/build_book.py, as `make book` runs it; each page's time is the execution time that
jupyter-cache records for it.
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

from minigpt.train import native_bfloat16

ROOT = Path(__file__).resolve().parents[1]


def page_seconds(build_dir: Path) -> dict[str, float]:
    """Execution time of each page, as jupyter-cache stored it with its successful run."""
    cache = get_cache(build_dir / ".jupyter_cache")
    return {
        Path(record.uri).stem: round(record.data.get("execution_seconds", float("nan")), 1)
        for record in cache.list_cache_records()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--float32", action="store_true", help="switch bfloat16 autocast off")
    parser.add_argument("--busy", action="store_true", help="a CPU-bound process runs beside")
    parser.add_argument("--keep", type=Path, help="build into this folder and keep it")
    args = parser.parse_args()
    os.environ.pop("MINIGPT_QUICK", None)
    if args.float32:
        os.environ["MINIGPT_NO_BF16"] = "1"
    figures: dict = {"bfloat16 autocast": native_bfloat16(torch.device("cpu"))}
    figures["busy neighbour"] = args.busy
    figures["kernel threads (OMP_NUM_THREADS)"] = os.environ.get("OMP_NUM_THREADS", "1")
    neighbour = None
    if args.busy:
        neighbour = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        with tempfile.TemporaryDirectory() as scratch:
            out = str(args.keep.resolve()) if args.keep else scratch
            command = [sys.executable, str(ROOT / "tools" / "build_book.py"), str(ROOT)]
            began = time.perf_counter()
            done = subprocess.run(command + ["--path-output", out], capture_output=True, text=True)
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
    name = "book_build" + ("_float32" if args.float32 else "") + ("_busy" if args.busy else "")
    how = "bfloat16 autocast off (MINIGPT_NO_BF16=1)" if args.float32 else "bfloat16 where native"
    beside = (
        "a CPU-bound process running beside it" if args.busy else "nothing else of ours running"
    )
    save(name, figures, f"Full mode, CPU, {how}, {beside}; pages timed by jupyter-cache.")


if __name__ == "__main__":
    main()
