"""Why bubblewrap cannot create a sandbox here, and the exact fix.

    python3 minigpt/grading/apparmor.py [--apply] [--quiet]

bubblewrap needs an unprivileged user namespace. Four things commonly refuse it:

- AppArmor on Ubuntu 24.04 and later (and GitHub's ubuntu runners):
  kernel.apparmor_restrict_unprivileged_userns = 1 lets a program create a user namespace only
  when an AppArmor profile grants it `userns`. bwrap then fails with "setting up uid map:
  Permission denied", or with --unshare-net "loopback: Failed RTM_NEWADDR: Operation not
  permitted". Ubuntu's fix is a profile for bwrap alone (the one `profile_text` writes); the
  sysctl set to 0 switches the restriction off for every program;
- Debian's own switch, kernel.unprivileged_userns_clone = 0 (Debian 10 and older kernels);
- user.max_user_namespaces = 0 (RHEL 7, hardened machines);
- a container engine's default seccomp profile, which forbids creating namespaces.

`diagnose` reads the probe's error and the sysctl files under a root folder (a test passes a
fake /proc/sys there) and returns the cause with the commands that fix it. `apply`, as root,
installs and loads the bwrap profile where, and only where, AppArmor is what stops bubblewrap:
`make install` (as root) and the CI workflow run it. The module uses the standard library
only, so that the system's python3 runs it before the course's virtual environment exists.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROFILE = "etc/apparmor.d/bwrap"  # where Ubuntu's documentation puts it, under the root
SYSCTL_CONF = "etc/sysctl.d/60-minigpt-userns.conf"
RESTRICT = "kernel/apparmor_restrict_unprivileged_userns"
CLONE = "kernel/unprivileged_userns_clone"
MAX_NAMESPACES = "user/max_user_namespaces"
# What bwrap prints when AppArmor has let it into a user namespace without capabilities.
APPARMOR_TEXTS = (
    "setting up uid map: Permission denied",
    "setting up gid map: Permission denied",
    "Failed RTM_NEWADDR: Operation not permitted",
    "error writing to setgroups: Permission denied",
)
NO_ROOM_TEXT = "(ENOSPC)"
# What bwrap prints in a container that left /proc as the engine mounts it.
CONTAINER_TEXTS = ("Read-only file system", "Can't mount proc")
# A sandbox like the grader's: new user, PID, network, IPC namespaces, no capabilities.
PROBE_ARGS = ("--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL")
NOBODY = 65534
# What a container needs for bubblewrap inside it (benchmarks/container_grading.py runs them).
PODMAN_OPTIONS = ("--security-opt", "unmask=/proc/*")
DOCKER_OPTIONS = (
    "--security-opt",
    "seccomp=unconfined",
    "--security-opt",
    "apparmor=unconfined",
    "--security-opt",
    "systempaths=unconfined",
)
# The machine whose /proc/sys and /etc are read and written; a test points it at a fake tree.
SYSTEM_ROOT = Path("/")


@dataclass(frozen=True)
class Diagnosis:
    cause: str  # apparmor, userns_clone, max_user_namespaces, container, nested, unknown
    why: str
    fix: str

    def __str__(self) -> str:
        return f"{textwrap.fill(self.why, 100)}\n{self.fix}"


def profile_text(bwrap: str = "/usr/bin/bwrap") -> str:
    """Ubuntu's kind of profile for a program that may create user namespaces: it confines
    nothing (flags=(unconfined)) and grants `userns`, for the bwrap binary alone."""
    return (
        "# Written by minigpt (minigpt/grading/apparmor.py). On Ubuntu 24.04 and later AppArmor\n"
        "# lets a program create user namespaces only when its profile says `userns`; this one\n"
        "# says so for bubblewrap alone, which grades every student in a sandbox of its own.\n"
        "abi <abi/4.0>,\n"
        "include <tunables/global>\n"
        "\n"
        f"profile bwrap {bwrap} flags=(unconfined) {{\n"
        "  userns,\n"
        "\n"
        "  # Site-specific additions and overrides. See local/README for details.\n"
        "  include if exists <local/bwrap>\n"
        "}\n"
    )


def sysctls(root: Path) -> dict[str, str]:
    """The user-namespace switches this kernel has, from <root>/proc/sys (absent ones left out)."""
    found = {}
    for name in (RESTRICT, CLONE, MAX_NAMESPACES):
        with contextlib.suppress(OSError):
            found[name] = (root / "proc" / "sys" / name).read_text().strip()
    return found


def in_container(root: Path) -> bool:
    return (root / ".dockerenv").exists() or (root / "run" / ".containerenv").exists()


def _sysctl_fix(name: str, value: str) -> str:
    """Set a switch now, and in /etc/sysctl.d so that it stays after a reboot."""
    key = name.replace("/", ".")
    return f"sudo sysctl -w {key}={value}\necho '{key} = {value}' | sudo tee /{SYSCTL_CONF}\n"


def apparmor_fix(bwrap: str, root: Path) -> str:
    """The commands that let bubblewrap (and nothing else) create user namespaces. They are
    printed flush left, so that pasting them into a shell ends the here-document."""
    installed = root / PROFILE
    note = ""
    if installed.exists() and installed.read_text() == profile_text(bwrap):
        note = f"/{PROFILE} is there already, but not loaded: load it (the last command).\n"
    return (
        f"{note}"
        "Fix: let bubblewrap alone create user namespaces, with an AppArmor profile (Ubuntu's\n"
        "documented way). Write it and load it, as root:\n\n"
        f"sudo tee /{PROFILE} >/dev/null <<'EOF'\n{profile_text(bwrap)}EOF\n"
        f"sudo apparmor_parser -r /{PROFILE}\n\n"
        "(In a clone of the course, `sudo make sandbox-apparmor` does both where needed.)\n"
        "Or switch the restriction off for every program (blunter), now and after reboots:\n\n"
        f"{_sysctl_fix(RESTRICT, '0')}\n"
        "Then `minigpt doctor` says whether the grading sandbox works."
    )


def diagnose(stderr: str, root: Path | None = None, bwrap: str = "/usr/bin/bwrap") -> Diagnosis:
    """Why the bwrap probe failed with `stderr` on the machine whose files are under `root`.
    Words that only one cause produces come first (ENOSPC: too many namespaces, never AppArmor;
    a read-only /proc: a container), then the switches, then the container's confinement."""
    root = root or SYSTEM_ROOT
    switches, boxed = sysctls(root), in_container(root)
    on_host = " This runs in a container: the switch is the host's, so fix it there." * boxed
    if switches.get(MAX_NAMESPACES) == "0":
        return Diagnosis(
            "max_user_namespaces",
            "User namespaces are switched off here (user.max_user_namespaces = 0)." + on_host,
            "Fix: allow them, now and after reboots:\n\n" + _sysctl_fix(MAX_NAMESPACES, "15000"),
        )
    if NO_ROOM_TEXT in stderr:
        return Diagnosis(
            "nested",
            "No more user namespaces may be created here: this already runs inside a sandbox "
            "that forbids new ones, or user.max_user_namespaces is too low.",
            "Fix: grade outside that sandbox, or raise the limit:\n\n"
            + _sysctl_fix(MAX_NAMESPACES, "15000"),
        )
    if boxed and any(text in stderr for text in CONTAINER_TEXTS):
        return _container()
    if switches.get(RESTRICT) == "1":
        return Diagnosis(
            "apparmor",
            "AppArmor restricts unprivileged user namespaces here "
            "(kernel.apparmor_restrict_unprivileged_userns = 1, the default on Ubuntu 24.04 and "
            "later and on GitHub's ubuntu runners): bubblewrap may create its sandbox only once "
            "a profile allows it." + on_host,
            apparmor_fix(bwrap, root),
        )
    if switches.get(CLONE) == "0":
        return Diagnosis(
            "userns_clone",
            "Unprivileged user namespaces are switched off here "
            "(kernel.unprivileged_userns_clone = 0, Debian's switch)." + on_host,
            "Fix: switch them on, now and after reboots:\n\n" + _sysctl_fix(CLONE, "1"),
        )
    if boxed:
        return _container()
    words = any(text in stderr for text in APPARMOR_TEXTS)
    return Diagnosis(
        "unknown",
        "The kernel, or a security module, refused bubblewrap a user namespace."
        + " bwrap's words are AppArmor's, but its restriction is not on here." * words,
        "Check, as root: sysctl kernel.apparmor_restrict_unprivileged_userns "
        "kernel.unprivileged_userns_clone user.max_user_namespaces (1, 0 or 0 would explain "
        "it),\nand run `bwrap --unshare-all --ro-bind / / true` as your own user.",
    )


