"""What grading found for each student: the record that the CSV, the report and exports read."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TaskResult:
    """One graded test cell of one student: its points and, when it failed, why."""

    grade_id: str
    score: float
    max_score: float
    message: str = ""  # the failure's last line as the student saw it; empty when it passed

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score


@dataclass
class Row:
    """One student's grade, flags and notes, and the per-task detail behind them."""

    student: str
    origin: str  # the submitted file, as the instructor would recognise it
    score: float | None = None
    max_score: float | None = None
    flags: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    tasks: list[TaskResult] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)  # answer grade_id -> submitted source
