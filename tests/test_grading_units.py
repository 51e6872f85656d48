"""Collecting and repairing submissions, without running nbgrader."""

from __future__ import annotations

import copy
import json
import zipfile
from pathlib import Path, PurePosixPath

import nbformat
import pytest
from course_notebooks import (
    ASSIGNMENTS,
    blank_student_notebook,
    grading,
    solved_student_notebook,
)

from minigpt.grading.collect import CollectError, collect, student_id
from minigpt.grading.repair import read_notebook, repair

ASSIGNMENT = "01-bigrams"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("alice.ipynb", "alice"),
        ("Alice_01-bigrams.ipynb", "alice"),
        ("01-bigrams-bob (1).ipynb", "bob"),
        ("doejane_12345_678901_01-bigrams.ipynb", "doejane"),  # Canvas
        ("doejane_late_12345_678901_01-bigrams.ipynb", "doejane"),
        ("Jane Doe_4242_assignsubmission_file_/01-bigrams.ipynb", "jane-doe_4242"),  # Moodle
        ("carol/anything/01-bigrams.ipynb", "carol"),
        ("01-bigrams.ipynb", ""),
        ("Zoë Müller_7_assignsubmission_file_/01-bigrams.ipynb", "zoë-müller_7"),
        ("王芳_01-bigrams.ipynb", "王芳"),
        ("Ірина Шевченко.ipynb", "ірина-шевченко"),
        ("Zoe\u0308.ipynb", "zo\u00eb"),  # the same letter typed as e + combining diaeresis
    ],
)
def test_student_ids_from_file_names(path, expected):
    assert student_id(PurePosixPath(path), ASSIGNMENT) == expected


def write(path: Path, text: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_folder_collection_skips_junk_and_keeps_the_newest_duplicate(tmp_path):
    import os

    write(tmp_path / "in" / "alice.ipynb")
    old = write(tmp_path / "in" / "bob_01-bigrams.ipynb")
    new = write(tmp_path / "in" / "bob_01-bigrams (1).ipynb")
    os.utime(old, (1, 1))
    write(tmp_path / "in" / ".ipynb_checkpoints" / "alice-checkpoint.ipynb")
    write(tmp_path / "in" / "notes.txt")
    write(tmp_path / "in" / "01-bigrams.ipynb")
    found, warnings = collect(tmp_path / "in", ASSIGNMENT, tmp_path / "scratch")
    assert [(s.student, s.path) for s in found] == [
        ("alice", tmp_path / "in" / "alice.ipynb"),
        ("bob", new),
    ]
    assert any("cannot tell whose" in w for w in warnings)
    assert any(
        "bob: two files" in w and "grading the newer, bob_01-bigrams (1).ipynb" in w
        for w in warnings
    )


def test_names_that_differ_in_one_letter_or_only_in_spelling_stay_apart(tmp_path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("Zoë Martin_1_assignsubmission_file_/01-bigrams.ipynb", "{}")
        z.writestr("Zoé Martin_2_assignsubmission_file_/01-bigrams.ipynb", "{}")
        z.writestr("jane doe.ipynb", "{}")
        z.writestr("jane-doe.ipynb", "{}")
    found, warnings = collect(archive, ASSIGNMENT, tmp_path / "scratch")
    assert sorted(s.student for s in found) == [
        "jane-doe",
        "jane-doe-2",
        "zoé-martin_2",
        "zoë-martin_1",
    ]
    assert any("jane-doe is taken by" in w and "graded as jane-doe-2" in w for w in warnings)


def test_every_skipped_zip_member_is_listed_with_its_reason(tmp_path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../../evil_01-bigrams.ipynb", "{}")
        z.writestr("__MACOSX/._x.ipynb", "junk")
        z.writestr("index.html", "<html>")
        z.writestr("sam_01-bigrams.ipynb", "{}")
    found, warnings = collect(archive, ASSIGNMENT, tmp_path / "scratch")
    assert [s.student for s in found] == ["sam"]
    assert any(
        w.startswith("../../evil_01-bigrams.ipynb: skipped, its path leaves") for w in warnings
    )
    assert any(w.startswith("__MACOSX/._x.ipynb: skipped, a copy made by macOS") for w in warnings)
    assert any(w.startswith("index.html: skipped, not a notebook") for w in warnings)


def test_the_code_scan_names_what_an_answer_has_no_need_for(released):
    from minigpt.grading.tamper import static_findings

    nb = copy.deepcopy(released)
    first = next(i for i, c in enumerate(nb.cells) if grading(c).get("solution"))
    nb.cells[first].source = (
        "import subprocess as sp\nimport minigpt.checks as mc\nmc.expect_close = print\n"
        "get_ipython().events.register('pre_run_cell', print)\n!ls /\nopen('../../gradebook.db')\n"
        "import os as o\no.listdir('/')\nxs = [1]\nxs.remove(1)\nmodel.modules()\n"
    )
    nb.cells.insert(first + 1, nbformat.v4.new_code_cell("import torch\ntorch.allclose = max"))
    found = " | ".join(static_findings(nb, released))
    grade_id = grading(nb.cells[first])["grade_id"]
    for expected in (
        f"answer {grade_id} imports subprocess",
        "assigns to mc.expect_close",
        "calls get_ipython()",
        "uses os.listdir",
        "opens ../../gradebook.db",
        "assigns to torch.allclose",
    ):
        assert expected in found, (expected, found)
    assert "remove" not in found and "modules" not in found
    assert static_findings(solved_student_notebook(ASSIGNMENT), released) == []


def test_guard_reports_about_course_cells_are_ignored_and_rewritten_tests_are_caught():
    from minigpt.grading.tamper import guard_findings

    trusted = {"setup": "aaa", "test-1": "bbb", "test-2": "ccc"}
    lines = [
        "cell\taaa",
        "tampering\taaa\tstarted or signalled a process (subprocess.Popen)\timport torch",
        "tampering\tddd\ttouched a file outside its folder (/work)\timport glob",
        "cell\tbbb",
        "cell\teee",
    ]
    found = guard_findings(lines, ["setup", "test-1", "test-2"], trusted, {"test-1", "test-2"})
    assert found == [
        "touched a file outside its folder (/work) in: import glob",
        "test cell test-2 did not run as written (input rewritten?)",
    ]
    silenced = guard_findings([], ["setup", "test-1"], trusted, {"test-1"})
    assert silenced == ["the grading guard heard nothing from the kernel (silenced?)"]


def test_zip_collection_never_writes_outside_scratch(tmp_path):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("Jane Doe_1_assignsubmission_file_/01-bigrams.ipynb", "{}")
        z.writestr("../../evil_01-bigrams.ipynb", "{}")
        z.writestr("__MACOSX/._x.ipynb", "junk")
        z.writestr("sam_01-bigrams.ipynb", "{}")
    found, _ = collect(archive, ASSIGNMENT, tmp_path / "scratch")
    assert [s.student for s in found] == ["jane-doe_1", "sam"]
    assert all(s.path.parent == tmp_path / "scratch" for s in found)
    assert not (tmp_path.parent / "evil_01-bigrams.ipynb").exists()


def test_bad_inputs_are_explained(tmp_path):
    with pytest.raises(CollectError, match="does not exist"):
        collect(tmp_path / "nothing", ASSIGNMENT, tmp_path)
    with pytest.raises(CollectError, match="not a readable zip"):
        collect(write(tmp_path / "x.zip", "not a zip"), ASSIGNMENT, tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CollectError, match="no .ipynb files"):
        collect(tmp_path / "empty", ASSIGNMENT, tmp_path)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "no list of cells"),
        (json.dumps({"cells": [{"cell_type": "alien"}]}), "nbformat can read"),
    ],
)
def test_unreadable_notebooks_say_why(tmp_path, text, reason):
    notebook, problem = read_notebook(write(tmp_path / "x.ipynb", text))
    assert notebook is None and reason in problem


