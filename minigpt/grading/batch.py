"""Grade a whole class: collect, repair, run every student in a sandbox, judge outside, report.

Once per class: nbgrader generates the assignment into the gradebook, the cases of every task
are collected from the instructor's notebook and minigpt's reference is run on them, and the
sandbox's copy of minigpt is written. Then, several students at a time, each student's notebook
runs in a fresh sandbox of its own, its tasks are judged in this process, and only then are its
points written into the gradebook. One student's notebook never stops, slows or changes another's
row beyond sharing the CPU.
"""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import nbformat

from minigpt.data import DataError, fetch_shakespeare
from minigpt.grading.assignment import Assignment, grading, prepare
from minigpt.grading.collect import Submission, collect
from minigpt.grading.course import Course, GradingSetupError
from minigpt.grading.feedback_page import feedback_html
from minigpt.grading.lms import defuse
from minigpt.grading.notebook import (
    Run,
    answers_of,
    answers_only_plan,
    execute,
    graded_cells_moved,
    make_policies,
    plan,
    runs_extra_code,
)
from minigpt.grading.repair import read_notebook, repair
from minigpt.grading.results import Row, TaskResult
from minigpt.grading.sandbox import Policy, check_sandbox
from minigpt.grading.session import Limits, redactions
from minigpt.grading.text import scrub
from minigpt.grading.withheld import prepare_package

FLAG_MEANINGS = {
    "repaired": "grading metadata, cell ids or deleted test cells were restored before grading",
    "tampered": "a test or read-only cell was edited; the course's own version ran instead",
    "tampering suspected": "the notebook changed what its checks see, or its answers alone "
    "earn a different score (see the notes); the lower score counts",
    "timed out": "a cell ran past the time limit and was interrupted or disabled",
    "crashed": "a cell stopped the Python process; it was disabled and the rest graded",
    "exited": "a cell raised SystemExit (exit() or sys.exit())",
    "out of memory": "a cell ran out of memory",
    "answer not code": "an answer cell was turned into markdown or raw text; it earns nothing",
    "limit reached": "the notebook hit a limit on disk, processes or output (see the notes)",
    "conflict": "two files look like the same student's; both were graded, check which counts",
    "unreadable": "the file is not a notebook (or was refused); it was given 0",
    "needs manual grade": "the grader asks for a human look (see the notes)",
    "unsandboxed": "graded WITHOUT isolation (--no-sandbox): trust nothing in this row",
    "error": "the grader could not grade the notebook; see the notes",
}
UNGRADED = {"error", "unreadable"}
LIMIT_NOTES = {
    "disk": "its in-memory folders filled up (the disk limit)",
    "processes": "it started more processes than allowed",
    "output": "it printed more than the grader keeps; the rest was cut",
    "messages": "it sent the grader a message larger than allowed",
}


@dataclass
class Options:
    """How a class is graded."""

    jobs: int | None = None
    limits: Limits = field(default_factory=Limits)
    memory_gb: float = 4.0
    sandboxed: bool = True


def _row_tasks(assignment: Assignment, run: Run) -> list[TaskResult]:
    return [
        TaskResult(
            task.test_id,
            task.points if run.verdicts[gid].passed else 0.0,
            task.points,
            "" if run.verdicts[gid].passed else run.verdicts[gid].message,
        )
        for gid, task in assignment.tasks.items()
    ]


def graded_notebook(notebook: nbformat.NotebookNode, assignment: Assignment, run: Run):
    """The student's notebook with the outputs of the run, and each test cell's verdict."""
    graded = nbformat.from_dict(notebook)
    released = {c.get("id"): c for c in assignment.released.cells}
    by_test = assignment.by_test
    for cell in graded.cells:
        if cell.cell_type != "code":
            continue
        meta = grading(cell)
        cell["execution_count"] = None
        if meta.get("grade") and meta.get("grade_id") in by_test:
            task = by_test[meta["grade_id"]]
            verdict = run.verdicts[task.grade_id]
            cell.source = released[cell.get("id")].source if cell.get("id") in released else ""
            cell.outputs = [
                nbformat.v4.new_output(
                    "stream",
                    name="stdout",
                    text=f"{task.spec.functions[0]}: all checks passed ({len(task.cases)} cases)\n",
                )
                if verdict.passed
                else nbformat.v4.new_output(
                    "error",
                    ename="ExerciseCheckFailed",
                    evalue=verdict.message,
                    traceback=[f"ExerciseCheckFailed: {verdict.message}"],
                )
            ]
        else:
            outcome = run.outcomes.get(cell.get("id"))
            cell.outputs = [nbformat.from_dict(o) for o in outcome.outputs] if outcome else []
    return graded


