"""Repair what Colab and students break in a notebook before nbgrader sees it.

nbgrader finds answers and tests by the `nbgrader` metadata of each cell. Colab saves notebooks
without cell ids (nbformat 4.0) and students copy, delete and edit cells, so that metadata can be
missing, doubled or attached to the wrong cell; nbgrader then grades 0 without a word, or stops.

Each graded cell of the released notebook is found in the submission, in this order of trust:
by cell id, by its nbgrader grade_id, then by content (a test cell is matched by its text, an
answer by its first line, such as `def count_matrix(ids, vocab_size):`), always keeping the
cells in their released order. Found cells get the released metadata back; copies lose theirs;
deleted test cells are put back where they were.
"""

from __future__ import annotations

import copy
import difflib
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from minigpt.grading.text import scrub_all


@dataclass
class Repair:
    notebook: NotebookNode | None
    flags: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def note(self, flag: str, message: str) -> None:
        self.flags.add(flag)
        self.notes.append(message)


def read_notebook(path: Path) -> tuple[NotebookNode | None, str]:
    """The notebook, or None with the reason it cannot be graded."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        return None, f"cannot read the file: {err}"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        return None, f"not a notebook: invalid JSON ({err.msg} at line {err.lineno})"
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        return None, "not a notebook: no list of cells"
    try:
        nb = nbformat.reads(json.dumps(scrub_all(data)), as_version=4)
    except Exception as err:  # nbformat raises many kinds for malformed files
        return None, f"not a notebook nbformat can read: {err}"
    return nb, ""


def _grading(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader") or {}


def _clean(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "")


def _best_by_content(
    want: NotebookNode, cells: list[NotebookNode], window: list[int]
) -> int | None:
    """The cell in `window` that is most likely the released cell `want`, or None."""
    candidates = [s for s in window if cells[s].cell_type == want.cell_type]
    text = _clean(want.source)
    exact = [s for s in candidates if _clean(cells[s].source) == text]
    if exact:
        return exact[0]
    same_start = [
        s
        for s in candidates
        if _first_line(text) and _first_line(cells[s].source) == _first_line(text)
    ]
    if same_start:
        # Two cells both starting `def f(...):`: the later one is the f that runs.
        return same_start[-1]
    scored = [
        (difflib.SequenceMatcher(None, text, _clean(cells[s].source), autojunk=False).ratio(), s)
        for s in candidates
    ]
    scored = [(score, s) for score, s in scored if score >= 0.6]
    return max(scored)[1] if scored else None


def _match(released: list[NotebookNode], cells: list[NotebookNode]) -> dict[int, int]:
    """released index -> submitted index, for each released graded cell found."""
    graded = [i for i, cell in enumerate(released) if _grading(cell).get("grade_id")]
    matched: dict[int, int] = {}
    taken: set[int] = set()

    def claim(r: int, s: int) -> None:
        matched[r] = s
        taken.add(s)

    by_id = {cell.get("id"): s for s, cell in enumerate(cells) if cell.get("id")}
    for r in graded:
        s = by_id.get(released[r].get("id"))
        if s is not None and s not in taken and cells[s].cell_type == released[r].cell_type:
            claim(r, s)

    for r in graded:
        if r in matched:
            continue
        grade_id = _grading(released[r])["grade_id"]
        same = [
            s
            for s, c in enumerate(cells)
            if _grading(c).get("grade_id") == grade_id and s not in taken
        ]
        if same:
            exact = [s for s in same if _clean(cells[s].source) == _clean(released[r].source)]
            # A copied answer: the last copy is the one whose definition wins when run.
            claim(r, exact[0] if exact else same[-1])

    for r in graded:
        if r in matched:
            continue
        before = max((s for rr, s in matched.items() if rr < r), default=-1)
        after = min((s for rr, s in matched.items() if rr > r), default=len(cells))
        window = [s for s in range(before + 1, after) if s not in taken]
        found = _best_by_content(released[r], cells, window)
        if found is not None:
            claim(r, found)
    return matched


def repair(submitted: NotebookNode, released: NotebookNode) -> Repair:
    """A copy of `submitted` that nbgrader can grade, with what was done to it."""
    nb = copy.deepcopy(submitted)
    result = Repair(nb)
    cells, reference = nb.cells, released.cells
    answers = {c.get("id"): c for c in reference if _grading(c).get("solution")}
    for cell in cells:
        want = answers.get(cell.get("id"))
        if want is not None and cell.cell_type != want.cell_type:
            result.note(
                "answer not code",
                f"{_grading(want)['grade_id']}: the answer cell was turned into {cell.cell_type}; "
                "it cannot run, so that task earns nothing",
            )
    matched = _match(reference, cells)

    restored = []
    for r, s in matched.items():
        want, cell = reference[r], cells[s]
        grade_id = _grading(want)["grade_id"]
        if _grading(cell) != _grading(want):
            restored.append(grade_id)
            cell.metadata["nbgrader"] = copy.deepcopy(_grading(want))
        if _grading(want).get("locked") and _clean(cell.source) != _clean(want.source):
            kind = "test cell" if _grading(want).get("grade") else "read-only cell"
            result.note("tampered", f"{grade_id}: {kind} was edited; the original is graded")
        for key in ("editable", "deletable"):
            if key in want.metadata:
                cell.metadata[key] = want.metadata[key]
        cell["id"] = want["id"]
    if restored:
        result.note(
            "repaired",
            f"grading metadata restored on {len(restored)} cell(s): {', '.join(restored)}",
        )

    kept = set(matched.values())
    for s, cell in enumerate(cells):
        if s not in kept and _grading(cell):
            grade_id = _grading(cell).get("grade_id", "?")
            result.note("repaired", f"{grade_id}: grading metadata removed from a copy of the cell")
            del cell.metadata["nbgrader"]

    # Put back what was deleted, right after the graded cell that preceded it in the release.
    placed = {r: cells[s] for r, s in matched.items()}
    for r, want in enumerate(reference):
        if not _grading(want).get("grade_id") or r in placed:
            continue
        earlier = [rr for rr in placed if rr < r]
        if earlier:
            anchor = placed[max(earlier)]
            position = next(i for i, cell in enumerate(cells) if cell is anchor) + 1
        else:
            position = min(r, len(cells))
        placed[r] = copy.deepcopy(want)
        cells.insert(position, placed[r])
        what = "test cell" if _grading(want).get("grade") else "cell"
        result.note("repaired", f"{_grading(want)['grade_id']}: deleted {what} restored")

    _fresh_ids(nb)
    return result


def _fresh_ids(nb: NotebookNode) -> None:
    """nbformat 4.5: every cell needs an id, and ids must be unique."""
    nb.nbformat, nb.nbformat_minor = 4, 5
    seen: set[str] = set()
    for index, cell in enumerate(nb.cells):
        cell_id = cell.get("id")
        if not cell_id or cell_id in seen:
            cell_id = f"submitted-{index}"
            while cell_id in seen:
                cell_id += "-x"
            cell["id"] = cell_id
        seen.add(cell_id)
