"""The catalogue of known mistakes, one module per exercise.

Each module (`ch01_bigrams` for `01-bigrams`, ...) defines `TASKS`, keyed by the grade_id of an
answer cell. A task lists the common wrong answers of that cell, each with the hint a student
reads when their answer behaves exactly like it, and correct answers written another way. The
same source drives two things: `minigpt.feedback` names the mistake when a test fails, and
`tests/test_variants.py` proves that every mistake fails its test (naming itself) while every
alternative passes. Adding a mistake here adds its hint.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mistake:
    """A wrong answer and what to tell a student whose answer behaves like it."""

    name: str  # what it does, in a few words: "counts transposed (next, current)"
    hint: str  # why that is wrong and what the task wants instead
    source: str  # the answer cell as such a student writes it


@dataclass(frozen=True)
class Alternative:
    """A correct answer written differently from the solution: the tests must accept it."""

    name: str
    source: str


@dataclass(frozen=True)
class Task:
    """One answer cell: the names it defines, and what is known about getting it wrong."""

    functions: tuple[str, ...]  # what the answer cell defines, the task's main function first
    mistakes: tuple[Mistake, ...]
    alternatives: tuple[Alternative, ...]
    promise: str = ""  # what the task asks for, quoted when an answer raises an error
    # Earlier answers this one calls, and minigpt's versions that stand in for them in its tests.
    pieces: Mapping[str, Callable] = field(default_factory=dict)
    keeps_inputs: bool = False  # the text says the arguments must come back unchanged


def module_name(assignment: str) -> str:
    """`01-bigrams` -> `minigpt.mistakes.ch01_bigrams`."""
    number, _, name = assignment.partition("-")
    return f"{__name__}.ch{number}_{name.replace('-', '_')}"


def catalogue(assignment: str) -> dict[str, Task]:
    """The tasks of one exercise, by grade_id."""
    try:
        module = importlib.import_module(module_name(assignment))
    except ModuleNotFoundError as missing:
        raise ValueError(f"no catalogue of mistakes for exercise {assignment!r}") from missing
    return module.TASKS
