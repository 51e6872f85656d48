"""Grade a class for real, sandboxed: the round trip and everything that can go wrong.

One batch per assignment holds the solved notebook, the blank one and a submission for each
failure that depends on the chapter's cells (a deleted test, Colab-stripped metadata, a
duplicated answer, an edited test). Failures that do not depend on the chapter (a file that is
not JSON, an endless loop, a kernel that dies, a worse resubmission) go through the same grader
code whatever the notebook holds, so they join the batch of the first assignment only: that
keeps every chapter covered and the suite inside CI's time. Parametrized over solutions/.
"""

from __future__ import annotations

import copy
import csv

import nbformat
import pytest
from course_notebooks import (
    ASSIGNMENTS,
    blank_student_notebook,
    grading,
    max_points,
    solved_student_notebook,
)

from minigpt.grading.batch import Options, grade_class, write_csv
from minigpt.grading.session import Limits
from minigpt.probes import specs

pytestmark = pytest.mark.slow
OPTIONS = Options(limits=Limits(cell_seconds=15, notebook_seconds=240))
# Students whose trouble is the same in every chapter: graded with the first assignment only.
ANY_CHAPTER = {"garbage", "looper", "crasher"}


def last_answer_and_its_points(nb):
    """Index of the last answer cell, and the points of the tests that follow it."""
    last = max(i for i, c in enumerate(nb.cells) if grading(c).get("solution"))
    points = sum(grading(c).get("points", 0) for c in nb.cells[last:] if grading(c).get("grade"))
    return last, points


def submissions(assignment: str) -> dict[str, object]:
    solved = solved_student_notebook(assignment)
    blank = blank_student_notebook(assignment)
    last, _ = last_answer_and_its_points(solved)

    def variant(change):
        nb = copy.deepcopy(solved)
        change(nb)
        return nb

    def prepend_to_last_answer(code):
        return lambda nb: setattr(nb.cells[last], "source", code + nb.cells[last].source)

    def delete_first_test(nb):
        nb.cells = [
            c for c in nb.cells if c is not next(c for c in nb.cells if grading(c).get("grade"))
        ]

    def strip_like_colab(nb):
        for cell in nb.cells:
            cell.pop("id", None)
            cell.metadata.pop("nbgrader", None)
        nb.nbformat_minor = 0

    def duplicate_first_answer(nb):
        first = next(i for i, c in enumerate(nb.cells) if grading(c).get("solution"))
        nb.cells.insert(first + 1, copy.deepcopy(nb.cells[first]))

    def blank_last_answer_and_pass_its_test(nb):
        nb.cells[last].source = blank.cells[last].source
        test = next(c for c in nb.cells[last:] if grading(c).get("grade"))
        test.source = "pass"

    moved = mover(assignment, blank)
    return {
        **({"mover": moved} if moved else {}),
        "solved": solved,
        "blank": blank,
        "garbage": "{ this is not a notebook",
        "looper": variant(
            prepend_to_last_answer("import time\nwhile True:\n    time.sleep(0.1)\n")
        ),
        "crasher": variant(prepend_to_last_answer("import os\nos._exit(1)\n")),
        "deleter": variant(delete_first_test),
        "colab": variant(strip_like_colab),
        "copier": variant(duplicate_first_answer),
        "cheater": variant(blank_last_answer_and_pass_its_test),
    }


def mover(assignment: str, blank):
    """A blank notebook that moves a later task's answer and test cell above the tasks whose
    solutions that task receives as pieces, keeps those solutions when its answer is called, and
    brings them back where its own earlier answers stand. None where no task has pieces."""
    tasks = specs(assignment)
    owners = {name: gid for gid, spec in tasks.items() for name in spec.functions}
    later = [gid for gid, spec in tasks.items() if any(p in owners for p in spec.pieces)]
    if not later:
        return None
    spec = tasks[later[-1]]
    earlier = sorted({owners[p] for p in spec.pieces if p in owners})
    keep = [name for gid in earlier for name in tasks[gid].functions]
    nb = copy.deepcopy(blank)
    at = {grading(c).get("grade_id"): i for i, c in enumerate(nb.cells)}
    stash = nb.cells[at[later[-1]]]
    stash.source = "".join(
        f"def {name}(*args, **kwargs):\n    global KEPT\n"
        f"    KEPT = {{n: globals()[n] for n in {keep!r} if n in globals()}}\n"
        "    raise RuntimeError('kept')\n"
        for name in spec.functions
    )
    test = next(c for c in nb.cells[at[later[-1]] :] if grading(c).get("grade"))
    for gid in earlier:
        nb.cells[at[gid]].source = "if 'KEPT' in globals():\n    globals().update(KEPT)\n"
    first = min(at[gid] for gid in earlier)
    nb.cells = [c for c in nb.cells if c is not stash and c is not test]
    nb.cells[first:first] = [stash, test]
    return nb


