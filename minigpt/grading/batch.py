"""Grade a whole class: collect, repair, autograde several students at a time, report.

One student's broken notebook never stops the others, and every score in the report is read
back from the gradebook, so the CSV cannot disagree with nbgrader.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from minigpt.grading import tamper
from minigpt.grading.collect import Submission, collect
from minigpt.grading.nbgrader_runner import Course
from minigpt.grading.repair import read_notebook, repair
from minigpt.grading.results import Row
from minigpt.grading.tasks import answers, task_results

FLAG_MEANINGS = {
    "repaired": "grading metadata, cell ids or deleted test cells were restored before grading",
    "tampered": "a test or read-only cell was edited; the original was graded instead",
    "tampering suspected": "the notebook's code reached for what the tests see (see the notes); "
    "the score is the one its answers earn alone, in a fresh kernel",
    "timed out": "a cell ran past the time limit and was interrupted or disabled",
    "crashed": "a cell killed the Python kernel; it was disabled and the rest graded",
    "exited": "a cell raised SystemExit (exit() or sys.exit())",
    "out of memory": "a cell raised MemoryError",
    "answer not code": "an answer cell was turned into markdown or raw text; it earns nothing",
    "unreadable": "the file is not a notebook; it was given 0",
    "needs manual grade": "nbgrader, or a difference between the notebook and its answers alone, "
    "asks for a human look",
    "unsandboxed": "graded WITHOUT isolation (--no-sandbox): trust nothing in this row",
    "error": "nbgrader could not grade the notebook; see the notes",
}
UNGRADED = {"error", "unreadable"}


@dataclass(frozen=True)
class Assignment:
    """What every student's grading compares with, worked out once for the class."""

    released: NotebookNode  # the student version nbgrader makes
    name: str  # the notebook's file name
    answers: set[str]  # ids of the answer cells
    tests: set[str]  # ids of the graded test cells
    trusted: dict[str, str]  # cell id -> fingerprint of the cells the course wrote

    @classmethod
    def of(cls, released: NotebookNode, source: NotebookNode, name: str) -> Assignment:
        def ids(key: str, nb: NotebookNode) -> set[str]:
            return {c.get("id") for c in nb.cells if (c.metadata.get("nbgrader") or {}).get(key)}

        trusted = tamper.trusted_hashes(released, source)
        return cls(released, name, ids("solution", released), ids("grade", source), trusted)


def _grade_one(course: Course, given: Assignment, submission: Submission) -> Row:
    """Grade one student; never raises, so one notebook cannot stop the class."""
    row = Row(submission.student, submission.origin)
    if not course.sandboxed:
        row.flags.add("unsandboxed")
    try:
        course.forget(submission.student)
        notebook, problem = read_notebook(submission.path)
        if notebook is None:
            course.record(submission.student)
            row.flags.add("unreadable")
            row.notes.append(problem)
            return row
        repaired = repair(notebook, given.released)
        row.flags |= repaired.flags
        row.notes += repaired.notes
        student, mine = submission.student, repaired.notebook
        run = course.autograde(student, mine, given.name, given.answers)
        suspicions = tamper.static_findings(mine, given.released) + tamper.guard_findings(
            run.findings, run.finished, given.trusted, given.tests
        )
        if "error" not in run.flags and (suspicions or tamper.has_extra_code(mine, given.released)):
            alone = course.autograde(
                student, tamper.answers_only(mine, given.released), given.name, given.answers
            )
            suspicions += tamper.guard_findings(
                alone.findings, alone.finished, given.trusted, given.tests
            )
            if "error" not in alone.flags and alone.score < run.score:
                if suspicions:
                    run = alone
                else:
                    row.flags.add("needs manual grade")
                    row.notes.append(
                        f"the answers alone earn {alone.score:g}, the whole notebook {run.score:g}:"
                        " an answer may depend on an extra cell"
                    )
        if suspicions:
            row.flags.add("tampering suspected")
            row.notes += [
                f"tampering suspected: {finding}" for finding in dict.fromkeys(suspicions)
            ]
        row.flags |= run.flags
        row.notes += run.notes
        if "error" not in run.flags:
            course.publish(run)
    except Exception as err:  # a bug or a broken file must not stop the class
        row.flags.add("error")
        row.notes.append(f"{type(err).__name__}: {err}")
    return row


def grade_class(
    course_root: Path,
    assignment: str,
    source: Path,
    jobs: int | None = None,
    cell_timeout: int = 60,
    memory_gb: float = 4.0,
    sandboxed: bool = True,
    log: Callable[[str], None] = print,
) -> list[Row]:
    """Grade every submission in `source` (a folder or a zip) for `assignment`."""
    course = Course(course_root, assignment, cell_timeout, memory_gb, sandboxed)
    try:
        released = course.release()
        source_path = course.source_notebook()
        given = Assignment.of(released, nbformat.read(source_path, as_version=4), source_path.name)
        submissions, warnings = collect(source, assignment, course.scratch / "collected")
        for warning in warnings:
            log(f"warning: {warning}")
        jobs = jobs or max(1, min(len(submissions), os.cpu_count() or 1))
        isolation = "each in a sandbox" if sandboxed else "WITHOUT a sandbox"
        log(f"grading {len(submissions)} of {assignment}, {jobs} at a time, {isolation}")
        with ThreadPoolExecutor(jobs) as pool:
            rows = list(pool.map(lambda s: _grade_one(course, given, s), submissions))
        scores = course.scores([row.student for row in rows])
        for row in rows:
            if row.student not in scores:
                if "error" not in row.flags:
                    row.flags.add("error")
                    row.notes.append("no grade in the gradebook")
                continue
            row.score, row.max_score, manual = scores[row.student]
            if manual:
                row.flags.add("needs manual grade")
        _add_tasks_and_answers(course, rows, source_path.name)
        return rows
    finally:
        course.close()


def _add_tasks_and_answers(course: Course, rows: list[Row], name: str) -> None:
    """Each row's per-task points and messages, and its answer cells for the similarity check."""
    from nbgrader.api import Gradebook

    with course.lock, Gradebook(course.db_url) as gradebook:
        for row in rows:
            graded = course.root / "autograded" / row.student / course.assignment / name
            row.tasks = task_results(gradebook, course.assignment, row.student, graded)
            if graded.exists():
                row.answers = answers(nbformat.read(graded, as_version=4))


def exit_status(rows: list[Row]) -> int:
    """0 when every submission was graded; 2 when any could not be (unreadable, or an error)."""
    return 2 if any(row.flags & UNGRADED for row in rows) else 0


def write_csv(rows: list[Row], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "file", "score", "max_score", "flags", "notes"])
        for row in rows:
            writer.writerow(
                [
                    row.student,
                    row.origin,
                    "" if row.score is None else f"{row.score:g}",
                    "" if row.max_score is None else f"{row.max_score:g}",
                    ";".join(sorted(row.flags)),
                    " | ".join(row.notes),
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