def _compare(
    assignment: Assignment, full: Run, alone: Run, row: Row, extra_names: set[str], moved: bool
) -> Run:
    """Which run's score counts (the lower), and what the row says about a difference."""
    full_score, alone_score = full.score(assignment), alone.score(assignment)
    lower = alone if alone_score < full_score else full
    if not alone.finished:
        row.flags.add("needs manual grade")
        row.notes.append(
            f"the answers alone could not be graded to the end ({'; '.join(alone.notes[-2:])}); "
            f"the lower score counts: {min(full_score, alone_score):g}"
        )
        return lower
    if alone_score == full_score or not full.finished:
        return lower  # equal, or the notebook itself stopped early (its own flags say why)
    differing = [
        gid for gid in assignment.tasks if full.verdicts[gid].passed != alone.verdicts[gid].passed
    ]
    helpers = [
        name for gid in differing for name in extra_names if name in lower.verdicts[gid].message
    ]
    why = (
        f"the answers alone earn {alone_score:g}, the whole notebook {full_score:g} "
        f"(tasks {', '.join(differing)}); the lower score counts"
    )
    if helpers:
        row.flags.add("needs manual grade")
        row.notes.append(f"{why}: an answer uses {helpers[0]}, defined outside the answer cells")
    elif moved:
        row.flags.add("needs manual grade")
        row.notes.append(f"{why}: its answer and test cells were moved")
    else:
        row.flags.add("tampering suspected")
        row.notes.append(f"tampering suspected: {why}")
    return lower


