"""The catalogue of mistakes (minigpt.mistakes) against the exercises' tests.

Every catalogued mistake must fail its own test cell with a message that names it (the goal: at
least 90% per exercise, as students see the tests and as grading runs them) and cost no other
task's points; every alternative must pass everywhere. tools/mistake_costs.py runs the
variants; the same run prints the table of the closing note.
"""

from __future__ import annotations

import nbformat
import pytest
from course_notebooks import ASSIGNMENTS, grading, mistake_costs, solution_path

from minigpt.mistakes import catalogue


def answer_cells(assignment: str) -> dict[str, str]:
    nb = nbformat.read(solution_path(assignment), as_version=4)
    return {grading(c)["grade_id"]: c.source for c in nb.cells if grading(c).get("solution")}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_catalogue_describes_the_notebook(assignment):
    tasks, answers = catalogue(assignment), answer_cells(assignment)
    assert sorted(tasks) == sorted(answers), "one catalogue entry per answer cell"
    for grade_id, task in tasks.items():
        for name in task.functions:
            assert f"def {name}(" in answers[grade_id] or f"class {name}" in answers[grade_id]
        assert task.mistakes and task.alternatives, f"{grade_id}: mistakes and alternatives"
        names = [m.name for m in task.mistakes]
        assert len(set(names)) == len(names), f"{grade_id}: two mistakes with one name"
        for mistake in task.mistakes:
            assert len(mistake.hint) > 20, f"{grade_id} / {mistake.name}: write its hint"
            assert task.functions[0] in mistake.source
    nb = nbformat.read(solution_path(assignment), as_version=4)
    text = "\n".join(cell.source for cell in nb.cells)
    assert f'exercise = Exercise("{assignment}", globals())' in text
    for grade_id in tasks:
        assert f'with exercise.checking("{grade_id}"):' in text, f"{grade_id}'s test cell"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_mistakes_are_named_and_cost_only_their_own_task(assignment):
    variants = mistake_costs.catalogued_variants(assignment)
    outcomes = mistake_costs.measure(solution_path(assignment), variants)
    print(mistake_costs.summary(assignment, outcomes))
    problems = []
    for outcome in outcomes:
        label = f"{outcome.variant.grade_id} / {outcome.variant.kind} '{outcome.variant.name}'"
        if outcome.variant.kind == "alternative":
            if outcome.points_lost:
                problems.append(f"{label} lost {outcome.points_lost:g} points")
            continue
        if outcome.graded_message is None:
            problems.append(f"{label} passed its tests")
        if outcome.lost_elsewhere:
            problems.append(f"{label} also failed {sorted(outcome.lost_elsewhere)}")
    mistakes = [o for o in outcomes if o.variant.kind == "mistake"]
    unnamed = [o.variant.name for o in mistakes if not o.named]
    if len(unnamed) > 0.1 * len(mistakes):
        problems.append(f"{len(unnamed)} of {len(mistakes)} mistakes not named: {unnamed}")
    assert not problems, "\n".join(problems)
