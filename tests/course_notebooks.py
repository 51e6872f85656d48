"""Helpers for the course tests: the assignments, and student notebooks made from them."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import course  # noqa: E402  (tools/course.py)
import mistake_costs  # noqa: E402, F401  (tools/mistake_costs.py, for the tests)

ASSIGNMENTS = course.assignments()

# Seconds a notebook cell may run in the tests: long enough that only a hang reaches it. Quick mode
# keeps every cell to seconds on a quiet machine, but a busy neighbour can slow one tenfold.
CELL_TIMEOUT = 600


def grading(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader") or {}


def solution_path(assignment: str) -> Path:
    return next((ROOT / "solutions" / assignment).glob("*.ipynb"))


def exercise_path(assignment: str) -> Path:
    return ROOT / "exercises" / assignment / solution_path(assignment).name


def marked_blocks(source: str, kind: str) -> list[list[str]]:
    """The lines between ### BEGIN <kind> and ### END <kind>."""
    blocks, current = [], None
    for line in source.splitlines():
        if line.strip() == f"### BEGIN {kind}":
            current = []
        elif line.strip() == f"### END {kind}":
            blocks.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return blocks


def unmarked_lines(source: str) -> list[str]:
    """The lines outside every ### BEGIN/END block: what students are meant to see."""
    lines, depth = [], 0
    for line in source.splitlines():
        if line.strip().startswith("### BEGIN "):
            depth += 1
        elif line.strip().startswith("### END "):
            depth -= 1
        elif depth == 0:
            lines.append(line)
    return lines


def solved_student_notebook(assignment: str) -> nbformat.NotebookNode:
    return course.solved_exercise(assignment)


def blank_student_notebook(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(exercise_path(assignment), as_version=4)


def max_points(assignment: str) -> float:
    nb = nbformat.read(solution_path(assignment), as_version=4)
    return sum(grading(cell).get("points", 0) for cell in nb.cells if grading(cell).get("grade"))


def validator(**options):
    """nbgrader's Validator with the tests' cell limit (its own default is 30 s)."""
    from nbgrader.validator import Validator
    from traitlets.config import Config

    config = Config()
    config.Execute.timeout = CELL_TIMEOUT
    return Validator(config=config, **options)


def copy_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    return copy.deepcopy(nb)
