"""The catalogue of mistakes (minigpt.mistakes) against the exercises' checks.

Every catalogued mistake must fail its own task with a message that names it, as students see
the tests in Colab and as the grader judges them (goal: all of them, at least 90% per exercise),
and cost no other task's points; every alternative must pass everywhere. tools/mistake_costs.py
runs the variants in this process (no kernels, no sandbox: what those add is tested by the
grading tests) and prints the table of the closing note.
"""

from __future__ import annotations

import nbformat
import pytest
from course_notebooks import ASSIGNMENTS, grading, mistake_costs, solution_path

from minigpt.mistakes import catalogue
from minigpt.probes import specs


def answer_cells(assignment: str) -> dict[str, str]:
    nb = nbformat.read(solution_path(assignment), as_version=4)
    return {grading(c)["grade_id"]: c.source for c in nb.cells if grading(c).get("solution")}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_catalogue_and_task_descriptions_describe_the_notebook(assignment):
    known, tasks, answers = catalogue(assignment), specs(assignment), answer_cells(assignment)
    assert sorted(known) == sorted(answers) == sorted(tasks), "one entry per answer cell"
    text = "\n".join(cell.source for cell in nbformat.read(solution_path(assignment), 4).cells)
    assert f'exercise = Exercise("{assignment}", globals())' in text
    for grade_id, spec in tasks.items():
        for name in spec.functions:
            assert f"def {name}(" in answers[grade_id] or f"class {name}" in answers[grade_id]
            assert name in spec.reference, f"{grade_id}: which minigpt version judges {name}?"
        assert f'with exercise.task("{grade_id}") as task:' in text, f"{grade_id}'s test cell"
        entry = known[grade_id]
        assert entry.mistakes and entry.alternatives, f"{grade_id}: mistakes and alternatives"
        names = [m.name for m in entry.mistakes]
        assert len(set(names)) == len(names), f"{grade_id}: two mistakes with one name"
        for mistake in entry.mistakes:
            assert len(mistake.hint) > 20, f"{grade_id} / {mistake.name}: write its hint"
            assert spec.functions[0] in mistake.source


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_mistakes_are_named_and_cost_only_their_own_task(assignment):
    outcomes = mistake_costs.measure(assignment)
    print(mistake_costs.summary(assignment, outcomes))
    problems = []
    for outcome in outcomes:
        label = f"{outcome.variant.grade_id} / {outcome.variant.kind} '{outcome.variant.name}'"
        if outcome.variant.kind == "alternative":
            if outcome.points_lost or outcome.visible_message:
                problems.append(f"{label} lost points: {outcome.visible_message}")
            continue
        if outcome.graded_message is None or outcome.visible_message is None:
            problems.append(f"{label} passed its tests")
        if outcome.lost_elsewhere:
            problems.append(f"{label} also failed {sorted(outcome.lost_elsewhere)}")
    mistakes = [o for o in outcomes if o.variant.kind == "mistake"]
    unnamed = [o.variant.name for o in mistakes if not o.named]
    if unnamed:
        problems.append(f"{len(unnamed)} of {len(mistakes)} mistakes not named: {unnamed}")
    assert not problems, "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_solution_passes_and_the_blank_fails_every_task_in_both_views(assignment):
    """The instructor's answers pass every check (hidden ones too, as the grader judges them);
    the released stubs fail every one, with "not written yet"."""
    bench = mistake_costs.Workbench(assignment)
    stubs = {
        grading(c)["grade_id"]: c.source for c in bench.released.cells if grading(c).get("solution")
    }
    for answers, passes in ((bench.answers, True), (stubs, False)):
        namespace = bench.namespace(answers)
        for grade_id in bench.graded.tasks:
            visible = bench.visible(namespace, grade_id)
            graded = bench.graded_verdict(namespace, grade_id, answers[grade_id])
            if passes:
                assert visible is None and graded.passed, (grade_id, visible, graded.message)
            else:
                assert "not written yet" in visible and "not written yet" in graded.message
