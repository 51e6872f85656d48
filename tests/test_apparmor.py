"""Why bubblewrap fails, and the fix printed for it: bwrap's real error texts (as Ubuntu 24.04,
old Debian, RHEL and container engines print them) against a fake /proc/sys, the AppArmor
profile as Ubuntu documents it, commands that really write it, the profile installed only where
AppArmor is the cause, and `minigpt doctor` / `minigpt grade` printing it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from minigpt.cli import main
from minigpt.grading import apparmor

# bwrap 0.9 on Ubuntu 24.04 with kernel.apparmor_restrict_unprivileged_userns = 1: the first
# without a network namespace, the second with one (our probe and sandbox unshare the network).
UID_MAP = "bwrap: setting up uid map: Permission denied\n"
LOOPBACK = "bwrap: loopback: Failed RTM_NEWADDR: Operation not permitted\n"
# bwrap up to 0.8 and from 0.9 when clone(CLONE_NEWUSER) gets EPERM: a sysctl, or seccomp.
REFUSED_OLD = (
    "bwrap: No permissions to creating new namespace, likely because the kernel does not allow "
    "non-privileged user namespaces. On e.g. debian this can be enabled with 'sysctl "
    "kernel.unprivileged_userns_clone=1'.\n"
)
REFUSED_NEW = REFUSED_OLD.replace("to creating new", "to create a new")
# Debian's bwrap 0.8 in a docker container (default seccomp profile), and in a podman container,
# whose /proc/sys is read-only (benchmarks/container_grading.py printed both).
REFUSED_DEBIAN = (
    "bwrap: No permissions to create new namespace, likely because the kernel does not allow "
    "non-privileged user namespaces. See <https://deb.li/bubblewrap> or "
    "<file:///usr/share/doc/bubblewrap/README.Debian.gz>.\n"
)
READ_ONLY_PROC = "bwrap: cannot open /proc/sys/user/max_user_namespaces: Read-only file system\n"
# ENOSPC: max_user_namespaces reached, or a sandbox that forbids further namespaces.
NO_ROOM = (
    "bwrap: Creating new namespace failed: nesting depth or /proc/sys/user/max_*_namespaces "
    "exceeded (ENOSPC)\n"
)
UBUNTU_2404 = {
    "kernel/apparmor_restrict_unprivileged_userns": "1",
    "kernel/unprivileged_userns_clone": "1",
    "user/max_user_namespaces": "63704",
}
DEBIAN_10 = {"kernel/unprivileged_userns_clone": "0", "user/max_user_namespaces": "63704"}
RHEL_7 = {"user/max_user_namespaces": "0"}
PLAIN = {"user/max_user_namespaces": "63704"}  # a mainline kernel: no AppArmor switch


def machine(root: Path, switches: dict[str, str], container: bool = False) -> Path:
    """A fake / with the sysctl files of /proc/sys, as the kernel lays them out."""
    for name, value in switches.items():
        path = root / "proc" / "sys" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value + "\n")
    if container:
        (root / ".dockerenv").touch()
    return root


@pytest.mark.parametrize(
    ("stderr", "switches", "container", "cause"),
    [
        (UID_MAP, UBUNTU_2404, False, "apparmor"),
        (LOOPBACK, UBUNTU_2404, False, "apparmor"),
        (UID_MAP, PLAIN, True, "container"),  # the engine's AppArmor profile
        (REFUSED_OLD, DEBIAN_10, False, "userns_clone"),
        (REFUSED_NEW, RHEL_7, False, "max_user_namespaces"),
        (NO_ROOM, RHEL_7, False, "max_user_namespaces"),
        (REFUSED_DEBIAN, PLAIN, True, "container"),  # docker's default seccomp profile
        (READ_ONLY_PROC, PLAIN, True, "container"),  # podman's read-only /proc/sys
        (NO_ROOM, PLAIN, False, "nested"),
        (NO_ROOM, UBUNTU_2404, False, "nested"),  # inside a sandbox on a GitHub runner
        (READ_ONLY_PROC, UBUNTU_2404, True, "container"),  # podman on an Ubuntu host
        (UID_MAP, PLAIN, False, "unknown"),  # AppArmor's words, but its switch is off
        ("bwrap: something new\n", PLAIN, False, "unknown"),
    ],
)
def test_the_cause_is_found_from_the_error_and_the_sysctls(
    tmp_path, stderr, switches, container, cause
):
    root = machine(tmp_path, switches, container)
    assert apparmor.diagnose(stderr, root).cause == cause


def test_the_apparmor_restriction_is_named_even_when_bwrap_words_it_otherwise(tmp_path):
    # With the restriction on, any failure is blamed on it first: the profile is the fix to try.
    root = machine(tmp_path, UBUNTU_2404)
    assert apparmor.diagnose(REFUSED_NEW, root).cause == "apparmor"
    # In a container on such a host, the fix belongs on the host.
    root = machine(tmp_path / "box", UBUNTU_2404, container=True)
    assert "the switch is the host's, so fix it there" in apparmor.diagnose(UID_MAP, root).why


def test_the_apparmor_fix_is_ubuntus_profile_for_bwrap_and_the_sysctl(tmp_path):
    root = machine(tmp_path, UBUNTU_2404)
    text = apparmor.explain(LOOPBACK, root, "/usr/bin/bwrap")
    assert text.startswith("bubblewrap cannot create a sandbox here: bwrap: loopback")
    assert "apparmor_restrict_unprivileged_userns = 1" in apparmor.diagnose(LOOPBACK, root).why
    profile = [
        "abi <abi/4.0>,",
        "include <tunables/global>",
        "profile bwrap /usr/bin/bwrap flags=(unconfined) {",
        "  userns,",
        "  include if exists <local/bwrap>",
        "}",
    ]
    lines = text.splitlines()
    assert all(line in lines for line in profile), text
    assert "sudo tee /etc/apparmor.d/bwrap >/dev/null <<'EOF'" in lines
    assert "sudo apparmor_parser -r /etc/apparmor.d/bwrap" in lines
    assert "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in lines
    assert (
        "echo 'kernel.apparmor_restrict_unprivileged_userns = 0' | "
        "sudo tee /etc/sysctl.d/60-minigpt-userns.conf" in lines
    )
    assert "unprivileged_userns_clone" not in text  # the old advice, wrong on Ubuntu


def test_the_printed_commands_write_exactly_the_profile(tmp_path):
    """The here-document and the sysctl.d line, pasted into a shell (sudo left out, /etc moved
    into tmp_path), write the profile byte for byte and the persistent sysctl."""
    fix = apparmor.diagnose(UID_MAP, machine(tmp_path / "m", UBUNTU_2404), "/usr/bin/bwrap").fix
    lines = fix.replace("sudo ", "").replace("/etc/", f"{tmp_path}/etc/").splitlines()
    start = next(i for i, line in enumerate(lines) if line.endswith("<<'EOF'"))
    end = lines.index("EOF", start)
    script = [*lines[start : end + 1], next(line for line in lines if line.startswith("echo "))]
    (tmp_path / "etc" / "apparmor.d").mkdir(parents=True)
    (tmp_path / "etc" / "sysctl.d").mkdir()
    done = subprocess.run(["bash", "-e"], input="\n".join(script), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    profile = (tmp_path / "etc" / "apparmor.d" / "bwrap").read_text()
    assert profile == apparmor.profile_text("/usr/bin/bwrap")
    assert (tmp_path / "etc" / "sysctl.d" / "60-minigpt-userns.conf").read_text() == (
        "kernel.apparmor_restrict_unprivileged_userns = 0\n"
    )


@pytest.mark.parametrize(
    ("switches", "fix"),
    [
        (DEBIAN_10, "sudo sysctl -w kernel.unprivileged_userns_clone=1"),
        (RHEL_7, "sudo sysctl -w user.max_user_namespaces=15000"),
    ],
)
def test_the_other_switches_get_their_own_sysctl(tmp_path, switches, fix):
    text = apparmor.explain(REFUSED_OLD, machine(tmp_path, switches))
    assert fix in text.splitlines() and "apparmor" not in text.lower()


def test_a_container_is_told_which_engine_options_allow_namespaces(tmp_path):
    lines = apparmor.explain(READ_ONLY_PROC, machine(tmp_path, PLAIN, container=True)).splitlines()
    assert "podman run --security-opt unmask=/proc/* ..." in lines
    assert (
        "docker run --security-opt seccomp=unconfined --security-opt apparmor=unconfined "
        "--security-opt systempaths=unconfined ..." in lines
    )


class Probe:
    """bwrap as the grading user sees it: refused until the profile is loaded."""

    def __init__(self, profile: Path, works_already: bool = False, error: str = LOOPBACK):
        self.profile, self.works_already, self.error, self.calls = profile, works_already, error, 0

    def __call__(self) -> subprocess.CompletedProcess:
        self.calls += 1
        works = self.works_already or self.profile.with_suffix(".loaded").exists()
        return subprocess.CompletedProcess([], int(not works), "", "" if works else self.error)


def fake_parser(log: Path) -> list[str]:
    """apparmor_parser -r FILE: records the call and marks FILE as loaded."""
    code = (
        "import sys, pathlib; f = pathlib.Path(sys.argv[2]); "
        f"open({str(log)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n'); "
        "f.with_suffix('.loaded').write_text(f.read_text())"
    )
    return [sys.executable, "-c", code]


def test_apply_installs_and_loads_the_profile_once_where_apparmor_blocks(tmp_path):
    root = machine(tmp_path / "m", UBUNTU_2404)
    profile, log, said = root / "etc" / "apparmor.d" / "bwrap", tmp_path / "parser.log", []
    probe = Probe(profile)
    status = apparmor.apply("/usr/bin/bwrap", root, probe, fake_parser(log), said.append)
    assert status == 0, said
    assert profile.read_text() == apparmor.profile_text("/usr/bin/bwrap")
    assert log.read_text() == f"-r {profile}\n"
    assert probe.calls == 2 and "can create its sandbox now" in said[-1]
    # Again: the sandbox works, so nothing is written or loaded.
    profile.write_text(profile.read_text() + "# edited by the admin\n")
    assert apparmor.apply("/usr/bin/bwrap", root, probe, fake_parser(log), said.append) == 0
    assert len(log.read_text().splitlines()) == 1 and profile.read_text().endswith("the admin\n")


@pytest.mark.parametrize(
    ("switches", "works_already"),
    [
        (DEBIAN_10, False),  # bwrap fails, but not because of AppArmor
        (UBUNTU_2404, True),  # AppArmor restricts, but bwrap has a profile (Ubuntu 25.04+)
        (PLAIN, True),  # nothing to do
    ],
)
def test_apply_changes_nothing_where_a_profile_would_not_help(tmp_path, switches, works_already):
    root = machine(tmp_path / "m", switches)
    log, said = tmp_path / "parser.log", []
    probe = Probe(root / "etc" / "apparmor.d" / "bwrap", works_already, REFUSED_OLD)
    status = apparmor.apply("/usr/bin/bwrap", root, probe, fake_parser(log), said.append)
    assert status == (0 if works_already else 1)
    assert not (root / "etc").exists() and not log.exists()
    if not works_already:
        assert "kernel.unprivileged_userns_clone=1" in said[-1]


@pytest.fixture
def ubuntu_2404(tmp_path, monkeypatch):
    """This machine as Ubuntu 24.04 shows itself to a user: bwrap refused, the switch on."""
    fake = tmp_path / "bin" / "bwrap"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\nprintf '{LOOPBACK.strip()}\\n' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(apparmor, "SYSTEM_ROOT", machine(tmp_path / "root", UBUNTU_2404))
    return fake


def test_doctor_prints_the_fix_and_fails_when_the_sandbox_is_required(ubuntu_2404, capsys):
    assert main(["doctor"]) == 0  # a report, not a verdict
    assert main(["doctor", "--require-sandbox"]) == 1
    out = capsys.readouterr().out
    assert "grading sandbox  NOT AVAILABLE: bubblewrap cannot create a sandbox here" in out
    assert f"profile bwrap {ubuntu_2404} flags=(unconfined) {{" in out.splitlines()
    assert "sudo apparmor_parser -r /etc/apparmor.d/bwrap" in out


def test_grading_refuses_with_the_fix(ubuntu_2404, course_copy, tmp_path, capsys):
    (tmp_path / "subs").mkdir()
    assert main(["grade", "01-bigrams", str(tmp_path / "subs"), "--course", str(course_copy)]) == 1
    err = capsys.readouterr().err
    assert "Failed RTM_NEWADDR" in err and "kernel.apparmor_restrict_unprivileged_userns" in err
    assert "sudo apparmor_parser -r /etc/apparmor.d/bwrap" in err
    assert not list(course_copy.glob("grades-*.csv"))


def test_doctor_passes_where_the_sandbox_works(sandbox, capsys):
    assert main(["doctor", "--require-sandbox"]) == 0
    assert "grading sandbox  ok (bubblewrap at" in capsys.readouterr().out


def test_inside_a_sandbox_that_forbids_namespaces_doctor_fails_with_the_reason(sandbox):
    """A real refusal, not a fake one: doctor runs inside bwrap --disable-userns, so its own
    bwrap probe is refused by the kernel (ENOSPC)."""
    root = Path(__file__).resolve().parents[1]
    outer = [
        "bwrap",
        *("--unshare-all", "--unshare-user", "--disable-userns"),
        *("--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"),
    ]
    command = [*outer, sys.executable, "-m", "minigpt.cli", "doctor", "--require-sandbox"]
    env = dict(os.environ, PYTHONPATH=str(root))
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=root)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "(ENOSPC)" in done.stdout and "this already runs inside a sandbox" in done.stdout
    assert "the grading sandbox does not work here" in done.stderr
