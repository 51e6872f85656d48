"""Test cells of the exercises: cases written in the notebook, judged by `minigpt.probes`.

Each exercise makes one `Exercise` in its imports cell, and each test cell lists its cases:

    with exercise.task("count-matrix") as task:
        task.call("count_matrix on a small example", torch.tensor([0, 1, 1, 2, 0, 1]), 3)

In Colab (and on a laptop) the block checks the answer at once when it ends: it runs the
student's functions on every case, runs minigpt's reference on the same inputs, compares, and
raises a message that names the first difference, and the known mistake that reproduces it.
When a class is graded, the grader executes the instructor's copy of these cells in its own
process to collect the cases (hidden ones included), sends only their inputs to each student's
sandbox, and judges what comes back there, outside: see `minigpt.grading`.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import linecache
from collections.abc import Iterator
from typing import Any

from minigpt.checks import ExerciseCheckFailed, expect_own_work
from minigpt.plain import from_plain, to_plain
from minigpt.probes import module_name, reference, specs
from minigpt.probes.judge import first_failure, named, reproducing
from minigpt.probes.rules import answer_problem
from minigpt.probes.run import run_cases
from minigpt.probes.spec import Case, TaskSpec

_collected: dict[str, list[Case]] | None = None  # set while the grader collects cases
# While grading, the grader's verdicts, sent into the sandbox once each task is judged:
# grade_id -> {"passed": bool, "message": str, "solution": source or ""}.
GRADED: dict[str, dict] = {}


@contextlib.contextmanager
def collecting() -> Iterator[dict[str, list[Case]]]:
    """While active, test cells record their cases instead of checking anything."""
    global _collected
    outer, _collected = _collected, {}
    try:
        yield _collected
    finally:
        _collected = outer


def plain_case(case: Case) -> dict:
    """What of a case travels to the answer: its kind and its inputs, as plain data."""
    return {"kind": case.kind, "inputs": to_plain(case.inputs)}


def pieces_of(assignment: str, spec: TaskSpec) -> dict[str, Any]:
    """minigpt's versions of the earlier answers a task calls."""
    owners = {name: task for task in specs(assignment).values() for name in task.functions}
    return {name: reference(owners[name].reference[name]) for name in spec.pieces}


def reference_records(spec: TaskSpec, cases: list[dict]) -> list[dict | None]:
    """What minigpt's implementation observes on every case (None where nothing is compared)."""
    functions = {name: reference(target) for name, target in spec.reference.items()}
    records = run_cases(spec, functions, cases)
    return [
        from_plain(record["observed"]) if spec.kind(case["kind"]).uses_reference else None
        for case, record in zip(cases, records, strict=True)
    ]


def mistake_records(
    spec: TaskSpec, namespace: dict, source: str, pieces: dict, cases: list[dict]
) -> list[Any]:
    """What a catalogued wrong answer observes, run in a copy of the notebook's namespace."""
    scope = {**namespace, **pieces}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(source, "<mistake>", "exec"), scope)
    return [from_plain(r["observed"]) for r in run_cases(spec, scope, cases, pieces)]


def _cell_source(value: Any) -> str:
    """The text of the notebook cell a function or class was defined in ('' if unknown)."""
    members = vars(value).values() if isinstance(value, type) else [value]
    for member in members:
        code = getattr(getattr(member, "__func__", member), "__code__", None)
        if code is not None:
            return "".join(linecache.getlines(code.co_filename))
    return ""


