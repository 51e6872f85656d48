"""Per-task results: points from a real nbgrader gradebook, reasons from the graded notebook."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from minigpt.grading.tasks import answers, failure_message, task_results

pytest.importorskip("nbgrader")
ASSIGNMENT, NOTEBOOK = "01-demo", "01-demo"
HIDDEN_TEST_CODE = "assert count_pairs('aab') == {'aa': 1, 'ab': 1}, 'count_pairs(\"aab\")'"


def graded(cell, **nbgrader):
    cell.metadata["nbgrader"] = {"schema_version": 3, "locked": False, **nbgrader}
    return cell


def error(ename, evalue, code_line):
    """An error output as a kernel writes it: coloured traceback, hidden code inside."""
    return new_output(
        "error",
        ename=ename,
        evalue=evalue,
        traceback=[
            "\x1b[0;31m------------------------------------------------------------\x1b[0m",
            f"Cell \x1b[0;32mIn[4], line 3\x1b[0m\n\x1b[1;32m----> 3\x1b[0m {code_line}",
            f"\x1b[0;31m{ename}\x1b[0m: {evalue}",
        ],
    )


def autograded_notebook() -> nbformat.NotebookNode:
    answer = graded(
        new_code_cell("def count_pairs(text):\n    return {}\n"),
        grade_id="count-pairs",
        solution=True,
    )
    passed = graded(
        new_code_cell("assert True", outputs=[new_output("stream", text="ok\n")]),
        grade_id="test-vocab",
        grade=True,
        points=1,
    )
    failed = graded(
        new_code_cell(
            HIDDEN_TEST_CODE,
            outputs=[error("AssertionError", 'count_pairs("aab")', HIDDEN_TEST_CODE)],
        ),
        grade_id="test-count-pairs",
        grade=True,
        points=2,
    )
    silent = graded(new_code_cell("assert False"), grade_id="test-never-ran", grade=True, points=1)
    notes = graded(new_markdown_cell("Explain."), grade_id="notes", solution=True)
    return new_notebook(cells=[answer, passed, failed, silent, notes])


@pytest.fixture(scope="module")
def gradebook(tmp_path_factory):
    """A gradebook as nbgrader leaves it: one test passed, one failed, one that never ran."""
    from nbgrader.api import Gradebook
    from sqlalchemy.exc import SAWarning

    url = f"sqlite:///{tmp_path_factory.mktemp('course') / 'gradebook.db'}"
    with pytest.MonkeyPatch.context() as patch, warnings.catch_warnings():
        # Creating a gradebook shells out to this environment's `alembic`.
        patch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own autoflush noise
        with Gradebook(url) as gb:
            gb.add_assignment(ASSIGNMENT)
            gb.add_notebook(NOTEBOOK, ASSIGNMENT)
            for name, points in [("test-count-pairs", 2), ("test-vocab", 1), ("test-never-ran", 1)]:
                gb.add_grade_cell(name, NOTEBOOK, ASSIGNMENT, max_score=points, cell_type="code")
            gb.add_student("alice")
            gb.add_submission(ASSIGNMENT, "alice")
            for name, score in [("test-count-pairs", 0), ("test-vocab", 1), ("test-never-ran", 0)]:
                grade = gb.find_grade(name, NOTEBOOK, ASSIGNMENT, "alice")
                grade.auto_score = score
                grade.needs_manual_grade = False
            gb.db.commit()
    return url


def test_scores_come_from_the_gradebook_and_reasons_from_the_notebook(gradebook, tmp_path):
    path = tmp_path / "autograded" / "alice" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(autograded_notebook(), path)

    results = task_results(gradebook, ASSIGNMENT, "alice", path)

    assert [(t.grade_id, t.score, t.max_score, t.passed) for t in results] == [
        ("test-vocab", 1, 1, True),
        ("test-count-pairs", 0, 2, False),
        ("test-never-ran", 0, 1, False),
    ]
    assert results[0].message == ""
    assert results[1].message == 'AssertionError: count_pairs("aab")'
    assert "assert count_pairs" not in results[1].message  # hidden test code stays hidden
    assert results[2].message == "no error shown (the cell may not have run)"


def test_an_open_gradebook_and_a_missing_notebook_still_give_the_points(gradebook, tmp_path):
    from nbgrader.api import Gradebook

    with Gradebook(gradebook) as gb:
        results = task_results(gb, ASSIGNMENT, "alice", tmp_path / "absent.ipynb")
        assert task_results(gb, ASSIGNMENT, "nobody", None) == []
    assert sum(t.score for t in results) == 1
    assert sum(t.max_score for t in results) == 4


def test_failure_message_is_the_last_line_without_colours():
    cell = new_code_cell("x", outputs=[error("ExerciseCheckFailed", "shape (2,), got (3,)", "x")])
    assert failure_message(cell) == "ExerciseCheckFailed: shape (2,), got (3,)"
    blank = new_code_cell(
        "x", outputs=[error("NotImplementedError", "", "raise NotImplementedError()")]
    )
    assert failure_message(blank) == "NotImplementedError"
    assert failure_message(new_code_cell("x")) == ""


def test_answers_are_the_code_cells_marked_as_solutions():
    assert answers(autograded_notebook()) == {
        "count-pairs": "def count_pairs(text):\n    return {}\n"
    }
