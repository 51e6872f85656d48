"""Start one student's runner inside bubblewrap, with limits that hold whatever the code does.

The grader runs outside, trusted; only `minigpt.grading.runner`, which executes the student's
code, runs inside. bubblewrap gives it new mount, PID, network, IPC, UTS and user namespaces,
an unprivileged user without capabilities, and a view of the file system that holds only:
the operating system, Python and the course's virtual environment (read-only), Tiny Shakespeare
(read-only), a copy of the `minigpt` package with this exercise's reference answers taken out
(read-only, see `withheld`), and three small in-memory folders it may write: its working
folder, /tmp and /dev/shm, each with a size limit. It cannot see solutions/, the gradebook,
other students' files or the instructor's home, has no network, and when the runner ends the PID
namespace ends with it, taking every process the student started. It talks to the grader only
through pipes.

Limits: address space (memory), file size, processes (a pids cgroup when the grader runs as
root, where the kernel exempts the process limit; the runner's own RLIMIT_NPROC otherwise),
disk (the in-memory folders' sizes), time and output (enforced by the grader, see `session`).
Without bubblewrap (`--no-sandbox`), the same runner runs unconfined.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from minigpt.grading import apparmor

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64")
ETC_FILES = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "passwd",
    "group",
    "nsswitch.conf",
    "localtime",
    "alternatives",
    "fonts",
    "mime.types",
    "matplotlibrc",
)
PASSED_ENV = ("LANG", "LC_ALL", "TZ", "MINIGPT_QUICK")
SANDBOX_UID = 1000
MiB = 1024**2


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""


@dataclass
class Policy:
    """What one student's runner may see and use."""

    work: str  # its working folder (a fresh in-memory folder at this path)
    package_root: str  # the folder that holds the copy of minigpt it imports
    data_dir: str  # Tiny Shakespeare (no network inside to download it)
    memory_bytes: int = 4 * 1024**3
    processes: int = 64
    disk: dict[str, int] = field(
        default_factory=lambda: {"work": 256 * MiB, "/tmp": 256 * MiB, "/dev/shm": 64 * MiB}
    )
    file_bytes: int = 256 * MiB
    hidden: list[str] = field(default_factory=list)  # covered with an empty folder inside
    cgroup: str = ""  # a pids cgroup the runner joins (when the grader is root)
    sandboxed: bool = True

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Policy:
        return cls(**json.loads(text))

    def folders(self) -> dict[str, str]:
        """The writable in-memory folders, by their size key, and their paths inside."""
        return {"work": self.work, "/tmp": "/tmp", "/dev/shm": "/dev/shm"}


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def check_sandbox() -> None:
    """Raise SandboxUnavailable, saying how to fix it, unless bubblewrap works here."""
    binary = bwrap_path()
    if binary is None:
        raise SandboxUnavailable(
            "bubblewrap (bwrap) is not installed: install it (Debian/Ubuntu: apt-get install "
            "bubblewrap; Fedora: dnf install bubblewrap), or grade without isolation with "
            "--no-sandbox, only for notebooks you trust"
        )
    probe = subprocess.run(
        [binary, *_namespaces(), "--ro-bind", "/", "/", "true"], capture_output=True, text=True
    )
    if probe.returncode != 0:  # the cause (AppArmor on Ubuntu 24.04+, a sysctl) and its fix
        raise SandboxUnavailable(apparmor.explain(probe.stderr, bwrap=os.path.realpath(binary)))


def read_only_paths(policy: Policy) -> list[str]:
    """Python's own files, this venv, the copy of minigpt and the data file: what a runner needs
    (the data as a single file, so that a data folder inside the course shows nothing else)."""
    from minigpt.data import SHAKESPEARE_FILENAME

    paths = {sys.base_prefix, sys.prefix, policy.package_root}
    paths.add(str(Path(policy.data_dir) / SHAKESPEARE_FILENAME))
    return sorted(str(Path(p).resolve()) for p in paths)


def _namespaces() -> list[str]:
    return [
        "--unshare-all",
        "--unshare-user",
        "--uid",
        str(SANDBOX_UID),
        "--gid",
        str(SANDBOX_UID),
        "--disable-userns",
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
    ]


