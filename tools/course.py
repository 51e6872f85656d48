"""Maintainer commands for the course notebooks.

    python tools/course.py notebooks    stamp the set-up cell, clear outputs, fix cell ids
    python tools/course.py exercises [NN-name ...]
                                        regenerate exercises/ from solutions/ with nbgrader
    python tools/course.py all          both, in that order (what `make exercises` runs)
    python tools/course.py draft NB     print a notebook as an editable text draft
    python tools/course.py build DRAFT NB   write a notebook from a draft

A draft is plain text: each cell starts with a header line `%%% kind [grade_id] [points]`.
Kinds: markdown, code, setup (the set-up cell; its text is stamped from _config.yml; `setup
locked` in exercises),
solution (an autograded answer: the code between BEGIN/END SOLUTION is hidden from students),
tests (a locked, graded test cell worth `points`), readonly (a locked markdown cell).
Graded cells get their grade_id as cell id, so ids stay stable across edits; a markdown, code
or unlocked set-up cell takes the id its header gives as `id=<name>` (`%%% code id=race`); other
cells are numbered in order. A line `%%% quote {"text": ..., "cell": ..., "pattern": ...}` after
a markdown cell adds one entry to that cell's `quotes` metadata: a figure its prose reads from a
code cell's output, checked by tools/quotes.py (name that code cell with `id=`, so the reference
survives edits).

Every notebook starts with the same set-up cell, built from the repository URL in _config.yml
and the package version in minigpt/__init__.py: it installs the release tagged v<version>, so the
package students are checked against never moves during a term. exercises/ is only ever written
by this script.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parents[1]
SETUP_MARKER = "# Set-up: installs minigpt"

SETUP_TEMPLATE = """\
# Set-up: installs minigpt where it is missing (Colab), then picks the device and seeds.
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("minigpt") is None:  # this course release, not main's
    package = "minigpt @ git+{url}@{tag}"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", package], check=True)

from minigpt.utils import notebook_setup

device = notebook_setup()"""


def repository_url(root: Path = ROOT) -> str:
    """The repository URL from _config.yml: the one place that names the repository."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    return config["repository"]["url"].rstrip("/")


def package_version(root: Path = ROOT) -> str:
    """minigpt's version, read from the one place that sets it (pyproject.toml reads it too)."""
    text = (root / "minigpt" / "__init__.py").read_text(encoding="utf-8")
    found = re.search(r'^__version__ = "([^"]+)"$', text, flags=re.MULTILINE)
    if found is None:
        raise SystemExit('minigpt/__init__.py must set __version__ = "X.Y.Z"')
    return found.group(1)


def release_tag(root: Path = ROOT) -> str:
    """The git tag of this course release: students install exactly this, never a branch."""
    return f"v{package_version(root)}"


def setup_cell_source(root: Path = ROOT, url: str | None = None) -> str:
    """The set-up cell; `url` replaces the repository's (a test points it at a local clone)."""
    return SETUP_TEMPLATE.format(url=url or repository_url(root), tag=release_tag(root))


def book_notebooks(root: Path = ROOT) -> list[Path]:
    return sorted((root / "book").glob("*.ipynb"))


def solution_notebooks(root: Path = ROOT) -> list[Path]:
    return sorted((root / "solutions").glob("*/*.ipynb"))


def assignments(root: Path = ROOT) -> list[str]:
    return sorted(p.parent.name for p in solution_notebooks(root))


def first_code_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode | None:
    return next((cell for cell in nb.cells if cell.cell_type == "code"), None)


