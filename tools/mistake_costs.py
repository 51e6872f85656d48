"""Put every catalogued mistake and alternative into an exercise and see what its checks say.

For each variant of an answer (a catalogued wrong answer, or a correct one written differently)
this runs, in this process and in quick mode, the exercise's set-up and every answer with the
variant in place of one, and then judges every task twice:

- as a student sees it in Colab: the released test cells (no hidden tests) run in the namespace;
- as `minigpt grade` decides it: the probes run on the grader's collected cases (hidden ones
  included) and the grader's judge (`minigpt.grading.assignment`) reads what they observed.
  Only the sandbox is left out: what it adds (isolation, limits) is tested in tests/test_grading*.

It reports whether a mistake fails its own task with a message that names it, in both views,
and which other tasks it costs points.

    python tools/mistake_costs.py                # every exercise, a table row each
    python tools/mistake_costs.py 04-self-attention
"""

from __future__ import annotations

import contextlib
import io
import linecache
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

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
    visible_message: str | None  # None when the student's visible tests passed
    graded_message: str | None  # None when the grader's checks passed
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
    for grade_id, known in catalogue(assignment).items():
        variants += [Variant(grade_id, "mistake", m.name, m.source) for m in known.mistakes]
        variants += [Variant(grade_id, "alternative", a.name, a.source) for a in known.alternatives]
    return variants


def _grading(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader") or {}


class Workbench:
    """One exercise, prepared once: the grader's view of it and the notebook's set-up."""

    def __init__(self, assignment: str):
        from minigpt.grading.assignment import prepare, solution_code

        self.assignment = assignment
        source_path = next((ROOT / "solutions" / assignment).glob("*.ipynb"))
        source = nbformat.read(source_path, as_version=4)
        self.released = nbformat.read(ROOT / "exercises" / assignment / source_path.name, 4)
        self.graded = prepare(assignment, source, self.released, source_path.name)
        self.answers = {
            _grading(c)["grade_id"]: solution_code(c.source)
            for c in source.cells
            if _grading(c).get("solution")
        }
        self.tests = {
            _grading(c)["grade_id"]: c.source
            for c in self.released.cells
            if _grading(c).get("grade")
        }
        self.base: dict = {"__name__": "__main__"}
        for cell in self.released.cells:
            if _grading(cell).get("solution"):
                break
            if cell.cell_type == "code":
                self._run(cell.source, self.base, f"<preamble {cell.get('id')}>")
        self._count = 0

    def _run(self, source: str, namespace: dict, label: str) -> None:
        linecache.cache[label] = (len(source), None, source.splitlines(True), label)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            exec(compile(source, label, "exec"), namespace)

    def namespace(self, replaced: dict[str, str]) -> dict:
        """The notebook after its answers ran, `replaced` ones (grade_id -> source) swapped in."""
        from minigpt.feedback import Exercise

        namespace = dict(self.base)
        namespace["exercise"] = Exercise(self.assignment, namespace)
        for grade_id, source in self.answers.items():
            self._count += 1
            with contextlib.suppress(Exception):  # a wrong answer may fail as it is defined
                self._run(replaced.get(grade_id, source), namespace, f"<answer {self._count}>")
        return namespace

    def visible(self, namespace: dict, grade_id: str) -> str | None:
        """The student's view: the released test cell's message, or None when it passes."""
        from minigpt.checks import ExerciseCheckFailed

        task = self.graded.tasks[grade_id]
        try:
            self._run(self.tests[task.test_id], namespace, f"<test {task.test_id}>")
        except ExerciseCheckFailed as failure:
            return str(failure)
        except Exception as error:  # the test cell itself broke: a failure too
            return f"{type(error).__name__}: {error}"
        return None

    def graded_verdict(self, namespace: dict, grade_id: str, source: str):
        """The grader's view: probes on the collected cases, judged by the grader's judge."""
        from minigpt.probes.run import run_cases

        task = self.graded.tasks[grade_id]
        scope = dict(namespace)
        for piece in self.graded.pieces(task):
            self._run(piece, scope, f"<piece of {grade_id}>")
        pieces = {name: scope[name] for name in task.spec.pieces if name in scope}
        with contextlib.redirect_stdout(io.StringIO()):
            records = run_cases(task.spec, namespace, task.plain, pieces)
        return self.graded.judge(task, records, source)

    def measure(self, variant: Variant) -> Outcome:
        namespace = self.namespace({variant.grade_id: variant.source})
        own = self.graded.tasks[variant.grade_id]
        outcome = Outcome(variant, own.points, self.visible(namespace, variant.grade_id), None)
        for grade_id, task in self.graded.tasks.items():
            source = variant.source if grade_id == variant.grade_id else self.answers[grade_id]
            verdict = self.graded_verdict(namespace, grade_id, source)
            if grade_id == variant.grade_id:
                outcome.graded_message = None if verdict.passed else verdict.message
            elif not verdict.passed:
                outcome.lost_elsewhere[grade_id] = task.points
        return outcome


def measure(assignment: str, variants: list[Variant] | None = None) -> list[Outcome]:
    """Outcomes of `variants` (all catalogued ones by default) in quick (grading) mode."""
    os.environ.setdefault("NBGRADER_EXECUTION", "validate")
    bench = Workbench(assignment)
    return [bench.measure(v) for v in variants or catalogued_variants(assignment)]


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
        outcomes = measure(assignment)
        print(summary(assignment, outcomes), flush=True)
        for o in outcomes:
            wrong = (o.variant.kind == "mistake" and (not o.named or o.lost_elsewhere)) or (
                o.variant.kind == "alternative" and o.points_lost
            )
            if wrong:
                print(
                    f"    {o.variant.grade_id} / {o.variant.kind} {o.variant.name}: "
                    f"named={o.named} elsewhere={o.lost_elsewhere}\n"
                    f"      student sees: {o.visible_message}\n"
                    f"      grader says: {o.graded_message}",
                    file=sys.stderr,
                )


if __name__ == "__main__":
    main(sys.argv[1:])
