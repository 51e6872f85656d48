"""Start one student's kernel inside bubblewrap: python -m minigpt.grading.sandbox POLICY CONNECTION

nbgrader runs outside, trusted; only the kernel, which runs the student's code, is sandboxed.
jupyter_client starts this module as the kernel (see `kernel_spec`), and it starts bubblewrap
with a new mount, PID, network, IPC and user namespace, as an unprivileged user without
capabilities. The sandbox sees the operating system, Python, the course's virtual environment,
the `minigpt` package and the data read-only, and one empty folder it may write. It cannot see
solutions/, the gradebook, other students' files or the instructor's home, has no network (the
kernel talks to nbgrader over Unix sockets in its own runtime folder), and when the kernel ends
the PID namespace ends with it, taking every process the student started.

The guard's reports (see `guard`) arrive on a pipe and are appended to a file only the grader
can see. Without bubblewrap (`--no-sandbox`), the same kernel and guard run unconfined.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
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
PASSED_ENV = ("LANG", "LC_ALL", "TZ", "NBGRADER_EXECUTION", "MINIGPT_QUICK")
SANDBOX_UID = 1000
SCRATCH_BYTES = 512 * 1024**2


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot create namespaces here."""


@dataclass
class Policy:
    """What one student's kernel may see and use; written as JSON beside the kernel spec."""

    work: str  # the only folder it may write (a fresh tmpfs at this path)
    runtime: str  # jupyter's connection file and sockets, shared with nbgrader
    read_only: list[str]  # Python, the venv, the minigpt package, the data
    data_dir: str  # Tiny Shakespeare, fetched by the grader beforehand (no network inside)
    findings: str  # the guard's reports land here, outside the sandbox
    memory_bytes: int
    sandboxed: bool
    threads: int = 1

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: str) -> Policy:
        return cls(**json.loads(Path(path).read_text()))


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


def read_only_paths(data_dir: str) -> list[str]:
    """Python's own files, this venv, the minigpt package and the data: what a kernel needs."""
    import minigpt

    package = str(Path(minigpt.__file__).resolve().parent)
    return sorted({sys.base_prefix, sys.prefix, package, str(Path(data_dir).resolve())})


def kernel_spec(policy_path: Path) -> dict:
    return {
        "argv": [
            sys.executable,
            "-m",
            "minigpt.grading.sandbox",
            str(policy_path),
            "{connection_file}",
        ],
        "display_name": "Python 3 (minigpt grading sandbox)",
        "language": "python",
        "interrupt_mode": "message",  # signals cannot reach a kernel inside the sandbox
    }


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


def _kernel_env(policy: Policy) -> dict[str, str]:
    env = {key: os.environ[key] for key in PASSED_ENV if key in os.environ}
    threads = str(policy.threads)
    allowed = [policy.work, "/tmp", *policy.read_only, *SYSTEM_DIRS, "/etc", "/proc", "/dev"]
    env.update(
        PATH=os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin", "/bin"]),
        HOME=policy.work,
        MPLBACKEND="Agg",
        MPLCONFIGDIR=f"{policy.work}/.matplotlib",
        OMP_NUM_THREADS=threads,
        MKL_NUM_THREADS=threads,
        OPENBLAS_NUM_THREADS=threads,
        TQDM_DISABLE="1",
        PYTHONDONTWRITEBYTECODE="1",
        MINIGPT_GUARD_ALLOWED=os.pathsep.join(allowed),
        JUPYTER_RUNTIME_DIR=policy.runtime,
        MINIGPT_DATA_DIR=policy.data_dir,
    )
    return env


def bwrap_command(policy: Policy, inner: list[str]) -> list[str]:
    command = [bwrap_path() or "bwrap", *_namespaces(), "--clearenv"]
    for key, value in _kernel_env(policy).items():
        command += ["--setenv", key, value]
    for path in SYSTEM_DIRS:
        command += ["--ro-bind-try", path, path]
    for name in ETC_FILES:
        command += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    command += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for path in policy.read_only:
        command += ["--ro-bind", path, path]
    command += ["--size", str(SCRATCH_BYTES), "--perms", "0700", "--tmpfs", policy.work]
    command += ["--bind", policy.runtime, policy.runtime, "--chdir", policy.work]
    return command + inner


def _launch(policy: Policy, connection_file: str) -> int:
    """Start the guarded kernel (sandboxed or not) and copy its reports out until it ends."""
    resource.setrlimit(resource.RLIMIT_AS, (policy.memory_bytes, policy.memory_bytes))
    read_end, write_end = os.pipe()
    inner = [sys.executable, "-m", "minigpt.grading.guard", str(write_end), "-f", connection_file]
    if policy.sandboxed:
        command, env, cwd = bwrap_command(policy, inner), None, None
    else:
        Path(policy.work).mkdir(parents=True, exist_ok=True)
        command, env, cwd = inner, {**os.environ, **_kernel_env(policy)}, policy.work
    kernel = subprocess.Popen(
        command,
        pass_fds=(write_end,),
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_end)

    # Interrupts travel as messages (the kernel spec's interrupt_mode); a signal to stop ends
    # the sandbox, and with it every process inside.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: kernel.kill())
    with open(read_end, "rb") as reports, open(policy.findings, "ab") as findings:
        for line in reports:
            findings.write(line)
            findings.flush()
    return kernel.wait()


def main() -> None:
    policy_path, connection_file = sys.argv[1], sys.argv[2]
    sys.exit(_launch(Policy.load(policy_path), connection_file))


if __name__ == "__main__":
    main()
