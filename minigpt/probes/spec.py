"""What a task description is made of: what to call, what to compare, the rules."""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

NOTHING = object()  # no hand-written expected value: the reference's result is the expectation


@dataclass(frozen=True)
class Rule:
    """A rule about how an answer is written, read from its source (the same in Colab and when
    grading): `broken(tree, names)` is True when the answer breaks it."""

    message: str
    broken: Callable[[ast.Module, tuple[str, ...]], bool]


@dataclass(frozen=True)
class Kind:
    """One way a task's cases run.

    `run(answer, **inputs)` calls the answer's functions and returns what it observed, a dict of
    plain values. `judge(case, mine, expected)` raises ExerciseCheckFailed when the observations
    are wrong; without one, every observation is compared with the reference's, key by key.
    `uses_reference=False` for checks that have no single right result (sampling).
    """

    run: Callable[..., dict]
    judge: Callable[[Case, dict, dict | None], None] | None = None
    uses_reference: bool = True


def _call(answer: Answer, args: tuple = (), kwargs: dict | None = None) -> dict:
    """The plain case: call the task's main function and keep its result and its arguments."""
    kwargs = kwargs or {}
    result = answer.main(*args, **kwargs)
    return {"result": result, "arguments after": {"args": args, "kwargs": kwargs}}


CALL = Kind(run=_call)


@dataclass(frozen=True)
class TaskSpec:
    """One answer cell of an exercise and how it is checked.

    `reference` maps each function the answer defines to minigpt's version ("module:name"):
    the judge compares with it, and grading hides it from the student's code (with `withheld`,
    any further names that would give the answer away). `pieces` are earlier answers this one
    calls: its checks run with correct versions of them, so one bug costs one task's points.
    `replaceable`: when the answer fails, the notebook may ask for a correct version to go on
    with (`Exercise.replacement`); while grading, the grader sends it once the task is judged.
    """

    functions: tuple[str, ...]
    reference: Mapping[str, str]
    promise: str = ""
    kinds: Mapping[str, Kind] = field(default_factory=dict)
    pieces: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ("minigpt.checks",)
    rules: tuple[Rule, ...] = ()
    keeps_inputs: bool = False
    withheld: tuple[str, ...] = ()
    replaceable: bool = False  # a later cell may run a correct version in its place (capstone)

    def kind(self, name: str) -> Kind:
        if name == "call":
            return self.kinds.get("call", CALL)
        return self.kinds[name]


class Answer:
    """The functions of one answer, by name (`answer.count_matrix`); `main` is the first."""

    def __init__(self, functions: Mapping[str, Any], order: tuple[str, ...]):
        self._functions, self._order = dict(functions), order

    @property
    def main(self) -> Any:
        return self._functions[self._order[0]]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_functions"][name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class Case:
    """One case of a task, as a test cell writes it: inputs for the probe, checks for the judge.

    The inputs travel to wherever the answer runs; the checks (`check`, `holds`, `expect`...)
    stay with the judge. Methods return the case, so a test cell can chain them.
    """

    kind: str
    what: str
    inputs: dict
    expected: Any = NOTHING
    views: list[tuple[str, str, Callable]] = field(default_factory=list)
    error: tuple[type, tuple[str, ...]] | None = None  # the exception the call must raise
    atol: float = 1e-4
    rtol: float = 1e-4
    exact_dtype: bool = False

    def expect(self, value: Any) -> Case:
        """A hand-written expected result, checked before the comparison with the reference."""
        self.expected = value
        return self

    def check(self, label: str, view: Callable) -> Case:
        """Compare `view(result)` of the answer with that of the reference, said as `label`."""
        self.views.append(("view", label, view))
        return self

    def holds(self, label: str, predicate: Callable) -> Case:
        """`predicate(observations)` must be true of the answer's observations; else `label`."""
        self.views.append(("holds", label, predicate))
        return self

    def raises(self, error: type, mentions: tuple[str, ...] = ()) -> Case:
        """The call must raise `error` (or a subclass), with every text of `mentions` in it."""
        self.error = (error, tuple(mentions))
        return self

    def tolerance(self, atol: float = 1e-4, rtol: float = 1e-4) -> Case:
        self.atol, self.rtol = atol, rtol
        return self

    def same_dtype(self) -> Case:
        """The result's dtype must be the reference's (by default any dtype with equal values)."""
        self.exact_dtype = True
        return self

    def fresh_inputs(self) -> dict:
        """A copy of the inputs for one run: an answer that changes them cannot change the next."""
        return copy.deepcopy(self.inputs)
