"""nbgrader's Execute step, writing down which cell runs: the grader's own record, not the kernel's.

It runs in nbgrader's process, outside the sandbox, so student code can neither forge nor erase
it: when a kernel dies or a notebook is killed, the last cell started and not finished is the
one to blame. Selected through the scratch course's nbgrader_config.py.
"""

from __future__ import annotations

import os

from nbgrader.preprocessors import Execute

TRACE_ENV = "MINIGPT_GRADING_TRACE"


class TracedExecute(Execute):
    def _trace(self, event: str, cell) -> None:
        path = os.environ.get(TRACE_ENV)
        if path:
            with open(path, "a", encoding="utf-8") as trace:
                trace.write(f"{event}\t{cell.get('id', '')}\n")

    def on_cell_execute(self, **kwargs) -> None:
        self._trace("run", kwargs["cell"])

    def on_cell_executed(self, **kwargs) -> None:
        super().on_cell_executed(**kwargs)
        self._trace("done", kwargs["cell"])
