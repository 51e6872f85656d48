"""How each exercise task is checked: probes that run an answer, judges that read what it did.

A task's checks are split in two, so that a score never depends on code a student controls:

- the **probe** (`run_cases`) calls the student's functions on the inputs of each case and
  writes down what came back, as plain data (`minigpt.plain`). It runs wherever the answer
  runs: in the student's kernel in Colab, in a sandbox when a class is graded;
- the **judge** (`judge_cases`) compares those observations with what minigpt's reference
  implementation does on the same inputs, and turns the first difference into a message. It
  runs in the student's kernel in Colab and in the grader's own process when grading.

The cases themselves (the inputs, and what the judge should look at) are written in each test
cell of the exercise notebook, hidden ones in the instructor's copy only (see
`minigpt.feedback`). This module holds what every exercise shares; `chNN_name.py` beside it
describes one exercise's tasks.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from minigpt.probes.spec import Answer, Case, Kind, Rule, TaskSpec

__all__ = ["Answer", "Case", "Kind", "Rule", "TaskSpec", "module_name", "specs", "reference"]


def module_name(assignment: str, package: str = __name__) -> str:
    """`01-bigrams` -> `minigpt.probes.ch01_bigrams` (the same naming as the catalogue's)."""
    number, _, name = assignment.partition("-")
    return f"{package}.ch{number}_{name.replace('-', '_')}"


def specs(assignment: str) -> dict[str, TaskSpec]:
    """The tasks of one exercise, by the grade_id of their answer cell."""
    try:
        module = importlib.import_module(module_name(assignment))
    except ModuleNotFoundError as missing:
        raise ValueError(f"no task descriptions for exercise {assignment!r}") from missing
    return module.TASKS


def reference(target: str) -> Any:
    """minigpt's implementation named "module:qualified.name"."""
    module, _, qualified = target.partition(":")
    found: Any = importlib.import_module(module)
    for part in qualified.split("."):
        found = getattr(found, part)
    return found


@dataclass
class Verdict:
    """The outcome of one task: its points, and why it lost them."""

    grade_id: str
    passed: bool
    message: str = ""
    cases: int = 0
    evidence: list[str] = field(default_factory=list)  # signs that the checks' view was changed


Pieces = Mapping[str, Callable]
