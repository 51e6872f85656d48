"""One student's sandboxed runner, driven from outside: cells in, outputs and observations out.

The grader's side of the pipes to `minigpt.grading.runner`. Everything that comes back is data
from code the student controls, so this side trusts none of it: it reads at most so many bytes,
keeps at most so much output, stops a cell that runs too long (an interrupt, then the whole
sandbox), stops the notebook at a fixed deadline however many cells it has, measures the
sandbox's in-memory folders from outside, and notes anything the runner sends out of turn
(only code that writes to the grader's channel itself does that).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from minigpt.grading.sandbox import (
    Policy,
    launch,
    pids_cgroup,
    processes_capped,
    remove_cgroup,
)
from minigpt.grading.text import scrub

MiB = 1024**2
IMAGE_TYPES = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}


@dataclass
class Limits:
    """How much of everything one student's notebook may take."""

    cell_seconds: float = 60.0
    notebook_seconds: float = 300.0  # the whole notebook, all attempts, however many cells
    grace_seconds: float = 5.0  # after an interrupt, before the sandbox is stopped
    start_seconds: float = 120.0
    cell_output_bytes: int = 64 * 1024  # text kept per cell
    output_bytes: int = 1 * MiB  # text and pictures kept per student
    images: int = 20
    message_bytes: int = 64 * MiB  # one line from the runner
    channel_bytes: int = 512 * MiB  # everything the runner may send


class Stopped(Exception):
    """The runner is gone: it died, or it was stopped because it would not finish in time."""

    def __init__(self, reason: str, timed_out: bool = False):
        super().__init__(reason)
        self.reason, self.timed_out = reason, timed_out


@dataclass
class Outcome:
    """What one cell did: its outputs (nbformat dicts), and whether it finished without error."""

    outputs: list[dict] = field(default_factory=list)
    ok: bool = True
    timed_out: bool = False
    errors: list[str] = field(default_factory=list)  # names of the exceptions it raised


