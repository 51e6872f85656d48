"""What grading one exercise needs, worked out once for the class, and the judging of each task.

From the instructor's notebook in solutions/ (trusted) this collects every test cell's cases,
hidden ones included, by running the course's own cells here, in the grader's process, with the
test cells in "collect" mode: nothing is checked, the cases are only written down. It then runs
minigpt's reference on every case, and keeps each answer's solution, which the sandbox receives
as the correct version of an earlier answer once that answer's own task is judged. For each
student it judges what came back from the sandbox (`judge`), naming a catalogued mistake only
when that mistake fails the same check the same way.
"""

from __future__ import annotations

import contextlib
import io
import linecache
from dataclasses import dataclass, field
from typing import Any

from nbformat import NotebookNode

from minigpt.feedback import collecting, mistake_records, plain_case, reference_records
from minigpt.plain import from_plain
from minigpt.probes import Verdict, specs
from minigpt.probes.judge import first_failure, named, reproducing
from minigpt.probes.rules import answer_problem
from minigpt.probes.run import fingerprint
from minigpt.probes.spec import Case, TaskSpec

SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def grading(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader") or {}


def solution_code(source: str) -> str:
    """An answer cell of the instructor's notebook as a student who solved it would write it."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in SOLUTION_MARKERS)


class CollectError(RuntimeError):
    """The instructor's notebook does not describe its tasks as the grader needs."""


@dataclass
class Task:
    """One task of the exercise: its answer cell, its test cell and points, its cases."""

    grade_id: str  # the answer cell's
    test_id: str  # the test cell's, which holds the points
    points: float
    spec: TaskSpec
    cases: list[Case]
    plain: list[dict]  # what the sandbox receives
    expected: list  # the reference's observations, case by case
    seen: list[str]  # the fingerprints of the inputs, as the reference got them
    solution: str
    _mistakes: dict[str, list] = field(default_factory=dict)


@dataclass
class Assignment:
    """Everything every student of the class is judged against."""

    name: str  # e.g. 01-bigrams
    notebook: str  # the notebook's file name
    released: NotebookNode
    tasks: dict[str, Task]  # by answer grade_id, in notebook order
    namespace: dict  # the course's cells, run here: what a catalogued mistake runs in

    @property
    def by_test(self) -> dict[str, Task]:
        return {task.test_id: task for task in self.tasks.values()}

    def prerequisites(self, task: Task) -> list[Task]:
        """The tasks whose answers this task calls (their solutions are its pieces), in order."""
        owners = {name: t for t in self.tasks.values() for name in t.spec.functions}
        wanted = {owners[name].grade_id for name in task.spec.pieces if name in owners}
        return [t for t in self.tasks.values() if t.grade_id in wanted]

    def pieces(self, task: Task) -> list[str]:
        """The solutions of the earlier answers a task calls, in notebook order."""
        return [t.solution for t in self.prerequisites(task)]

    def mistakes(self, task: Task) -> tuple:
        try:
            from minigpt.mistakes import catalogue

            return catalogue(self.name)[task.grade_id].mistakes
        except (ValueError, KeyError):
            return ()

    def judge(self, task: Task, records: list | None, source: str | None) -> Verdict:
        """The verdict on one task from what the sandbox sent back (plain data, untrusted)."""
        verdict = Verdict(task.grade_id, False, cases=len(task.cases))
        if source is None:
            verdict.message = f"the answer cell of {task.spec.functions[0]} is missing"
            return verdict
        problem = answer_problem(task.spec, source)
        if problem:
            verdict.message = problem
            return verdict
        if records is None:
            verdict.message = (
                f"{task.spec.functions[0]}: no result came back from the checks (the notebook "
                "stopped, or ran past its time, while they ran)"
            )
            return verdict
        observations = []
        for index, record in enumerate(records[: len(task.cases)]):
            try:
                seen = record["seen"]
                observations.append(from_plain(record["observed"]))
            except Exception:  # forged or broken data: whatever it is, it proves nothing
                verdict.evidence.append(f"{task.grade_id}: a result that is not plain data")
                observations.append(None)
                continue
            if seen and seen != task.seen[index]:
                verdict.evidence.append(
                    f"{task.grade_id}: the inputs of a check were changed inside the notebook "
                    "before they reached the answer"
                )
        failure = first_failure(task.spec, task.cases, observations, task.expected)
        if failure is None:
            verdict.passed = True
            return verdict
        found = reproducing(
            task.spec,
            task.cases,
            failure,
            self.mistakes(task),
            lambda mistake: self._mistake_observations(task, mistake),
            task.expected,
            observations,
        )
        verdict.message = named(failure[1], found)
        return verdict

    def _mistake_observations(self, task: Task, mistake) -> list:
        """A catalogued mistake's observations on every case (run here once per class), with
        the same correct earlier pieces the sandbox had: the solutions' code."""
        if mistake.name not in task._mistakes:
            scope = dict(self.namespace)
            for source in self.pieces(task):
                _run_trusted(source, scope, f"<piece of {task.grade_id}>")
            pieces = {name: scope[name] for name in task.spec.pieces if name in scope}
            task._mistakes[mistake.name] = mistake_records(
                task.spec, self.namespace, mistake.source, pieces, task.plain
            )
        return task._mistakes[mistake.name]


def _run_trusted(source: str, namespace: dict, label: str) -> None:
    """Run a cell of the instructor's notebook here (its text registered for tracebacks)."""
    linecache.cache[label] = (len(source), None, source.splitlines(True), label)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        exec(compile(source, label, "exec"), namespace)


def prepare(name: str, source: NotebookNode, released: NotebookNode, notebook: str) -> Assignment:
    """Collect the cases of every task from the instructor's notebook (see the module doc)."""
    tasks_specs = specs(name)
    namespace: dict[str, Any] = {"__name__": "__main__"}
    first_answer = next(
        (i for i, c in enumerate(source.cells) if grading(c).get("solution")), len(source.cells)
    )
    tasks: dict[str, Task] = {}
    solutions = {
        grading(c)["grade_id"]: solution_code(c.source)
        for c in source.cells
        if grading(c).get("solution")
    }
    for index, cell in enumerate(source.cells):
        if cell.cell_type != "code":
            continue
        meta = grading(cell)
        if meta.get("grade"):
            with collecting() as found:
                try:
                    _run_trusted(cell.source, namespace, f"<test {meta['grade_id']}>")
                except Exception as error:
                    raise CollectError(
                        f"{name}: the test cell {meta['grade_id']} cannot be collected: "
                        f"{type(error).__name__}: {error}"
                    ) from error
            for grade_id, cases in found.items():
                spec = tasks_specs[grade_id]
                plain = [plain_case(case) for case in cases]
                tasks[grade_id] = Task(
                    grade_id=grade_id,
                    test_id=meta["grade_id"],
                    points=float(meta.get("points", 0)),
                    spec=spec,
                    cases=cases,
                    plain=plain,
                    expected=reference_records(spec, plain),
                    seen=[fingerprint(from_plain(case["inputs"])) for case in plain],
                    solution=solutions.get(grade_id, ""),
                )
        elif index < first_answer and not meta.get("solution"):
            _run_trusted(cell.source, namespace, f"<course cell {cell.get('id')}>")
    missing = sorted(set(tasks_specs) - set(tasks))
    if missing:
        raise CollectError(f"{name}: no test cell collects the cases of {', '.join(missing)}")
    return Assignment(name, notebook, released, tasks, namespace)