def _container() -> Diagnosis:
    return Diagnosis(
        "container",
        "This runs in a container whose engine stops bubblewrap: podman and docker mount "
        "parts of /proc read-only or hide them (bwrap writes /proc/sys/user and mounts a "
        "/proc of its own), and docker's default seccomp and AppArmor profiles also forbid "
        "creating namespaces.",
        "Fix: start the container with these options, for it alone:\n\n"
        f"podman run {' '.join(PODMAN_OPTIONS)} ...\n"
        f"docker run {' '.join(DOCKER_OPTIONS)} ...\n"
        "\n(book/for-instructors.md, 'Grading where bubblewrap is missing').",
    )


def explain(stderr: str, root: Path | None = None, bwrap: str = "/usr/bin/bwrap") -> str:
    """The refusal message: bwrap's own words, then the cause and the fix."""
    return (
        f"bubblewrap cannot create a sandbox here: {stderr.strip()}\n"
        f"{diagnose(stderr, root, bwrap)}"
    )


def bwrap_binary() -> str | None:
    found = shutil.which("bwrap")
    return os.path.realpath(found) if found else None


def probe(bwrap: str, user: int | None = None) -> subprocess.CompletedProcess:
    """Start a sandbox like the grader's and run `true` in it, as `user` (a uid) when given:
    as root bwrap always works, so root asks on behalf of the user who will grade."""
    ids = {} if user is None else {"user": user, "group": _group_of(user), "extra_groups": []}
    command = [bwrap, *PROBE_ARGS, "--ro-bind", "/", "/", "true"]
    return subprocess.run(command, capture_output=True, text=True, cwd="/", **ids)


