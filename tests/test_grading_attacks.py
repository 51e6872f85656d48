"""Hostile notebooks and honest ones, graded for real: no undeserved point, nobody accused.

One hostile class of exercise 1 holds every attack of `student_notebooks.hostile` (a fake
`exercise`, skipped and forged test cells, patched libraries, forged results on the grader's
pipe, minigpt's own answers passed in, a stack walker, script in the feedback, floods of disk,
output and processes, a wrecker), a notebook that sleeps past its deadline, links to the
solutions and to a classmate, and a look-alike of a classmate's file, beside two honest
students. One honest class holds the Colab habits of `student_notebooks.honest`. Each class is
graded once, sandboxed, and every test below reads that result.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser

import nbformat
import pytest
import student_notebooks as students
from conftest import ROOT
from course_notebooks import grading, solution_path

from minigpt.grading.batch import Options, exit_status, grade_class, write_csv
from minigpt.grading.report import write_report
from minigpt.grading.session import Limits

pytestmark = pytest.mark.slow
ASSIGNMENT = students.ASSIGNMENT
LIMITS = Limits(cell_seconds=20, notebook_seconds=60)  # a sleeper must not stall the suite


def course_copy(tmp) -> object:
    course = tmp / "course"
    shutil.copytree(ROOT / "solutions", course / "solutions")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    return course


def write_all(folder, notebooks: dict) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name, nb in notebooks.items():
        path = folder / f"{name}.ipynb"
        nbformat.write(nb, path)
        digests[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def sleeper():
    """20 cells that each sleep under the cell limit, before the last two tasks."""
    nb = students.solved()
    at = next(i for i, c in enumerate(nb.cells) if grading(c).get("grade_id") == "sample-tokens")
    return students.with_cells(nb, *["import time\ntime.sleep(5)"] * 20, at=at)


def hidden_lines() -> list[str]:
    lines, inside = [], False
    for cell in nbformat.read(solution_path(ASSIGNMENT), as_version=4).cells:
        for line in cell.source.splitlines():
            if "BEGIN HIDDEN TESTS" in line:
                inside = True
            elif "END HIDDEN TESTS" in line:
                inside = False
            elif inside and len(line.strip()) > 20:
                lines.append(line.strip())
    return lines


def graded_files(course, student: str) -> str:
    texts = []
    for step in ("autograded", "feedback"):
        for path in sorted((course / step / student).rglob("*")):
            if path.is_file():
                texts.append(path.read_text(errors="replace"))
    return "\n".join(texts)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, sandbox):
    tmp = tmp_path_factory.mktemp("hostile")
    course = course_copy(tmp)
    folder = tmp / "submissions"
    notebooks = students.hostile(str(course))
    notebooks["sleeper"] = sleeper()
    notebooks["ada"] = students.solved()
    notebooks["victim"] = students.with_cells(
        students.solved(), f"print('{students.SECRET}')  # {students.SECRET}"
    )
    notebooks["victim (2)"] = students.blank()  # a look-alike, planted beside the real file
    notebooks["surrogate"] = students.answer(
        students.with_cells(students.solved(), "print('odd ' + chr(0xD800))"),
        "to-probabilities",
        "def to_probabilities(counts, smoothing=1.0):\n    raise ValueError('odd ' + chr(0xDFFF))",
    )
    digests = write_all(folder, notebooks)
    # A lone surrogate in a markdown cell (JSON can carry one as an escape), and a file name
    # in Latin-1, as `unzip` leaves a zip made on Windows: neither may stop the class's output.
    odd = json.loads((folder / "surrogate.ipynb").read_text())
    odd["cells"].append(
        {"cell_type": "markdown", "id": "odd-note", "metadata": {}, "source": "note \ud800"}
    )
    (folder / "surrogate.ipynb").write_text(json.dumps(odd))  # escaped: "\\ud800"
    digests["surrogate"] = hashlib.sha256((folder / "surrogate.ipynb").read_bytes()).hexdigest()
    with open(bytes(folder) + b"/M\xfcller.ipynb", "wb") as latin:
        latin.write(nbformat.writes(students.solved()).encode())
    (folder / "sly.ipynb").symlink_to(course / "solutions" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    (folder / "copycat.ipynb").symlink_to(folder / "victim.ipynb")
    solutions = {
        p: p.read_bytes() for p in sorted((course / "solutions").rglob("*")) if p.is_file()
    }
    rows = grade_class(course, ASSIGNMENT, folder, Options(limits=LIMITS), log=lambda _: None)
    return {
        "course": course,
        "folder": folder,
        "rows": {row.student: row for row in rows},
        "digests": digests,
        "solutions": solutions,
    }


@pytest.fixture(scope="module")
def honest(tmp_path_factory, sandbox):
    tmp = tmp_path_factory.mktemp("honest")
    course = course_copy(tmp)
    write_all(tmp / "submissions", students.honest())
    rows = grade_class(course, ASSIGNMENT, tmp / "submissions", log=lambda _: None)
    return {row.student: row for row in rows}


EXPECTED = {  # student: (score, flags) for the hostile class
    "rebinder": (0, set()),
    "skipper": (0, set()),
    "patcher": (0, {"tampering suspected"}),
    "piper": (0, {"tampering suspected"}),
    "delegator": (4, set()),  # 3 tasks hand minigpt's answer back; 2 are the student's own
    "stackwalker": (10, set()),
    "scripter": (10, set()),
    "flooder": (10, {"limit reached"}),
    "spawner": (10, {"limit reached"} if os.geteuid() == 0 else set()),
    "wrecker": (0, set()),
    "sleeper": (6, {"timed out"}),
    "ada": (10, set()),
    "victim": (10, {"conflict"}),
    "victim-2": (0, {"conflict"}),
    "sly": (0, {"unreadable"}),
    "copycat": (0, {"unreadable"}),
    "surrogate": (8, set()),  # its to_probabilities raises, with an odd character
    "müller": (10, set()),
}


def test_no_attack_earns_a_point_and_honest_students_keep_theirs(hostile):
    rows = hostile["rows"]
    got = {s: (rows[s].score, rows[s].flags) for s in EXPECTED}
    assert got == EXPECTED, {s: rows[s].notes for s in EXPECTED if got[s] != EXPECTED[s]}
    assert set(rows) == set(EXPECTED)
    assert exit_status(list(rows.values())) == 2  # the refused links were not graded


def test_odd_characters_from_one_student_leave_the_class_s_files_whole(hostile, tmp_path):
    rows = list(hostile["rows"].values())
    write_csv(rows, tmp_path / "grades.csv")
    page = write_report(rows, ASSIGNMENT, tmp_path, [])
    table = list(csv.DictReader((tmp_path / "grades.csv").open(encoding="utf-8")))
    assert len(table) == len(rows) and "müller" in {line["student"] for line in table}
    assert "\ufffd" in graded_files(hostile["course"], "surrogate")
    assert page.read_text(encoding="utf-8").rstrip().endswith("</html>")


def test_the_gradebook_holds_exactly_the_rows(hostile):
    from nbgrader.api import Gradebook

    url = f"sqlite:///{hostile['course'] / 'gradebook.db'}"
    with Gradebook(url) as gradebook:
        scores = {s.student.id: s.score for s in gradebook.assignment_submissions(ASSIGNMENT)}
    assert scores == {student: score for student, (score, _) in EXPECTED.items()}


def test_nothing_outside_a_sandbox_changed_and_nothing_lingers(hostile):
    folder, course = hostile["folder"], hostile["course"]
    for name, digest in hostile["digests"].items():
        assert hashlib.sha256((folder / f"{name}.ipynb").read_bytes()).hexdigest() == digest
    now = {p: p.read_bytes() for p in (course / "solutions").rglob("*") if p.is_file()}
    assert now == hostile["solutions"]
    alive = subprocess.run(["pgrep", "-f", students.MARKER], capture_output=True, text=True)
    assert alive.stdout == "", "a process started by a notebook outlived its grading"


def test_the_notes_say_what_each_attack_did(hostile):
    notes = {s: " ".join(r.notes) for s, r in hostile["rows"].items()}
    assert "inputs of a check were changed" in notes["patcher"]
    assert "unexpected 'observations' event" in notes["piper"]
    assert "disk" in notes["flooder"] and "printed more than the grader keeps" in notes["flooder"]
    assert "ran past its 60 s limit" in notes["sleeper"]
    assert "symbolic link" in notes["sly"] and "symbolic link" in notes["copycat"]
    assert "victim (2).ipynb" in notes["victim"] and "victim.ipynb" in notes["victim-2"]
    messages = {t.grade_id: t.message for t in hostile["rows"]["delegator"].tasks}
    assert "switched off while notebooks are graded" in messages["test-count-matrix"]
    assert "write this one yourself" in messages["test-to-probabilities"]
    assert "write this one yourself" in messages["test-average-nll"]  # a name built of pieces


def test_no_hidden_test_no_secret_and_no_path_of_the_grader_reaches_any_feedback(hostile):
    import sys

    course, hidden = hostile["course"], hidden_lines()
    assert hidden
    paths = [str(course), str(course.resolve()), sys.prefix, str(ROOT)]
    for student in hostile["rows"]:
        text = graded_files(course, student)
        assert not [line for line in hidden if line in text], student
        submitted = hostile["folder"] / f"{student}.ipynb"
        own = submitted.read_text() if submitted.is_file() and not submitted.is_symlink() else ""
        # A path the student's own code names is theirs to see; no other path of the grader.
        assert not [path for path in paths if path in text and path not in own], student
        if student != "victim":
            assert students.SECRET not in text, student


def test_feedback_pages_run_nothing_and_stay_small(hostile):
    class Elements(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.handlers = set(), []

        def handle_starttag(self, tag, attrs):
            self.tags.add(tag)
            self.handlers += [name for name, _ in attrs if name.startswith("on")]

    for page in (hostile["course"] / "feedback").rglob("*.html"):
        parser = Elements()
        parser.feed(page.read_text())
        assert "script" not in parser.tags and not parser.handlers, page
        assert "Content-Security-Policy" in page.read_text()
        assert page.stat().st_size < 2 * 1024**2, page


def test_honest_habits_keep_every_point_and_raise_no_flag(honest):
    for student in ("habits", "habits-in-answers"):
        row = honest[student]
        assert (row.score, row.flags) == (10, set()), row.notes


def test_an_answer_that_needs_a_helper_cell_asks_for_a_look_without_accusing(honest):
    row = honest["helper-user"]
    assert row.score == 8 and row.flags == {"needs manual grade"}, row.notes
    assert "normalize_rows, defined outside the answer cells" in " ".join(row.notes)