class TaskCases:
    """The cases of one test cell; checks them when the `with` block ends (see module doc)."""

    def __init__(self, exercise: Exercise, grade_id: str):
        self.exercise, self.grade_id = exercise, grade_id
        self.spec = exercise.spec(grade_id)
        self.cases: list[Case] = []

    def call(self, what: str, *args: Any, **kwargs: Any) -> Case:
        """A case that calls the task's function with these arguments."""
        return self._add(Case("call", what, {"args": args, "kwargs": kwargs}))

    def __getattr__(self, kind: str):
        """A case of one of the task's own kinds, e.g. `task.steps(what, W=..., lr=...)`."""
        if kind.startswith("_") or kind not in self.__dict__["spec"].kinds:
            raise AttributeError(kind)
        return lambda what, **inputs: self._add(Case(kind, what, inputs))

    def _add(self, case: Case) -> Case:
        self.cases.append(case)
        return case

    def __enter__(self) -> TaskCases:
        return self

    def __exit__(self, kind, error, trace) -> bool:
        if error is not None:
            return False
        if _collected is not None:
            _collected[self.grade_id] = self.cases
            return False
        self.check()
        return False

    def check(self) -> None:
        """Judge the answer in this kernel, at once: what a student sees in Colab."""
        spec, namespace = self.spec, self.exercise.namespace
        for name in spec.functions:
            if name not in namespace:
                raise ExerciseCheckFailed(f"{name} is not defined: run the cell with your answer")
            if namespace[name] is self.exercise.replaced.get(self.grade_id, {}).get(name):
                raise ExerciseCheckFailed(
                    f"{name} is the correct version a later cell put in place of your answer: "
                    "run the cell with your answer again, then this test cell"
                )
        problem = answer_problem(spec, _cell_source(namespace[spec.functions[0]]))
        if problem:
            raise ExerciseCheckFailed(problem)
        for name in spec.functions:
            expect_own_work(namespace[name], name, allowed=spec.allowed)
        cases = [plain_case(case) for case in self.cases]
        pieces = pieces_of(self.exercise.assignment, spec)
        records = run_cases(spec, namespace, cases, pieces)
        mine = [from_plain(record["observed"]) for record in records]
        expected = reference_records(spec, cases)
        failure = first_failure(spec, self.cases, mine, expected)
        if failure is not None:
            catalogue = self.exercise.mistakes(self.grade_id)
            found = reproducing(
                spec,
                self.cases,
                failure,
                catalogue,
                lambda m: mistake_records(
                    spec, namespace, m.source, pieces, cases[: failure[0] + 1]
                ),
                expected,
                mine,
            )
            message = named(failure[1], found)
            self.exercise.results[self.grade_id] = (False, message)
            raise ExerciseCheckFailed(message) from None
        self.exercise.results[self.grade_id] = (True, "")
        print(f"{spec.functions[0]}: visible tests passed ({len(self.cases)} cases)")


class Exercise:
    """One exercise notebook's tasks: `exercise = Exercise("01-bigrams", globals())`."""

    def __init__(self, assignment: str, namespace: dict) -> None:
        self.assignment, self.namespace = assignment, namespace
        self.results: dict[str, tuple[bool, str]] = {}  # the test cells run so far
        self.replaced: dict[str, dict[str, Any]] = {}  # what replacement() handed out

    def outcome(self, grade_id: str) -> tuple[bool, str] | None:
        """(passed, message) of a task: the grader's verdict while grading, else what its
        test cell said when it last ran here; None when it has not run."""
        if grade_id in GRADED:
            return GRADED[grade_id]["passed"], GRADED[grade_id]["message"]
        return self.results.get(grade_id)

    def replacement(self, grade_id: str) -> dict[str, Any]:
        """Correct versions of a task's functions, to go on with when the answer failed: the
        grader's solution while grading, minigpt's reference otherwise.

        Either runs among the notebook's other answers: the solution is run in a copy of the
        notebook's namespace, and so is a reference written for the notebook (one defined in
        the exercise's probes module), so that a replaced piece calls the notebook's other
        pieces by their names, the student's own where they passed, as the student's answer
        would. The test cell of the task will not take them for the student's answer."""
        spec = self.spec(grade_id)
        solution = GRADED.get(grade_id, {}).get("solution")
        scope = dict(self.namespace)
        if solution:
            exec(compile(solution, f"<correct {grade_id}>", "exec"), scope)
            found = {name: scope[name] for name in spec.functions}
        else:
            here = importlib.import_module(module_name(self.assignment))
            scope, found = {**vars(here), **scope}, {}
            for name in spec.functions:
                value = reference(spec.reference[name])
                if getattr(value, "__module__", None) == here.__name__:
                    source = inspect.getsource(value)
                    exec(compile(source, f"<correct {name}>", "exec"), scope)
                    value = scope[value.__name__]
                scope[name] = found[name] = value
        self.replaced[grade_id] = found
        return found

    def spec(self, grade_id: str) -> TaskSpec:
        return specs(self.assignment)[grade_id]

    def task(self, grade_id: str) -> TaskCases:
        """The cases of the task `grade_id`, checked when the `with` block ends."""
        return TaskCases(self, grade_id)

    def mistakes(self, grade_id: str) -> tuple:
        """The catalogued mistakes of a task (absent while grading: the grader names them)."""
        try:
            from minigpt.mistakes import catalogue

            return catalogue(self.assignment)[grade_id].mistakes
        except (ValueError, KeyError, ImportError, AttributeError):
            return ()
