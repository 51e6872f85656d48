"""Grade one student's notebook: run it in a sandbox, probe every task, judge outside.

The cells run in order, as in Colab. Where a test cell stands, the grader does not run the
student's copy of it: it sends that task's inputs (hidden cases included) to the sandbox, gets
back what the student's functions did, and judges it here (`Assignment.judge`). The correct
versions of earlier answers a task calls reach the sandbox only then, after those answers' own
tasks are judged. A cell that runs too long is interrupted; one that will not stop, or that kills
the Python process, is disabled and the notebook run again from the start in a fresh sandbox,
up to a few times, all within one deadline for the whole notebook.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

from nbformat import NotebookNode

from minigpt.grading.assignment import Assignment, Task, grading
from minigpt.grading.sandbox import Policy
from minigpt.grading.session import Limits, Outcome, Session, Stopped
from minigpt.probes import Verdict

MAX_RESCUES = 3
EXIT_FLAGS = {"SystemExit": "exited", "MemoryError": "out of memory"}


class SandboxFailed(RuntimeError):
    """The sandbox would not start at all: a problem of the grading machine, not the student's."""


@dataclass
class Step:
    """One thing to do in the sandbox: run a cell, or probe the task whose test cell stands here."""

    cell_id: str
    source: str = ""
    task: Task | None = None  # a probe
    answer: str | None = None  # the grade_id of the answer this cell holds


@dataclass
class Run:
    """What one run of a notebook found."""

    verdicts: dict[str, Verdict] = field(default_factory=dict)  # by answer grade_id
    outcomes: dict[str, Outcome] = field(default_factory=dict)  # by cell id
    flags: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    limits: set[str] = field(default_factory=set)
    finished: bool = True  # every task got to its checks

    def score(self, assignment: Assignment) -> float:
        return sum(
            task.points for gid, task in assignment.tasks.items() if self.verdicts[gid].passed
        )


def answers_of(notebook: NotebookNode) -> dict[str, str]:
    """The answer cells that are code, by grade_id (an answer turned into markdown is absent)."""
    return {
        grading(c)["grade_id"]: c.source
        for c in notebook.cells
        if c.cell_type == "code" and grading(c).get("solution")
    }


def _preamble(assignment: Assignment) -> set[str]:
    """The course's own code cells before the first answer: set-up and imports."""
    ids = set()
    for cell in assignment.released.cells:
        if grading(cell).get("solution"):
            break
        if cell.cell_type == "code":
            ids.add(cell.get("id"))
    return ids


def plan(assignment: Assignment, notebook: NotebookNode) -> list[Step]:
    """The whole notebook in order: the course's locked cells as released, the rest as sent."""
    released = {c.get("id"): c for c in assignment.released.cells}
    by_test = assignment.by_test
    steps = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        meta = grading(cell)
        if meta.get("grade"):
            if meta.get("grade_id") in by_test:
                steps.append(Step(cell.get("id"), task=by_test[meta["grade_id"]]))
        elif meta.get("solution"):
            steps.append(Step(cell.get("id"), cell.source, answer=meta.get("grade_id")))
        elif meta.get("locked") and cell.get("id") in released:
            steps.append(Step(cell.get("id"), released[cell.get("id")].source))
        else:
            steps.append(Step(cell.get("id"), cell.source))
    return steps


def answers_only_plan(assignment: Assignment, answers: dict[str, str]) -> list[Step]:
    """The released notebook's set-up, the student's answers and the probes, nothing else."""
    preamble = _preamble(assignment)
    steps = []
    for cell in assignment.released.cells:
        meta, cell_id = grading(cell), cell.get("id")
        if cell.cell_type != "code":
            continue
        if meta.get("grade") and meta.get("grade_id") in assignment.by_test:
            steps.append(Step(cell_id, task=assignment.by_test[meta["grade_id"]]))
        elif meta.get("solution") and meta.get("grade_id") in answers:
            steps.append(Step(cell_id, answers[meta["grade_id"]], answer=meta.get("grade_id")))
        elif cell_id in preamble:
            steps.append(Step(cell_id, cell.source))
    return steps


def runs_extra_code(assignment: Assignment, notebook: NotebookNode) -> bool:
    """Whether the notebook runs code beyond the course's cells and the student's answers."""
    released = {c.get("id"): c.source.strip() for c in assignment.released.cells}
    for cell in notebook.cells:
        meta = grading(cell)
        if cell.cell_type != "code" or meta.get("grade") or meta.get("solution"):
            continue
        if meta.get("locked") and cell.get("id") in released:
            continue  # the released text runs, whatever was sent
        if released.get(cell.get("id")) != cell.source.strip():
            return True
    return False


def graded_cells_moved(assignment: Assignment, notebook: NotebookNode) -> bool:
    """Whether answer and test cells stand in another order than released (a test cell above
    its answer, say): the notebook then also runs as released, its answers alone."""
    known = {*assignment.tasks, *assignment.by_test}
    graded = [grading(c).get("grade_id") for c in assignment.released.cells]
    graded = [g for g in graded if g in known]
    sent = [grading(c).get("grade_id") for c in notebook.cells if c.cell_type == "code"]
    sent = list(dict.fromkeys(g for g in sent if g in known))
    return sent != [g for g in graded if g in sent]


