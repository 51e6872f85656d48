"""The student's install path, run for real: a Colab-like runtime (its own torch, no minigpt)
runs an exercise's set-up cell, which installs the course release from the repository, and the
exercise then runs.

The runtime is a fresh virtual environment that sees this environment's packages (torch, numpy,
matplotlib, ipykernel, ...) through a .pth file, minus minigpt, as Colab ships its own torch. The
repository is a local git clone served as git+file://, with the release tag and a newer commit on
the branch after it. pip runs offline (no index, no build isolation: setuptools comes from the
runtime), so any attempt to fetch or replace a package fails instead of downloading.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from course_notebooks import CELL_TIMEOUT, ROOT, course
from nbclient import NotebookClient

pytestmark = pytest.mark.slow
ASSIGNMENT = "01-bigrams"
HIDDEN_FROM_THE_RUNTIME = ("minigpt", "__editable__", "__pycache__")


def git(*args: str, cwd: Path) -> str:
    identity = ["-c", "user.name=course", "-c", "user.email=course@example.org"]
    done = subprocess.run(
        ["git", *identity, *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def course_repository(path: Path) -> str:
    """A clone of the package as released: tag v<version>, then a later commit on main that
    students must not get. Returns the tagged commit."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, path / name)
    shutil.copytree(
        ROOT / "minigpt", path / "minigpt", ignore=shutil.ignore_patterns("__pycache__")
    )
    git("init", "-q", "-b", "main", cwd=path)
    git("add", ".", cwd=path)
    git("commit", "-q", "-m", "the release", cwd=path)
    git("tag", course.release_tag(), cwd=path)
    released = git("rev-parse", "HEAD", cwd=path)
    init = path / "minigpt" / "__init__.py"
    init.write_text(init.read_text().replace(course.package_version(), "99.0.0.dev0"))
    git("commit", "-q", "-am", "work in progress after the release", cwd=path)
    return released


def colab_like_runtime(path: Path) -> Path:
    """A fresh venv that sees every package installed here except minigpt; returns its python."""
    here = Path(sysconfig.get_paths()["purelib"])
    view = path / "preinstalled"
    view.mkdir(parents=True)
    for entry in here.iterdir():
        if entry.name.startswith(HIDDEN_FROM_THE_RUNTIME) or entry.suffix == ".pth":
            continue
        (view / entry.name).symlink_to(entry)
    # Without its own pip and setuptools: the runtime's come with the rest, recent as on Colab
    # (a fresh venv's setuptools is too old for torch's requirements, and pip would replace it).
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path / "venv")], check=True)
    python = path / "venv" / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(site) / "preinstalled.pth").write_text(f"{view}\n")
    return python


def probe(python: Path, code: str, cwd: Path) -> dict:
    done = subprocess.run(
        [str(python), "-c", code], cwd=cwd, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


TORCH_PROBE = """
import json, os, torch
from importlib.metadata import distribution
record = distribution("torch").locate_file("torch")
print(json.dumps({"version": torch.__version__, "file": os.path.realpath(torch.__file__),
                  "mtime": os.stat(record / "__init__.py").st_mtime_ns}))
"""
MINIGPT_PROBE = """
import json, minigpt
from importlib.metadata import distribution
direct = json.loads(distribution("minigpt").read_text("direct_url.json"))
print(json.dumps({"version": minigpt.__version__, "file": minigpt.__file__, "url": direct}))
"""


def test_the_setup_cell_installs_the_release_into_a_runtime_with_its_own_torch(
    tmp_path, monkeypatch
):
    repo = tmp_path / "repo"
    repo.mkdir()
    released = course_repository(repo)
    python = colab_like_runtime(tmp_path / "colab")
    work = tmp_path / "work"  # not the checkout: `import minigpt` must not find ROOT/minigpt
    work.mkdir()
    missing = subprocess.run([str(python), "-c", "import minigpt"], cwd=work, capture_output=True)
    assert missing.returncode != 0, "the runtime must start without minigpt"
    torch_before = probe(python, TORCH_PROBE, work)

    nb = course.solved_exercise(ASSIGNMENT)
    setup = next(cell for cell in nb.cells if cell.cell_type == "code")
    assert setup.source == course.setup_cell_source()
    # file://localhost/...: this pip's URL check refuses a git+file URL without a host.
    setup.source = course.setup_cell_source(url=f"file://localhost{repo}")
    kernels = tmp_path / "jupyter" / "kernels" / "colab"
    kernels.mkdir(parents=True)
    spec = {
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like",
        "language": "python",
    }
    (kernels / "kernel.json").write_text(json.dumps(spec))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    # Offline pip: no index, no local wheel folders from this machine's pip configuration.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for name in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_NO_BUILD_ISOLATION", "0")  # pip's inverted switch: 0 turns it off
    monkeypatch.setenv("NBGRADER_EXECUTION", "validate")  # the exercise's quick mode
    client = NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="colab", resources={"metadata": {"path": str(work)}}
    )
    client.execute()

    outputs = "".join(out.get("text", "") for out in nb.cells[nb.cells.index(setup)].outputs)
    assert f"minigpt {course.package_version()} | torch {torch_before['version']}" in outputs
    installed = probe(python, MINIGPT_PROBE, work)
    assert installed["version"] == course.package_version()
    assert Path(installed["file"]).is_relative_to(tmp_path / "colab" / "venv")
    assert installed["url"]["vcs_info"]["requested_revision"] == course.release_tag()
    assert installed["url"]["vcs_info"]["commit_id"] == released
    assert probe(python, TORCH_PROBE, work) == torch_before, "torch was reinstalled"
    passed = [out.get("text", "") for cell in nb.cells for out in cell.get("outputs", [])]
    assert any("pass" in text.lower() for text in passed)


def test_docs_install_the_release_not_a_branch():
    tag = course.release_tag()
    for name in ("README.md", "book/for-students.md"):
        text = (ROOT / name).read_text()
        assert f"minigpt-course@{tag}" in text and "minigpt-course@main" not in text, name
