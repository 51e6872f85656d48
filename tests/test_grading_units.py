"""Collecting and repairing submissions, without running nbgrader."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
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
from minigpt.probes import specs

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


def test_folder_collection_skips_junk_and_keeps_both_look_alike_files(tmp_path):
    write(tmp_path / "in" / "alice.ipynb")
    first = write(tmp_path / "in" / "bob_01-bigrams.ipynb")
    second = write(tmp_path / "in" / "bob_01-bigrams (1).ipynb")
    write(tmp_path / "in" / ".ipynb_checkpoints" / "alice-checkpoint.ipynb")
    write(tmp_path / "in" / "notes.txt")
    write(tmp_path / "in" / "01-bigrams.ipynb")
    found, warnings = collect(tmp_path / "in", ASSIGNMENT, tmp_path / "scratch")
    assert [(s.student, s.path) for s in found] == [
        ("alice", tmp_path / "in" / "alice.ipynb"),
        ("bob", first),
        ("bob-2", second),
    ]
    assert [s.flags for s in found] == [(), ("conflict",), ("conflict",)]
    assert "bob_01-bigrams (1).ipynb" in found[1].problem
    assert any("cannot tell whose" in w for w in warnings)
    assert any(w.startswith("bob: 2 files") for w in warnings)


def test_a_look_alike_file_never_replaces_a_classmate_s_submission(tmp_path):
    import os

    real = write(tmp_path / "in" / "victim.ipynb", "real")
    decoy = write(tmp_path / "in" / "victim (2).ipynb", "decoy")
    os.utime(real, (1, 1))  # the decoy is newer, as a planted file would be
    found, _ = collect(tmp_path / "in", ASSIGNMENT, tmp_path / "scratch")
    assert {(s.student, s.path.read_text()) for s in found} == {
        ("victim", "real"),
        ("victim-2", "decoy"),
    }
    assert all(s.flags == ("conflict",) for s in found)
    assert decoy.exists()


def test_links_and_special_files_are_refused_unread(tmp_path):
    import os

    secret = write(tmp_path / "course" / "solutions" / "01-bigrams" / "01-bigrams.ipynb", "key")
    folder = tmp_path / "in"
    write(folder / "ada.ipynb")
    (folder / "sly.ipynb").symlink_to(secret)
    (folder / "copycat.ipynb").symlink_to(folder / "ada.ipynb")
    os.link(secret, folder / "hardy.ipynb")
    os.mkfifo(folder / "piped.ipynb")
    (folder / "dir_01-bigrams").symlink_to(secret.parent, target_is_directory=True)
    found, warnings = collect(folder, ASSIGNMENT, tmp_path / "scratch")
    refused = {s.student: s.problem for s in found if s.refused}
    assert sorted(refused) == ["copycat", "hardy", "piped", "sly"]
    assert "symbolic link" in refused["sly"] and "symbolic link" in refused["copycat"]
    assert "hard link" in refused["hardy"] and "not a regular file" in refused["piped"]
    assert [s.student for s in found if not s.refused] == ["ada"]
    assert sum("refused" in w for w in warnings) == 4


def test_a_zip_member_that_is_a_link_is_refused(tmp_path):
    import stat

    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as z:
        link = zipfile.ZipInfo("sly_01-bigrams.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        z.writestr(link, "../../course/solutions/01-bigrams/01-bigrams.ipynb")
        z.writestr("sam_01-bigrams.ipynb", "{}")
    found, _ = collect(archive, ASSIGNMENT, tmp_path / "scratch")
    assert [(s.student, s.refused) for s in found] == [("sam", False), ("sly", True)]
    assert not found[1].path.exists()


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


def test_the_grades_csv_defuses_spreadsheet_formulas(tmp_path):
    import csv

    from minigpt.grading.batch import write_csv
    from minigpt.grading.results import Row

    rows = [Row("=cmd|' /C calc'!A0", "@SUM(1).ipynb", 1.0, 10.0, set(), ["+danger", "-x"])]
    write_csv(rows, tmp_path / "grades.csv")
    line = next(csv.DictReader((tmp_path / "grades.csv").open()))
    assert line["student"].startswith("'=") and line["file"].startswith("'@")
    assert line["notes"].startswith("'+")


def python_with(package_root: Path, code: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run code in a fresh Python that imports from the sandbox's package folder."""
    return subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(package_root), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def test_the_sandbox_s_minigpt_has_no_reference_answers(tmp_path):
    from minigpt.grading.withheld import prepare_package, withheld_names

    root = prepare_package(ASSIGNMENT, tmp_path)
    assert not list(root.rglob("__pycache__")) and not list(root.rglob("*.pyc"))
    text = (root / "minigpt" / "bigram.py").read_text()
    assert "bincount" not in text and "multinomial" not in text  # the bodies are gone
    for catalogue in (root / "minigpt" / "mistakes").glob("ch*.py"):  # alternatives are answers
        assert "Alternative" not in catalogue.read_text()
    assert sorted(p.name for p in (root / "minigpt" / "probes").glob("ch*.py")) == [
        "ch01_bigrams.py"
    ]
    probe = (
        "import minigpt.bigram as b, torch\n"
        "try:\n    b.count_bigrams(torch.tensor([0, 1]), 2)\n"
        "except Exception as e:\n    print(type(e).__name__, e)\n"
        "print(b.NeuralBigram(3)(torch.tensor([[0]]))[0].shape)"
    )
    done = python_with(root, probe, tmp_path)
    assert "WithheldReference uses minigpt's own count_bigrams" in done.stdout, done.stderr
    assert "torch.Size([1, 1, 3])" in done.stdout  # what is not a task's answer still works
    assert withheld_names(ASSIGNMENT)["minigpt.bigram"] >= {"count_bigrams", "average_nll"}