def write_submissions(folder, files: dict[str, object], assignment: str) -> None:
    folder.mkdir(parents=True)
    for student, content in files.items():
        path = folder / f"{student}_{assignment}.ipynb"
        if isinstance(content, str):
            path.write_text(content)
        else:
            with open(path, "w", encoding="utf-8") as f:
                # Colab's files are nbformat 4.0 without ids: write them as they are.
                f.write(
                    nbformat.writes(content, version=4)
                    if content.nbformat_minor >= 5
                    else _raw(content)
                )


def _raw(nb) -> str:
    import json

    return json.dumps(nb, indent=1)


def gradebook_scores(root, assignment):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {s.student.id: s.score for s in gb.assignment_submissions(assignment)}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_class_with_every_kind_of_trouble_grades_in_one_batch(
    assignment, course_copy, tmp_path, sandbox
):
    full = max_points(assignment)
    _, tail = last_answer_and_its_points(solved_student_notebook(assignment))
    files = submissions(assignment)
    everything = assignment == ASSIGNMENTS[0]
    if not everything:
        files = {student: nb for student, nb in files.items() if student not in ANY_CHAPTER}
    write_submissions(tmp_path / "batch1", files, assignment)

    rows = {
        r.student: r
        for r in grade_class(
            course_copy,
            assignment,
            tmp_path / "batch1",
            OPTIONS,
            log=lambda _: None,
        )
    }

    expected = {
        "solved": (full, set()),
        "blank": (0, set()),
        "garbage": (0, {"unreadable"}),
        "looper": (full - tail, {"timed out"}),
        "crasher": (full - tail, {"crashed"}),
        "deleter": (full, {"repaired"}),
        "colab": (full, {"repaired"}),
        "copier": (full, {"repaired"}),
        "cheater": (full - tail, {"tampered"}),
        "mover": (0, set()),  # the solutions it keeps arrive after the tasks they answer
    }
    expected = {student: expected[student] for student in files}
    got = {s: (rows[s].score, rows[s].flags) for s in expected}
    assert got == expected, {s: rows[s].notes for s in expected if got[s] != expected[s]}
    assert all(rows[s].max_score == full for s in expected)
    assert gradebook_scores(course_copy, assignment) == {
        s: score for s, (score, _) in expected.items()
    }
    for student in set(expected) - {"garbage"}:
        assert (course_copy / "feedback" / student / assignment).is_dir()
    assert rows["solved"].tasks and all(task.passed for task in rows["solved"].tasks)
    assert all("not written yet" in task.message for task in rows["blank"].tasks)

    out = tmp_path / "grades.csv"
    write_csv(list(rows.values()), out)
    table = {line["student"]: line for line in csv.DictReader(out.open())}
    assert {s: float(line["score"]) for s, line in table.items()} == {
        s: score for s, (score, _) in expected.items()
    }
    if not everything:
        return
    assert "timed out" in table["looper"]["flags"]

    # nbgrader's own tools read the gradebook the grader wrote.
    import subprocess
    import sys

    exported = subprocess.run(
        [sys.executable, "-m", "nbgrader", "export", f"--CourseDirectory.root={course_copy}"],
        cwd=course_copy,
        capture_output=True,
        text=True,
    )
    assert exported.returncode == 0, exported.stderr
    export = {
        r["student_id"]: float(r["score"])
        for r in csv.DictReader((course_copy / "grades.csv").open())
    }
    assert export == {s: score for s, (score, _) in expected.items()}

    # A resubmission replaces a better earlier grade: no old score may survive.
    write_submissions(tmp_path / "batch2", {"solved": files["blank"]}, assignment)
    again = grade_class(course_copy, assignment, tmp_path / "batch2", OPTIONS, log=lambda _: None)
    assert [(r.student, r.score, r.flags) for r in again] == [("solved", 0, set())]
    assert gradebook_scores(course_copy, assignment)["solved"] == 0