def _defined_outside_answers(notebook: nbformat.NotebookNode) -> set[str]:
    """Names that cells other than the answers define (a helper an answer might use)."""
    import ast

    names = set()
    for cell in notebook.cells:
        meta = grading(cell)
        if cell.cell_type != "code" or meta.get("solution") or meta.get("grade"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


class Grader:
    """Grades the submissions of one assignment (see the module doc)."""

    def __init__(self, course: Course, options: Options, scratch: Path):
        self.course, self.options, self.scratch = course, options, scratch
        source_path = course.source_notebook()
        released = course.release(scratch)
        source = nbformat.read(source_path, as_version=4)
        self.assignment = prepare(course.assignment, source, released, source_path.name)
        try:
            data_dir = fetch_shakespeare().parent
        except DataError as err:
            raise GradingSetupError(f"the notebooks need Tiny Shakespeare: {err}") from err
        package = prepare_package(course.assignment, scratch)
        self.policy = Policy(
            work="/home/student" if options.sandboxed else str(scratch / "work"),
            package_root=str(package),
            data_dir=str(data_dir),
            memory_bytes=int(options.memory_gb * 1024**3),
            hidden=self._hidden(),
            sandboxed=options.sandboxed,
        )
        self.redact = redactions(self.policy, course.root)

    def _hidden(self) -> list[str]:
        """What must not show inside although a mounted folder holds it: the real minigpt
        (inside the venv when installed from a wheel) and the course itself."""
        import sys

        import minigpt

        mounted = [Path(p).resolve() for p in (sys.prefix, sys.base_prefix, "/usr")]
        candidates = [Path(minigpt.__file__).resolve().parent, self.course.root]
        return [
            str(path) for path in candidates if any(path == m or m in path.parents for m in mounted)
        ]

    def _policy(self, student: str):
        if self.options.sandboxed:
            return make_policies(self.policy)
        return make_policies(replace(self.policy, work=str(self.scratch / "work" / student)))

    def grade(self, submission: Submission) -> Row:
        """One student; never raises, so one notebook cannot stop the class."""
        row = Row(submission.student, submission.origin)
        if not self.options.sandboxed:
            row.flags.add("unsandboxed")
        if submission.problem:
            row.flags |= set(submission.flags)
            row.notes.append(submission.problem)
        try:
            self.course.forget(submission.student)
            if submission.refused:
                self.course.record(submission.student)
                row.flags.add("unreadable")
                return row
            raw = submission.path.read_bytes()
            notebook, problem = read_notebook(submission.path)
            if notebook is None:
                self.course.record(submission.student)
                self.course.publish(submission.student, self.assignment.notebook, raw, None, None)
                row.flags.add("unreadable")
                row.notes.append(problem)
                return row
            repaired = repair(notebook, self.assignment.released)
            row.flags |= repaired.flags
            row.notes += repaired.notes
            run = self._run(repaired.notebook, row, submission.student)
            for verdict in run.verdicts.values():  # messages carry what the student's code said
                verdict.message = scrub(verdict.message)
            row.notes = [scrub(note) for note in row.notes]
            row.tasks = _row_tasks(self.assignment, run)
            row.answers = answers_of(repaired.notebook)
            points = {t.grade_id: t.score for t in row.tasks}
            self.course.record(submission.student, points)
            graded = graded_notebook(repaired.notebook, self.assignment, run)
            row.score = sum(points.values())
            row.max_score = sum(t.max_score for t in row.tasks)
            page = feedback_html(row, self.course.assignment, graded)
            self.course.publish(submission.student, self.assignment.notebook, raw, graded, page)
        except Exception as err:  # a bug or a broken file must not stop the class
            row.flags.add("error")
            row.notes.append(scrub(f"{type(err).__name__}: {err}"))
        return row

    def _run(self, notebook: nbformat.NotebookNode, row: Row, student: str) -> Run:
        answers = answers_of(notebook)

        def run(steps: list) -> Run:
            return execute(
                self.assignment,
                steps,
                answers,
                self._policy(student),
                self.options.limits,
                self.redact,
            )

        full = run(plan(self.assignment, notebook))
        chosen = full
        moved = graded_cells_moved(self.assignment, notebook)
        if moved:
            row.notes.append(
                "answer or test cells are not in the released order: graded as sent and as "
                "released (its answers alone); the lower score counts"
            )
        if runs_extra_code(self.assignment, notebook) or moved or full.evidence:
            alone = run(answers_only_plan(self.assignment, answers))
            extra = _defined_outside_answers(notebook)
            chosen = _compare(self.assignment, full, alone, row, extra, moved)
            full.evidence += alone.evidence
            full.limits |= alone.limits
        evidence = list(
            dict.fromkeys(full.evidence + [e for v in chosen.verdicts.values() for e in v.evidence])
        )
        if evidence:
            row.flags.add("tampering suspected")
            row.notes += [f"tampering suspected: {e}" for e in evidence]
        if full.limits:
            row.flags.add("limit reached")
            row.notes += [f"limit reached: {LIMIT_NOTES.get(k, k)}" for k in sorted(full.limits)]
        row.flags |= chosen.flags
        row.notes += chosen.notes
        return chosen


def grade_class(
    course_root: Path,
    assignment: str,
    source: Path,
    options: Options | None = None,
    log: Callable[[str], None] = print,
) -> list[Row]:
    """Grade every submission in `source` (a folder or a zip) for `assignment`."""
    options = options or Options()
    if options.sandboxed:
        check_sandbox()
    course = Course(course_root, assignment)
    scratch = Path(tempfile.mkdtemp(prefix="minigpt-grade-"))
    try:
        grader = Grader(course, options, scratch)
        submissions, warnings = collect(source, assignment, scratch / "collected")
        for warning in warnings:
            log(f"warning: {warning}")
        jobs = options.jobs or max(1, min(len(submissions), os.cpu_count() or 1))
        isolation = "each in a sandbox" if options.sandboxed else "WITHOUT a sandbox"
        log(f"grading {len(submissions)} of {assignment}, {jobs} at a time, {isolation}")
        with ThreadPoolExecutor(jobs) as pool:
            rows = list(pool.map(grader.grade, submissions))
        scores = course.scores([row.student for row in rows])
        for row in rows:
            if row.student in scores:
                row.score, row.max_score, manual = scores[row.student]
                if manual:
                    row.flags.add("needs manual grade")
            elif "error" not in row.flags:
                row.flags.add("error")
                row.notes.append("no grade in the gradebook")
        return rows
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def exit_status(rows: list[Row]) -> int:
    """0 when every submission was graded; 2 when any could not be (unreadable, or an error)."""
    return 2 if any(row.flags & UNGRADED for row in rows) else 0


def write_csv(rows: list[Row], path: Path) -> None:
    """The grades, one row per student; texts that a spreadsheet would run as formulas are
    defused as the LMS exports do."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8", errors="replace") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "file", "score", "max_score", "flags", "notes"])
        for row in rows:
            writer.writerow(
                [
                    defuse(row.student),
                    defuse(row.origin),
                    "" if row.score is None else f"{row.score:g}",
                    "" if row.max_score is None else f"{row.max_score:g}",
                    ";".join(sorted(row.flags)),
                    defuse(" | ".join(row.notes)),
                ]
            )


def summary(rows: list[Row]) -> str:
    """A table of scores, then what needs a human look and why."""
    width = max([len(row.student) for row in rows] + [7])
    lines = [f"{'student':<{width}}  score   flags"]
    for row in rows:
        score = "-" if row.score is None else f"{row.score:g}/{row.max_score:g}"
        lines.append(f"{row.student:<{width}}  {score:<7} {', '.join(sorted(row.flags))}")
    flagged = [row for row in rows if row.flags - {"repaired"}]
    if flagged:
        lines += ["", "Needs a look:"]
        for row in flagged:
            lines.append(f"- {row.student} ({row.origin}): " + "; ".join(row.notes))
        used = sorted(set().union(*(row.flags for row in rows)))
        lines += ["", "Flags:"] + [f"- {flag}: {FLAG_MEANINGS[flag]}" for flag in used]
    return "\n".join(lines)
