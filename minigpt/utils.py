"""Device choice, seeding, the quick-mode switch and an environment report.

Every notebook of the course starts by calling `notebook_setup()`, so that device and seed
are chosen in one place and behave the same in Colab, on a laptop and in the book build.
"""

from __future__ import annotations

import os
import platform
import random
import sys
import warnings
from typing import TypeVar

import numpy as np
import torch

QUICK_ENV = "MINIGPT_QUICK"
DEVICE_ENV = "MINIGPT_DEVICE"
GRADING_ENV = "NBGRADER_EXECUTION"
NO_BF16_ENV = "MINIGPT_NO_BF16"

T = TypeVar("T")


def _mps_works() -> bool:
    """MPS can be listed as available and still fail on first use (old macOS, broken builds)."""
    if not (torch.backends.mps.is_available() and torch.backends.mps.is_built()):
        return False
    try:
        x = torch.ones(2, 2, device="mps")
        return bool((x @ x).sum().item() == 8)
    except (RuntimeError, TypeError):
        return False


def pick_device(prefer: str | None = None) -> torch.device:
    """The fastest device that works here: cuda, then mps, then cpu.

    `prefer` (or the MINIGPT_DEVICE environment variable) forces a choice, e.g. "cpu".
    """
    choice = prefer or os.environ.get(DEVICE_ENV)
    if choice:
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_works():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 1337) -> torch.Generator:
    """Seed Python, NumPy and torch, and return a CPU generator seeded the same way.

    The course passes explicit generators to everything random, so that a result does not
    depend on how many random numbers some earlier cell happened to draw.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def seeded(seed: int) -> torch.Generator:
    """A CPU generator with this seed: the same random numbers on every machine, every time."""
    return torch.Generator().manual_seed(seed)


def quick_mode() -> bool:
    """True when pages should shrink their work: the test suite or an nbgrader run."""
    return os.environ.get(QUICK_ENV, "") not in ("", "0") or bool(os.environ.get(GRADING_ENV))


def budget(full: T, quick: T) -> T:
    """`full` normally, `quick` in quick mode: how notebooks size their heavy cells."""
    return quick if quick_mode() else full


def bfloat16_switched_off() -> bool:
    """True when MINIGPT_NO_BF16 is set: train in float32 even where bfloat16 is native, to see
    (and time) what a CPU without it, such as an AVX2-only laptop, does."""
    return os.environ.get(NO_BF16_ENV, "") not in ("", "0")


def in_colab() -> bool:
    return "google.colab" in sys.modules


def environment_report() -> dict[str, str]:
    """What a bug report needs: versions, the device and the switches that change behaviour."""
    device = pick_device()
    report = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "device": str(device),
        "cpu threads": str(torch.get_num_threads()),
        "colab": "yes" if in_colab() else "no",
        "quick mode": "on" if quick_mode() else "off",
        "bfloat16": "switched off (MINIGPT_NO_BF16)" if bfloat16_switched_off() else "where native",
    }
    if device.type == "cuda":
        report["gpu"] = torch.cuda.get_device_name(device)
        report["cuda"] = str(torch.version.cuda)
    try:
        import nbgrader

        report["nbgrader"] = nbgrader.__version__
    except ImportError:
        report["nbgrader"] = "not installed (only instructors need it)"
    from minigpt import __version__
    from minigpt.data import data_dir

    report["minigpt"] = __version__
    report["data folder"] = str(data_dir())
    return report


def notebook_setup(seed: int = 1337) -> torch.device:
    """Pick the device, seed everything, and say so; warn when Colab runs without a GPU."""
    from minigpt import __version__

    device = pick_device()
    seed_everything(seed)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    print(f"minigpt {__version__} | torch {torch.__version__} | device: {name} | seed: {seed}")
    if in_colab() and device.type != "cuda":
        warnings.warn(
            "This Colab runtime has no GPU. Everything still works, only slower. For a GPU choose "
            "Runtime > Change runtime type > T4 GPU, then run this cell again.",
            stacklevel=2,
        )
    return device
