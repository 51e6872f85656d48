"""The container route for grading, built and run for real (as root; minutes; not in make test).

    python benchmarks/container_grading.py [--engine podman|docker] [--base IMAGE] [--rebuild]

1. the base image: --base where a registry is reachable (docker.io/library/debian:bookworm-slim),
   else Debian 12 made from Debian's mirror by debootstrap and imported as
   localhost/minigpt-base:bookworm (kept for the next run);
2. the grading image from the course's Dockerfile: torch from a local wheel when this machine's
   pip configuration has one (its find-links, and its certificate bundle for PyPI), else from
   PyTorch's CPU index, as on any normal machine;
3. `minigpt doctor --require-sandbox` in the container: without the engine's options it must
   fail and name the container, with them it must pass;
4. `minigpt grade 01-bigrams` in the container, with the course folder mounted read-write, the
   submissions and the data read-only and no network, on a solved notebook (full marks) and a
   blank one (0).

Every check prints PASS or FAIL; the exit status is 1 when any failed. The figures go to
results/container_grading_<engine>.json. Where the engine cannot start a container as it comes (crun
without cgroup v2, limits above what this process may set), the workaround applied is printed
with the error that called for it, and recorded.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from common import save

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import course  # noqa: E402  (tools/course.py: the solved notebook)

from minigpt.data import fetch_shakespeare  # noqa: E402
from minigpt.grading.apparmor import DOCKER_OPTIONS, PODMAN_OPTIONS  # noqa: E402

ASSIGNMENT = "01-bigrams"
BASE = "localhost/minigpt-base:bookworm"
IMAGE = "localhost/minigpt-grader"
PYTHON_TAG = "cp311"  # Debian 12's python3, which the image's venv runs
results: list[tuple[str, bool, str]] = []


def check(name: str, ok: bool, detail: str = "") -> bool:
    results.append((name, ok, detail))
    print(f"{'PASS' if ok else 'FAIL'}: {name}" + (f" ({detail})" if detail else ""), flush=True)
    return ok


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("$ " + " ".join(command), flush=True)
    return subprocess.run(command, capture_output=True, text=True, **kwargs)


class Engine:
    """podman or docker, with the workarounds this machine needs to start a container at all."""

    def __init__(self, name: str):
        self.name = name  # a command or a path (/usr/bin/docker)
        self.kind = "docker" if Path(name).name.startswith("docker") else "podman"
        self.globals: list[str] = []  # before the subcommand (podman --runtime runc)
        self.limits: list[str] = []  # run and build options (--ulimit)
        self.workarounds: list[str] = []

    def command(self, sub: str, *args: str, limits: bool = True) -> list[str]:
        return [self.name, *self.globals, sub, *(self.limits if limits else []), *args]

    def adapt(self, image: str) -> bool:
        """Start `true` in `image`; on a known refusal apply its workaround and try again."""
        for _ in range(4):
            done = run(self.command("run", "--rm", "--network", "none", image, "true"))
            if done.returncode == 0:
                return True
            error = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "?"
            if "hybrid mode not supported" in error and "runc" not in self.globals:
                added = ["--runtime", "runc"]
                self.globals += added
                why = "crun refuses cgroup v1+v2 hybrid hosts; runc (Debian's runc) does not"
            elif "rlimit" in error.lower() and not self.limits:
                files = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
                added = ["--ulimit", f"nofile={files}:{files}", "--ulimit", "nproc=4096:4096"]
                self.limits += added
                why = (
                    "the engine's default limits (nofile 1048576) exceed what this process may "
                    "set (no CAP_SYS_RESOURCE): limits within the host's (nproc 96362, the "
                    "host's own, was refused too; 32768 and lower worked)"
                )
            else:
                print(done.stdout, done.stderr)
                return False
            self.workarounds.append(f"{' '.join(added)}: {why} ({error})")
            print(f"workaround: {self.workarounds[-1]}", flush=True)
        return False

    def has_image(self, image: str) -> bool:
        return bool(run([self.name, "images", "-q", image]).stdout.strip())


def debootstrap_base(engine: Engine, mirror: str) -> None:
    """Debian 12 (minbase) from Debian's mirror, imported as an image: what
    docker.io/library/debian:bookworm-slim would be where a registry is reachable."""
    if shutil.which("debootstrap") is None:
        raise SystemExit("debootstrap is missing: apt-get install debootstrap (or pass --base)")
    with tempfile.TemporaryDirectory(dir="/var/tmp") as scratch:
        rootfs = Path(scratch) / "rootfs"
        done = run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), mirror])
        if done.returncode:
            raise SystemExit(f"debootstrap failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        imported = run([engine.name, "import", "-", BASE], stdin=tar.stdout)
        tar.wait()
        if imported.returncode:
            raise SystemExit(f"import failed: {imported.stderr}")


def pip_settings() -> dict[str, str]:
    """This machine's pip configuration (find-links, cert), as `pip config list` shows it."""
    listed = run([sys.executable, "-m", "pip", "config", "list"]).stdout
    found = {}
    for line in listed.splitlines():
        key, _, value = line.partition("=")
        found[key.split(".")[-1]] = value.strip().strip("'")
    return found


