"""The grading container's files agree with what was run: benchmarks/container_grading.py builds
the Dockerfile and grades in it with the engine options of minigpt.grading.apparmor (minutes, as
root, so not here); these checks keep the instructors' page, the build context and the torch pin
in line with it."""

from __future__ import annotations

import re

from course_notebooks import ROOT

from minigpt.grading.apparmor import DOCKER_OPTIONS, PODMAN_OPTIONS

PAGE = ROOT / "book" / "for-instructors.md"


def commands(engine: str) -> list[str]:
    """The `<engine> run` commands of the instructors' page, continuation lines joined."""
    text = PAGE.read_text().replace("\\\n", " ")
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return [line for line in lines if line.startswith(f"{engine} run")]


def test_the_page_grades_with_the_options_that_were_run():
    for engine, options in (("podman", PODMAN_OPTIONS), ("docker", DOCKER_OPTIONS)):
        pairs = [" ".join(options[i : i + 2]) for i in range(0, len(options), 2)]
        grading = [c for c in commands(engine) if "minigpt grade" in c]
        assert len(grading) == 1, engine
        assert all(pair in grading[0] for pair in pairs), (engine, grading[0])
        assert "--network none" in grading[0] and "--privileged" not in grading[0]
        mounts = re.findall(r"-v (\S+)", grading[0])
        assert mounts == ['"$PWD":/course', "~/Downloads/01-bigrams:/submissions:ro",
                          "minigpt-data:/data:ro"]  # fmt: skip


def test_the_image_gets_the_package_and_nothing_else_of_the_course():
    allowed = [
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    assert "*" in (ROOT / ".dockerignore").read_text().splitlines()
    assert allowed == ["pyproject.toml", "README.md", "minigpt"]
    copied = re.findall(r"^COPY (.+) \S+$", (ROOT / "Dockerfile").read_text(), re.M)
    assert sorted(" ".join(copied).split()) == sorted(allowed)


def test_the_image_pins_the_torch_the_makefile_installs():
    makefile = re.search(r"^TORCH_VERSION \?= (\S+)", (ROOT / "Makefile").read_text(), re.M)
    dockerfile = re.search(r'^ARG TORCH="torch==(\S+)"', (ROOT / "Dockerfile").read_text(), re.M)
    assert makefile and dockerfile and makefile.group(1) == dockerfile.group(1)
    assert "download.pytorch.org/whl/cpu" in (ROOT / "Dockerfile").read_text()
