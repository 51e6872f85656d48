"""The instructor's course folder: the assignment as nbgrader knows it, and where grades go.

nbgrader's gradebook stays the record of every grade, so its own tools (formgrader, `nbgrader
export`) keep working: the assignment is generated into it once per class, and each student's
points (decided by the grader, see `assignment`) are written into it by this process alone,
after that student's sandbox is gone, with any earlier grade removed first. The submitted file,
the graded notebook and the feedback page go where nbgrader keeps them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import nbformat


class GradingSetupError(RuntimeError):
    """The course itself cannot be graded (missing assignment, nbgrader not installed...)."""


class Course:
    """A course folder: solutions/ in; gradebook.db, submitted/, autograded/, feedback/ out."""

    def __init__(self, root: Path, assignment: str):
        self.root = root.resolve()
        self.assignment = assignment
        self.db_url = f"sqlite:///{self.root / 'gradebook.db'}?timeout=120"
        self.lock = threading.Lock()  # gradebook edits from this process, one at a time

    def source_notebook(self) -> Path:
        notebooks = sorted((self.root / "solutions" / self.assignment).glob("*.ipynb"))
        if len(notebooks) != 1:
            raise GradingSetupError(
                f"expected one notebook in {self.root / 'solutions' / self.assignment}, "
                f"found {len(notebooks)}; is --course the course folder?"
            )
        return notebooks[0]

    def release(self, scratch: Path) -> nbformat.NotebookNode:
        """The student version nbgrader makes from solutions/; the gradebook learns the
        assignment and its graded cells on the way."""
        try:
            import nbgrader  # noqa: F401
        except ImportError as err:
            raise GradingSetupError(
                'nbgrader is not installed: pip install "minigpt[grading]"'
            ) from err
        env = dict(os.environ)
        # nbgrader shells out to alembic to create the gradebook: this venv's bin must come first.
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "nbgrader",
                "generate_assignment",
                self.assignment,
                "--force",
                "--create",
                f"--CourseDirectory.root={self.root}",
                f"--CourseDirectory.db_url={self.db_url}",
                f"--CourseDirectory.release_directory={scratch / 'release'}",
            ],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise GradingSetupError(
                f"nbgrader generate_assignment failed:\n{done.stdout}{done.stderr}"
            )
        released = scratch / "release" / self.assignment / self.source_notebook().name
        return nbformat.read(released, as_version=4)

    def _folder(self, step: str, student: str) -> Path:
        return self.root / step / student / self.assignment

    def forget(self, student: str) -> None:
        """Remove every trace of an earlier grade, so a regrade cannot keep an old score."""
        from nbgrader.api import Gradebook, MissingEntry

        with self.lock, Gradebook(self.db_url) as gradebook, contextlib.suppress(MissingEntry):
            gradebook.remove_submission(self.assignment, student)
        for step in ("submitted", "autograded", "feedback"):
            shutil.rmtree(self._folder(step, student), ignore_errors=True)

    def record(self, student: str, points: dict[str, float] | None = None) -> None:
        """Write each graded cell's points (by its grade_id; missing ones count 0)."""
        from nbgrader.api import Gradebook
        from sqlalchemy.exc import SAWarning

        points = points or {}
        # nbgrader's own add_submission trips SQLAlchemy autoflush warnings; the rows are fine.
        with self.lock, Gradebook(self.db_url) as gradebook, warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)
            gradebook.update_or_create_student(student)
            submission = gradebook.update_or_create_submission(self.assignment, student)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = points.get(grade.name, 0.0)
                    grade.manual_score = None
                    grade.needs_manual_grade = False
            gradebook.db.commit()

    def publish(
        self,
        student: str,
        name: str,
        submitted: bytes | None,
        graded: nbformat.NotebookNode | None,
        feedback: str | None,
    ) -> None:
        """The submitted file, the graded notebook and the feedback page, where nbgrader keeps
        them (written by the grader's own process, from data it holds)."""
        if submitted is not None:
            target = self._folder("submitted", student)
            target.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(submitted)
        if graded is not None:
            target = self._folder("autograded", student)
            target.mkdir(parents=True, exist_ok=True)
            nbformat.write(graded, target / name)
        if feedback is not None:
            target = self._folder("feedback", student)
            target.mkdir(parents=True, exist_ok=True)
            (target / Path(name).with_suffix(".html").name).write_text(
                feedback, encoding="utf-8", errors="replace"
            )

    def scores(self, students: list[str]) -> dict[str, tuple[float, float, bool]]:
        """(score, max score, needs manual grade) of each student, read from the gradebook."""
        from nbgrader.api import Gradebook, MissingEntry

        found = {}
        with self.lock, Gradebook(self.db_url) as gradebook:
            for student in students:
                try:
                    submission = gradebook.find_submission(self.assignment, student)
                except MissingEntry:
                    continue
                found[student] = (
                    submission.score,
                    submission.max_score,
                    submission.needs_manual_grade,
                )
        return found
