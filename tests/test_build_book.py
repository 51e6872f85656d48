"""tools/build_book.py on a two-page book whose notebook fails while a flag file exists: the
build fails, the failed page and its traceback stay out of the site, a rebuild with nothing
changed executes the page again (and fails again), and once the cause is gone it succeeds."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from course_notebooks import ROOT

pytestmark = pytest.mark.slow
SECRET = "a-local-path-that-must-not-be-published"


def tiny_book(root: Path, flag: Path) -> None:
    (root / "_config.yml").write_text(
        "title: tiny\nexecute:\n  execute_notebooks: cache\n  allow_errors: false\n"
        "  timeout: 60\nonly_build_toc_files: true\n"
    )
    (root / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: page\n")
    (root / "intro.md").write_text("# Tiny\n\nA book with one executed page.\n")
    nb = nbformat.v4.new_notebook()
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Page"),
        nbformat.v4.new_code_cell(
            f"from pathlib import Path\n"
            f"if Path({str(flag)!r}).exists():\n"
            f"    raise RuntimeError({SECRET!r})\n"
            f"print('the page ran')"
        ),
    ]
    nbformat.write(nb, root / "page.ipynb")


def build(root: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "tools" / "build_book.py"), str(root)]
    return subprocess.run(command, capture_output=True, text=True)


def test_a_failed_page_fails_every_build_until_it_runs(tmp_path):
    book, flag = tmp_path / "book", tmp_path / "fail-now"
    book.mkdir()
    tiny_book(book, flag)
    flag.touch()
    html = book / "_build" / "html"

    for _ in range(2):  # the second build changes nothing: it must execute the page again
        done = build(book)
        assert done.returncode != 0, done.stdout[-3000:]
        assert "FAILED: page" in done.stdout
        assert not (html / "page.html").exists()
        assert not (html / "reports").exists()
        assert SECRET in (book / "_build" / "reports" / "page.err.log").read_text()
        assert not any(SECRET in p.read_text() for p in html.rglob("*.html"))

    flag.unlink()
    done = build(book)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "the page ran" in (html / "page.html").read_text()
    assert not (book / "_build" / "reports").exists()