class Session:
    """Start with `start()`, then `cell(...)` and `probe(...)` in notebook order, then `close()`."""

    def __init__(self, policy: Policy, limits: Limits, deadline: float, redact: dict[str, str]):
        self.policy, self.limits, self.deadline = policy, limits, deadline
        self.redact = sorted(redact.items(), key=lambda item: -len(item[0]))
        self.limits_hit: set[str] = set()
        self.protocol: list[str] = []  # events the runner sent out of turn
        self.process: subprocess.Popen | None = None
        self.kept = 0  # bytes of output kept so far
        self.received = 0
        self.images = 0
        self._buffer = b""
        self._events: list[dict] = []
        self._outputs: list[dict] | None = None  # where output goes now (None: dropped)
        self._cell_kept = 0
        self._cut = False  # the current cell's output was cut
        self._early = ""  # what the sandbox printed before the runner was ready
        self._sandbox_pid: int | None = None

    # -- start and stop ------------------------------------------------------------------------

    def start(self) -> None:
        if self.policy.sandboxed:
            name = f"minigpt-grade-{os.getpid()}-{id(self):x}"
            self.policy.cgroup = pids_cgroup(name, self.policy.processes)
        commands_read, self._commands = os.pipe()
        self._events_fd, events_write = os.pipe()
        self._output_fd, output_write = os.pipe()
        try:
            self.process = launch(self.policy, events_write, commands_read, output_write)
        finally:
            for fd in (commands_read, events_write, output_write):
                os.close(fd)
        for fd in (self._events_fd, self._output_fd):
            os.set_blocking(fd, False)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._events_fd, selectors.EVENT_READ, "events")
        self._selector.register(self._output_fd, selectors.EVENT_READ, "output")
        try:
            event = self._next_event(
                min(self.deadline, time.monotonic() + self.limits.start_seconds)
            )
        except TimeoutError:
            raise Stopped("the sandbox took too long to start", timed_out=True) from None
        except Stopped:
            raise Stopped(f"the sandbox did not start: {self._raw_tail()}") from None
        if event.get("ev") != "ready":
            raise Stopped(f"the sandbox did not start: {self._raw_tail()}")
        self._sandbox_pid = self._inner_pid()

    def close(self) -> None:
        """Stop the sandbox and everything in it; measure what it used first."""
        if self.process is None:
            return
        self.measure()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        if processes_capped(self.policy.cgroup):
            self.limits_hit.add("processes")
        remove_cgroup(self.policy.cgroup)
        self._selector.close()
        for fd in (self._commands, self._events_fd, self._output_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        self.process = None

    def _inner_pid(self) -> int | None:
        """The host pid of the first process inside the sandbox, to look at its folders."""
        if not self.policy.sandboxed or self.process is None:
            return None
        with contextlib.suppress(OSError, ValueError):
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            return int(children.read_text().split()[0])
        return None

    def measure(self) -> None:
        """Note a full in-memory folder (its size limit reached), read from outside."""
        if self._sandbox_pid is None:
            return
        for key, path in self.policy.folders().items():
            with contextlib.suppress(OSError):
                stats = os.statvfs(f"/proc/{self._sandbox_pid}/root{path}")
                used = (stats.f_blocks - stats.f_bfree) * stats.f_frsize
                if used >= 0.97 * self.policy.disk[key]:
                    self.limits_hit.add("disk")

    # -- commands --------------------------------------------------------------------------------

    def _send(self, command: dict) -> None:
        data = (json.dumps(command) + "\n").encode("utf-8")
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(self._commands, view) :]
        except (BrokenPipeError, OSError):
            raise Stopped("the Python process stopped") from None

    def cell(self, source: str, seconds: float | None = None) -> Outcome:
        """Run one cell; its outputs (capped) and how it ended."""
        outcome = Outcome()
        self._outputs, self._cell_kept, self._cut = outcome.outputs, 0, False
        try:
            self._send({"op": "cell", "source": source})
            done = self._until_done(seconds or self.limits.cell_seconds, outcome)
        finally:
            self._outputs = None
        outcome.ok = bool(done.get("ok")) and not outcome.timed_out
        outcome.errors = [o["ename"] for o in outcome.outputs if o["output_type"] == "error"]
        self.measure()
        return outcome

    def probe(self, assignment: str, task: str, cases: list, pieces: list[str]) -> list | None:
        """Run one task's cases; the records the runner sent, or None if none came back."""
        self._send(
            {
                "op": "probe",
                "assignment": assignment,
                "task": task,
                "cases": cases,
                "pieces": pieces,
            }
        )
        outcome = Outcome()
        self._until_done(self.limits.cell_seconds, outcome, probing=task)
        found = [e for e in self._events if e.get("ev") == "observations"]
        self._events.clear()
        if outcome.timed_out or not found:
            return None
        if len(found) > 1 or found[0].get("task") != task:
            self.protocol.append(f"the probe of {task} received several or foreign results")
        records = found[0].get("records")
        return records if isinstance(records, list) else None

    def verdict(self, task: str, passed: bool, message: str, solution: str) -> None:
        """Tell the notebook how a task was judged (it cannot change that any more)."""
        self._send(
            {
                "op": "verdict",
                "task": task,
                "verdict": {"passed": passed, "message": message, "solution": solution},
            }
        )

    def _until_done(self, seconds: float, outcome: Outcome, probing: str | None = None) -> dict:
        """Read events until the runner says the command is done; interrupt, then stop it."""
        limit = min(self.deadline, time.monotonic() + seconds)
        interrupted = False
        while True:
            try:
                event = self._next_event(limit)
            except TimeoutError:
                if interrupted or time.monotonic() >= self.deadline:
                    outcome.timed_out = True
                    raise Stopped("it ran past its time limit", timed_out=True) from None
                self._send({"op": "interrupt"})
                interrupted, outcome.timed_out = True, True
                limit = min(
                    self.deadline + self.limits.grace_seconds,
                    time.monotonic() + self.limits.grace_seconds,
                )
                continue
            kind = event.get("ev")
            if kind == "done":
                return event
            if kind == "observations" and probing:
                self._events.append(event)
            elif kind in ("stream", "display", "result", "error") and not probing:
                self._output(event)
            elif kind in ("stream", "display", "result", "error"):
                continue  # a probe's own prints are not kept
            else:
                self.protocol.append(f"the runner sent an unexpected {str(kind)[:40]!r} event")

    # -- reading ---------------------------------------------------------------------------------

    def _next_event(self, limit: float) -> dict:
        """The next complete event line (raw output goes to the current cell meanwhile)."""
        while True:
            line, sep, rest = self._buffer.partition(b"\n")
            if sep:
                self._buffer = rest
                try:
                    event = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    self.protocol.append("the runner sent a line that is not JSON")
                    continue
                if isinstance(event, dict):
                    return event
                self.protocol.append("the runner sent JSON that is not an event")
                continue
            if len(self._buffer) > self.limits.message_bytes:
                self.limits_hit.add("messages")
                raise Stopped("it sent a message larger than the limit")
            remaining = limit - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            for key, _ in self._selector.select(remaining):
                try:
                    data = os.read(key.fd, 1 << 20)
                except BlockingIOError:
                    continue
                if not data:
                    self._selector.unregister(key.fd)
                    if key.data == "events":
                        raise Stopped("the Python process stopped")
                    continue
                self.received += len(data)
                if self.received > self.limits.channel_bytes:
                    self.limits_hit.add("output")
                    raise Stopped("it sent more than the grader reads from one notebook")
                if key.data == "events":
                    self._buffer += data
                else:
                    self._output(
                        {"ev": "stream", "name": "stdout", "text": data.decode("utf-8", "replace")}
                    )

    def _raw_tail(self) -> str:
        return self._early.strip()[-1000:] or "it ended before it was ready"

    # -- keeping output ----------------------------------------------------------------------------

    def _clean(self, text: str) -> str:
        text = scrub(text)
        for path, label in self.redact:
            text = text.replace(path, label)
        return text

    def _room(self, size: int) -> int:
        """How many of `size` bytes may still be kept, counting the cell's and the total cap."""
        left = min(
            self.limits.cell_output_bytes - self._cell_kept, self.limits.output_bytes - self.kept
        )
        if size > left and self.kept + size > self.limits.output_bytes:
            self.limits_hit.add("output")
        return max(0, min(size, left))

    def _output(self, event: dict) -> None:
        outputs = self._outputs
        if outputs is None:
            if self._sandbox_pid is None and len(self._early) < 4000:  # before "ready"
                self._early += str(event.get("text", ""))[:4000]
            return
        kind = event.get("ev")
        if kind == "stream":
            text = self._clean(str(event.get("text", "")))
            room = self._room(len(text))
            kept = text[:room]
            self._cell_kept += room
            self.kept += room
            if room < len(text) and not self._cut:
                kept += "\n[output cut here: the grader keeps only the start of long outputs]\n"
                self._cut = True
            name = "stderr" if event.get("name") == "stderr" else "stdout"
            if outputs and outputs[-1]["output_type"] == "stream" and outputs[-1]["name"] == name:
                outputs[-1]["text"] += kept
            elif kept:
                outputs.append({"output_type": "stream", "name": name, "text": kept})
        elif kind in ("display", "result"):
            data = self._display(event.get("data"))
            if data:
                output_type = "execute_result" if kind == "result" else "display_data"
                output = {"output_type": output_type, "data": data, "metadata": {}}
                if kind == "result":
                    output["execution_count"] = None
                outputs.append(output)
        elif kind == "error":
            ename = str(event.get("ename", "Error"))[:100]
            evalue = self._clean(str(event.get("evalue", "")))[:2000]
            trace = self._clean(str(event.get("traceback", "")))[-4000:]
            self.kept += len(trace)
            outputs.append(
                {
                    "output_type": "error",
                    "ename": ename,
                    "evalue": evalue,
                    "traceback": trace.splitlines(),
                }
            )

    def _display(self, data) -> dict:
        """Text and checked pictures of a display, within the caps."""
        if not isinstance(data, dict):
            return {}
        kept = {}
        text = data.get("text/plain")
        if isinstance(text, str):
            text = self._clean(text)
            room = self._room(len(text))
            kept["text/plain"] = text[:room]
            self._cell_kept += room
            self.kept += room
        for mime, magic in IMAGE_TYPES.items():
            image = data.get(mime)
            if not isinstance(image, str) or self.images >= self.limits.images:
                continue
            try:
                raw = base64.b64decode(image, validate=True)
            except (binascii.Error, ValueError):
                continue
            if not raw.startswith(magic) or self.kept + len(image) > self.limits.output_bytes:
                if raw.startswith(magic):
                    self.limits_hit.add("output")
                continue
            kept[mime] = base64.b64encode(raw).decode("ascii")
            self.images += 1
            self.kept += len(image)
        return kept


def redactions(policy: Policy, course_root: Path) -> dict[str, str]:
    """The grader's paths a student's outputs may show, and what feedback says instead."""
    paths = {
        str(course_root.resolve()): "<course>",
        policy.package_root: "<minigpt>",
        policy.work: "<work>",
        policy.data_dir: "<data>",
        sys.prefix: "<python>",
        sys.base_prefix: "<python>",
        str(Path.home()): "<home>",
    }
    return {path: label for path, label in paths.items() if len(path) > 1}
