"""Serve MathJax with the book instead of loading it from a CDN.

A reader of a local build without network would otherwise see raw LaTeX. MathJax 3 comes from
the `django-static-mathjax` package (plain MathJax files, no Django needed; in the `book` extra);
the build copies the one combined script that Sphinx loads (`mathjax_path` in _config.yml), the
fonts and the TeX extensions it loads on demand into _static/mathjax/.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError

SCRIPT = "tex-mml-chtml.js"
ON_DEMAND = ("output/chtml", "input/tex/extensions", "a11y", "ui")


def mathjax_files() -> Path:
    """MathJax's es5 folder, where the combined components live."""
    try:
        root = Path(str(resources.files("mathjax"))) / "static" / "mathjax"
    except ModuleNotFoundError:
        root = None
    if root is None or not (root / "es5" / SCRIPT).is_file():
        raise ExtensionError(
            "MathJax files not found: install the book extra (pip install -e '.[book]'), "
            "which brings django-static-mathjax"
        )
    return root


def copy_mathjax(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source = mathjax_files()
    target = Path(app.outdir) / "_static" / "mathjax"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / "es5" / SCRIPT, target / SCRIPT)
    shutil.copy2(source / "LICENSE", target / "LICENSE")
    for folder in ON_DEMAND:
        shutil.copytree(source / "es5" / folder, target / folder, dirs_exist_ok=True)


def check_path(app: Sphinx) -> None:
    if app.config.mathjax_path != f"mathjax/{SCRIPT}":
        raise ExtensionError(f"set sphinx.config.mathjax_path to mathjax/{SCRIPT} in _config.yml")
    mathjax_files()


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", check_path)
    app.connect("build-finished", copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