def torch_requirement() -> str:
    match = re.search(r'^ARG TORCH="(torch==[^"]+)"', (ROOT / "Dockerfile").read_text(), re.M)
    assert match, "the Dockerfile names no ARG TORCH"
    return match.group(1)


def build_options(engine: Engine, scratch: Path) -> tuple[list[str], str]:
    """Build arguments for torch: a local CPU wheel where pip's configuration has one (mounted
    into the build: podman can, docker's classic builder cannot)."""
    requirement = torch_requirement()
    version = requirement.split("==")[1]
    settings = pip_settings()
    for folder in settings.get("find-links", "").split():
        wheels = sorted(Path(folder).glob(f"torch-{version}+cpu-{PYTHON_TAG}-*.whl"))
        if wheels:
            options = ["--volume", f"{folder}:/wheels:ro"]
            options += ["--build-arg", f"TORCH=torch=={version}+cpu"]
            options += ["--build-arg", "TORCH_PIP_ARGS=--find-links /wheels"]
            if settings.get("cert"):  # a certificate bundle that PyPI's proxy here needs
                shutil.copy(settings["cert"], scratch / "ca.crt")
                (scratch / "pip.conf").write_text("[global]\ncert = /etc/pip-host/ca.crt\n")
                options += ["--volume", f"{scratch}:/etc/pip-host:ro"]
                options += ["--volume", f"{scratch / 'pip.conf'}:/etc/pip.conf:ro"]
            return options, f"torch {version}+cpu from the local wheel {wheels[0].name}"
    return [], "torch from PyTorch's CPU index"


