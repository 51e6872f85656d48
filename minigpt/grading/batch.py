"""Grade a whole class: collect, repair, autograde several students at a time, report.

One student's broken notebook never stops the others, and every score in the report is read
back from the gradebook, so the CSV cannot disagree with nbgrader.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from minigpt.grading.collect import Submission, collect
from minigpt.grading.nbgrader_runner import Course
from minigpt.grading.repair import read_notebook, repair
from minigpt.grading.results import Row

FLAG_MEANINGS = {
    "repaired": "grading metadata, cell ids or deleted test cells were restored before grading",
    "tampered": "a test or read-only cell was edited; the original was graded instead",
    "timed out": "a cell ran past the time limit and was interrupted or disabled",
    "crashed": "a cell killed the Python kernel; it was disabled and the rest graded",
    "unreadable": "the file is not a notebook; it was given 0",
    "needs manual grade": "nbgrader asks for a human look (a free-text answer or a failed grade)",
    "error": "nbgrader could not grade the notebook; see the notes",
}


def _grade_one(course: Course, released, name: str, submission: Submission) -> Row:
    row = Row(submission.student, submission.origin)
    try:
        course.forget(submission.student)
        notebook, problem = read_notebook(submission.path)
        if notebook is None:
            course.record_zero(submission.student)
            row.flags.add("unreadable")
            row.notes.append(problem)
            return row
        repaired = repair(notebook, released)
        row.flags |= repaired.flags
        row.notes += repaired.notes
        outcome = course.grade(submission.student, repaired.notebook, name)
        row.flags |= outcome.flags
        row.notes += outcome.notes
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
    log: Callable[[str], None] = print,
) -> list[Row]:
    """Grade every submission in `source` (a folder or a zip) for `assignment`."""
    course = Course(course_root, assignment, cell_timeout, memory_gb)
    try:
        released = course.release()
        name = course.source_notebook().name
        submissions, warnings = collect(source, assignment, course.scratch / "collected")
        for warning in warnings:
            log(f"warning: {warning}")
        jobs = jobs or max(1, min(len(submissions), os.cpu_count() or 1))
        log(f"grading {len(submissions)} submission(s) of {assignment}, {jobs} at a time")
        with ThreadPoolExecutor(jobs) as pool:
            rows = list(pool.map(lambda s: _grade_one(course, released, name, s), submissions))
        problem = course.feedback()
        if problem:
            log(f"warning: feedback could not be generated: {problem}")
        scores = course.scores([row.student for row in rows])
        for row in rows:
            if row.student not in scores:
                row.flags.add("error")
                row.notes.append("no grade in the gradebook")
                continue
            row.score, row.max_score, manual = scores[row.student]
            if manual:
                row.flags.add("needs manual grade")
        return rows
    finally:
        course.close()


def write_csv(rows: list[Row], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "score", "max_score", "flags", "notes", "file"])
        for row in rows:
            writer.writerow(
                [
                    row.student,
                    "" if row.score is None else f"{row.score:g}",
                    "" if row.max_score is None else f"{row.max_score:g}",
                    ";".join(sorted(row.flags)),
                    " | ".join(row.notes),
                    row.origin,
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
