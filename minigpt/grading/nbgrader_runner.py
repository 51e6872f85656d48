"""Run nbgrader for one student at a time, each in a scratch course of its own, kernel sandboxed.

Student code is hostile. For every student the grader builds a scratch course that holds only
that student's notebook and a fresh copy of a gradebook with the assignment's cells, runs
`nbgrader autograde` there (trusted, outside the sandbox) with the kernel inside bubblewrap (see
`sandbox`), and only afterwards, with every process the student started gone, copies the scores,
the graded notebook and the feedback into the real course. Nothing a notebook does can reach
another student's grade, the gradebook or solutions/.

When a cell kills the kernel or runs past the whole-notebook limit, the grader's own trace (see
`traced_execute`) names it; that cell is disabled and the notebook graded again, so the rest
still earns points.
"""

from __future__ import annotations

import contextlib
import itertools
import json
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

from minigpt.data import DataError, fetch_shakespeare
from minigpt.grading.sandbox import Policy, check_sandbox, kernel_spec, read_only_paths
from minigpt.grading.traced_execute import TRACE_ENV

DISABLED_CELL = (
    'raise RuntimeError("minigpt grade: this cell stopped the Python kernel (os._exit, a crash '
    'or too much memory), so it was not run while grading")\n'
)
MAX_RESCUES = 3
COURSE_ID = "minigpt-course"
SCRATCH_CONFIG = """\
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course_id!r}
c.Execute.timeout = {timeout}
c.Execute.interrupt_on_timeout = True
c.KernelManager.transport = "ipc"
c.KernelManager.ip = {ip!r}
c.KernelManager.connection_file = {connection!r}
c.Autograde.autograde_preprocessors = [
    "minigpt.grading.traced_execute.TracedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
"""


class GradingSetupError(RuntimeError):
    """The course itself cannot be graded (missing assignment, nbgrader not installed...)."""


@dataclass
class Run:
    """One autograde of one notebook in its own scratch course, and what the grader saw."""

    folder: Path
    student: str
    name: str
    flags: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    grades: dict[str, tuple[float, float]] = field(default_factory=dict)  # grade_id -> points
    findings: list[str] = field(default_factory=list)  # the guard's lines, as sent
    finished: list[str] = field(default_factory=list)  # ids of the cells that ran to the end

    @property
    def course(self) -> Path:
        return self.folder / "course"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.course / 'gradebook.db'}"

    def path(self, step: str) -> Path:
        return self.course / step / self.student

    @property
    def score(self) -> float:
        return sum(score for score, _ in self.grades.values())


@dataclass
class Attempt:
    returncode: int
    log: str
    killed: bool  # ran past the whole-notebook limit
    culprit: str | None  # id of the cell that was running when it ended


