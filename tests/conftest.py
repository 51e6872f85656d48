"""Shared set-up: data from ../shared/data, no network, headless plots, quick notebooks."""

from __future__ import annotations

import os
import shutil
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

# Before anything imports minigpt or matplotlib.
os.environ.setdefault("MINIGPT_DATA_DIR", str(SHARED_DATA))
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("MINIGPT_DEVICE", "cpu")  # same results on every machine that runs CI
# One torch thread here and in every kernel the tests start: the models are tiny, and on a busy
# machine several threads per process wait for each other (tenfold slowdowns were measured).
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to download fails the test: the suite must run offline."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"a test tried to use the network: {args[:1]}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture(scope="session")
def shakespeare() -> str:
    from minigpt.data import load_shakespeare

    return load_shakespeare()


@pytest.fixture(scope="session")
def char_splits():
    from minigpt.data import load_char_splits

    return load_char_splits()


@pytest.fixture
def course_copy(tmp_path):
    """A course folder with solutions/ and the nbgrader config, as an instructor has it."""
    root = tmp_path / "course"
    root.mkdir()
    shutil.copytree(ROOT / "solutions", root / "solutions")
    shutil.copy(ROOT / "nbgrader_config.py", root)
    return root


@pytest.fixture(scope="session")
def sandbox():
    """Grading tests run student code in bubblewrap: CI must have it, elsewhere they skip."""
    from minigpt.grading.sandbox import SandboxUnavailable, check_sandbox

    try:
        check_sandbox()
    except SandboxUnavailable as err:
        if os.environ.get("CI"):
            pytest.fail(f"CI must grade in the sandbox: {err}")
        pytest.skip(str(err))