def _group_of(uid: int) -> int:
    try:
        return pwd.getpwuid(uid).pw_gid
    except KeyError:
        return NOBODY


def grading_user() -> int:
    """Who the sandbox must work for: the user who called sudo, else nobody."""
    uid = os.environ.get("SUDO_UID", "")
    return int(uid) if uid.isdigit() and uid != "0" else NOBODY


def apply(
    bwrap: str,
    root: Path | None = None,
    check: Callable[[], subprocess.CompletedProcess] | None = None,
    parser: list[str] | None = None,
    say: Callable[[str], None] = print,
    quiet: bool = False,
) -> int:
    """Install and load the bwrap profile when AppArmor is what stops the sandbox; 0 when the
    sandbox works afterwards. Idempotent: where bubblewrap works, it changes nothing."""
    root = root or SYSTEM_ROOT
    check = check or (lambda: probe(bwrap, grading_user()))
    first = check()
    if first.returncode == 0:
        if not quiet:
            say("bubblewrap can create its sandbox here: no AppArmor profile needed")
        return 0
    if sysctls(root).get(RESTRICT) != "1":  # not AppArmor: a profile would change nothing
        say(explain(first.stderr, root, bwrap))
        return 1
    if parser is None:
        binary = shutil.which("apparmor_parser") or shutil.which("apparmor_parser", path="/sbin")
        if binary is None:
            say(
                explain(first.stderr, root, bwrap) + "\n(apparmor_parser is missing: apt-get "
                "install apparmor)"
            )
            return 1
        parser = [binary]
    target = root / PROFILE
    if not target.exists() or target.read_text() != profile_text(bwrap):
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(profile_text(bwrap))
        say(f"wrote /{PROFILE}: AppArmor lets bubblewrap ({bwrap}) create user namespaces")
    loaded = subprocess.run([*parser, "-r", str(target)], capture_output=True, text=True)
    if loaded.returncode != 0:
        say(f"apparmor_parser could not load /{PROFILE}: {loaded.stderr.strip()}")
        return 1
    second = check()
    if second.returncode != 0:
        say(
            "the profile is loaded, but bubblewrap still fails:\n"
            + explain(second.stderr, root, bwrap)
        )
        return 1
    say(f"loaded /{PROFILE}: bubblewrap can create its sandbox now")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--apply",
        action="store_true",
        help="as root: install and load the AppArmor profile for bwrap where it is needed",
    )
    parser.add_argument("--quiet", action="store_true", help="say nothing when all is well")
    args = parser.parse_args(argv)
    bwrap = bwrap_binary()
    if bwrap is None:
        print("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
        return 1
    if args.apply:
        if os.geteuid() != 0:
            print("--apply needs root: sudo python3 minigpt/grading/apparmor.py --apply")
            return 1
        return apply(bwrap, quiet=args.quiet)
    done = probe(bwrap)
    if done.returncode == 0:
        if not args.quiet:
            print("bubblewrap can create its sandbox here")
        return 0
    print(explain(done.stderr, bwrap=bwrap))
    return 1


if __name__ == "__main__":
    sys.exit(main())
