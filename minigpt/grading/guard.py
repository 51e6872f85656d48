"""The student's kernel, watched: python -m minigpt.grading.guard FD [ipykernel arguments...]

Runs inside the sandbox, before any student code. It installs a Python audit hook (PEP 578),
which no later code can remove, and then starts an ordinary IPython kernel. Whenever code from a
notebook cell starts a process or a thread, opens or lists files outside the allowed folders,
opens a socket, loads C code or replaces the functions the tests rely on (torch, numpy, builtins,
minigpt, IPython's input transformers and hooks), one line goes out through the pipe FD to the
grader, outside the sandbox, at once: what was reported cannot be taken back by the code that
follows. Every cell that runs also sends a heartbeat, so a silenced pipe shows.

Everything the hook needs is bound in the closure of `_install`, not in module globals, so
patching this module from a notebook changes nothing.
"""

from __future__ import annotations

import hashlib
import linecache
import os
import sys
from contextlib import suppress

WATCHED_MODULES = (
    "builtins",
    "math",
    "random",
    "numpy",
    "numpy.testing",
    "torch",
    "torch.nn",
    "torch.nn.functional",
    "torch.testing",
)
WATCHED_PREFIXES = ("minigpt",)
PROCESS_EVENTS = {
    "subprocess.Popen",
    "os.system",
    "os.exec",
    "os.fork",
    "os.forkpty",
    "os.posix_spawn",
    "os.spawn",
    "os.kill",
    "os.killpg",
    "pty.spawn",
}
OTHER_EVENTS = {
    "socket.connect": "opened a network connection",
    "socket.bind": "opened a network socket",
    "ctypes.dlopen": "loaded a C library with ctypes",
    "ctypes.dlsym": "looked up C functions with ctypes",
    "sys.settrace": "installed a trace function",
    "sys.setprofile": "installed a profile function",
    "sys.addaudithook": "installed an audit hook",
    "gc.get_objects": "searched the interpreter's objects (gc)",
    "gc.get_referrers": "searched the interpreter's objects (gc)",
}
FILE_EVENTS = {"open", "os.listdir", "os.scandir", "shutil.rmtree", "os.remove", "os.rename"}
MAX_REPORTS = 200
# ipykernel itself swaps these for every cell, to forward input() to the notebook.
SWAPPED = {"input", "raw_input", "getpass"}


def _is_cell(filename: str) -> bool:
    """Code compiled from a notebook cell, by ipykernel or plain IPython."""
    return ("/ipykernel_" in filename and filename.endswith(".py")) or filename.startswith(
        "<ipython-input"
    )