def runner_env(policy: Policy) -> dict[str, str]:
    """The runner's whole environment: nothing of the grader's but a few locale settings."""
    env = {key: os.environ[key] for key in PASSED_ENV if key in os.environ}
    env.update(
        PATH=os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        HOME=policy.work,
        PYTHONPATH=policy.package_root,
        PYTHONDONTWRITEBYTECODE="1",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        MPLCONFIGDIR=f"{policy.work}/.matplotlib",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        TQDM_DISABLE="1",
        NBGRADER_EXECUTION="autograde",  # the notebooks' heavy cells shrink, as nbgrader's do
        MINIGPT_DATA_DIR=policy.data_dir,
        MINIGPT_DEVICE="cpu",
    )
    if policy.sandboxed:  # unconfined, the limit would count every process of this user
        env["MINIGPT_PROCESS_LIMIT"] = str(policy.processes)
    return env


def bwrap_command(policy: Policy, inner: list[str]) -> list[str]:
    command = [bwrap_path() or "bwrap", *_namespaces(), "--clearenv"]
    for key, value in runner_env(policy).items():
        command += ["--setenv", key, value]
    command += ["--proc", "/proc", "--dev", "/dev"]
    for key in ("/tmp", "/dev/shm"):  # first: what is bound below may sit inside them
        command += ["--size", str(policy.disk[key]), "--tmpfs", key]
    for path in SYSTEM_DIRS:
        command += ["--ro-bind-try", path, path]
    for name in ETC_FILES:
        command += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    for path in read_only_paths(policy):
        command += ["--ro-bind", path, path]
    for path in policy.hidden:  # e.g. the real minigpt, when it sits inside the venv
        command += ["--tmpfs", path, "--remount-ro", path]
    command += ["--size", str(policy.disk["work"]), "--perms", "0700", "--tmpfs", policy.work]
    return command + ["--chdir", policy.work, *inner]


def launch(policy: Policy, events_fd: int, stdin: int, output: int) -> subprocess.Popen:
    """Start the runner (in bubblewrap unless the policy says otherwise) under its limits."""
    inner = [sys.executable, "-m", "minigpt.grading.runner", str(events_fd)]
    if policy.sandboxed:
        command, env, cwd = bwrap_command(policy, inner), None, None
    else:
        Path(policy.work).mkdir(parents=True, exist_ok=True)
        command, env, cwd = inner, runner_env(policy), policy.work
    limits = [sys.executable, "-m", "minigpt.grading.limits", policy.to_json(), *command]
    return subprocess.Popen(
        limits,
        stdin=stdin,
        stdout=output,
        stderr=output,
        pass_fds=(events_fd,),
        env=env,
        cwd=cwd,
        start_new_session=True,
    )


def pids_cgroup(name: str, limit: int) -> str:
    """A pids cgroup allowing `limit` processes, when this process may make one (as root, where
    the kernel ignores the process limit of a user namespace mapped to root); '' otherwise."""
    if os.geteuid() != 0:
        return ""
    unified = Path("/sys/fs/cgroup")
    if "pids" in _read(unified / "cgroup.controllers").split():
        with contextlib.suppress(OSError):
            (unified / "cgroup.subtree_control").write_text("+pids")
        parent = unified
    elif Path("/sys/fs/cgroup/pids/pids.max").exists() or Path("/sys/fs/cgroup/pids").is_dir():
        parent = Path("/sys/fs/cgroup/pids")
    else:
        return ""
    folder = parent / name
    try:
        folder.mkdir(exist_ok=True)
        (folder / "pids.max").write_text(str(limit))
    except OSError:
        return ""
    return str(folder)


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def processes_capped(cgroup: str) -> bool:
    """Whether the runner hit its process limit (the cgroup's own count of refusals)."""
    if not cgroup:
        return False
    try:
        events = Path(cgroup, "pids.events").read_text().split()
    except OSError:
        return False
    return len(events) >= 2 and events[1] != "0"


def remove_cgroup(cgroup: str, seconds: float = 30.0) -> None:
    """Kill whatever is left in the cgroup, and remove it once the kernel has reaped it all."""
    if not cgroup:
        return
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for pid in _read(Path(cgroup) / "cgroup.procs").split():
            with contextlib.suppress(OSError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        try:
            os.rmdir(cgroup)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)
