"""Check that the figures a page's prose quotes agree with the outputs they were read from.

    python tools/quotes.py NOTEBOOK...             well-formed quotes (committed notebooks)
    python tools/quotes.py --outputs NOTEBOOK...   and agreement with the outputs (executed ones)

A markdown cell that quotes a figure printed by the notebook says where it comes from, in its
cell metadata:

    "quotes": [
        {"text": "2.48", "cell": "bigram-loss", "pattern": "validation loss: ([0-9.]+)"}
    ]

- `text`: an exact substring of the markdown cell holding exactly one number, the quoted figure
  ("2.48", "2.7 times", "61%", "1,003,854", "10.7 million");
- `cell`: the id of the code cell whose output shows the figure;
- `pattern`: a regular expression with one group, searched (multi-line) in that cell's text
  output (streams and text/plain results, in order); the first match's group is the figure;
- optional `scale`: a factor applied to the output before comparing (100 for a fraction quoted
  as a percentage, 1e-6 for a count quoted in millions);
- optional `sig`: compare at this many significant figures of the output instead of the quoted
  decimals ("about 11,000" read from 10,873 needs `"sig": 2`);
- optional `bound`: "above" when the prose gives a lower bound ("more than 4 times as fast": the
  output must be at least 4), "below" for an upper bound ("under 90 s");
- optional `within`: a relative tolerance for figures that vary from run to run, such as timings
  ("about 3 times as fast" with `"within": 0.3` accepts 2.1 to 3.9). Prefer a bound.

The rule: the output, scaled, must round to the quoted figure at the quoted precision. A figure
written with d decimals agrees when the output is within half a unit of its last digit: 2.48
agrees with 2.4815 and 2.475, not with 2.4851; 72 agrees with 71.6, not with 72.6. With `sig`,
the quote must be the output rounded to that many significant figures (11,000 for 10,873 at two;
either neighbour on an exact tie). `bound` and `within` replace the rule for measured times, which
differ between runs: deterministic figures (losses, counts, seeded samples) are quoted exactly.

The well-formedness check needs no outputs, so the test suite runs it on the committed pages;
`tools/build_book.py` (what `make book` runs) compares on the executed full-mode pages and fails
the build on a mismatch. Quick-mode pages print other numbers, so they get only the first check.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat

KEYS = {"text", "cell", "pattern", "scale", "sig", "bound", "within"}
RULES = ("sig", "bound", "within")  # at most one: how the figure is compared
# A number as prose writes it: an optional sign, thousands separated by commas, decimals.
NUMBER = re.compile(r"(?<![\w.])[-−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\d])")


@dataclass(frozen=True)
class Figure:
    """A number as written: its value and how many decimals it was written with."""

    value: float
    decimals: int

    @classmethod
    def parse(cls, written: str) -> Figure:
        plain = written.replace(",", "").replace("−", "-").strip()
        whole, _, decimals = plain.partition(".")
        return cls(float(plain), len(decimals))


def numbers_in(text: str) -> list[str]:
    return NUMBER.findall(text)


def output_text(cell: nbformat.NotebookNode) -> str:
    """What a code cell showed as text: its streams and the plain text of its results (not the
    placeholder text of a figure, "<Figure size 650x380 with 1 Axes>"), each starting a line."""
    parts = []
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if output.get("output_type") == "stream":
            text = output.get("text", "")
        elif output.get("output_type") in ("execute_result", "display_data"):
            if any(kind.startswith("image/") for kind in data):
                continue
            text = data.get("text/plain", "")
        else:
            continue
        text = text if isinstance(text, str) else "".join(text)
        if parts and not parts[-1].endswith("\n"):
            parts.append("\n")
        parts.append(text)
    return "".join(parts)


def agrees(
    quoted: Figure,
    value: float,
    sig: int | None = None,
    bound: str | None = None,
    within: float | None = None,
) -> bool:
    """Whether `value` rounds to the quoted figure at its precision (see the module's rule)."""
    if bound is not None:
        return value >= quoted.value if bound == "above" else value <= quoted.value
    if within is not None:
        return abs(value - quoted.value) <= within * abs(quoted.value)
    if sig is not None:
        magnitude = math.floor(math.log10(abs(value))) if value else 0
        step = 10.0 ** (magnitude - sig + 1)
        if abs(quoted.value / step - round(quoted.value / step)) > 1e-6:
            return False  # 72 is not 71.6 at one significant figure (70)
    else:
        step = 10.0**-quoted.decimals
    return abs(value - quoted.value) <= step / 2 * (1 + 1e-9)


def cells_by_id(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    return {cell.get("id"): cell for cell in nb.cells}


def quote_problems(
    nb: nbformat.NotebookNode, name: str = "notebook", outputs: bool = False
) -> list[str]:
    """Everything wrong with the notebook's quotes; with `outputs`, their agreement too."""
    problems = []
    cells = cells_by_id(nb)
    for cell in nb.cells:
        quotes = cell.get("metadata", {}).get("quotes")
        if quotes is None:
            continue
        where = f"{name}, markdown cell {cell.get('id')!r}"
        if cell.cell_type != "markdown":
            problems.append(f"{name}, cell {cell.get('id')!r}: quotes belong on markdown cells")
            continue
        if not isinstance(quotes, list):
            problems.append(f"{where}: `quotes` must be a list of objects")
            continue
        for quote in quotes:
            problems += _problems_of_one(quote, cell, cells, where, outputs)
    return problems


def _problems_of_one(quote, cell, cells, where: str, outputs: bool) -> list[str]:
    if not isinstance(quote, dict) or not {"text", "cell", "pattern"} <= set(quote):
        return [f"{where}: a quote needs text, cell and pattern: {quote!r}"]
    unknown = set(quote) - KEYS
    if unknown:
        return [f"{where}: unknown keys {sorted(unknown)} in {quote!r}"]
    text, source_id, pattern = quote["text"], quote["cell"], quote["pattern"]
    here = f"{where}, quote {text!r}"
    rules = [key for key in RULES if key in quote]
    if len(rules) > 1:
        return [f"{here}: choose one of {rules}"]
    if quote.get("bound", "above") not in ("above", "below"):
        return [f"{here}: bound is 'above' or 'below', not {quote['bound']!r}"]
    if text not in cell.source:
        return [f"{here}: the text does not occur in the cell (reworded?)"]
    written = numbers_in(text)
    if len(written) != 1:
        return [f"{here}: the text must hold exactly one number, found {written}"]
    try:
        compiled = re.compile(pattern, re.MULTILINE)
    except re.error as err:
        return [f"{here}: the pattern {pattern!r} does not compile: {err}"]
    if compiled.groups != 1:
        return [f"{here}: the pattern {pattern!r} needs exactly one group"]
    source = cells.get(source_id)
    if source is None:
        return [f"{here}: no cell has the id {source_id!r}"]
    if source.cell_type != "code":
        return [f"{here}: cell {source_id!r} is not a code cell"]
    if not outputs:
        return []
    shown = output_text(source)
    if not shown:
        return [f"{here}: cell {source_id!r} has no text output (was the notebook executed?)"]
    match = compiled.search(shown)
    if match is None:
        tail = shown[-300:].rstrip()
        return [f"{here}: the pattern {pattern!r} matches nothing in cell {source_id!r}:\n{tail}"]
    try:
        value = float(match.group(1).replace(",", "")) * float(quote.get("scale", 1))
    except ValueError:
        return [f"{here}: the pattern's group caught {match.group(1)!r}, not a number"]
    quoted = Figure.parse(written[0])
    if not agrees(quoted, value, quote.get("sig"), quote.get("bound"), quote.get("within")):
        rule = {key: quote[key] for key in RULES if key in quote}
        return [
            f"{here}: cell {source_id!r} now shows {match.group(0)!r}, which gives {value:g}; "
            f"the prose says {written[0]}{f' ({rule})' if rule else ''}. Update the prose (and "
            "check the sentence around it)."
        ]
    return []


def check_files(paths: list[Path], outputs: bool, name: str | None = None) -> list[str]:
    """The problems of each notebook file; `name` replaces the path in the messages."""
    problems = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        problems += quote_problems(nb, name or str(path), outputs)
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--outputs", action="store_true", help="compare with the outputs too")
    args = parser.parse_args()
    problems = check_files(args.notebooks, args.outputs)
    for problem in problems:
        print(problem)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