def cell_hash(source: str) -> str:
    """A short fingerprint of a cell's text, the same inside the kernel and in the grader."""
    text = "\n".join(line.rstrip() for line in source.strip().splitlines())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _install(fd: int, allowed_roots: tuple[str, ...]) -> None:
    # Local copies: the hook must not read anything a notebook could change through this module.
    is_cell, sha256 = _is_cell, hashlib.sha256
    process_events, file_events = frozenset(PROCESS_EVENTS), frozenset(FILE_EVENTS)
    other_events = dict(OTHER_EVENTS)
    watched, prefixes, swapped = frozenset(WATCHED_MODULES), WATCHED_PREFIXES, frozenset(SWAPPED)
    max_reports = MAX_REPORTS
    write = os.write
    getframe = sys._getframe
    realpath = os.path.realpath
    getlines = linecache.getlines
    modules = sys.modules
    reported: set[str] = set()
    state: dict = {}

    def fingerprint(source: str) -> str:  # cell_hash, with nothing looked up at call time
        text = "\n".join(line.rstrip() for line in source.strip().splitlines())
        return sha256(text.encode("utf-8")).hexdigest()[:16]

    def send(*fields: str) -> None:
        line = "\t".join(f.replace("\t", " ").replace("\n", " ") for f in fields)[:500]
        if fields[0] != "cell":
            if line in reported or len(reported) >= max_reports:
                return
            reported.add(line)
        with suppress(OSError):
            write(fd, (line + "\n").encode("utf-8", "replace"))

    def cell_of(frame) -> tuple[str, str] | None:
        """(fingerprint, first line) of the innermost notebook cell on the stack."""
        while frame is not None:
            name = frame.f_code.co_filename
            if is_cell(name):
                source = "".join(getlines(name))
                first = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
                return fingerprint(source), first[:80]
            frame = frame.f_back
        return None

    def report(message: str, frame) -> None:
        cell = cell_of(frame)
        if cell is not None:
            send("tampering", cell[0], message, cell[1])

    def outside(path) -> str | None:
        if isinstance(path, int):
            return None
        try:
            full = realpath(os.fsdecode(path))
        except (TypeError, ValueError):
            return None
        if any(full == root or full.startswith(root + os.sep) for root in allowed_roots):
            return None
        return full

    def watched_modules() -> dict:
        names = [n for n in list(modules) if n in watched or n.startswith(prefixes)]
        return {name: modules[name] for name in names if modules.get(name) is not None}

    def callables(namespace: dict) -> dict:
        return {k: v for k, v in list(namespace.items()) if callable(v) and k not in swapped}

    def ipython_hooks() -> dict:
        shell = state.get("shell")
        if shell is None:
            return {}
        manager = shell.input_transformer_manager
        hooks = {
            "input transformers": list(shell.input_transformers_post),
            "cleanup transformers": list(manager.cleanup_transforms),
            "line transformers": list(manager.line_transforms),
            "token transformers": list(manager.token_transformers),
            "AST transformers": list(shell.ast_transformers),
            "custom exception handlers": shell.custom_exceptions,
            "import system": [f for f in sys.meta_path if type(f).__module__ == "__main__"],
            "shell methods": callables(vars(shell)),
        }
        for event, callbacks in shell.events.callbacks.items():
            hooks[f"IPython event {event}"] = list(callbacks)
        return hooks

    def snapshot() -> None:
        from IPython import get_ipython

        state["shell"] = get_ipython()
        state["modules"] = watched_modules()
        state["functions"] = {n: callables(vars(m)) for n, m in state["modules"].items()}
        state["hooks"] = ipython_hooks()

    def wraps_from_library(new, old) -> bool:
        """A library's own wrapper around the original, not code from a notebook cell."""
        code = getattr(new, "__code__", None)
        return getattr(new, "__wrapped__", None) is old and not (
            code is not None and is_cell(code.co_filename)
        )

    def same(a, b) -> bool:
        if isinstance(a, list) and isinstance(b, list):
            return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))
        if isinstance(a, dict) and isinstance(b, dict):
            return a.keys() == b.keys() and all(a[k] is b[k] for k in a)
        return a is b

    def compare() -> None:
        """Changes since the first cell, each reported once (not tied to a cell)."""
        for name, module in watched_modules().items():
            before = state["modules"].get(name)
            if before is None:
                state["modules"][name] = module
                state["functions"][name] = callables(vars(module))
                continue
            if module is not before:
                send("tampering", "", f"replaced the module {name} in sys.modules", "")
                continue
            known = state["functions"][name]
            for attr, value in callables(vars(module)).items():
                before = known.get(attr)
                if before is None or before is value:
                    continue
                if wraps_from_library(value, before):
                    known[attr] = value  # e.g. torch._dynamo wrapping torch.manual_seed
                else:
                    send("tampering", "", f"replaced {name}.{attr}", "")
        for what, now in ipython_hooks().items():
            if not same(now, state["hooks"].get(what)):
                send("tampering", "", f"changed IPython's {what}", "")

    def hook(event: str, args: tuple) -> None:
        if event == "exec":
            code = args[0]
            name = getattr(code, "co_filename", "")
            if not is_cell(name):
                return
            if "shell" not in state:
                snapshot()
            else:
                compare()
            send("cell", fingerprint("".join(getlines(name))))
        elif event in process_events:
            report(f"started or signalled a process ({event})", getframe(1))
        elif event in file_events:
            path = outside(args[0]) if args else None
            if path is not None:
                report(f"touched a file outside its folder ({path})", getframe(1))
        elif event == "_thread.start_new_thread":
            owner = getattr(args[0], "__self__", None)
            run = getattr(owner, "_target", None) or getattr(type(owner), "run", None)
            code = getattr(run, "__code__", None)
            if code is not None and is_cell(code.co_filename):
                report("started a thread", getframe(1))
        elif event == "object.__setattr__":
            obj, attr = args[0], args[1]
            module = getattr(obj, "__module__", "") or ""
            caller = getframe(1)
            if (
                isinstance(obj, type)
                and module.split(".")[0] in ("torch", "numpy", "minigpt", "builtins")
                and is_cell(caller.f_code.co_filename)
            ):
                report(f"replaced {module}.{obj.__name__}.{attr}", caller)
        elif event in other_events:
            report(other_events[event], getframe(1))

    sys.addaudithook(hook)


def main() -> None:
    fd = int(sys.argv[1])
    allowed = tuple(
        os.path.realpath(p)
        for p in os.environ.get("MINIGPT_GUARD_ALLOWED", "").split(os.pathsep)
        if p
    )
    _install(fd, allowed)
    sys.argv = ["ipykernel_launcher", *sys.argv[2:]]
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


if __name__ == "__main__":
    main()
