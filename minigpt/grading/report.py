"""The class report: what the class got right and wrong, as one HTML file and as plain text.

The HTML page is self-contained (plots are embedded PNGs, no scripts, no fonts or styles from
elsewhere), so it opens offline and can be mailed. Everything a student wrote or named (names,
file names, messages, code) is escaped, and the page's Content-Security-Policy forbids scripts
as a second line of defence: a submission is hostile input.
"""

from __future__ import annotations

import base64
import html
import io
import re
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from minigpt.grading.results import Row
from minigpt.grading.similarity import SimilarGroup, SimilarPair, groups

TOP_MESSAGES = 5  # failure messages shown per task
SHOWN_ANSWERS = 4  # answers shown side by side for one group of similar answers
HARMLESS_FLAGS = {"repaired"}  # nothing to do: the grade is right
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", re.IGNORECASE)


@dataclass
class MessageCount:
    message: str  # the most frequent wording of the group
    students: int
    wordings: int  # how many different wordings (numbers differ) were grouped


@dataclass
class TaskSummary:
    grade_id: str
    max_score: float
    graded: int
    passed: int
    mean_score: float
    messages: list[MessageCount]

    @property
    def pass_rate(self) -> float:
        return self.passed / self.graded if self.graded else 0.0


def task_summaries(rows: Sequence[Row]) -> list[TaskSummary]:
    """Pass rate, mean points and the commonest failures of every task, in notebook order.

    Messages that differ only in their numbers ("got 0.31" and "got 0.47") count as one.
    """
    order: list[str] = []
    by_task: dict[str, list] = {}
    for row in rows:
        for task in row.tasks:
            if task.grade_id not in by_task:
                order.append(task.grade_id)
                by_task[task.grade_id] = []
            by_task[task.grade_id].append(task)
    summaries = []
    for grade_id in order:
        tasks = by_task[grade_id]
        groups: dict[str, Counter] = {}
        for task in tasks:
            if not task.passed:
                groups.setdefault(NUMBER.sub("#", task.message), Counter())[task.message] += 1
        messages = [
            MessageCount(wordings.most_common(1)[0][0], sum(wordings.values()), len(wordings))
            for wordings in groups.values()
        ]
        messages.sort(key=lambda m: (-m.students, m.message))
        summaries.append(
            TaskSummary(
                grade_id,
                max(t.max_score for t in tasks),
                len(tasks),
                sum(t.passed for t in tasks),
                statistics.fmean(t.score for t in tasks),
                messages[:TOP_MESSAGES],
            )
        )
    return summaries


def _scored(rows: Sequence[Row]) -> list[Row]:
    return [row for row in rows if row.score is not None]


def needs_a_look(rows: Sequence[Row]) -> list[Row]:
    return [row for row in rows if row.flags - HARMLESS_FLAGS]


def _score_line(rows: Sequence[Row]) -> str:
    scored = _scored(rows)
    if not scored:
        return f"{len(rows)} submission(s), none with a score"
    scores = [row.score for row in scored]
    top = max(row.max_score or 0 for row in scored)
    return (
        f"{len(rows)} submission(s), {len(scored)} scored out of {top:g}: "
        f"mean {statistics.fmean(scores):.2f}, median {statistics.median(scores):g}, "
        f"lowest {min(scores):g}, highest {max(scores):g}"
    )


def _histogram_bins(rows: Sequence[Row]) -> list[tuple[float, int]]:
    """Students per whole point (scores rounded down), from 0 to the maximum."""
    scored = _scored(rows)
    top = int(max((row.max_score or 0 for row in scored), default=0))
    counts = Counter(min(int(row.score), top) for row in scored)
    return [(points, counts.get(points, 0)) for points in range(top + 1)]


def _group_line(group: SimilarGroup) -> str:
    alike = (
        f"{group.lowest:.0%}"
        if group.lowest == group.highest
        else (f"{group.lowest:.0%} to {group.highest:.0%}")
    )
    return f"{', '.join(group.students)}: {group.grade_id}, {alike} alike"


def class_summary(rows: Sequence[Row], similar: Iterable[SimilarPair] = ()) -> str:
    """The report's figures as plain text, for the end of `minigpt grade`."""
    lines = ["Class: " + _score_line(rows), "", "Scores (students per point):"]
    for points, count in _histogram_bins(rows):
        lines.append(f"  {points:>3g} | {'#' * count} {count if count else ''}".rstrip())
    summaries = task_summaries(rows)
    if summaries:
        width = max(len(s.grade_id) for s in summaries)
        lines += ["", f"{'task':<{width}}  passed        mean points"]
        for s in summaries:
            lines.append(
                f"{s.grade_id:<{width}}  {s.passed:>3}/{s.graded:<3} {s.pass_rate:>4.0%}   "
                f"{s.mean_score:.2f} of {s.max_score:g}"
            )
        for s in summaries:
            if s.messages:
                lines += ["", f"Why {s.grade_id} failed (students):"]
                for m in s.messages:  # the whole message (capped by the judge), indented
                    first, *rest = m.message.splitlines() or [""]
                    lines.append(f"  {m.students:>3}  {first}")
                    lines += [f"       {line}" for line in rest]
    similar_groups = groups(similar)
    if similar_groups:
        lines += ["", "Similar answers (for a human look, not a penalty):"]
        lines += [f"  {_group_line(g)}" for g in similar_groups]
    return "\n".join(lines)


