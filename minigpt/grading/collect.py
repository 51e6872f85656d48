"""Find the submitted notebooks in a folder or an LMS zip, and tell whose each one is.

Student ids come from where the file sits:
- in a sub-folder (Moodle and most hand-made layouts): the top folder's name, without Moodle's
  "_assignsubmission_file_" suffix;
- directly in the folder: the file name, with Canvas's "login_[late_]123_456_" prefix read as
  "login", or else the name with the assignment's id taken out ("alice_01-bigrams" -> "alice").
Ids are lower-cased and reduced to letters, digits, '.', '_' and '-', which nbgrader accepts as
folder names.
"""

from __future__ import annotations

import datetime
import re
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


def student_id(relative: PurePosixPath, assignment: str) -> str:
    if len(relative.parts) > 1:
        raw = MOODLE_SUFFIX.sub("", relative.parts[0])
    else:
        stem = relative.stem
        canvas = CANVAS_PREFIX.match(stem)
        raw = canvas["student"] if canvas else re.sub(re.escape(assignment), "", stem, flags=re.I)
    raw = re.sub(r"\(\d+\)", "", raw)  # "alice (1).ipynb": a browser's second download
    return re.sub(r"[^a-z0-9._-]+", "-", raw.lower()).strip("-._")


def _wanted(relative: PurePosixPath) -> bool:
    return (
        relative.suffix == ".ipynb"
        and not SKIPPED_PARTS.intersection(relative.parts)
        and not relative.name.startswith("._")
    )


def _from_folder(folder: Path) -> list[tuple[PurePosixPath, Path, float]]:
    found = []
    for path in sorted(folder.rglob("*.ipynb")):
        relative = PurePosixPath(path.relative_to(folder).as_posix())
        if _wanted(relative) and path.is_file():
            found.append((relative, path, path.stat().st_mtime))
    return found


def _from_zip(archive: Path, scratch: Path) -> list[tuple[PurePosixPath, Path, float]]:
    """Extract only the notebooks, each to a flat name: nothing can land outside `scratch`."""
    try:
        zipped = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as err:
        raise CollectError(f"{archive} is not a readable zip file: {err}") from err
    found = []
    with zipped:
        for index, info in enumerate(zipped.infolist()):
            relative = PurePosixPath(info.filename)
            if info.is_dir() or not _wanted(relative) or ".." in relative.parts:
                continue
            target = scratch / f"{index:04d}.ipynb"
            target.write_bytes(zipped.read(info))
            found.append((relative, target, datetime.datetime(*info.date_time).timestamp()))
    return found


def collect(source: Path, assignment: str, scratch: Path) -> tuple[list[Submission], list[str]]:
    """The submissions in `source` (a folder or a .zip), one per student, and any warnings."""
    if not source.exists():
        raise CollectError(f"{source} does not exist")
    if source.is_dir():
        found = _from_folder(source)
    elif source.suffix.lower() == ".zip":
        scratch.mkdir(parents=True, exist_ok=True)
        found = _from_zip(source, scratch)
    else:
        raise CollectError(f"{source} is neither a folder nor a .zip of submissions")
    if not found:
        raise CollectError(f"no .ipynb files found in {source}")

    warnings: list[str] = []
    chosen: dict[str, Submission] = {}
    for relative, path, modified in found:
        student = student_id(relative, assignment)
        if not student:
            warnings.append(
                f"{relative}: cannot tell whose file this is; rename it to <student>.ipynb"
            )
            continue
        candidate = Submission(student, path, str(relative), modified)
        earlier = chosen.get(student)
        if earlier is not None:
            keep, drop = (
                (candidate, earlier) if modified >= earlier.modified else (earlier, candidate)
            )
            warnings.append(
                f"{student}: two files ({earlier.origin}, {candidate.origin}); grading the newer, "
                f"{keep.origin}, and ignoring {drop.origin}"
            )
            candidate = keep
        chosen[student] = candidate
    return sorted(chosen.values(), key=lambda s: s.student), warnings
