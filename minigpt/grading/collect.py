"""Find the submitted notebooks in a folder or an LMS zip, and tell whose each one is.

Student ids come from where the file sits:
- in a sub-folder (Moodle and most hand-made layouts): the top folder's name, without Moodle's
  "_assignsubmission_file_" suffix;
- directly in the folder: the file name, with Canvas's "login_[late_]123_456_" prefix read as
  "login", or else the name with the assignment's id taken out ("alice_01-bigrams" -> "alice").
Ids keep every script's letters: the name is put in Unicode normal form (NFC, so "é" typed two
ways is one letter), lower-cased, and anything but letters, digits, '.', '_' and '-' becomes '-'.
No file is ever dropped because another looks alike: two files that come out as one student
("alice.ipynb" and "alice (2).ipynb", a browser's second download) are both graded, under
"alice" and "alice-2", and both marked as a conflict for the instructor to settle; different
names that come out the same are graded apart too. Symbolic links, hard links, devices and
pipes are refused with the reason, never followed.
"""

from __future__ import annotations

import datetime
import os
import re
import stat
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from minigpt.grading.text import scrub

MOODLE_SUFFIX = re.compile(r"_assignsubmission_file_?$", re.IGNORECASE)
CANVAS_PREFIX = re.compile(r"^(?P<student>[^_]+)_(?:late_)?\d+_\d+_", re.IGNORECASE)
SKIPPED_PARTS = {"__MACOSX", ".ipynb_checkpoints"}


class CollectError(ValueError):
    """The input cannot be read as a set of submissions."""


@dataclass
class Submission:
    student: str
    path: Path  # a readable copy of the file
    origin: str  # where it came from, as the instructor would recognise it
    modified: float  # seconds since the epoch
    refused: bool = False  # a link or special file: never opened
    problem: str = ""  # what the instructor should know about this file
    flags: tuple[str, ...] = ()


def student_name(relative: PurePosixPath, assignment: str) -> str:
    """The student's name as the file or folder gives it, in normal form, without LMS noise."""
    if len(relative.parts) > 1:
        raw = MOODLE_SUFFIX.sub("", relative.parts[0])
    else:
        stem = relative.stem
        canvas = CANVAS_PREFIX.match(stem)
        raw = canvas["student"] if canvas else re.sub(re.escape(assignment), "", stem, flags=re.I)
    raw = re.sub(r"\(\d+\)", "", raw)  # "alice (1).ipynb": a browser's second download
    return " ".join(unicodedata.normalize("NFC", raw).lower().split()).strip(" -._")


def student_id(relative: PurePosixPath, assignment: str) -> str:
    """An id nbgrader can use as a folder name, keeping the letters of every script."""
    name = student_name(relative, assignment)
    return re.sub(r"[^\w.-]+", "-", name).strip("-._")


def _skip_reason(relative: PurePosixPath) -> str | None:
    """Why a file is not a submission, or None when it is one."""
    if ".." in relative.parts or relative.is_absolute():
        return "its path leaves the folder (.. or /); it was not opened"
    if SKIPPED_PARTS.intersection(relative.parts) or relative.name.startswith("._"):
        return "a copy made by macOS or Jupyter, not a submission"
    if relative.suffix.lower() != ".ipynb":
        return "not a notebook (.ipynb)"
    return None


Found = tuple[PurePosixPath, Path, float, str]  # where, the copy to read, when, why refused


def _refusal(mode: int, links: int) -> str:
    """Why a file is refused before anything reads it, or ''."""
    if stat.S_ISLNK(mode):
        return "a symbolic link, refused (it could point at any file); submit the notebook itself"
    if not stat.S_ISREG(mode):
        return "not a regular file (a device, pipe or socket), refused"
    if links > 1:
        return "a hard link to another file, refused; submit a copy of the notebook"
    return ""