class Course:
    """An nbgrader course folder: solutions/ in, gradebook.db, autograded/ and feedback/ out."""

    def __init__(
        self,
        root: Path,
        assignment: str,
        cell_timeout: int = 60,
        memory_gb: float = 4.0,
        sandboxed: bool = True,
    ):
        self.root = root.resolve()
        self.assignment = assignment
        self.cell_timeout = cell_timeout
        self.memory_bytes = int(memory_gb * 1024**3)
        self.sandboxed = sandboxed
        self.db_url = f"sqlite:///{self.root / 'gradebook.db'}?timeout=120"
        self.lock = threading.Lock()  # real-gradebook edits from this process, one at a time
        self.scratch = Path(tempfile.mkdtemp(prefix="minigpt-grade-"))
        self.template = self.scratch / "template.db"
        self.data_dir = Path()  # set by release(), once the data is known to be there
        self._slots = itertools.count()
        if sandboxed:
            check_sandbox()

    # -- set-up ---------------------------------------------------------------------------

    def source_notebook(self) -> Path:
        notebooks = sorted((self.root / "solutions" / self.assignment).glob("*.ipynb"))
        if len(notebooks) != 1:
            raise GradingSetupError(
                f"expected one notebook in {self.root / 'solutions' / self.assignment}, "
                f"found {len(notebooks)}; is --course the course folder?"
            )
        return notebooks[0]

    def _env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        # nbgrader shells out to alembic to create the gradebook: this venv's bin must come first.
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env.setdefault("OMP_NUM_THREADS", "1")  # several students at once share the cores
        env.setdefault("MPLBACKEND", "Agg")
        env.update(extra)
        return env

    def _nbgrader(self, *args: str, cwd: Path, db_url: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "nbgrader",
            *args,
            f"--CourseDirectory.root={cwd}",
            f"--CourseDirectory.db_url={db_url}",
        ]

    def _run_nbgrader(self, *args: str, cwd: Path, db_url: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            self._nbgrader(*args, cwd=cwd, db_url=db_url),
            cwd=cwd,
            env=self._env(),
            capture_output=True,
            text=True,
        )

    def release(self) -> nbformat.NotebookNode:
        """The student version nbgrader makes from solutions/, as the grader compares with it.

        The real gradebook learns the assignment; a template gradebook with the same cells is
        what each student's scratch course starts from."""
        try:
            import nbgrader  # noqa: F401
        except ImportError as err:
            raise GradingSetupError(
                'nbgrader is not installed: pip install "minigpt[grading]"'
            ) from err
        source = self.source_notebook()
        try:  # the notebooks read it, and the sandbox has no network to download it
            self.data_dir = fetch_shakespeare().parent
        except DataError as err:
            raise GradingSetupError(f"the notebooks need Tiny Shakespeare: {err}") from err
        release_dir = self.scratch / "release"
        for db_url in (self.db_url, f"sqlite:///{self.template}"):
            done = self._run_nbgrader(
                "generate_assignment",
                self.assignment,
                "--force",
                "--create",
                f"--CourseDirectory.release_directory={release_dir}",
                cwd=self.root,
                db_url=db_url,
            )
            if done.returncode != 0:
                raise GradingSetupError(
                    f"nbgrader generate_assignment failed:\n{done.stdout}{done.stderr}"
                )
        return nbformat.read(release_dir / self.assignment / source.name, as_version=4)

    # -- the real gradebook -------------------------------------------------------------------

    def _real(self, step: str, student: str) -> Path:
        return self.root / step / student / self.assignment

    def forget(self, student: str) -> None:
        """Remove every trace of an earlier grade, so a regrade cannot keep an old score."""
        from nbgrader.api import Gradebook, MissingEntry

        with self.lock, Gradebook(self.db_url) as gradebook, contextlib.suppress(MissingEntry):
            gradebook.remove_submission(self.assignment, student)
        for step in ("submitted", "autograded", "feedback"):
            shutil.rmtree(self._real(step, student), ignore_errors=True)

    def record(self, student: str, grades: dict[str, tuple[float, float]] | None = None) -> None:
        """Write `grades` (grade_id -> points; missing ones count 0) into the real gradebook."""
        from nbgrader.api import Gradebook
        from sqlalchemy.exc import SAWarning

        grades = grades or {}
        # nbgrader's own add_submission trips SQLAlchemy autoflush warnings; the rows are fine.
        with self.lock, Gradebook(self.db_url) as gradebook, warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)
            gradebook.update_or_create_student(student)
            submission = gradebook.update_or_create_submission(self.assignment, student)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = grades.get(grade.name, (0.0, 0.0))[0]
                    grade.manual_score = None
                    grade.needs_manual_grade = False
            gradebook.db.commit()

    def publish(self, run: Run) -> None:
        """Copy a finished run's scores, graded notebook and feedback into the real course."""
        self.record(run.student, run.grades)
        for step in ("submitted", "autograded", "feedback"):
            source = run.path(step) / self.assignment
            target = self._real(step, run.student)
            shutil.rmtree(target, ignore_errors=True)
            if source.is_dir():
                shutil.copytree(source, target, symlinks=True)

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

    # -- one student, in a scratch course ------------------------------------------------------

    def _new_run(self, student: str, name: str) -> Run:
        run = Run(self.scratch / f"run-{next(self._slots):04d}", student, name)
        (run.course / "submitted" / student / self.assignment).mkdir(parents=True)
        shutil.copy(self.template, run.course / "gradebook.db")
        (run.course / "nbgrader_config.py").write_text(
            SCRATCH_CONFIG.format(
                course_id=COURSE_ID,
                timeout=self.cell_timeout,
                ip=str(run.folder / "runtime" / "kernel"),
                connection=str(run.folder / "runtime" / "kernel.json"),
            )
        )
        kernels = run.folder / "jupyter" / "kernels" / "python3"
        kernels.mkdir(parents=True)
        for folder in ("runtime", "config", "work"):
            (run.folder / folder).mkdir()
        policy = Policy(
            work=str(run.folder / "work"),
            runtime=str(run.folder / "runtime"),
            read_only=read_only_paths(str(self.data_dir)),
            data_dir=str(self.data_dir),
            findings=str(run.folder / "findings.log"),
            memory_bytes=self.memory_bytes,
            sandboxed=self.sandboxed,
        )
        policy.save(run.folder / "policy.json")
        (kernels / "kernel.json").write_text(json.dumps(kernel_spec(run.folder / "policy.json")))
        return run

    def _attempt(self, run: Run, total_seconds: int) -> Attempt:
        """One `nbgrader autograde` in its own process group; past `total_seconds` the whole
        group (nbgrader, the launcher and the sandbox) is killed."""
        trace = run.folder / "trace.log"
        trace.unlink(missing_ok=True)
        env = self._env(
            JUPYTER_PATH=str(run.folder / "jupyter"),
            JUPYTER_RUNTIME_DIR=str(run.folder / "runtime"),
            JUPYTER_CONFIG_DIR=str(run.folder / "config"),
            JUPYTER_DATA_DIR=str(run.folder / "jupyter"),
            **{TRACE_ENV: str(trace)},
        )
        command = self._nbgrader(
            "autograde",
            self.assignment,
            f"--student={run.student}",
            "--force",
            cwd=run.course,
            db_url=run.db_url,
        )
        with subprocess.Popen(
            command,
            cwd=run.course,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        ) as process:
            try:
                log, _ = process.communicate(timeout=total_seconds)
                killed = False
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                log, _ = process.communicate()
                killed = True
        started, run.finished = _read_trace(trace)
        culprit = started[-1] if started and started[-1] not in run.finished else None
        return Attempt(-9 if killed else process.returncode, log, killed, culprit)

    def autograde(
        self, student: str, notebook: nbformat.NotebookNode, name: str, answers: set[str]
    ) -> Run:
        """Autograde one student's repaired notebook in a fresh scratch course.

        `answers` are the ids of the answer cells: when a test cell stops the kernel while it
        runs the student's code, the answer just before it is the one disabled."""
        run = self._new_run(student, name)
        target = run.path("submitted") / self.assignment / name
        code_cells = sum(cell.cell_type == "code" for cell in notebook.cells)
        total_seconds = self.cell_timeout * (code_cells + 2) + 120
        for _ in range(MAX_RESCUES + 1):
            nbformat.write(notebook, target)
            attempt = self._attempt(run, total_seconds)
            if attempt.returncode == 0:
                break
            culprit = _blame(notebook, attempt.culprit, answers)
            if culprit is None:
                run.flags.add("error")
                run.notes.append("nbgrader could not grade this notebook: " + _tail(attempt.log))
                break
            why = "ran past the time limit" if attempt.killed else "stopped the kernel"
            run.flags.add("timed out" if attempt.killed else "crashed")
            run.notes.append(f"a cell {why} and was disabled: {_first_line(culprit.source)}")
            culprit.source = DISABLED_CELL
        else:
            run.flags.add("error")
            run.notes.append(f"gave up after disabling {MAX_RESCUES} cells")
        findings = run.folder / "findings.log"
        if findings.exists():
            run.findings = findings.read_text(encoding="utf-8", errors="replace").splitlines()
        path = run.path("autograded") / self.assignment / name
        graded = nbformat.read(path, as_version=4) if path.exists() else None
        if graded is not None:
            _flag_outputs(graded, run, self.cell_timeout)
        if "error" not in run.flags:
            run.grades = self._grades(run)
            if graded is not None:
                self._feedback(run, graded)
        return run

    def _grades(self, run: Run) -> dict[str, tuple[float, float]]:
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(run.db_url) as gradebook:
            try:
                submission = gradebook.find_submission(self.assignment, run.student)
            except MissingEntry:
                return {}
            return {
                grade.name: (grade.score, grade.max_score)
                for notebook in submission.notebooks
                for grade in notebook.grades
            }

    def _feedback(self, run: Run, graded: nbformat.NotebookNode) -> None:
        """Feedback HTML from the graded notebook without hidden tests or tracebacks."""
        from nbgrader.preprocessors import ClearHiddenTests

        shown = run.course / "shown"
        nb, _ = ClearHiddenTests().preprocess(graded, {})
        for cell in nb.cells:
            if (cell.metadata.get("nbgrader") or {}).get("grade") and cell.cell_type == "code":
                for output in cell.get("outputs", []):
                    if output.get("output_type") == "error":
                        output["traceback"] = [f"{output['ename']}: {output['evalue']}"]
        target = shown / run.student / self.assignment / run.name
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
        done = self._run_nbgrader(
            "generate_feedback",
            self.assignment,
            f"--student={run.student}",
            "--force",
            f"--CourseDirectory.autograded_directory={shown.name}",
            cwd=run.course,
            db_url=run.db_url,
        )
        if done.returncode != 0:
            run.notes.append("feedback could not be written: " + _tail(done.stdout + done.stderr))

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)


