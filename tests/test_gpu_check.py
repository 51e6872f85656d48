"""benchmarks/gpu_check.py runs on the CPU in quick mode: every step a GPU session will take."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow


def test_the_gpu_check_runs_every_step_on_the_cpu(tmp_path):
    results = tmp_path / "results"
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "gpu_check.py"),
        "--device",
        "cpu",
        "--notebooks",
        "01-bigrams",  # one book page and one solution notebook, to keep the suite quick
        "--results",
        str(results),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads((results / "gpu_check_cpu_quick.json").read_text())["figures"]
    assert figures["all passed"] is True and figures["mode"] == "quick (no CUDA here)"
    assert figures["gpu-baby: iterations"] == 4 and figures["gpu-baby: training tokens/s"] > 0
    ran = [key for key in figures if key.startswith("notebook ")]
    assert ran == [
        "notebook book/01-bigrams.ipynb",
        "notebook solutions/01-bigrams/01-bigrams.ipynb",
    ]
    assert all(figures[key].startswith("pass (quick") for key in ran)
    assert "generation: 80 tokens: speedup" in figures
    assert figures["versus nanoGPT"].startswith("skipped")
    assert (tmp_path / "results.md").exists()
    assert not (results / "gpu_check_gpu-baby.pt").exists()
