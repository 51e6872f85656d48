"""Every assignment in solutions/: solutions pass, blanks fail, exercises/ is fresh and clean.

Parametrized over the folders of solutions/, so a new chapter is covered without new code.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from course_notebooks import (
    ASSIGNMENTS,
    ROOT,
    course,
    exercise_path,
    grading,
    marked_blocks,
    solution_path,
    unmarked_lines,
    validator,
)

pytestmark = pytest.mark.slow


def test_there_are_assignments():
    assert "01-bigrams" in ASSIGNMENTS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_passes_its_own_tests(assignment, tmp_path):
    # The Validator API, not `nbgrader validate`: the command exits 0 even when tests fail.
    results = validator(validate_all=True).validate(str(solution_path(assignment)))
    failures = [f"{f['source'][:60]!r}: {f['error'][-400:]}" for f in results.get("failed", [])]
    assert not failures, "\n".join(failures)
    assert not results.get("type_changed") and not results.get("changed")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_unmodified_exercise_fails_every_test(assignment):
    nb = nbformat.read(exercise_path(assignment), as_version=4)
    graded_tests = [cell for cell in nb.cells if grading(cell).get("grade")]
    results = validator().validate(str(exercise_path(assignment)))
    assert len(results.get("failed", [])) == len(graded_tests) > 0


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_exercise_shape(assignment):
    """3 to 6 graded answers, about 10 points, every answer followed by its test cell."""
    nb = nbformat.read(solution_path(assignment), as_version=4)
    kinds = [
        ("tests" if grading(c).get("grade") else "answer")
        for c in nb.cells
        if grading(c).get("grade") or grading(c).get("solution")
    ]
    tests = [c for c in nb.cells if grading(c).get("grade")]
    assert 3 <= kinds.count("answer") <= 6
    assert 8 <= sum(grading(c)["points"] for c in tests) <= 12
    for before, after in zip(kinds, kinds[1:], strict=False):
        assert not (before == "answer" and after == "answer"), "an answer without its test cell"
    assert kinds[-1] == "tests"


def test_exercises_are_what_generation_produces_now(tmp_path):
    course.release(tmp_path)
    generated = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(ROOT / "exercises") for p in (ROOT / "exercises").rglob("*") if p.is_file()
    )
    assert committed == generated, "run `make exercises` and commit the result"
    for relative in generated:
        assert (ROOT / "exercises" / relative).read_bytes() == (tmp_path / relative).read_bytes(), (
            f"exercises/{relative} is stale: run `make exercises`"
        )


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_solution_or_hidden_test_reaches_students(assignment):
    text = exercise_path(assignment).read_text()
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    student_lines = {
        line.strip()
        for cell in nbformat.reads(text, as_version=4).cells
        for line in cell.source.splitlines()
    }
    secret, public = [], set()
    for cell in nbformat.read(solution_path(assignment), as_version=4).cells:
        public |= {line.strip() for line in unmarked_lines(cell.source)}
        for kind in ("SOLUTION", "HIDDEN TESTS"):
            for block in marked_blocks(cell.source, kind):
                secret += [line.strip() for line in block if len(line.strip()) > 12]
    # A line the solution notebook also shows openly (a common idiom) is no leak.
    leaked = [line for line in secret if line in student_lines and line not in public]
    assert not leaked, f"lines from solutions or hidden tests appear in the exercise: {leaked[:3]}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_no_test_cell_is_blank_for_students(assignment):
    nb = nbformat.read(exercise_path(assignment), as_version=4)
    for cell in nb.cells:
        if grading(cell).get("grade"):
            assert cell.source.strip().startswith("#"), (
                f"{grading(cell)['grade_id']} should open with a comment"
            )
            assert "hidden tests" in cell.source.lower()


@pytest.mark.parametrize(
    "path",
    course.book_notebooks()
    + course.solution_notebooks()
    + sorted((ROOT / "exercises").glob("*/*.ipynb")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_notebooks_are_clean_with_stable_ids_and_the_setup_cell(path):
    raw = json.loads(path.read_text())
    assert (raw["nbformat"], raw["nbformat_minor"]) == (4, 5)
    ids = [cell.get("id") for cell in raw["cells"]]
    assert all(ids) and len(set(ids)) == len(ids)
    code = [cell for cell in raw["cells"] if cell["cell_type"] == "code"]
    assert all(not cell["outputs"] and cell["execution_count"] is None for cell in code)
    assert "".join(code[0]["source"]) == course.setup_cell_source(), "run `make notebooks`"


def test_draft_format_round_trips():
    for path in course.solution_notebooks() + course.book_notebooks():
        nb = nbformat.read(path, as_version=4)
        rebuilt = course.normalize(course.from_draft(course.to_draft(nb)))
        course.stamp_setup_cell(rebuilt, path)
        assert [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in rebuilt.cells] == [
            (c.cell_type, c.source, c.metadata.get("nbgrader")) for c in nb.cells
        ]