def normalize(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """No outputs, nbformat 4.5, every cell with an id (kept when present: grading uses them)."""
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata.pop("widgets", None)
    nb.metadata["accelerator"] = "GPU"  # Colab opens the notebook on a GPU runtime
    for index, cell in enumerate(nb.cells):
        if not cell.get("id"):
            cell["id"] = f"cell-{index:02d}"
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.validate(nb)
    return nb


def stamp_setup_cell(nb: nbformat.NotebookNode, path: Path, root: Path = ROOT) -> None:
    cell = first_code_cell(nb)
    if cell is None or not cell.source.startswith(SETUP_MARKER):
        raise SystemExit(f"{path}: the first code cell must be the set-up cell ({SETUP_MARKER}...)")
    cell.source = setup_cell_source(root)


def write_if_changed(nb: nbformat.NotebookNode, path: Path) -> bool:
    text = nbformat.writes(nb) + "\n"
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def sync_notebooks(root: Path = ROOT) -> list[Path]:
    """Stamp and normalize every book and solution notebook; returns those that changed."""
    changed = []
    for path in book_notebooks(root) + solution_notebooks(root):
        nb = nbformat.read(path, as_version=4)
        stamp_setup_cell(nb, path, root)
        if write_if_changed(normalize(nb), path):
            changed.append(path)
    return changed


def release(dest: Path, root: Path = ROOT, only: list[str] | None = None) -> None:
    """Generate the student version of each assignment (all, or `only` these) into
    dest/<assignment>/ with nbgrader."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for assignment in only or assignments(root):
            command = [
                sys.executable,
                "-m",
                "nbgrader",
                "generate_assignment",
                assignment,
                "--force",
                "--no-db",
                "--log-level=WARN",
                f"--CourseDirectory.root={root}",
                f"--CourseDirectory.release_directory={Path(scratch).resolve()}",
            ]
            subprocess.run(command, cwd=root, check=True)
            target = dest / assignment
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(Path(scratch) / assignment, target)
            for path in target.glob("*.ipynb"):
                write_if_changed(normalize(nbformat.read(path, as_version=4)), path)


SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def solved_exercise(assignment: str, root: Path = ROOT) -> nbformat.NotebookNode:
    """The student notebook as a diligent student returns it: every answer filled in from the
    solution (markers removed). Tests and benchmarks grade it as a perfect submission."""
    source = next((root / "solutions" / assignment).glob("*.ipynb"))
    answers = {
        cell.metadata.nbgrader["grade_id"]: "\n".join(
            line for line in cell.source.splitlines() if line.strip() not in SOLUTION_MARKERS
        )
        for cell in nbformat.read(source, as_version=4).cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    nb = nbformat.read(root / "exercises" / assignment / source.name, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
    return nb


NBGRADER_KINDS = {
    "solution": {"grade": False, "solution": True, "locked": False},
    "tests": {"grade": True, "solution": False, "locked": True},
    "readonly": {"grade": False, "solution": False, "locked": True},
}
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def from_draft(text: str) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata.update(kernelspec=KERNELSPEC, language_info={"name": "python"})
    chunks = text.split("\n%%% ")
    if not chunks[0].startswith("%%% "):
        raise ValueError("a draft starts with a cell header: %%% kind [grade_id] [points]")
    chunks[0] = chunks[0][4:]
    named = set()
    for chunk in chunks:
        header, _, body = chunk.partition("\n")
        if header.startswith("quote "):
            if not nb.cells or nb.cells[-1].cell_type != "markdown" or body.strip():
                raise ValueError(
                    f"a quote line ends a markdown cell, before the next cell's header: {header}"
                )
            quote = json.loads(header.removeprefix("quote "))
            nb.cells[-1].metadata.setdefault("quotes", []).append(quote)
            continue
        kind, *rest = header.split()
        given = [word.removeprefix("id=") for word in rest if word.startswith("id=")]
        rest = [word for word in rest if not word.startswith("id=")]
        body = body.strip("\n")
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(body)
        elif kind == "code":
            cell = nbformat.v4.new_code_cell(body)
        elif kind == "setup":
            cell = nbformat.v4.new_code_cell(SETUP_MARKER)
            if rest == ["locked"]:  # exercises: grading runs the released set-up, not an edit
                cell.metadata.nbgrader = {
                    **NBGRADER_KINDS["readonly"],
                    "grade_id": "setup",
                    "schema_version": 3,
                }
                cell.id = "setup"
        elif kind in NBGRADER_KINDS:
            if not rest:
                raise ValueError(f"a {kind} cell needs a grade_id: %%% {kind} <grade_id>")
            grade_id = rest[0]
            new = nbformat.v4.new_markdown_cell if kind == "readonly" else nbformat.v4.new_code_cell
            cell = new(body)
            cell.metadata.nbgrader = {
                **NBGRADER_KINDS[kind],
                "grade_id": grade_id,
                "schema_version": 3,
            }
            if kind == "tests":
                cell.metadata.nbgrader["points"] = int(rest[1]) if len(rest) > 1 else 1
            cell.id = grade_id
        else:
            raise ValueError(f"unknown cell kind {kind!r} in draft header {header!r}")
        if given:
            if (
                kind not in ("markdown", "code", "setup")
                or rest
                or POSITIONAL_ID.fullmatch(given[0])
                or given[0] in named
            ):
                raise ValueError(
                    f"id= names one markdown, code or setup cell, not cell-NN: {header!r}"
                )
            cell.id = given[0]
            named.add(cell.id)
        nb.cells.append(cell)
    for index, cell in enumerate(nb.cells):
        if not cell.metadata.get("nbgrader") and cell.id not in named:
            cell.id = f"cell-{index:02d}"  # the same draft always gives the same ids
    return nb


POSITIONAL_ID = re.compile(r"cell-\d+")


def to_draft(nb: nbformat.NotebookNode) -> str:
    chunks = []
    for cell in nb.cells:
        grading = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "markdown":
            header = f"readonly {grading['grade_id']}" if grading.get("locked") else "markdown"
        elif cell.source.startswith(SETUP_MARKER):
            header = "setup locked" if grading.get("locked") else "setup"
        elif grading.get("grade"):
            header = f"tests {grading['grade_id']} {grading.get('points', 1):g}"
        elif grading.get("solution"):
            header = f"solution {grading['grade_id']}"
        else:
            header = "code"
        if header in ("markdown", "code", "setup") and not POSITIONAL_ID.fullmatch(
            cell.get("id", "")
        ):
            header += f" id={cell.id}"
        body = "" if header.startswith("setup") else cell.source
        chunks.append(f"%%% {header}\n{body}\n" if body else f"%%% {header}\n")
        for quote in cell.metadata.get("quotes", []):
            chunks.append(f"%%% quote {json.dumps(quote, ensure_ascii=False)}\n")
    return "\n".join(chunks)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["notebooks", "exercises", "all", "draft", "build"])
    parser.add_argument("paths", nargs="*", type=Path)
    args = parser.parse_args()
    if args.command == "draft":
        print(to_draft(nbformat.read(args.paths[0], as_version=4)), end="")
        return
    if args.command == "build":
        draft, path = args.paths
        nb = from_draft(draft.read_text(encoding="utf-8"))
        stamp_setup_cell(nb, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_if_changed(normalize(nb), path)
        print(f"wrote {path}")
        return
    if args.command in ("notebooks", "all"):
        for path in sync_notebooks():
            print(f"updated {path.relative_to(ROOT)}")
    if args.command in ("exercises", "all"):
        only = [str(p) for p in args.paths] or None
        release(ROOT / "exercises", only=only)
        print(f"exercises/ regenerated for {', '.join(only or assignments())}")


if __name__ == "__main__":
    main()
