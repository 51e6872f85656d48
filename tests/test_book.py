"""The book builds from a clean cache with --warningiserror, in quick mode, and links only to
notebooks that exist."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml
from course_notebooks import ROOT
from test_book_pages import MAX_FIGURE_INCHES, wide_figures

pytestmark = pytest.mark.slow


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part["chapters"]]
    return files


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    env = dict(os.environ, MINIGPT_QUICK="1", TQDM_DISABLE="1")
    env.pop("MPLBACKEND", None)  # the kernels must use the inline backend to keep figures
    # What `make book` runs: jupyter-book with --warningiserror, reports kept out of the site.
    command = [sys.executable, str(ROOT / "tools" / "build_book.py"), "--path-output", str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    return out / "_build" / "html"


def test_every_page_of_the_toc_is_built(built_book):
    for name in toc_files():
        assert (built_book / f"{name}.html").exists(), name


def test_solutions_and_exercises_are_not_published(built_book):
    assert not (built_book / "solutions").exists()
    assert not list(built_book.rglob("*solution*.html"))
    assert not (built_book / "reports").exists()


def test_math_is_served_with_the_book(built_book):
    page = (built_book / "book" / "04-self-attention.html").read_text()
    assert 'src="../_static/mathjax/tex-mml-chtml.js' in page
    assert "cdn.jsdelivr.net" not in page and "mathjax@" not in page
    mathjax = built_book / "_static" / "mathjax"
    assert (mathjax / "tex-mml-chtml.js").stat().st_size > 500_000
    assert list((mathjax / "output" / "chtml" / "fonts").rglob("*.woff"))


def test_chapters_have_figures_and_no_errors(built_book):
    for name in toc_files():
        if not re.match(r"book/\d\d-", name):
            continue
        html = (built_book / f"{name}.html").read_text()
        assert html.count("<img") >= 2, f"{name}: fewer than two figures"
        # myst-nb renders an error output as a block of class "output traceback".
        assert "output traceback" not in html, f"{name}: a cell raised an error"


def test_figures_fit_the_column(built_book):
    """Every figure of an executed page is at most MAX_FIGURE_INCHES wide (figure sizes do not
    depend on quick mode)."""
    executed = built_book.parent / "jupyter_execute" / "book"
    pages = sorted(executed.glob("*.ipynb"))
    assert pages, "no executed pages found"
    problems = []
    for path in pages:
        problems += [f"{path.stem}, {p}" for p in wide_figures(nbformat.read(path, as_version=4))]
    assert not problems, f"figures over {MAX_FIGURE_INCHES} inches:\n" + "\n".join(problems)


def test_colab_links_point_at_notebooks_in_the_repository(built_book):
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"]
    prefix = "https://colab.research.google.com/github/" + url.removeprefix("https://github.com/")
    links = set()
    for page in built_book.rglob("*.html"):
        links |= set(
            re.findall(r'https://colab\.research\.google\.com/github/[^"\'<> ]+', page.read_text())
        )
    assert links, "no Colab links found"
    for link in links:
        assert link.startswith(prefix + "/blob/"), link
        path = link.removeprefix(prefix + "/blob/").split("/", 1)[1]
        assert path.endswith(".ipynb") and (ROOT / path).is_file(), link
