"""The prose-number drift check (tools/quotes.py): figures quoted in a page's markdown must agree
with the output of the code cell they were read from, at the precision they are written with."""

from __future__ import annotations

import copy
import sys

import nbformat
import pytest
from course_notebooks import ROOT, course

sys.path.insert(0, str(ROOT / "tools"))
import build_book  # noqa: E402  (tools/build_book.py)
import quotes  # noqa: E402  (tools/quotes.py)

LOSS_CELL = "print(f'validation loss: {loss:.4f}')"


def page(printed: str | None, quote: dict) -> nbformat.NotebookNode:
    """A markdown cell quoting a figure from the code cell `loss`, which printed `printed`."""
    nb = nbformat.v4.new_notebook()
    code = nbformat.v4.new_code_cell(LOSS_CELL)
    code.id = "loss"
    if printed is not None:
        code.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
    prose = nbformat.v4.new_markdown_cell("The model reaches 2.48 nats, 61% of them in 72 s.")
    prose.id = "prose"
    prose.metadata["quotes"] = [quote]
    nb.cells = [code, prose]
    return nb


LOSS_QUOTE = {"text": "2.48", "cell": "loss", "pattern": r"validation loss: ([0-9.]+)"}


def test_a_figure_that_agrees_with_its_output_passes():
    nb = page("step 100\nvalidation loss: 2.4815\n", LOSS_QUOTE)
    assert quotes.quote_problems(nb, outputs=True) == []


def test_a_drifted_figure_fails_with_a_clear_message():
    nb = page("validation loss: 2.5102\n", LOSS_QUOTE)
    [problem] = quotes.quote_problems(nb, "ch.ipynb", outputs=True)
    assert "'2.48'" in problem and "2.5102" in problem and "ch.ipynb" in problem


def test_a_missing_cell_fails_even_without_outputs():
    nb = page("validation loss: 2.4815\n", {**LOSS_QUOTE, "cell": "gone"})
    for outputs in (False, True):
        [problem] = quotes.quote_problems(nb, outputs=outputs)
        assert "no cell has the id 'gone'" in problem


def test_figures_placeholders_are_not_output_text():
    nb = page("validation loss: 2.4815\n", {**LOSS_QUOTE, "pattern": r"^validation loss: (\S+)"})
    figure = nbformat.v4.new_output(
        "display_data",
        data={"image/png": "iVBO", "text/plain": "<Figure size 650x380 with 1 Axes>"},
    )
    nb.cells[0].outputs.insert(0, figure)
    assert quotes.output_text(nb.cells[0]) == "validation loss: 2.4815\n"
    assert quotes.quote_problems(nb, outputs=True) == []


def test_an_unexecuted_cell_or_a_pattern_that_matches_nothing_fails():
    [problem] = quotes.quote_problems(page(None, LOSS_QUOTE), outputs=True)
    assert "no text output" in problem
    [problem] = quotes.quote_problems(page("val loss 2.48\n", LOSS_QUOTE), outputs=True)
    assert "matches nothing" in problem


@pytest.mark.parametrize(
    "quote, message",
    [
        ({"text": "2.48 nats, 61", "cell": "loss", "pattern": "(.)"}, "exactly one number"),
        ({"text": "2.49", "cell": "loss", "pattern": "(.)"}, "does not occur"),
        ({"text": "2.48", "cell": "loss", "pattern": "(["}, "does not compile"),
        ({"text": "2.48", "cell": "loss", "pattern": "[0-9]"}, "exactly one group"),
        ({"text": "2.48", "cell": "prose", "pattern": "(.)"}, "not a code cell"),
        ({"text": "2.48", "cell": "loss"}, "needs text, cell and pattern"),
        ({**LOSS_QUOTE, "round": 2}, "unknown keys"),
        ({**LOSS_QUOTE, "sig": 2, "bound": "above"}, "choose one of"),
        ({**LOSS_QUOTE, "bound": "more"}, "'above' or 'below'"),
    ],
)
def test_malformed_quotes_are_named(quote, message):
    [problem] = quotes.quote_problems(page("validation loss: 2.4815\n", quote))
    assert message in problem


