"""Find the submitted notebooks in a folder or an LMS zip, and tell whose each one is.

Student ids come from where the file sits:
- in a sub-folder (Moodle and most hand-made layouts): the top folder's name, without Moodle's
  "_assignsubmission_file_" suffix;
- directly in the folder: the file name, with Canvas's "login_[late_]123_456_" prefix read as
  "login", or else the name with the assignment's id taken out ("alice_01-bigrams" -> "alice").
Ids keep every script's letters: the name is put in Unicode normal form (NFC, so "é" typed two
ways is one letter), lower-cased, and anything but letters, digits, '.', '_' and '-' becomes '-'.
Two different names that still come out the same are both graded, the second with a suffix, and
the collision is reported; two files of the same name are one student's, and the newer counts.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

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
    modified: float  # seconds since the epoch, to pick the newest of two files


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


Found = tuple[PurePosixPath, Path, float]


def _from_folder(folder: Path) -> tuple[list[Found], list[str]]:
    found, skipped = [], []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = PurePosixPath(path.relative_to(folder).as_posix())
        reason = _skip_reason(relative)
        if reason:
            skipped.append(f"{relative}: skipped, {reason}")
        else:
            found.append((relative, path, path.stat().st_mtime))
    return found, skipped


def _from_zip(archive: Path, scratch: Path) -> tuple[list[Found], list[str]]:
    """Extract only the notebooks, each to a flat name: nothing can land outside `scratch`."""
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
            target = scratch / f"{index:04d}.ipynb"
            target.write_bytes(zipped.read(info))
            found.append((relative, target, datetime.datetime(*info.date_time).timestamp()))
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

    by_name: dict[str, Submission] = {}  # one student's name -> the file that counts
    for relative, path, modified in found:
        name = student_name(relative, assignment)
        if not student_id(relative, assignment):
            warnings.append(
                f"{relative}: cannot tell whose file this is; rename it to <student>.ipynb"
            )
            continue
        candidate = Submission(student_id(relative, assignment), path, str(relative), modified)
        earlier = by_name.get(name)
        if earlier is not None:
            keep, drop = (
                (candidate, earlier) if modified >= earlier.modified else (earlier, candidate)
            )
            warnings.append(
                f"{candidate.student}: two files ({earlier.origin}, {candidate.origin}); grading "
                "the newer, "
                f"{keep.origin}, and ignoring {drop.origin}"
            )
            candidate = keep
        by_name[name] = candidate

    chosen: dict[str, Submission] = {}
    for submission in sorted(by_name.values(), key=lambda s: s.origin):
        if submission.student in chosen:
            unique = _unique(submission.student, set(chosen))
            warnings.append(
                f"{submission.origin}: its id {submission.student} is taken by "
                f"{chosen[submission.student].origin}, a different name; graded as {unique}"
            )
            submission.student = unique
        chosen[submission.student] = submission
    return sorted(chosen.values(), key=lambda s: s.student), warnings
