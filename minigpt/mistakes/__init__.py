"""The catalogue of known mistakes, one module per exercise.

Each module (`ch01_bigrams` for `01-bigrams`, ...) defines `TASKS`, keyed by the grade_id of an
answer cell: the common wrong answers of that cell, each with the hint a student reads when
their answer fails a check the same way, and correct answers written another way. The same
source drives two things: the judge (`minigpt.probes.judge`) names a mistake that reproduces a
failure, in Colab and when grading, and `tests/test_variants.py` proves that every mistake fails
its own task (naming itself) and no other, while every alternative passes. Adding a mistake here
adds its hint. How each task is checked lives in `minigpt.probes`; this catalogue is kept out of
the sandbox while grading, since its alternatives are correct answers.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from minigpt.probes import module_name


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
class Known:
    """What is known about getting one answer cell wrong, and right another way."""

    mistakes: tuple[Mistake, ...]
    alternatives: tuple[Alternative, ...]


def catalogue(assignment: str) -> dict[str, Known]:
    """The known mistakes and alternatives of one exercise's answers, by grade_id."""
    try:
        module = importlib.import_module(module_name(assignment, package=__name__))
    except ModuleNotFoundError as missing:
        raise ValueError(f"no catalogue of mistakes for exercise {assignment!r}") from missing
    return module.TASKS
