"""Grades in the layouts that Canvas's and Moodle's own importers read, or a plain spreadsheet.

nbgrader's gradebook stays the record; these files are copies of it for the LMS. Each importer
matches students by an id of its own, which the LMS wrote into the names of the files it let
the instructor download, so the id comes from where a notebook came from (`Row.origin`):

- Canvas (Grades > Import): the gradebook CSV, `Student, ID, SIS User ID, SIS Login ID,
  Section`, then one column per assignment, and a `Points Possible` row. Canvas matches a row
  by `ID`, its numeric user id, which its submission download puts in every file name
  (`doejane_12345_678901_01-bigrams.ipynb`, or `doejane_LATE_12345_...`); without one it tries
  `SIS Login ID` (here the student id) and then the name. Anonymous grading puts no user id
  in file names, so its students can only go through the plain csv.
- Moodle (assignment > "Upload grading worksheet", the offline grading worksheet feedback
  type): `Identifier` ("Participant 12345"), `Grade` and `Last modified (grade)` are required;
  `Feedback comments` is read when that feedback type is on. The participant number is the one
  in the folder names of Moodle's "Download all submissions"
  (`Jane Doe_12345_assignsubmission_file_/`). The column names are Moodle's English ones, and
  an English interface also reads "7.5" as a number (one with a decimal comma would not).
  Students whose files came from elsewhere have no participant number and are left out.
- csv: one row per student with the score and each task's points, for any LMS whose import
  lets you map columns (Moodle's gradebook import, Blackboard, Brightspace...).
"""

from __future__ import annotations

import csv
import datetime
import html
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from minigpt.grading.results import Row

KINDS = ("canvas", "moodle", "csv")
CANVAS_FILE = re.compile(r"^[^_]+_(?:late_)?(?P<user_id>\d+)_\d+_", re.IGNORECASE)
MOODLE_FOLDER = re.compile(r"^(?P<name>.+)_(?P<participant>\d+)_assignsubmission_[a-z]+_?$")
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_COLUMNS = [
    "Identifier",
    "Full name",
    "Grade",
    "Maximum Grade",
    "Last modified (grade)",
    "Feedback comments",
]
SPREADSHEET_FORMULA = ("=", "+", "-", "@", "\t", "\r")


class LmsExportError(ValueError):
    """The export cannot be written as asked (an unknown LMS, nothing to export)."""


def canvas_user_id(origin: str) -> str:
    """Canvas's numeric user id from a file name of its submission download, or ''."""
    match = CANVAS_FILE.match(PurePosixPath(origin).name)
    return match["user_id"] if match else ""


def moodle_participant(origin: str) -> tuple[str, str]:
    """(full name, participant number) from a Moodle download's folder name, or ('', '')."""
    parts = PurePosixPath(origin).parts
    match = MOODLE_FOLDER.match(parts[0]) if len(parts) > 1 else None
    return (match["name"], match["participant"]) if match else ("", "")


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def defuse(value: str) -> str:
    """A spreadsheet must not run a file name or message as a formula (=HYPERLINK...)."""
    return "'" + value if value.startswith(SPREADSHEET_FORMULA) else value


def _feedback(row: Row) -> str:
    """Short feedback for Moodle, escaped: Moodle shows feedback comments as HTML."""
    if row.score is None:
        return ""
    tasks = "; ".join(
        f"{t.grade_id}: {t.score:g}/{t.max_score:g}" + (f" ({t.message})" if t.message else "")
        for t in row.tasks
    )
    return html.escape(f"{row.score:g} of {row.max_score:g} points. {tasks}".strip())


def _canvas(rows: Sequence[Row], assignment: str, column: str | None) -> tuple[list, list[str]]:
    top = max((row.max_score for row in rows if row.max_score is not None), default=None)
    table = [
        CANVAS_COLUMNS + [column or assignment],
        ["Points Possible", "", "", "", "", _number(top)],
    ]
    unmatched = []
    for row in rows:
        user_id = canvas_user_id(row.origin)
        if not user_id:
            unmatched.append(row.student)
        login = "" if user_id else row.student
        table.append([defuse(row.student), user_id, "", defuse(login), "", _number(row.score)])
    warnings = []
    if unmatched:
        warnings.append(
            f"{len(unmatched)} file name(s) carry no Canvas user id ({', '.join(unmatched)}): "
            "Canvas will match them by SIS Login ID, then by name; check them in its preview"
        )
    return table, warnings


def _moodle(rows: Sequence[Row], when: datetime.datetime) -> tuple[list, list[str]]:
    stamp = when.isoformat(timespec="seconds")
    table = [MOODLE_COLUMNS]
    skipped = []
    for row in rows:
        name, participant = moodle_participant(row.origin)
        if not participant:
            skipped.append(row.student)
            continue
        table.append(
            [
                f"Participant {participant}",
                name,
                _number(row.score),
                _number(row.max_score),
                stamp,
                _feedback(row),
            ]
        )
    warnings = []
    if skipped:
        warnings.append(
            f"left out {len(skipped)} student(s) whose file did not come from Moodle's "
            f"download, so their participant number is unknown: {', '.join(skipped)}"
        )
    return table, warnings


def _spreadsheet(rows: Sequence[Row]) -> tuple[list, list[str]]:
    tasks = list(dict.fromkeys(task.grade_id for row in rows for task in row.tasks))
    table = [["student", "file", "score", "max_score", "percent", *tasks, "flags"]]
    for row in rows:
        points = {task.grade_id: task.score for task in row.tasks}
        percent = (
            f"{100 * row.score / row.max_score:.1f}"
            if row.score is not None and row.max_score
            else ""
        )
        table.append(
            [
                defuse(row.student),
                defuse(row.origin),
                _number(row.score),
                _number(row.max_score),
                percent,
                *(_number(points.get(task)) for task in tasks),
                ";".join(sorted(row.flags)),
            ]
        )
    return table, []


def write_lms(
    rows: Sequence[Row],
    assignment: str,
    kind: str,
    path: Path,
    column: str | None = None,
    when: datetime.datetime | None = None,
) -> tuple[Path, list[str]]:
    """Write `kind`'s import file; return where it went and what the instructor must check.

    `path` is a folder (the file is named <kind>-<assignment>.csv) or a .csv file. `column`
    names Canvas's assignment column: "Exercise 1 (4242)" with the assignment's Canvas id
    updates that assignment; a bare title matches by name or creates a new assignment.
    `when` is the grading time written for Moodle (default: now); Moodle keeps any grade
    changed in it after that time unless "Ignore last modified date" is ticked.
    """
    if kind not in KINDS:
        raise LmsExportError(f"unknown LMS {kind!r}: choose one of {', '.join(KINDS)}")
    if not rows:
        raise LmsExportError("no graded students to export")
    if kind == "canvas":
        table, warnings = _canvas(rows, assignment, column)
    elif kind == "moodle":
        when = when or datetime.datetime.now(datetime.timezone.utc)
        table, warnings = _moodle(rows, when)
    else:
        table, warnings = _spreadsheet(rows)
    path = Path(path)
    if path.suffix.lower() != ".csv":
        path = path / f"{kind}-{assignment}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8", errors="replace") as f:
        csv.writer(f).writerows(table)
    return path, warnings
