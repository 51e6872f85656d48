"""Similarity flags: a renamed copy is listed; independent answers, stubs and the solution are not.

The answers come from the course itself: each exercise's solution and the correct alternatives
in its catalogue (minigpt.mistakes) were written independently of each other, so no two may be
listed, while a copy of any of them with other names, comments and layout must be.
"""

from __future__ import annotations

import ast

import nbformat
import pytest
from course_notebooks import ASSIGNMENTS, exercise_path, solution_path

from minigpt.grading.notebook import answers_of as answers
from minigpt.grading.similarity import (
    MIN_TOKENS,
    THRESHOLD,
    SimilarGroup,
    SimilarPair,
    find_similar,
    groups,
    reduce,
    released_stub,
    similarity,
    tokens,
)
from minigpt.mistakes import catalogue


class Renamer(ast.NodeTransformer):
    """Every local name gets another spelling; the function's own name stays (tests call it)."""

    def __init__(self, bound: set[str]):
        self.bound = bound

    def visit_Name(self, node):
        if node.id in self.bound:
            node.id = f"my_{node.id[::-1]}"
        return node

    def visit_arg(self, node):
        node.arg = f"my_{node.arg[::-1]}"
        return node


def renamed_copy(source: str) -> str:
    """What a copier hands in: other names, comments and blank lines, ast's own layout."""
    tree = ast.parse(source)
    bound = {
        n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
    }
    bound |= {a.arg for a in ast.walk(tree) if isinstance(a, ast.arg)}
    lines = ast.unparse(Renamer(bound).visit(tree)).splitlines()
    return "# my own solution, written from scratch\n\n" + "\n\n".join(
        f"{line}  # step {i}" if line.strip() and not line.rstrip().endswith(":") else line
        for i, line in enumerate(lines)
    )


def course_answers(assignment: str):
    stubs = answers(nbformat.read(exercise_path(assignment), as_version=4))
    solutions = answers(nbformat.read(solution_path(assignment), as_version=4))
    return stubs, solutions, catalogue(assignment)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_renamed_copies_are_listed_and_independent_answers_are_not(assignment):
    stubs, solutions, variants = course_answers(assignment)
    checked = 0
    for grade_id, task in variants.items():
        stub, solution = stubs[grade_id], solutions[grade_id]
        originals = {f"alt{i}": alt.source for i, alt in enumerate(task.alternatives)}
        students = {name: {grade_id: src} for name, src in originals.items()}
        students |= {
            f"copy-of-{name}": {grade_id: renamed_copy(src)} for name, src in originals.items()
        }
        students["stub-1"] = students["stub-2"] = {grade_id: stub}
        students["solution-1"] = {grade_id: solution}
        students["solution-2"] = {grade_id: renamed_copy(solution.replace("### ", "# "))}

        listed = {(p.first, p.second) for p in find_similar(students, {grade_id: solution})}

        reference = reduce(solution, stub)
        expected = set()
        for name, src in originals.items():
            mine = reduce(src, stub)
            if len(mine) >= MIN_TOKENS and similarity(mine, reference) < THRESHOLD:
                expected.add((name, f"copy-of-{name}"))
        assert listed == expected, grade_id
        checked += len(expected)
    assert checked, "no alternative was long and different enough to test a copy"


def test_renaming_comments_and_layout_leave_an_answer_unchanged():
    _, solutions, _ = course_answers(ASSIGNMENTS[0])
    source = next(iter(solutions.values())).replace("### ", "# ")
    assert reduce(renamed_copy(source)) == reduce(source)


def test_the_bare_stub_leaves_nothing_to_compare():
    stubs, _, _ = course_answers(ASSIGNMENTS[0])
    assert all(reduce(stub, stub) == [] for stub in stubs.values())


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_stub_rebuilt_from_the_solution_is_the_one_students_got(assignment):
    stubs, solutions, _ = course_answers(assignment)
    assert {g: tokens(released_stub(s)) for g, s in solutions.items()} == {
        g: tokens(stub) for g, stub in stubs.items()
    }


def test_pairs_come_most_similar_first_and_only_for_the_tasks_asked():
    body = (
        "    total = 0\n    for item in items:\n        total = total + item * item\n"
        "    return total\n"
    )
    near = body.replace("item * item", "item * item + 1")
    solution = (
        "def f(items):\n    ### BEGIN SOLUTION\n    return sum(items)\n    ### END SOLUTION\n"
    )
    students = {
        "ann": {"t": "def f(items):\n" + body, "u": "x"},
        "bob": {"t": "def f(things):\n" + body.replace("item", "thing")},
        "cid": {"t": "def f(items):\n" + near},
    }
    pairs = find_similar(students, {"t": solution})
    assert [(p.first, p.second) for p in pairs] == [("ann", "bob"), ("ann", "cid"), ("bob", "cid")]
    assert pairs[0].similarity == 1.0 > pairs[1].similarity >= THRESHOLD
    assert all(p.grade_id == "t" for p in pairs)


def test_pairs_join_into_one_group_per_task():
    pairs = [
        SimilarPair("ann", "bob", "t", 1.0),
        SimilarPair("bob", "cid", "t", 0.92),
        SimilarPair("dan", "eve", "t", 0.95),
        SimilarPair("ann", "bob", "u", 0.9),
    ]
    assert groups(pairs) == [
        SimilarGroup("t", ("ann", "bob", "cid"), 0.92, 1.0),
        SimilarGroup("t", ("dan", "eve"), 0.95, 0.95),
        SimilarGroup("u", ("ann", "bob"), 0.9, 0.9),
    ]
    assert groups([]) == []
