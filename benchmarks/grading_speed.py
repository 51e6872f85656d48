"""How fast `minigpt grade` is: one submission per assignment, and a class of 30 for chapter 1.

Goals (issues 15 and 16): one notebook grades in < 15 s on 2 cores, everything included (the
class set-up: nbgrader's generate_assignment, collecting the cases, the sandbox's copy of
minigpt); a class of 30 chapter-1 notebooks in < 90 s on 2 cores, each student in the bubblewrap
sandbox. The class mixes perfect, blank and broken submissions (a Colab copy without metadata, a
file that is not JSON), as real classes do. The same class and one notebook are also graded with
--no-sandbox: the difference is what the isolation costs.
"""

from __future__ import annotations

import copy
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from common import save

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import course  # noqa: E402  (tools/course.py)

from minigpt.grading.batch import Options, grade_class  # noqa: E402


def course_copy(where: Path) -> Path:
    root = where / "course"
    shutil.copytree(ROOT / "solutions", root / "solutions")
    shutil.copy(ROOT / "nbgrader_config.py", root)
    return root


def write(nb: nbformat.NotebookNode, path: Path) -> None:
    path.write_text(nbformat.writes(nb), encoding="utf-8")


def class_of_30(folder: Path, assignment: str) -> None:
    folder.mkdir()
    solved = course.solved_exercise(assignment)
    blank = nbformat.read(next((ROOT / "exercises" / assignment).glob("*.ipynb")), as_version=4)
    for i in range(30):
        path = folder / f"student{i:02d}_{assignment}.ipynb"
        if i % 10 == 7:
            path.write_text("{ truncated download")
        elif i % 10 == 8:
            write(blank, path)
        elif i % 10 == 9:
            colab = copy.deepcopy(solved)
            for cell in colab.cells:
                cell.pop("id", None)
                cell.metadata.pop("nbgrader", None)
            colab.nbformat_minor = 0
            path.write_text(nbformat.writes(colab, version=4), encoding="utf-8")
        else:
            write(solved, path)


def timed_batch(
    root: Path, assignment: str, folder: Path, sandboxed: bool = True
) -> tuple[float, list]:
    began = time.perf_counter()
    rows = grade_class(root, assignment, folder, Options(sandboxed=sandboxed), log=lambda _: None)
    return time.perf_counter() - began, rows


def main() -> None:
    figures = {}
    with tempfile.TemporaryDirectory() as scratch:
        root = course_copy(Path(scratch))
        for assignment in course.assignments():
            folder = Path(scratch) / f"one-{assignment}"
            folder.mkdir()
            write(course.solved_exercise(assignment), folder / f"ada_{assignment}.ipynb")
            seconds, rows = timed_batch(root, assignment, folder)
            row = rows[0]
            figures[f"{assignment}: one submission (s, goal < 15)"] = round(seconds, 1)
            figures[f"{assignment}: its score"] = (
                f"{row.score:g}/{row.max_score:g} {sorted(row.flags)}"
            )
        seconds, _ = timed_batch(root, "01-bigrams", Path(scratch) / "one-01-bigrams", False)
        figures["01-bigrams: one submission without the sandbox (s)"] = round(seconds, 1)
        folder = Path(scratch) / "class"
        class_of_30(folder, "01-bigrams")
        for sandboxed, label in ((True, "sandboxed"), (False, "without the sandbox")):
            seconds, rows = timed_batch(root, "01-bigrams", folder, sandboxed)
            figures[f"01-bigrams: class of 30, 2 at a time, {label} (s, goal < 90)"] = round(
                seconds, 1
            )
            flagged = sum(1 for row in rows if row.flags - {"unsandboxed"})
            full = sum(1 for row in rows if row.score == row.max_score)
            figures[f"01-bigrams: class of 30, {label}, full marks / flagged"] = (
                f"{full} / {flagged}"
            )
    save(
        "grading_speed",
        figures,
        "Each run includes the class set-up (nbgrader generate_assignment into the gradebook, "
        "the cases collected from the instructor's notebook and minigpt's reference run on them, "
        "the sandbox's copy of minigpt), a sandbox per student, and its feedback page.",
    )


if __name__ == "__main__":
    main()
