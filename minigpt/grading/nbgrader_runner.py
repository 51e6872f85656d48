"""Run nbgrader for one student at a time, in a child process with time and memory limits.

Student code is untrusted: it may loop forever, allocate all memory or kill its own kernel.
Each `nbgrader autograde` runs alone for one student, so nothing a notebook does can stop the
others. A startup hook in the kernel records which cell is running; when a cell kills the
kernel, that cell is disabled and the notebook graded again, so the rest still earns points.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

TRACE_ENV = "MINIGPT_GRADING_TRACE"
TRACE_HOOK = f'''\
import os


def _record(info):
    with open(os.environ["{TRACE_ENV}"], "w", encoding="utf-8") as trace:
        trace.write(info.raw_cell)


get_ipython().events.register("pre_run_cell", _record)
'''
DISABLED_CELL = (
    'raise RuntimeError("minigpt grade: this cell stopped the Python kernel (os._exit, a crash '
    'or too much memory), so it was not run while grading")\n'
)
MAX_RESCUES = 3


class GradingSetupError(RuntimeError):
    """The course itself cannot be graded (missing assignment, nbgrader not installed...)."""


@dataclass
class Attempt:
    returncode: int
    log: str
    killed: bool  # ran past the whole-notebook limit
    last_cell: str | None  # source of the cell running when it ended


@dataclass
class Outcome:
    flags: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)


class Course:
    """An nbgrader course folder: solutions/ in, gradebook.db and autograded/ out."""

    def __init__(self, root: Path, assignment: str, cell_timeout: int = 60, memory_gb: float = 4.0):
        self.root = root.resolve()
        self.assignment = assignment
        self.cell_timeout = cell_timeout
        self.memory_bytes = int(memory_gb * 1024**3)
        self.db_url = f"sqlite:///{self.root / 'gradebook.db'}?timeout=120"
        self.lock = threading.Lock()  # gradebook edits from this process, one at a time
        self.scratch = Path(tempfile.mkdtemp(prefix="minigpt-grade-"))
        self._ipython_dir = self.scratch / "ipython"
        startup = self._ipython_dir / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "00-minigpt-trace.py").write_text(TRACE_HOOK)

    # -- set-up ---------------------------------------------------------------------------

    def source_notebook(self) -> Path:
        notebooks = sorted((self.root / "solutions" / self.assignment).glob("*.ipynb"))
        if len(notebooks) != 1:
            raise GradingSetupError(
                f"expected one notebook in {self.root / 'solutions' / self.assignment}, "
                f"found {len(notebooks)}; is --course the course folder?"
            )
        return notebooks[0]

    def _env(self, trace: Path | None = None) -> dict[str, str]:
        env = dict(os.environ)
        # nbgrader shells out to alembic to create the gradebook: this venv's bin must come first.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["IPYTHONDIR"] = str(self._ipython_dir)
        env.setdefault("OMP_NUM_THREADS", "1")  # several students at once share the cores
        env.setdefault("MPLBACKEND", "Agg")
        if trace is not None:
            env[TRACE_ENV] = str(trace)
        return env

    def _nbgrader_command(self, *args: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "nbgrader",
            *args,
            f"--CourseDirectory.root={self.root}",
            f"--CourseDirectory.db_url={self.db_url}",
        ]

    def _nbgrader(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            self._nbgrader_command(*args),
            cwd=self.root,
            env=self._env(),
            capture_output=True,
            text=True,
        )

    def release(self) -> nbformat.NotebookNode:
        """Record the assignment in the gradebook; return the notebook students received."""
        try:
            import nbgrader  # noqa: F401
        except ImportError as err:
            raise GradingSetupError(
                'grading needs nbgrader: pip install "minigpt[grading]"'
            ) from err
        source = self.source_notebook()
        release_dir = self.scratch / "release"
        done = self._nbgrader(
            "generate_assignment",
            self.assignment,
            "--force",
            "--create",
            f"--CourseDirectory.release_directory={release_dir}",
        )
        if done.returncode != 0:
            raise GradingSetupError(
                f"nbgrader generate_assignment failed:\n{done.stdout}{done.stderr}"
            )
        return nbformat.read(release_dir / self.assignment / source.name, as_version=4)

    # -- one student ------------------------------------------------------------------------

    def _paths(self, step: str, student: str) -> Path:
        return self.root / step / student / self.assignment

    def forget(self, student: str) -> None:
        """Remove every trace of an earlier grade, so a regrade cannot keep an old score."""
        from nbgrader.api import Gradebook, MissingEntry

        with self.lock, Gradebook(self.db_url) as gradebook, contextlib.suppress(MissingEntry):
            gradebook.remove_submission(self.assignment, student)
        for step in ("submitted", "autograded", "feedback"):
            shutil.rmtree(self._paths(step, student), ignore_errors=True)

    def record_zero(self, student: str) -> None:
        """A gradebook entry of 0 for a file that cannot be graded at all."""
        from nbgrader.api import Gradebook
        from sqlalchemy.exc import SAWarning

        # nbgrader's own add_submission trips SQLAlchemy autoflush warnings; the rows are fine.
        with self.lock, Gradebook(self.db_url) as gradebook, warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)
            gradebook.update_or_create_student(student)
            submission = gradebook.update_or_create_submission(self.assignment, student)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
            gradebook.db.commit()

    def _attempt(self, student: str, total_seconds: int) -> Attempt:
        """One `nbgrader autograde` in its own process group, under the memory limit; past
        `total_seconds` the whole group (nbgrader and the kernel) is killed."""
        trace = self.scratch / f"{student}.trace"
        trace.unlink(missing_ok=True)
        command = [
            sys.executable,
            "-m",
            "minigpt.grading.limits",
            str(self.memory_bytes),
            *self._nbgrader_command(
                "autograde",
                self.assignment,
                f"--student={student}",
                "--force",
                f"--Execute.timeout={self.cell_timeout}",
            ),
        ]
        with subprocess.Popen(
            command,
            cwd=self.root,
            env=self._env(trace),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        ) as process:
            try:
                log, _ = process.communicate(timeout=total_seconds)
                attempt = Attempt(process.returncode, log, False, None)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                log, _ = process.communicate()
                attempt = Attempt(-9, log, True, None)
        if trace.exists():
            attempt.last_cell = trace.read_text(encoding="utf-8")
        return attempt

    def grade(self, student: str, notebook: nbformat.NotebookNode, name: str) -> Outcome:
        """Autograde one student's repaired notebook; the score lands in the gradebook."""
        outcome = Outcome()
        target = self._paths("submitted", student) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        code_cells = sum(cell.cell_type == "code" for cell in notebook.cells)
        total_seconds = self.cell_timeout * (code_cells + 2) + 120
        for _ in range(MAX_RESCUES + 1):
            nbformat.write(notebook, target)
            attempt = self._attempt(student, total_seconds)
            if attempt.returncode == 0:
                break
            culprit = _find_cell(notebook, attempt.last_cell)
            if culprit is None:
                # Also when a test cell kills the kernel: tests are restored, not disabled.
                outcome.flags.add("error")
                outcome.notes.append(
                    "nbgrader could not grade this notebook: " + _tail(attempt.log)
                )
                break
            why = "ran past the time limit" if attempt.killed else "stopped the kernel"
            outcome.flags.add("timed out" if attempt.killed else "crashed")
            outcome.notes.append(f"a cell {why} and was disabled: {_first_line(culprit.source)}")
            culprit.source = DISABLED_CELL
        else:
            outcome.flags.add("error")
            outcome.notes.append(f"gave up after disabling {MAX_RESCUES} cells")
        if _has_timeouts(self._paths("autograded", student) / name):
            outcome.flags.add("timed out")
            outcome.notes.append(f"a cell ran past {self.cell_timeout} s and was interrupted")
        return outcome

    def feedback(self) -> str:
        """Write feedback/<student>/<assignment>/*.html for everyone graded; returns any error."""
        done = self._nbgrader("generate_feedback", self.assignment, "--force")
        return "" if done.returncode == 0 else _tail(done.stdout + done.stderr)

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

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)


def _find_cell(notebook: nbformat.NotebookNode, source: str | None):
    if source is None:
        return None
    return next(
        (c for c in notebook.cells if c.cell_type == "code" and c.source.strip() == source.strip()),
        None,
    )


def _has_timeouts(path: Path) -> bool:
    if not path.exists():
        return False
    nb = nbformat.read(path, as_version=4)
    return any(
        output.get("ename") == "CellTimeoutError"
        for cell in nb.cells
        for output in cell.get("outputs", [])
    )


def _first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "(empty)")[:80]


def _tail(log: str, lines: int = 5) -> str:
    return " | ".join(line.strip() for line in log.strip().splitlines()[-lines:])
