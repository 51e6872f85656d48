"""Put every catalogued mistake and alternative into an exercise and see what its tests make of it.

For each variant of an answer, one kernel (per exercise, after running the solution notebook once)
swaps the variant into the answer cell, runs the answer's own test cell twice (as students see it,
hidden tests removed, and as grading runs it) and then every later test cell, and puts the
solution back. It reports whether the failure message names the mistake, and how many points the
variant costs in its own task and in the others. The cells between test cells are not rerun: test
cells build their own cases.

    python tools/mistake_costs.py                # every exercise, a table per chapter
    python tools/mistake_costs.py 04-self-attention
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Variant:
    grade_id: str
    kind: str  # "mistake" or "alternative"
    name: str
    source: str


@dataclass
class Outcome:
    variant: Variant
    own_points: float
    visible_message: str | None  # None when the visible tests passed
    graded_message: str | None  # None when the graded tests passed
    lost_elsewhere: dict[str, float] = field(default_factory=dict)

    @property
    def named(self) -> bool:
        """The mistake's name is in its failure message, for students and graders alike."""
        return all(
            message is not None and self.variant.name in message
            for message in (self.visible_message, self.graded_message)
        )

    @property
    def points_lost(self) -> float:
        own = self.own_points if self.graded_message is not None else 0.0
        return own + sum(self.lost_elsewhere.values())


def catalogued_variants(assignment: str) -> list[Variant]:
    from minigpt.mistakes import catalogue

    variants = []
    for grade_id, task in catalogue(assignment).items():
        variants += [Variant(grade_id, "mistake", m.name, m.source) for m in task.mistakes]
        variants += [Variant(grade_id, "alternative", a.name, a.source) for a in task.alternatives]
    return variants


def _grading(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader") or {}


def visible_part(source: str) -> str:
    """A test cell as students get it: the hidden tests taken out."""
    kept, hidden = [], False
    for line in source.splitlines():
        if line.strip() == "### BEGIN HIDDEN TESTS":
            hidden = True
        elif line.strip() == "### END HIDDEN TESTS":
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept)


def _failure(client: NotebookClient, cell, index: int) -> str | None:
    """Run a cell; the error it ended with (type and message), or None when it passed."""
    try:
        client.execute_cell(cell, index)
    except CellExecutionError as error:
        return f"{error.ename}: {error.evalue}"
    return None


def measure(notebook: Path, variants: Iterable[Variant]) -> list[Outcome]:
    """Outcomes of `variants` in the solution notebook `notebook`, run in quick (grading) mode."""
    nb = nbformat.read(notebook, as_version=4)
    answers = {
        _grading(c).get("grade_id"): i
        for i, c in enumerate(nb.cells)
        if _grading(c).get("solution")
    }
    tests = [i for i, c in enumerate(nb.cells) if _grading(c).get("grade")]
    outcomes = []
    os.environ["NBGRADER_EXECUTION"] = "validate"  # quick mode, as while grading
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
            for variant in variants:
                answer = answers[variant.grade_id]
                own, *later = [i for i in tests if i > answer]
                solution = nb.cells[answer].source
                nb.cells[answer].source = variant.source.strip("\n")
                client.execute_cell(nb.cells[answer], answer)
                graded_source = nb.cells[own].source
                nb.cells[own].source = visible_part(graded_source)
                visible = _failure(client, nb.cells[own], own)
                nb.cells[own].source = graded_source
                outcome = Outcome(
                    variant,
                    _grading(nb.cells[own])["points"],
                    visible,
                    _failure(client, nb.cells[own], own),
                )
                for index in later:
                    if _failure(client, nb.cells[index], index) is not None:
                        grading = _grading(nb.cells[index])
                        outcome.lost_elsewhere[grading["grade_id"]] = grading["points"]
                outcomes.append(outcome)
                nb.cells[answer].source = solution
                client.execute_cell(nb.cells[answer], answer)
    finally:
        os.environ.pop("NBGRADER_EXECUTION", None)
    return outcomes


def summary(assignment: str, outcomes: list[Outcome]) -> str:
    """One table row: mistakes, share named, points lost per mistake, mistakes costing more."""
    mistakes = [o for o in outcomes if o.variant.kind == "mistake"]
    named = sum(o.named for o in mistakes)
    lost = [o.points_lost for o in mistakes]
    elsewhere = sum(bool(o.lost_elsewhere) for o in mistakes)
    return (
        f"| {assignment} | {len(mistakes)} | {named}/{len(mistakes)} | "
        f"{sum(lost) / len(lost):.2f} | {max(lost):g} | {elsewhere} |"
    )


def main(argv: list[str]) -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    import course

    print("| exercise | mistakes | named | points lost (mean) | most | cost other tasks |")
    print("| --- | --- | --- | --- | --- | --- |")
    for assignment in argv or course.assignments():
        notebook = next((ROOT / "solutions" / assignment).glob("*.ipynb"))
        outcomes = measure(notebook, catalogued_variants(assignment))
        print(summary(assignment, outcomes), flush=True)
        for o in outcomes:
            if o.variant.kind == "mistake" and (not o.named or o.lost_elsewhere):
                print(
                    f"    {o.variant.grade_id} / {o.variant.name}: named={o.named} "
                    f"elsewhere={o.lost_elsewhere}",
                    file=sys.stderr,
                )


if __name__ == "__main__":
    main(sys.argv[1:])