def test_scale_and_significant_figures():
    share = {"text": "61%", "cell": "loss", "pattern": r"share: ([0-9.]+)", "scale": 100}
    seconds = {"text": "72 s", "cell": "loss", "pattern": r"took ([0-9.]+)", "sig": 1}
    nb = page("share: 0.6131\ntook 71.6 s\n", share)
    assert quotes.quote_problems(nb, outputs=True) == []
    nb.cells[1].metadata["quotes"] = [seconds]
    assert quotes.quote_problems(nb, outputs=True) != []  # 71.6 at one figure is 70
    nb.cells[1].metadata["quotes"] = [{**seconds, "sig": 2}]
    assert quotes.quote_problems(nb, outputs=True) == []


@pytest.mark.parametrize(
    "written, value, sig, ok",
    [
        ("2.48", 2.4815, None, True),
        ("2.48", 2.475, None, True),
        ("2.48", 2.4851, None, False),
        ("72", 71.6, None, True),
        ("72", 72.6, None, False),
        ("1,003,854", 1003854, None, True),
        ("11,000", 10873, 2, True),
        ("11,000", 10873, None, False),
        ("−0.12", -0.1249, None, True),
    ],
)
def test_the_rounding_rule(written, value, sig, ok):
    assert quotes.agrees(quotes.Figure.parse(written), value, sig) is ok


@pytest.mark.parametrize(
    "written, value, rule, ok",
    [
        ("4", 9.1, {"bound": "above"}, True),
        ("4", 3.9, {"bound": "above"}, False),
        ("90", 72.4, {"bound": "below"}, True),
        ("90", 91, {"bound": "below"}, False),
        ("3", 2.2, {"within": 0.3}, True),
        ("3", 2.0, {"within": 0.3}, False),
    ],
)
def test_bounds_and_tolerances_for_measured_times(written, value, rule, ok):
    assert quotes.agrees(quotes.Figure.parse(written), value, **rule) is ok


@pytest.mark.parametrize("path", course.book_notebooks(), ids=lambda p: p.name)
def test_every_quote_in_the_book_is_well_formed(path):
    nb = nbformat.read(path, as_version=4)
    assert quotes.quote_problems(nb, path.name) == []


def test_drafts_keep_cell_ids_and_quotes():
    nb = page("validation loss: 2.4815\n", LOSS_QUOTE)
    rebuilt = course.from_draft(course.to_draft(nb))
    assert [c.id for c in rebuilt.cells] == ["loss", "prose"]
    assert rebuilt.cells[1].metadata["quotes"] == [LOSS_QUOTE]


def test_the_book_build_fails_on_drift_and_checks_only_the_form_in_quick_mode(tmp_path):
    """The build reads each page's outputs from the execution cache, as the last run left them."""
    from jupyter_cache import get_cache

    (tmp_path / "_config.yml").write_text("execute:\n  execute_notebooks: cache\n")
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/01-page\n")
    (tmp_path / "book").mkdir()
    executed = page("validation loss: 2.5102\n", LOSS_QUOTE)
    source = copy.deepcopy(executed)
    source.cells[0].outputs = []
    nbformat.write(source, tmp_path / "book" / "01-page.ipynb")
    nbformat.write(executed, tmp_path / "ran.ipynb")
    build_dir = tmp_path / "_build"
    get_cache(build_dir / ".jupyter_cache").cache_notebook_file(
        tmp_path / "ran.ipynb", check_validity=False
    )
    [problem] = build_book.quote_problems(tmp_path, build_dir, compare=True)
    assert problem.startswith("book/01-page.ipynb") and "2.5102" in problem
    assert build_book.quote_problems(tmp_path, build_dir, compare=False) == []