def _from_folder(folder: Path) -> tuple[list[Found], list[str]]:
    found, skipped = [], []
    for top, dirs, files in os.walk(folder, followlinks=False):
        for name in sorted(files) + sorted(d for d in dirs if Path(top, d).is_symlink()):
            path = Path(top) / name
            relative = PurePosixPath(path.relative_to(folder).as_posix())
            reason = _skip_reason(relative)
            if reason:
                skipped.append(f"{relative}: skipped, {reason}")
                continue
            info = os.lstat(path)
            found.append((relative, path, info.st_mtime, _refusal(info.st_mode, info.st_nlink)))
        dirs.sort()
    return sorted(found), skipped


def _from_zip(archive: Path, scratch: Path) -> tuple[list[Found], list[str]]:
    """Extract only regular notebooks, each to a flat name: nothing lands outside `scratch`."""
    try:
        zipped = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as err:
        raise CollectError(f"{archive} is not a readable zip file: {err}") from err
    found, skipped = [], []
    with zipped:
        for index, info in enumerate(zipped.infolist()):
            if info.is_dir():
                continue
            relative = PurePosixPath(info.filename)
            reason = _skip_reason(relative)
            if reason:
                skipped.append(f"{info.filename}: skipped, {reason}")
                continue
            mode = info.external_attr >> 16
            refusal = _refusal(mode, 1) if mode and stat.S_IFMT(mode) else ""
            target = scratch / f"{index:04d}.ipynb"
            if not refusal:
                target.write_bytes(zipped.read(info))
            when = datetime.datetime(*info.date_time).timestamp()
            found.append((relative, target, when, refusal))
    return found, skipped


def _unique(student: str, taken: set[str]) -> str:
    number = 2
    while f"{student}-{number}" in taken:
        number += 1
    return f"{student}-{number}"


def collect(source: Path, assignment: str, scratch: Path) -> tuple[list[Submission], list[str]]:
    """The submissions in `source` (a folder or a .zip), one per student, and any warnings."""
    if not source.exists():
        raise CollectError(f"{source} does not exist")
    if source.is_dir():
        found, warnings = _from_folder(source)
    elif source.suffix.lower() == ".zip":
        scratch.mkdir(parents=True, exist_ok=True)
        found, warnings = _from_zip(source, scratch)
    else:
        raise CollectError(f"{source} is neither a folder nor a .zip of submissions")
    if not found:
        raise CollectError(f"no .ipynb files found in {source}")

    submissions: list[Submission] = []
    by_name: dict[str, list[Submission]] = {}
    for relative, path, modified, refusal in found:
        relative = PurePosixPath(scrub(str(relative)))  # a name in another encoding, readable
        if not student_id(relative, assignment):
            warnings.append(
                f"{relative}: cannot tell whose file this is; rename it to <student>.ipynb"
            )
            continue
        submission = Submission(
            student_id(relative, assignment), path, str(relative), modified, bool(refusal), refusal
        )
        if refusal:
            warnings.append(f"{relative}: {refusal}")
        submissions.append(submission)
        by_name.setdefault(student_name(relative, assignment), []).append(submission)

    for files in by_name.values():
        if len(files) > 1:
            files.sort(key=lambda s: (_copy_marked(s.origin), s.origin))
            listed = ", ".join(s.origin for s in files)
            for submission in files:
                submission.flags = ("conflict",)
                submission.problem = (
                    f"conflict: {len(files)} files look like this student's ({listed}); each was "
                    "graded, under its own id: keep the one that counts"
                )
            warnings.append(f"{files[0].student}: {len(files)} files ({listed}); all graded")

    chosen: dict[str, Submission] = {}
    for files in sorted(by_name.values(), key=lambda fs: fs[0].origin):
        for submission in files:
            if submission.student in chosen:
                unique = _unique(submission.student, set(chosen))
                if "conflict" not in submission.flags:
                    warnings.append(
                        f"{submission.origin}: its id {submission.student} is taken by "
                        f"{chosen[submission.student].origin}, a different name; graded as "
                        f"{unique}"
                    )
                submission.student = unique
            chosen[submission.student] = submission
    return sorted(chosen.values(), key=lambda s: s.student), warnings


def _copy_marked(origin: str) -> bool:
    """'alice (2).ipynb': a file a browser saved again beside an earlier one."""
    return bool(re.search(r"\(\d+\)", PurePosixPath(origin).name))