def execute(
    assignment: Assignment,
    steps: list[Step],
    answers: dict[str, str],
    make_policy,
    limits: Limits,
    redact: dict[str, str],
) -> Run:
    """Run the steps in a sandbox (again after a rescue), judging each task when probed."""
    run = Run()
    deadline = time.monotonic() + limits.notebook_seconds
    disabled: dict[int, str] = {}
    for attempt in range(MAX_RESCUES + 1):
        session = Session(make_policy(), limits, deadline, redact)
        index = None
        try:
            session.start()
            for index, step in enumerate(steps):
                if index not in disabled:
                    _do(assignment, session, step, answers, disabled, steps, run)
            index = None
            break
        except Stopped as stop:
            if index is None:
                raise SandboxFailed(stop.reason) from None
            if not _rescue(stop, steps, index, disabled, run, limits, deadline, attempt):
                break
        finally:
            session.close()
            run.limits |= session.limits_hit
            run.evidence += session.protocol
    for grade_id, task in assignment.tasks.items():
        if grade_id not in run.verdicts:
            run.finished = False
            run.verdicts[grade_id] = Verdict(
                grade_id,
                False,
                f"{task.spec.functions[0]}: not checked, the notebook stopped before its tests",
            )
    return run


def _do(assignment, session, step, answers, disabled, steps, run) -> None:
    """One step: a probe judged at once, or a cell whose outputs and errors are noted."""
    if step.task is not None:
        _probe(assignment, session, step.task, answers, disabled, steps, run)
        return
    outcome = session.cell(step.source)
    run.outcomes[step.cell_id] = outcome
    for error in outcome.errors:
        if error in EXIT_FLAGS:
            run.flags.add(EXIT_FLAGS[error])
            run.notes.append(f"a cell raised {error}: {_first_line(step.source)}")
    if outcome.timed_out:
        run.flags.add("timed out")
        run.notes.append(
            f"a cell ran past {session.limits.cell_seconds:g} s and was interrupted: "
            f"{_first_line(step.source)}"
        )


def _probe(assignment, session, task, answers, disabled, steps, run) -> None:
    """Judge a task where its test cell stands. The tasks whose solutions it receives as pieces
    are judged first, here, if the notebook has not reached their test cells yet (a test cell
    moved up): a solution never enters the sandbox before its own task's verdict."""
    if task.grade_id in run.verdicts:
        return  # judged earlier (in this attempt, a previous one, or as a prerequisite)
    for earlier in assignment.prerequisites(task):
        _probe(assignment, session, earlier, answers, disabled, steps, run)
    why = _disabled_answer(steps, disabled, task.grade_id)
    if why:
        run.verdicts[task.grade_id] = Verdict(
            task.grade_id, False, f"{task.spec.functions[0]}: its answer cell {why}"
        )
        return
    records = session.probe(assignment.name, task.grade_id, task.plain, assignment.pieces(task))
    verdict = assignment.judge(task, records, answers.get(task.grade_id))
    if not verdict.passed and "is not defined" in verdict.message:
        stopped = _answer_errors(steps, run, task.grade_id)
        if stopped:
            verdict.message += f" (your answer cell stopped with {stopped[0]}; see its output)"
    run.verdicts[task.grade_id] = verdict
    solution = task.solution if task.spec.replaceable and not verdict.passed else ""
    session.verdict(task.grade_id, verdict.passed, verdict.message, solution)


def _answer_errors(steps: list[Step], run: Run, grade_id: str) -> list[str]:
    """The errors the answer cell of this task raised when it ran."""
    return [
        error
        for step in steps
        if step.answer == grade_id and step.cell_id in run.outcomes
        for error in run.outcomes[step.cell_id].errors
    ]


def _disabled_answer(steps: list[Step], disabled: dict[int, str], grade_id: str) -> str:
    return next(
        (disabled[i] for i, s in enumerate(steps) if s.answer == grade_id and i in disabled), ""
    )


def _rescue(stop, steps, index, disabled, run, limits, deadline, attempt) -> bool:
    """Disable what stopped the sandbox and say whether to run again."""
    step = steps[index]
    why = "ran past the time limit" if stop.timed_out else "stopped the Python process"
    if time.monotonic() >= deadline:
        run.flags.add("timed out")
        run.notes.append(
            f"the notebook ran past its {limits.notebook_seconds:g} s limit at "
            f"{_label(step)}; what came after it was not run"
        )
        return False
    run.flags.add("timed out" if stop.timed_out else "crashed")
    if step.task is not None:
        run.verdicts[step.task.grade_id] = Verdict(
            step.task.grade_id,
            False,
            f"{step.task.spec.functions[0]}: while it was being checked, your code {why}",
        )
        run.notes.append(f"while checking {step.task.grade_id}, the student's code {why}")
    else:
        disabled[index] = why
        run.outcomes[step.cell_id] = Outcome(
            outputs=[
                {
                    "output_type": "stream",
                    "name": "stderr",
                    "text": f"minigpt grade: this cell {why}, so it was not run again\n",
                }
            ],
            ok=False,
            timed_out=stop.timed_out,
        )
        run.notes.append(f"a cell {why} and was disabled: {_first_line(step.source)}")
    if attempt >= MAX_RESCUES:
        run.notes.append(f"gave up after {MAX_RESCUES} restarts")
        return False
    return True


def _label(step: Step) -> str:
    return f"the checks of {step.task.grade_id}" if step.task else _first_line(step.source)


def _first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "(empty)")[:80]


def make_policies(base: Policy):
    """A fresh policy for every attempt (the sandbox's folders are new each time)."""

    def make() -> Policy:
        return replace(base, cgroup="")

    return make