def _read_trace(trace: Path) -> tuple[list[str], list[str]]:
    started, finished = [], []
    if trace.exists():
        for line in trace.read_text(encoding="utf-8").splitlines():
            event, _, cell_id = line.partition("\t")
            (started if event == "run" else finished).append(cell_id)
    return started, finished


def _blame(notebook: nbformat.NotebookNode, cell_id: str | None, answers: set[str]):
    """The cell to disable: the one that was running, or, for a test, the answer it tests."""
    if cell_id is None:
        return None
    index = next((i for i, c in enumerate(notebook.cells) if c.get("id") == cell_id), None)
    if index is None:
        return None
    cell = notebook.cells[index]
    if not (cell.metadata.get("nbgrader") or {}).get("grade"):
        return cell
    return next(
        (c for c in reversed(notebook.cells[:index]) if c.get("id") in answers),
        None,
    )


def _flag_outputs(nb: nbformat.NotebookNode, run: Run, cell_timeout: int) -> None:
    """What the graded notebook's errors say about the run: timeouts, exits, memory."""
    names = {
        output.get("ename")
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    }
    if "CellTimeoutError" in names:
        run.flags.add("timed out")
        run.notes.append(f"a cell ran past {cell_timeout} s and was interrupted")
    if "SystemExit" in names:
        run.flags.add("exited")
        run.notes.append("a cell called exit() or sys.exit(): SystemExit")
    if "MemoryError" in names:
        run.flags.add("out of memory")
        run.notes.append("a cell ran out of memory (MemoryError)")


def _first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "(empty)")[:80]


def _tail(log: str, lines: int = 5) -> str:
    return " | ".join(line.strip() for line in log.strip().splitlines()[-lines:])