# -- HTML ---------------------------------------------------------------------------------

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #1d1d1f; }
h1 { font-size: 1.6rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid #ddd; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f4f4f6; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font: 13px/1.35 ui-monospace, monospace; }
pre { background: #f7f7f9; padding: .5rem; overflow-x: auto; white-space: pre-wrap; margin: 0; }
img { max-width: 100%; } .muted { color: #666; } .pair { display: flex; gap: .5rem; }
.pair > div { flex: 1; min-width: 0; }
"""
POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="" src="data:image/png;base64,{data}">'


def _figures(rows: Sequence[Row], summaries: list[TaskSummary]) -> str:
    # A bare Figure draws with Agg into memory: no window, no pyplot state, safe on a server.
    from matplotlib.figure import Figure

    parts = []
    bins = _histogram_bins(rows)
    if _scored(rows):
        fig = Figure(figsize=(6.5, 3))
        ax = fig.subplots()
        ax.bar([p for p, _ in bins], [c for _, c in bins], width=0.8, color="#4c72b0")
        ax.set_xlabel("score (points, rounded down)")
        ax.set_ylabel("students")
        ax.set_xticks([p for p, _ in bins])
        ax.yaxis.get_major_locator().set_params(integer=True)
        ax.set_title("Scores")
        parts.append(_png(fig))
    if summaries:
        fig = Figure(figsize=(6.5, 0.45 * len(summaries) + 1))
        ax = fig.subplots()
        names = [s.grade_id for s in summaries][::-1]
        rates = [100 * s.pass_rate for s in summaries][::-1]
        ax.barh(names, rates, color="#55a868")
        for y, rate in enumerate(rates):
            ax.text(min(rate + 1, 92), y, f"{rate:.0f}%", va="center")
        ax.set_xlim(0, 100)
        ax.set_xlabel("students who passed the task (%)")
        ax.set_title("Pass rate per task")
        parts.append(_png(fig))
    return "\n".join(parts)


def _task_table(summaries: list[TaskSummary]) -> str:
    body = "".join(
        f"<tr><td><code>{_e(s.grade_id)}</code></td><td class=num>{s.passed}/{s.graded}</td>"
        f"<td class=num>{s.pass_rate:.0%}</td><td class=num>{s.mean_score:.2f} of {s.max_score:g}"
        "</td></tr>"
        for s in summaries
    )
    return (
        "<table><tr><th>task</th><th>passed</th><th>pass rate</th><th>mean points</th></tr>"
        f"{body}</table>"
    )


def _messages(summaries: list[TaskSummary]) -> str:
    parts = []
    for s in summaries:
        if not s.messages:
            continue
        rows = "".join(
            f"<tr><td class=num>{m.students}</td><td><pre>{_e(m.message)}</pre>"
            + (
                f" <span class=muted>({m.wordings} variants, numbers differ)</span>"
                if m.wordings > 1
                else ""
            )
            + "</td></tr>"
            for m in s.messages
        )
        parts.append(
            f"<h3><code>{_e(s.grade_id)}</code></h3><table><tr><th>students</th>"
            f"<th>message</th></tr>{rows}</table>"
        )
    return "".join(parts) or "<p>No task failed.</p>"


def _flagged(rows: Sequence[Row]) -> str:
    flagged = needs_a_look(rows)
    if not flagged:
        return "<p>No submission needs a look.</p>"
    body = "".join(
        f"<tr><td>{_e(row.student)}<br><span class=muted>{_e(row.origin)}</span></td>"
        f"<td>{_e(', '.join(sorted(row.flags)))}</td>"
        f"<td>{'<br>'.join(_e(note) for note in row.notes)}</td></tr>"
        for row in flagged
    )
    return f"<table><tr><th>student</th><th>flags</th><th>notes</th></tr>{body}</table>"


def _similar(rows: Sequence[Row], found: list[SimilarGroup]) -> str:
    if not found:
        return "<p>No two answers are near-identical.</p>"
    answers = {row.student: row.answers for row in rows}
    parts = [
        "<p>Answers that match after renaming, comments and spacing are taken out, and after "
        "the released stub and the reference solution are set aside. A prompt for a look, "
        "never a penalty: short or standard answers can coincide.</p>"
    ]
    for group in found:
        shown = group.students[:SHOWN_ANSWERS]
        more = group.students[SHOWN_ANSWERS:]
        code = "".join(
            f"<div><b>{_e(s)}</b><pre>{_e(answers.get(s, {}).get(group.grade_id, ''))}</pre></div>"
            for s in shown
        )
        rest = f"<p class=muted>Also: {_e(', '.join(more))}</p>" if more else ""
        parts.append(
            f"<details open><summary>{_e(_group_line(group))}</summary>"
            f'<div class="pair">{code}</div>{rest}</details>'
        )
    return "".join(parts)


def render_report(rows: Sequence[Row], assignment: str, similar: Sequence[SimilarPair] = ()) -> str:
    summaries = task_summaries(rows)
    flagged = needs_a_look(rows)
    similar_groups = groups(similar)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Class report: {_e(assignment)}</title><style>{STYLE}</style></head><body>
<h1>Class report: {_e(assignment)}</h1>
<p>{_e(_score_line(rows))}. {len(flagged)} need a look,
{len(similar_groups)} group(s) of similar answers.</p>
{_figures(rows, summaries)}
<h2>Tasks</h2>{_task_table(summaries) if summaries else "<p>No per-task results.</p>"}
<h2>Most common failures</h2>{_messages(summaries)}
<h2>Submissions that need a look</h2>{_flagged(rows)}
<h2>Similar answers</h2>{_similar(rows, similar_groups)}
</body></html>
"""


def write_report(
    rows: Sequence[Row], assignment: str, path: Path, similar: Sequence[SimilarPair] = ()
) -> Path:
    """Write the report; `path` is a folder (gets report-<assignment>.html) or an .html file."""
    path = Path(path)
    if path.suffix.lower() != ".html":
        path = path / f"report-{assignment}.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(rows, assignment, similar), encoding="utf-8", errors="replace")
    return path
