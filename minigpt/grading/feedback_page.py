"""A student's feedback page: the verdict on each task, then the notebook as it ran.

Written by the grader from data it holds, never rendered from the student's HTML: every text a
student's code produced is escaped, pictures are kept only as checked PNG or JPEG bytes, markdown
is rendered with raw HTML switched off, and the page carries a Content-Security-Policy that
forbids scripts, so nothing on it can run. Test cells show the checks a student could see and
the message of the grader's verdict, never the hidden tests.
"""

from __future__ import annotations

import html

from markdown_it import MarkdownIt
from nbformat import NotebookNode

from minigpt.grading.results import Row

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; line-height: 1.45; }
pre { background: #f6f8fa; padding: .6rem .8rem; overflow-x: auto; white-space: pre-wrap;
      word-break: break-word; border-radius: 4px; }
pre.out { background: #fff; border-left: 3px solid #ddd; }
pre.err { background: #fff5f5; border-left: 3px solid #d33; }
table { border-collapse: collapse; } td, th { border: 1px solid #ddd; padding: .3rem .6rem; }
.pass { color: #1a7f37; } .fail { color: #c62828; } .cell { margin: 1.2rem 0; }
img { max-width: 100%; }
"""
MARKDOWN = MarkdownIt("commonmark", {"html": False})


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _outputs(cell: NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            css = "err" if output.get("name") == "stderr" else "out"
            parts.append(f'<pre class="{css}">{_e(output.get("text", ""))}</pre>')
        elif kind == "error":
            trace = "\n".join(output.get("traceback", [])) or (
                f"{output.get('ename')}: {output.get('evalue')}"
            )
            parts.append(f'<pre class="err">{_e(trace)}</pre>')
        elif kind in ("display_data", "execute_result"):
            data = output.get("data", {})
            for mime in ("image/png", "image/jpeg"):
                if mime in data:  # checked by the grader: base64 of a real picture
                    parts.append(f'<img alt="figure" src="data:{mime};base64,{_e(data[mime])}">')
                    break
            else:
                if "text/plain" in data:
                    parts.append(f'<pre class="out">{_e(data["text/plain"])}</pre>')
    return "".join(parts)


def _tasks(row: Row) -> str:
    lines = []
    for task in row.tasks:
        state = "pass" if task.passed else "fail"
        word = "passed" if task.passed else "failed"
        message = f"<pre class=err>{_e(task.message)}</pre>" if task.message else ""
        lines.append(
            f"<tr><td><code>{_e(task.grade_id)}</code></td><td>{task.score:g} / "
            f"{task.max_score:g}</td><td class={state}>{word}</td></tr>"
            + (f"<tr><td colspan=3>{message}</td></tr>" if message else "")
        )
    return (
        "<table><tr><th>task</th><th>points</th><th>checks</th></tr>" + "".join(lines) + "</table>"
    )


def feedback_html(row: Row, assignment: str, graded: NotebookNode | None) -> str:
    """The whole page for one student (see the module doc)."""
    score = "" if row.score is None else f"{row.score:g} / {row.max_score:g} points"
    cells = []
    for cell in graded.cells if graded is not None else []:
        if cell.cell_type == "markdown":
            cells.append(f'<div class="cell">{MARKDOWN.render(cell.source)}</div>')
        elif cell.cell_type == "code":
            cells.append(f'<div class="cell"><pre>{_e(cell.source)}</pre>{_outputs(cell)}</div>')
    flags = f"<p>Notes: {_e('; '.join(row.notes))}</p>" if row.notes else ""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=utf-8>"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{_e(assignment)}: feedback for {_e(row.student)}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>{_e(assignment)}</h1><p>Feedback for <b>{_e(row.student)}</b>: {_e(score)}</p>"
        f"{flags}<h2>Tasks</h2>{_tasks(row)}<h2>Your notebook, as it ran</h2>"
        + "".join(cells)
        + "</body></html>\n"
    )
