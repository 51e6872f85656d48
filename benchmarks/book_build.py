"""How long the book takes: each page executed on its own (full mode), then a cold build.

Goals: every chapter page < 2 minutes on this CPU (the capstone < 5); the whole book built from
an empty cache with `jupyter-book build --warningiserror`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from common import save
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def execute_seconds(path: Path) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    began = time.perf_counter()
    client.execute()
    return time.perf_counter() - began


def main() -> None:
    os.environ.pop("MINIGPT_QUICK", None)
    os.environ["TQDM_DISABLE"] = "1"
    figures = {}
    for path in sorted((ROOT / "book").glob("*.ipynb")):
        figures[f"{path.stem} (s)"] = round(execute_seconds(path), 1)
        print(path.stem, figures[f"{path.stem} (s)"], flush=True)
    with tempfile.TemporaryDirectory() as out:
        command = [
            str(Path(sys.executable).parent / "jupyter-book"),
            "build",
            str(ROOT),
            "--path-output",
            out,
            "--warningiserror",
        ]
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        figures["cold book build (s)"] = round(time.perf_counter() - began, 1)
        figures["cold book build succeeded"] = done.returncode == 0
        if done.returncode:
            print(done.stdout[-3000:], done.stderr[-2000:])
    save("book_build", figures, "Full mode (MINIGPT_QUICK unset), CPU, one page at a time.")


if __name__ == "__main__":
    main()
