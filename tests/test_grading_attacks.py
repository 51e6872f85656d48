"""Hostile notebooks, graded with honest ones: each attack is caught, nobody else is touched.

Every attacker is the blank student notebook plus one cell that tries one thing: read the
solutions and run them, wreck the gradebook and the other submissions, rewrite the test cells,
patch the checks, leave a process behind that keeps writing scores, copy other students' work
into its own output. The attacks know the course folder's real path, as a student who guessed
it would. One batch of one assignment holds them all, beside an honest solved notebook and a
victim whose file must come through unchanged.
"""

from __future__ import annotations

import copy
import hashlib
import subprocess
import sys

import nbformat
import pytest
from course_notebooks import blank_student_notebook, grading, solved_student_notebook

from minigpt.grading.batch import exit_status, grade_class

pytestmark = pytest.mark.slow
ASSIGNMENT = "01-bigrams"
SECRET = "victim-secret-7f3a"  # written in the victim's notebook: must reach nobody else
MARKER = "minigpt-attack-marker-91c2"  # names the processes an attacker leaves behind


def with_cell(nb, code: str, *, after_setup: bool = True):
    nb = copy.deepcopy(nb)
    nb.cells.insert(2 if after_setup else len(nb.cells), nbformat.v4.new_code_cell(code))
    return nb


def attacks(course) -> dict[str, str]:
    root = str(course)
    return {
        "wrecker": f"""
import os
for base in ["..", "../..", "../../..", "../../../..", {root!r}, {root!r} + "/submitted"]:
    for folder, _dirs, files in os.walk(base):
        for name in files:
            if name.endswith((".ipynb", ".db")):
                try:
                    open(os.path.join(folder, name), "w").write("wrecked")
                except OSError:
                    pass
""",
        "solver": f"""
import glob, json
found = []
for base in [".", "..", "../..", "../../..", "../../../..", {root!r}]:
    found += glob.glob(base + "/solutions/*/*.ipynb")
for path in found:
    for cell in json.load(open(path))["cells"]:
        if cell["cell_type"] == "code" and "BEGIN SOLUTION" in "".join(cell["source"]):
            exec("".join(cell["source"]))
""",
        "rewriter": """
def skip_tests(lines):
    return ["pass\\n"] if any("Tests for" in line for line in lines) else lines
get_ipython().input_transformers_post.append(skip_tests)
""",
        "patcher": """
import minigpt.checks as checks
import torch
def agree(*args, **kwargs):
    return True
checks.expect_close = checks.expect_equal = checks.expect_shape = agree
torch.allclose = agree
""",
        "lingerer": f"""
import subprocess
program = '''
import time
while True:
    try:
        open(TARGET, "w").write("x")
    except OSError:
        pass
    time.sleep(0.2)
'''.replace("TARGET", repr({root!r} + "/gradebook.db"))
subprocess.Popen(["setsid", "python", "-c", program, "{MARKER}"], start_new_session=True)
""",
        "snoop": f"""
import glob, os
for path in glob.glob({root!r} + "/**/*.ipynb", recursive=True)[:20]:
    print(path, open(path).read()[:2000])
print(os.listdir({root!r}) if os.path.exists({root!r}) else "no course here")
""",
    }


def write(folder, notebooks: dict) -> dict[str, str]:
    folder.mkdir(parents=True)
    digests = {}
    for student, nb in notebooks.items():
        path = folder / f"{student}.ipynb"
        nbformat.write(nb, path)
        digests[student] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def marked_lines(source, kind: str) -> list[str]:
    """The longer lines between ### BEGIN <kind> and ### END <kind>: what students never see."""
    lines, inside = [], False
    for cell in source.cells:
        for line in cell.source.splitlines():
            if f"BEGIN {kind}" in line:
                inside = True
            elif f"END {kind}" in line:
                inside = False
            elif inside and len(line.strip()) > 20:
                lines.append(line.strip())
    return lines


@pytest.fixture(scope="module")
def graded(tmp_path_factory, sandbox):
    """The whole hostile class, graded once for every test below."""
    from conftest import ROOT

    tmp = tmp_path_factory.mktemp("attacks")
    course = tmp / "course"
    course.mkdir()
    import shutil

    shutil.copytree(ROOT / "solutions", course / "solutions")
    shutil.copy(ROOT / "nbgrader_config.py", course)
    blank = blank_student_notebook(ASSIGNMENT)
    solved = solved_student_notebook(ASSIGNMENT)
    notebooks = {name: with_cell(blank, code) for name, code in attacks(course).items()}
    notebooks["solved"] = solved
    notebooks["victim"] = with_cell(solved, f"# {SECRET}\nprint('{SECRET}')")
    submissions = tmp / "submissions"
    digests = write(submissions, notebooks)
    solutions_before = {
        p: p.read_bytes() for p in sorted((course / "solutions").rglob("*")) if p.is_file()
    }
    rows = grade_class(course, ASSIGNMENT, submissions, jobs=2, cell_timeout=20, log=print)
    leftovers = subprocess.run(["pgrep", "-f", MARKER], capture_output=True, text=True).stdout
    return {
        "course": course,
        "rows": {row.student: row for row in rows},
        "digests": digests,
        "submissions": submissions,
        "solutions_before": solutions_before,
        "leftovers": leftovers,
    }


