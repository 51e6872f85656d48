"""Common mistakes must fail their tests, and correct answers written another way must pass.

tests/variants/<assignment>.yml lists, per answer cell (by grade_id), wrong and alternative
versions of the answer. One kernel per assignment runs the solution notebook, then swaps each
variant in, reruns the answer's test cell (hidden tests included) and swaps the solution back.
"""

from __future__ import annotations

import os

import nbformat
import pytest
import yaml
from course_notebooks import ASSIGNMENTS, ROOT, grading, solution_path
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

pytestmark = pytest.mark.slow
VARIANTS = ROOT / "tests" / "variants"


def test_every_assignment_lists_its_variants():
    assert sorted(p.stem for p in VARIANTS.glob("*.yml")) == ASSIGNMENTS


def answer_and_test(nb, grade_id):
    index = next(i for i, c in enumerate(nb.cells) if grading(c).get("grade_id") == grade_id)
    test = next(i for i in range(index + 1, len(nb.cells)) if grading(nb.cells[i]).get("grade"))
    return index, test


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_mistakes_fail_and_alternatives_pass(assignment):
    variants = yaml.safe_load((VARIANTS / f"{assignment}.yml").read_text())
    nb = nbformat.read(solution_path(assignment), as_version=4)
    os.environ["NBGRADER_EXECUTION"] = "validate"  # quick mode, as while grading
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    surprises = []
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            for grade_id, kinds in variants.items():
                answer, test = answer_and_test(nb, grade_id)
                solution = nb.cells[answer].source
                for kind, expected_to_pass in (("mistakes", False), ("alternatives", True)):
                    for name, source in (kinds.get(kind) or {}).items():
                        nb.cells[answer].source = source
                        client.execute_cell(nb.cells[answer], answer)
                        try:
                            client.execute_cell(nb.cells[test], test)
                            passed = True
                        except CellExecutionError:
                            passed = False
                        if passed != expected_to_pass:
                            verb = "passed" if passed else "failed"
                            surprises.append(f"{grade_id} / {kind[:-1]} '{name}' {verb}")
                nb.cells[answer].source = solution
                client.execute_cell(nb.cells[answer], answer)
    finally:
        os.environ.pop("NBGRADER_EXECUTION", None)
    assert not surprises, "\n".join(surprises)