def test_stripping_keeps_a_class_and_replaces_one_method():
    from minigpt.grading.withheld import strip

    source = (
        "class Tok:\n    @classmethod\n    def train(cls, text):\n        return 'secret'\n"
        "    def size(self):\n        return 3\n"
    )
    stripped = strip(source, {"Tok.train"}, "m")
    namespace: dict = {}
    exec(stripped, namespace)
    assert namespace["Tok"]().size() == 3 and "secret" not in stripped
    with pytest.raises(RuntimeError, match=r"m\.Tok\.train"):
        namespace["Tok"].train("x")


def session_for_output(**limits):
    from minigpt.grading.sandbox import Policy
    from minigpt.grading.session import Limits, Session

    policy = Policy(work="/home/student", package_root="/opt/course/pkg", data_dir="/data")
    session = Session(policy, Limits(**limits), 0.0, {"/opt/course": "<course>"})
    session._outputs = []
    session._sandbox_pid = 1
    return session


def test_kept_output_is_capped_per_cell_and_per_student_and_paths_are_hidden():
    session = session_for_output(cell_output_bytes=100, output_bytes=150)
    session._output({"ev": "stream", "name": "stdout", "text": "/opt/course/x " + "a" * 500})
    text = session._outputs[0]["text"]
    assert text.startswith("<course>/x ") and "output cut here" in text and len(text) < 200
    session._outputs, session._cell_kept, session._cut = [], 0, False
    for _ in range(5):
        session._output({"ev": "stream", "name": "stdout", "text": "b" * 40})
    assert len(session._outputs[0]["text"].replace("\n", "")) < 150
    assert "output" in session.limits_hit


def test_only_real_pictures_are_kept():
    import base64

    session = session_for_output()
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 20).decode()
    fake = base64.b64encode(b"<svg onload=alert(1)>").decode()
    session._output({"ev": "display", "data": {"image/png": png, "text/plain": "fig"}})
    session._output({"ev": "display", "data": {"image/png": fake, "text/html": "<script>"}})
    kept = [output["data"] for output in session._outputs]
    assert kept == [{"text/plain": "fig", "image/png": png}]  # the fake and its HTML: nothing


def test_the_feedback_page_runs_nothing_a_student_wrote():
    from html.parser import HTMLParser

    from minigpt.grading.feedback_page import feedback_html
    from minigpt.grading.results import Row, TaskResult

    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(f"# Notes {evil} [x](javascript:alert(3))"),
        nbformat.v4.new_code_cell(evil),
    ]
    nb.cells[1].outputs = [
        nbformat.v4.new_output("stream", text=evil),
        nbformat.v4.new_output("error", ename="E", evalue=evil, traceback=[evil]),
        nbformat.v4.new_output("display_data", data={"text/plain": evil}),
    ]
    row = Row(evil, "x.ipynb", 0.0, 2.0, set(), [evil], [TaskResult("t", 0.0, 2.0, evil)])
    page = feedback_html(row, "01-bigrams", nb)

    class Elements(HTMLParser):
        found: list = []

        def handle_starttag(self, tag, attrs):
            self.found.append((tag, dict(attrs)))

    parser = Elements()
    parser.feed(page)
    tags = {tag for tag, _ in parser.found}
    assert "script" not in tags and "img" not in tags
    assert not [name for _, attrs in parser.found for name in attrs if name.startswith("on")]
    assert not [
        a for _, attrs in parser.found for a in attrs.values() if "javascript:" in (a or "")
    ]
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_task_stands_after_the_tasks_whose_solutions_it_receives(assignment):
    """The grader judges those tasks first wherever the notebook stands; in the released order
    that must already be so, or an honest notebook would be judged before its answers ran."""
    tasks = specs(assignment)
    owners = {name: gid for gid, spec in tasks.items() for name in spec.functions}
    order = [
        grading(c)["grade_id"]
        for c in blank_student_notebook(assignment).cells
        if grading(c).get("solution")
    ]
    for grade_id, spec in tasks.items():
        for piece in spec.pieces:
            if piece in owners:
                assert order.index(owners[piece]) < order.index(grade_id), (grade_id, piece)


def test_the_sandbox_finds_a_colab_stand_in_so_colab_imports_in_answers_run(tmp_path):
    from minigpt.grading.withheld import prepare_package

    root = prepare_package("01-bigrams", tmp_path)
    code = (
        "from google.colab import drive, files\nimport google.colab.userdata as secrets\n"
        "drive.mount('/content/drive')\nprint(files.upload())\n"
        "try:\n    secrets.get('KEY')\nexcept KeyError as error:\n    print('no secret')\n"
    )
    done = python_with(root, code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "(grading: drive.mount('/content/drive') does nothing outside Colab)",
        "(grading: files.upload() does nothing outside Colab)",
        "{}",
        "no secret",
    ]


def test_odd_characters_become_writable_text():
    from minigpt.grading.text import scrub, scrub_all

    latin = b"M\xfcller.ipynb".decode("utf-8", "surrogateescape")  # how Python lists the file
    assert scrub(latin) == "Müller.ipynb"
    assert scrub("bad \ud800 end") == "bad \ufffd end"
    assert scrub("zoë 王芳 😀") == "zoë 王芳 😀"
    cleaned = scrub_all({"cells": [{"source": "x \udfff", "\ud800key": 1}]})
    assert json.dumps(cleaned, ensure_ascii=False).encode("utf-8")
