"""Per-task detail of one graded student: points from the gradebook, reasons from the notebook.

The gradebook is the record of every score, so points are read from it; it keeps no messages,
so why a task failed is read from the outputs of its test cell in the autograded notebook. Only
the last line of an error is kept (`AssertionError: ...`): the traceback above it would show the
hidden tests' code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from minigpt.grading.results import TaskResult

if TYPE_CHECKING:
    from nbgrader.api import Gradebook

ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MAX_MESSAGE = 300  # characters: a message is a reason, not a dump of the student's tensors


def _grading(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader") or {}


def failure_message(cell) -> str:
    """The last line of the first error a test cell raised, as the student would read it."""
    for output in cell.get("outputs", []):
        if output.get("output_type") != "error":
            continue
        lines = [ANSI_ESCAPE.sub("", line) for line in output.get("traceback", [])]
        last = next(
            (ln.strip() for ln in reversed("\n".join(lines).splitlines()) if ln.strip()), ""
        )
        if not last:
            evalue = str(output.get("evalue", "")).strip().splitlines()
            last = f"{output.get('ename', 'Error')}: {evalue[-1] if evalue else ''}"
        return last.rstrip(": ")[:MAX_MESSAGE]  # "NotImplementedError: " has no message
    return ""


def _messages(autograded_notebook: Path | None) -> dict[str, str]:
    if autograded_notebook is None or not Path(autograded_notebook).exists():
        return {}
    nb = nbformat.read(autograded_notebook, as_version=4)
    return {
        _grading(cell)["grade_id"]: failure_message(cell)
        for cell in nb.cells
        if _grading(cell).get("grade") and _grading(cell).get("grade_id")
    }


def task_results(
    gradebook: Gradebook | str, assignment: str, student: str, autograded_notebook: Path | None
) -> list[TaskResult]:
    """Each graded cell of `student`'s submission, in notebook order, with why it lost points.

    `gradebook` is an open nbgrader `Gradebook` or its database URL. A student without a
    submission in the gradebook has no tasks (an empty list).
    """
    from nbgrader.api import Gradebook, MissingEntry

    if isinstance(gradebook, str):
        with Gradebook(gradebook) as opened:
            return task_results(opened, assignment, student, autograded_notebook)
    try:
        submission = gradebook.find_submission(assignment, student)
    except MissingEntry:
        return []
    messages = _messages(autograded_notebook)
    order = list(messages)
    results = []
    for notebook in submission.notebooks:
        for grade in notebook.grades:
            score, maximum = float(grade.score or 0), float(grade.max_score or 0)
            message = messages.get(grade.name, "")
            if score < maximum and not message:
                message = "no error shown (the cell may not have run)"
            results.append(
                TaskResult(grade.name, score, maximum, message if score < maximum else "")
            )
    return sorted(
        results, key=lambda t: order.index(t.grade_id) if t.grade_id in order else len(order)
    )


def answers(notebook: nbformat.NotebookNode) -> dict[str, str]:
    """The source of every answer cell (nbgrader `solution: true`), by its grade_id."""
    return {
        _grading(cell)["grade_id"]: cell.source
        for cell in notebook.cells
        if cell.cell_type == "code"
        and _grading(cell).get("solution")
        and _grading(cell).get("grade_id")
    }