def grade_in_container(engine: Engine, security: list[str], data: Path, work: Path) -> dict:
    course_dir, subs = work / "course", work / "submissions"
    course_dir.mkdir()
    shutil.copytree(ROOT / "solutions" / ASSIGNMENT, course_dir / "solutions" / ASSIGNMENT)
    shutil.copy(ROOT / "nbgrader_config.py", course_dir)
    subs.mkdir()
    nbformat.write(course.solved_exercise(ASSIGNMENT), subs / "solved.ipynb")
    shutil.copy(ROOT / "exercises" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", subs / "blank.ipynb")
    mounts = ["-v", f"{course_dir}:/course", "-v", f"{subs}:/submissions:ro"]
    mounts += ["-v", f"{data}:/data:ro"]
    command = engine.command(
        "run", "--rm", "--network", "none", *security, *mounts, IMAGE,
        "minigpt", "grade", ASSIGNMENT, "/submissions", "--course", "/course",
        "--csv", "/course/grades.csv", "--jobs", str(os.cpu_count() or 1),
    )  # fmt: skip
    began = time.perf_counter()
    done = run(command)
    seconds = round(time.perf_counter() - began, 1)
    print(done.stdout[-1500:], done.stderr[-1500:])
    rows = {}
    if (course_dir / "grades.csv").exists():
        with open(course_dir / "grades.csv", encoding="utf-8") as f:
            rows = {row["student"]: row for row in csv.DictReader(f)}
    return {"status": done.returncode, "seconds": seconds, "rows": rows}


def make_image(engine: Engine, args: argparse.Namespace, figures: dict) -> bool:
    """The base image, then the grading image built from the course's Dockerfile."""
    with tempfile.TemporaryDirectory(dir="/var/tmp") as scratch:
        options, torch_source = build_options(engine, Path(scratch))
        if engine.kind == "docker" and options and shutil.which("podman"):
            # docker's classic builder cannot mount the local wheel: load what podman built
            began = time.perf_counter()
            saved = subprocess.Popen(["podman", "save", IMAGE], stdout=subprocess.PIPE)
            loaded = run([engine.name, "load"], stdin=saved.stdout)
            saved.wait()
            figures["grading image"] = "built by podman from the same Dockerfile, loaded"
            figures["podman save, docker load (s)"] = round(time.perf_counter() - began, 1)
            return check("podman's grading image loads", loaded.returncode == 0, loaded.stderr)
        began = time.perf_counter()
        base = args.base or BASE
        if not args.base and (args.rebuild or not engine.has_image(BASE)):
            debootstrap_base(engine, args.mirror)
            figures["base image: debootstrap + import (s)"] = round(time.perf_counter() - began, 1)
        else:
            figures["base image"] = f"{base} (already there)"
        if not check("a container starts", engine.adapt(base)):
            return False
        command = engine.command(
            "build", "--network", "host", "--build-arg", f"BASE={base}", *options, "-t", IMAGE,
            str(ROOT),
        )  # fmt: skip
        began = time.perf_counter()
        built = run(command)
        figures["grading image build (s)"] = round(time.perf_counter() - began, 1)
        figures["torch"] = torch_source
    if not check("the grading image builds", built.returncode == 0, torch_source):
        print(built.stdout[-3000:], built.stderr[-3000:])
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", help="podman, docker or a path to one (default: podman)")
    parser.add_argument("--base", help="a Debian 12 image to start from (default: debootstrap)")
    parser.add_argument("--mirror", default="http://deb.debian.org/debian")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the base image too")
    args = parser.parse_args()
    name = args.engine or ("podman" if shutil.which("podman") else "docker")
    if shutil.which(name) is None:
        raise SystemExit(f"{name} is missing: apt-get install {Path(name).name}")
    engine = Engine(name)
    security = list(PODMAN_OPTIONS if engine.kind == "podman" else DOCKER_OPTIONS)
    figures: dict = {"engine": run([name, "--version"]).stdout.strip()}
    data = fetch_shakespeare().parent
    if not make_image(engine, args, figures):
        return 1
    if engine.kind == "docker" and not check("a container starts", engine.adapt(IMAGE)):
        return 1

    doctor = ["minigpt", "doctor", "--require-sandbox"]
    mounts = ["-v", f"{data}:/data:ro"]
    plain = run(engine.command("run", "--rm", "--network", "none", *mounts, IMAGE, *doctor))
    refusal = next((ln for ln in plain.stdout.splitlines() if "grading sandbox" in ln), "")
    check(
        "without the options, doctor refuses and names the container",
        plain.returncode == 1 and "This runs in a container" in plain.stdout,
        refusal.strip(),
    )
    figures["bwrap without the options"] = refusal.split("here: ")[-1].strip()
    began = time.perf_counter()
    allowed = run(engine.command("run", "--rm", "--network", "none", *security, *mounts, IMAGE,
                                 *doctor))  # fmt: skip
    figures["doctor in the container (s)"] = round(time.perf_counter() - began, 1)
    check(
        f"with {' '.join(security)}, the sandbox works in the container",
        allowed.returncode == 0 and "grading sandbox  ok" in allowed.stdout,
        allowed.stdout.strip().splitlines()[-2] if allowed.stdout.strip() else allowed.stderr,
    )

    with tempfile.TemporaryDirectory(dir="/var/tmp") as scratch:
        graded = grade_in_container(engine, security, data, Path(scratch))
    rows = graded["rows"]
    figures["grade 2 notebooks in the container (s)"] = graded["seconds"]
    for student, expected in (("solved", "full"), ("blank", "zero")):
        row = rows.get(student, {})
        score, top = row.get("score", ""), row.get("max_score", "")
        want = top if expected == "full" else "0"
        ok = bool(top) and score == want and "unsandboxed" not in row.get("flags", "")
        check(f"the {student} notebook scores {want or '?'}/{top or '?'}", ok, f"{score}/{top}")
        figures[f"{student} notebook"] = f"{score}/{top} {row.get('flags', '')}".strip()
    check("minigpt grade exits 0", graded["status"] == 0, f"status {graded['status']}")

    failed = [name for name, ok, _ in results if not ok]
    figures["checks passed"] = f"{len(results) - len(failed)}/{len(results)}"
    notes = (
        f"`python benchmarks/container_grading.py` as root, engine {engine.kind}, "
        f"engine options for bubblewrap: {' '.join(security)}. "
        + (
            "Workarounds this machine needed: " + "; ".join(engine.workarounds) + ". "
            if engine.workarounds
            else ""
        )  # fmt: skip
        + "Grading ran with --network none, the course folder read-write, submissions and "
        "data read-only."
    )
    save(f"container_grading_{engine.kind}", figures, notes)
    print("ALL PASS" if not failed else f"FAILED: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
