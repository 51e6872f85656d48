"""LMS exports against the column layouts that Canvas's and Moodle's importers read."""

from __future__ import annotations

import csv
import datetime
from pathlib import PurePosixPath

import pytest

from minigpt.grading.collect import student_id
from minigpt.grading.lms import (
    LmsExportError,
    canvas_user_id,
    moodle_participant,
    write_lms,
)
from minigpt.grading.results import Row, TaskResult

ASSIGNMENT = "01-bigrams"
GRADED_AT = datetime.datetime(2026, 11, 30, 9, 15, tzinfo=datetime.timezone.utc)


def row(origin, score, message="", flags=()):
    tasks = [TaskResult("test-counts", min(score, 2), 2, message if score < 2 else "")]
    tasks.append(TaskResult("test-probs", max(score - 2, 0), 8))
    return Row(
        student_id(PurePosixPath(origin), ASSIGNMENT), origin, score, 10, set(flags), [], tasks
    )


def read(path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_ids_are_read_from_the_names_canvas_and_moodle_give_downloads():
    assert canvas_user_id("doejane_12345_678901_01-bigrams.ipynb") == "12345"
    assert canvas_user_id("doejane_LATE_12345_678901_01-bigrams.ipynb") == "12345"
    assert canvas_user_id("alice.ipynb") == ""
    assert moodle_participant("Jane Doe_4242_assignsubmission_file_/01-bigrams.ipynb") == (
        "Jane Doe",
        "4242",
    )
    assert moodle_participant("Participant_77_assignsubmission_file_/x.ipynb") == (
        "Participant",
        "77",
    )
    assert moodle_participant("jane/01-bigrams.ipynb") == ("", "")
    assert moodle_participant("Jane Doe_4242_01-bigrams.ipynb") == ("", "")


def test_canvas_gradebook_layout(tmp_path):
    rows = [
        row("doejane_12345_678901_01-bigrams.ipynb", 7.5),
        row("smithjo_LATE_222_333_01-bigrams.ipynb", 10),
        row("alice.ipynb", 0),
        Row("broken", "brokenbo_444_555_01-bigrams.ipynb", None, None, {"error"}),
    ]
    path, warnings = write_lms(rows, ASSIGNMENT, "canvas", tmp_path, column="Exercise 1 (4242)")

    assert path == tmp_path / "canvas-01-bigrams.csv"
    table = read(path)
    # Canvas's importer: Student, ID, SIS User ID, SIS Login ID, Section, then assignments.
    assert table[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "Exercise 1 (4242)",
    ]
    assert table[1] == ["Points Possible", "", "", "", "", "10"]
    assert table[2:] == [
        ["doejane", "12345", "", "", "", "7.5"],
        ["smithjo", "222", "", "", "", "10"],
        ["alice", "", "", "alice", "", "0"],
        ["broken", "444", "", "", "", ""],  # no grade: Canvas leaves the cell as it was
    ]
    assert len(warnings) == 1 and "alice" in warnings[0] and "doejane" not in warnings[0]


def test_moodle_grading_worksheet_layout(tmp_path):
    rows = [
        row("Jane Doe_4242_assignsubmission_file_/01-bigrams.ipynb", 10),
        row("Jo Smith_17_assignsubmission_file_/01-bigrams.ipynb", 1, "AssertionError: <b>no</b>"),
        row("alice.ipynb", 5),
    ]
    path, warnings = write_lms(rows, ASSIGNMENT, "moodle", tmp_path / "w.csv", when=GRADED_AT)

    assert path == tmp_path / "w.csv"
    header, *lines = read(path)
    # The offline grading worksheet importer needs these three columns, by these names.
    for required in ["Identifier", "Grade", "Last modified (grade)"]:
        assert required in header
    records = [dict(zip(header, line, strict=True)) for line in lines]
    assert [(r["Identifier"], r["Full name"], r["Grade"], r["Maximum Grade"]) for r in records] == [
        ("Participant 4242", "Jane Doe", "10", "10"),
        ("Participant 17", "Jo Smith", "1", "10"),
    ]
    assert {r["Last modified (grade)"] for r in records} == {"2026-11-30T09:15:00+00:00"}
    feedback = records[1]["Feedback comments"]
    assert feedback.startswith("1 of 10 points. test-counts: 1/2 (AssertionError: &lt;b&gt;no")
    assert "<b>" not in feedback  # Moodle shows feedback comments as HTML
    assert len(warnings) == 1 and "alice" in warnings[0]


def test_plain_spreadsheet_has_every_task_and_no_formulas(tmp_path):
    rows = [row("=HYPERLINK(evil).ipynb", 4), row("bob.ipynb", 10, flags={"repaired"})]
    path, warnings = write_lms(rows, ASSIGNMENT, "csv", tmp_path)

    assert path == tmp_path / "csv-01-bigrams.csv" and warnings == []
    table = read(path)
    assert table[0] == [
        "student",
        "file",
        "score",
        "max_score",
        "percent",
        "test-counts",
        "test-probs",
        "flags",
    ]
    assert table[1][1] == "'=HYPERLINK(evil).ipynb"
    assert table[1][2:7] == ["4", "10", "40.0", "2", "2"]
    assert table[2][0] == "bob" and table[2][-1] == "repaired"


def test_bad_requests_say_what_is_wrong(tmp_path):
    with pytest.raises(LmsExportError, match="canvas, moodle, csv"):
        write_lms([row("a.ipynb", 1)], ASSIGNMENT, "blackboard", tmp_path)
    with pytest.raises(LmsExportError, match="no graded students"):
        write_lms([], ASSIGNMENT, "canvas", tmp_path)
    assert list(tmp_path.iterdir()) == []