def test_every_attacker_is_flagged_and_earns_only_what_its_answers_earn(graded):
    rows = graded["rows"]
    for attacker in attacks(graded["course"]):
        row = rows[attacker]
        assert "tampering suspected" in row.flags, (attacker, row.flags, row.notes)
        assert row.score == 0, (attacker, row.score, row.notes)
        assert "crashed" not in row.flags, (attacker, row.notes)


def test_honest_students_keep_their_grades_and_files(graded):
    rows = graded["rows"]
    for student in ("solved", "victim"):
        assert rows[student].score == rows[student].max_score == 10, rows[student].notes
        assert not rows[student].flags - {"needs manual grade"}, rows[student].flags
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{graded['course'] / 'gradebook.db'}") as gradebook:
        scores = {s.student.id: s.score for s in gradebook.assignment_submissions(ASSIGNMENT)}
    assert scores == {student: row.score for student, row in rows.items()}
    for student, digest in graded["digests"].items():
        path = graded["submissions"] / f"{student}.ipynb"
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, student
    after = {
        p: p.read_bytes()
        for p in sorted((graded["course"] / "solutions").rglob("*"))
        if p.is_file()
    }
    assert after == graded["solutions_before"]


def test_no_process_outlives_grading(graded):
    assert graded["leftovers"] == ""


def test_what_the_attacks_did_is_named(graded):
    notes = {student: " ".join(row.notes) for student, row in graded["rows"].items()}
    assert "input transformers" in notes["rewriter"]
    assert "minigpt.checks.expect_close" in notes["patcher"]
    assert "process" in notes["lingerer"]
    assert "outside its folder" in notes["solver"]


def test_nobody_sees_another_students_work_or_the_hidden_tests(graded):
    from course_notebooks import solution_path

    course = graded["course"]
    source = nbformat.read(solution_path(ASSIGNMENT), as_version=4)
    released = nbformat.writes(blank_student_notebook(ASSIGNMENT))
    hidden = marked_lines(source, "HIDDEN TESTS")
    solution = [line for line in marked_lines(source, "SOLUTION") if line not in released]
    assert hidden and solution
    for student in graded["rows"]:
        shown = {
            step: "".join(
                p.read_text(errors="replace")
                for p in (course / step / student).rglob("*")
                if p.is_file()
            )
            for step in ("feedback", "autograded")
        }
        assert shown["feedback"], student
        if student != "victim":
            assert SECRET not in shown["feedback"] + shown["autograded"], student
        assert not [line for line in hidden if line in shown["feedback"]], student
        if student in attacks(course):
            leaked = [line for line in solution if line in shown["feedback"] + shown["autograded"]]
            assert not leaked, (student, leaked)


def test_failures_of_each_kind_are_flagged(course_copy, tmp_path, sandbox):
    blank = blank_student_notebook(ASSIGNMENT)
    first_answer = next(i for i, c in enumerate(blank.cells) if grading(c).get("solution"))

    def answered(code: str):
        nb = copy.deepcopy(blank)
        nb.cells[first_answer].source = code + nb.cells[first_answer].source
        return nb

    as_markdown = copy.deepcopy(blank)
    as_markdown.cells[first_answer].cell_type = "markdown"
    as_markdown.cells[first_answer].pop("outputs", None)
    as_markdown.cells[first_answer].pop("execution_count", None)
    notebooks = {
        "quitter": answered("raise SystemExit('bye')\n"),
        "hog": answered("raise MemoryError('too big')\n"),
        "writer": as_markdown,
    }
    write(tmp_path / "subs", notebooks)
    (tmp_path / "subs" / "garbage.ipynb").write_text("{ not json")
    rows = {
        r.student: r
        for r in grade_class(course_copy, ASSIGNMENT, tmp_path / "subs", log=lambda _: None)
    }
    assert "exited" in rows["quitter"].flags
    assert "out of memory" in rows["hog"].flags
    assert "answer not code" in rows["writer"].flags
    assert "unreadable" in rows["garbage"].flags
    assert exit_status(list(rows.values())) == 2


def test_grading_without_the_sandbox_says_so_in_every_row(course_copy, tmp_path):
    write(tmp_path / "subs", {"alice": blank_student_notebook(ASSIGNMENT)})
    command = [
        sys.executable,
        "-m",
        "minigpt.cli",
        "grade",
        ASSIGNMENT,
        str(tmp_path / "subs"),
        "--course",
        str(course_copy),
        "--no-sandbox",
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WITHOUT a sandbox" in done.stdout
    csv_text = (course_copy / f"grades-{ASSIGNMENT}.csv").read_text()
    assert "unsandboxed" in csv_text