def graded_cells(nb):
    return [(cell.id, grading(cell).get("grade_id")) for cell in nb.cells if grading(cell)]


@pytest.fixture(scope="module")
def released():
    return blank_student_notebook(ASSIGNMENT)


@pytest.fixture(scope="module")
def solved():
    return solved_student_notebook(ASSIGNMENT)


def test_an_untouched_submission_needs_no_repair(released, solved):
    result = repair(solved, released)
    assert not result.flags and not result.notes
    assert graded_cells(result.notebook) == graded_cells(released)


def test_colab_file_without_ids_or_metadata_is_matched_by_content(released, solved):
    stripped = copy.deepcopy(solved)
    for cell in stripped.cells:
        cell.pop("id", None)
        cell.metadata.pop("nbgrader", None)
    stripped.nbformat_minor = 0
    stripped.cells.insert(
        4, nbformat.v4.new_code_cell("def count_matrix(ids, vocab_size):\n    return 'scratch'")
    )
    result = repair(stripped, released)
    assert result.flags == {"repaired"}
    assert graded_cells(result.notebook) == graded_cells(released)
    answer = next(c for c in result.notebook.cells if grading(c).get("grade_id") == "count-matrix")
    assert "bincount" in answer.source  # the real answer, not the scratch copy before it
    nbformat.validate(result.notebook)


def test_a_duplicated_answer_keeps_metadata_once(released, solved):
    nb = copy.deepcopy(solved)
    index = next(i for i, c in enumerate(nb.cells) if grading(c).get("grade_id") == "average-nll")
    nb.cells.insert(index + 1, copy.deepcopy(nb.cells[index]))
    result = repair(nb, released)
    assert result.flags == {"repaired"}
    assert [g for _, g in graded_cells(result.notebook)].count("average-nll") == 1
    assert len({c.id for c in result.notebook.cells}) == len(result.notebook.cells)


def test_a_deleted_test_cell_comes_back_in_place(released, solved):
    nb = copy.deepcopy(solved)
    nb.cells = [c for c in nb.cells if grading(c).get("grade_id") != "test-to-probabilities"]
    result = repair(nb, released)
    assert "repaired" in result.flags
    order = [g for _, g in graded_cells(result.notebook)]
    assert order == [g for _, g in graded_cells(released)]


def test_an_edited_test_cell_is_reported(released, solved):
    nb = copy.deepcopy(solved)
    test = next(c for c in nb.cells if grading(c).get("grade_id") == "test-sample-tokens")
    test.source = "pass"
    result = repair(nb, released)
    assert result.flags == {"tampered"}
    assert any("test-sample-tokens: test cell was edited" in note for note in result.notes)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_code_scan_finds_nothing_in_the_solutions(assignment):
    from minigpt.grading.tamper import static_findings

    solved = solved_student_notebook(assignment)
    assert static_findings(solved, blank_student_notebook(assignment)) == []
