"""Inside one student's sandbox: run notebook cells and probes, report everything on a pipe.

    python -m minigpt.grading.runner EVENTS_FD

The grader (outside, see `session`) sends one command per line on stdin: run this cell, probe
this task with these inputs, stop. This process runs the cells in an IPython shell, as a Jupyter
kernel would (magics, `!` commands, plots, display()), and writes what happened as JSON lines to
the file descriptor EVENTS_FD: the outputs of each cell, and what the student's functions did on
each probe's inputs (`minigpt.probes.run`), as plain data.

Nothing here is trusted. The student's code runs in this very interpreter and can change any of
it; it can only make its own results look wrong, because every score is decided outside, from
plain data, by code the student's code never touches.
"""

from __future__ import annotations

import json
import os
import queue
import resource
import signal
import sys
import threading

MAX_WRITE = 1 << 20  # bytes of one stream event: a flood is cut into pieces the grader counts


class Events:
    """The pipe to the grader: one JSON object per line."""

    def __init__(self, fd: int):
        self.fd = fd
        self.lock = threading.Lock()
        self.muted = False  # output printed while probing is not kept

    def send(self, **event) -> None:
        data = (json.dumps(event, default=repr) + "\n").encode("utf-8", "replace")
        with self.lock:
            view = memoryview(data)
            while view:
                written = os.write(self.fd, view)
                view = view[written:]


class Stream:
    """sys.stdout or sys.stderr: every write becomes a stream event."""

    def __init__(self, events: Events, name: str):
        self.events, self.name = events, name
        self.encoding, self.errors = "utf-8", "replace"

    def write(self, text) -> int:
        text = text if isinstance(text, str) else str(text)
        if text and not self.events.muted:
            for start in range(0, len(text), MAX_WRITE):
                self.events.send(ev="stream", name=self.name, text=text[start : start + MAX_WRITE])
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return 1 if self.name == "stdout" else 2

    @property
    def closed(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False


def _keep(data: dict) -> dict:
    """The formats of a display worth sending: text, and pictures (never HTML or script)."""
    kept = {key: data[key] for key in ("text/plain", "image/png", "image/jpeg") if key in data}
    if "text/plain" not in kept and "text/markdown" in data:
        kept["text/plain"] = data["text/markdown"]
    return kept


def make_shell(events: Events):
    """An IPython shell whose displays, results and errors become events."""
    from IPython.core.displayhook import DisplayHook
    from IPython.core.displaypub import DisplayPublisher
    from IPython.core.interactiveshell import InteractiveShell

    class Publisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **_):
            if not events.muted:
                events.send(ev="display", data=_keep(data))

        def clear_output(self, wait=False):
            pass

    class Hook(DisplayHook):
        def write_output_prompt(self):
            pass

        def write_format_data(self, format_dict, md_dict=None):
            if not events.muted:
                events.send(ev="result", data=_keep(format_dict))

    class Shell(InteractiveShell):
        def _showtraceback(self, etype, evalue, stb):
            events.send(
                ev="error",
                ename=getattr(etype, "__name__", str(etype)),
                evalue=str(evalue)[:2000],
                traceback=self.InteractiveTB.stb2text(stb)[-8000:],
            )

    shell = Shell.instance(
        display_pub_class=Publisher, displayhook_class=Hook, colors="nocolor", xmode="Context"
    )
    return shell


def probe(shell, events: Events, command: dict) -> None:
    """Run one task's cases on the student's functions, with correct earlier pieces."""
    from minigpt.probes import specs
    from minigpt.probes.run import run_cases

    task = command["task"]
    spec = specs(command["assignment"])[task]
    scope = dict(shell.user_ns)
    for source in command.get("pieces", []):
        exec(compile(source, f"<piece of {task}>", "exec"), scope)
    pieces = {name: scope[name] for name in spec.pieces if name in scope}
    events.muted = True
    try:
        records = run_cases(spec, shell.user_ns, command["cases"], pieces)
    finally:
        events.muted = False
    events.send(ev="observations", task=task, records=records)


def read_commands(stream, inbox: queue.Queue) -> None:
    """The reader thread: commands go to the main loop; an interrupt stops the running cell."""
    for line in stream:
        command = json.loads(line)
        if command.get("op") == "interrupt":
            os.kill(os.getpid(), signal.SIGINT)
        else:
            inbox.put(command)
    inbox.put({"op": "exit"})


def main() -> None:
    events_fd = int(sys.argv[1])
    os.set_inheritable(events_fd, False)
    commands = os.fdopen(os.dup(0), "rb")  # children (`!ls`) get an empty stdin, not commands
    os.set_inheritable(commands.fileno(), False)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    limit = os.environ.get("MINIGPT_PROCESS_LIMIT")
    if limit:  # counted in this sandbox's user namespace (the grader adds a cgroup as root)
        resource.setrlimit(resource.RLIMIT_NPROC, (int(limit), int(limit)))
    events = Events(events_fd)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sys.stdout, sys.stderr = Stream(events, "stdout"), Stream(events, "stderr")
    shell = make_shell(events)
    inbox: queue.Queue = queue.Queue()
    threading.Thread(target=read_commands, args=(commands, inbox), daemon=True).start()
    events.send(ev="ready")
    while True:
        try:
            command = inbox.get()
        except KeyboardInterrupt:  # an interrupt that came after its cell had ended
            continue
        op = command.get("op")
        if op == "exit":
            break
        try:
            if op == "cell":
                result = shell.run_cell(command["source"], store_history=True)
                events.send(ev="done", ok=bool(result.success))
            elif op == "probe":
                probe(shell, events, command)
                events.send(ev="done", ok=True)
            elif op == "verdict":  # for notebooks that go on with a correct version
                from minigpt.feedback import GRADED

                GRADED[command["task"]] = command["verdict"]
        except KeyboardInterrupt:
            events.send(ev="done", ok=False, interrupted=True)
        except BaseException as error:  # the loop must outlive whatever a cell leaves behind
            events.send(ev="done", ok=False, error=f"{type(error).__name__}: {error}"[:500])
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
