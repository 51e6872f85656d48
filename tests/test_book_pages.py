"""What a reader sees fits the book's column: code lines of at most 88 characters (longer ones
hide behind a scroll bar), figures at most 7.2 inches wide (the column is about 690 pixels, and
matplotlib draws 100 pixels per inch). Figures are checked on the executed pages, in
tests/test_book.py; the helpers live here."""

from __future__ import annotations

import base64
import struct

import nbformat
import pytest
from course_notebooks import course

MAX_CODE_LINE = 88
MAX_FIGURE_INCHES = 7.2


def long_code_lines(path) -> list[str]:
    """The code lines of a notebook longer than the column (the set-up cell's included)."""
    nb = nbformat.read(path, as_version=4)
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            if len(line) > MAX_CODE_LINE:
                found.append(f"cell {cell.get('id')}: {len(line)} characters: {line.strip()[:60]}")
    return found


def png_inches(data: str) -> float:
    """The width of a base64 PNG in inches, at the resolution it records (pHYs), else 100 dpi."""
    raw = base64.b64decode(data)
    width = struct.unpack(">I", raw[16:20])[0]
    at = raw.find(b"pHYs")
    if at != -1:
        per_metre, _, unit = struct.unpack(">IIB", raw[at + 4 : at + 13])
        if unit == 1 and per_metre:
            return width / (per_metre * 0.0254)
    return width / 100


def wide_figures(nb: nbformat.NotebookNode) -> list[str]:
    """The figures of an executed page wider than the column."""
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {}).get("image/png")
            if data and png_inches(data) > MAX_FIGURE_INCHES:
                found.append(f"cell {cell.get('id')}: {png_inches(data):.1f} inches wide")
    return found


@pytest.mark.parametrize("path", course.book_notebooks(), ids=lambda p: p.stem)
def test_code_lines_fit_the_column(path):
    found = long_code_lines(path)
    assert not found, f"{path.name}: code lines over {MAX_CODE_LINE} characters:\n" + "\n".join(
        found
    )


def test_the_figure_check_reads_png_widths():
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for inches in (6.5, 11.0):
        fig = plt.figure(figsize=(inches, 2))
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        plt.close(fig)
        data = base64.b64encode(buffer.getvalue()).decode()
        assert png_inches(data) == pytest.approx(inches, abs=0.02)
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("plot")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"image/png": data})]
    nb.cells = [cell]
    assert wide_figures(nb) == [f"cell {cell.id}: 11.0 inches wide"]


def test_the_long_line_check_reads_every_code_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(course.SETUP_MARKER + "x" * 100),
        nbformat.v4.new_code_cell("y = 1\n" + "z" * 89),
        nbformat.v4.new_markdown_cell("w" * 200),
    ]
    path = tmp_path / "page.ipynb"
    nbformat.write(nb, path)
    problems = long_code_lines(path)
    assert len(problems) == 2 and "89 characters" in problems[1]
