"""tools/build_book.py on a two-page book whose notebook fails while a flag file exists: the
build fails, the failed page and its traceback stay out of the site, a rebuild with nothing
changed executes the page again (and fails again), and once the cause is gone it succeeds.
And on a book of three notebooks: they run at the same time, each once, on one torch thread."""

from __future__ import annotations

import os
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


def build(root: Path, *options: str) -> subprocess.CompletedProcess:
    command = [sys.executable, str(ROOT / "tools" / "build_book.py"), str(root), *options]
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}  # the build's default
    return subprocess.run(command, capture_output=True, text=True, env=env)


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


def test_independent_pages_run_at_once_each_once_on_one_thread(tmp_path):
    """Pages a and b each wait for the other to have started: run one after the other, the
    first would give up waiting and fail. Page c runs too (three pages, two at a time). Every
    run appends to a log, so a page that Jupyter Book ran again would show twice."""
    book, log = tmp_path / "book", tmp_path / "runs.log"
    book.mkdir()
    tiny_book(book, tmp_path / "never")
    (book / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: a\n  - file: b\n  - file: c\n"
    )
    (book / "page.ipynb").unlink()
    for name, other in (("a", "b"), ("b", "a"), ("c", None)):
        nb = nbformat.v4.new_notebook()
        nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3"}
        wait = (
            f"deadline = time.monotonic() + 50\n"
            f"while not Path({str(tmp_path / other)!r}).exists():\n"
            f"    assert time.monotonic() < deadline, 'page {other} never started beside me'\n"
            f"    time.sleep(0.1)\n"
            if other
            else ""
        )
        nb.cells = [
            nbformat.v4.new_markdown_cell(f"# Page {name}"),
            nbformat.v4.new_code_cell(
                f"import os, time\nfrom pathlib import Path\n"
                f"Path({str(tmp_path / name)!r}).touch()\n{wait}"
                f"with open({str(log)!r}, 'a') as f:\n"
                f"    f.write('{name} ' + os.environ.get('OMP_NUM_THREADS', '-') + '\\n')\n"
                f"print('page {name} ran')"
            ),
        ]
        nbformat.write(nb, book / f"{name}.ipynb")

    done = build(book, "--jobs", "2")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Executed 3 notebook(s), up to 2 at a time: 3 succeeded, 0 failed" in done.stdout
    assert sorted(log.read_text().splitlines()) == ["a 1", "b 1", "c 1"]
    for name in "abc":
        assert f"page {name} ran" in (book / "_build" / "html" / f"{name}.html").read_text()
