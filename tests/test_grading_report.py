"""The class report: its figures on a small graded class, and hostile names kept inert."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import pytest

from minigpt.grading.report import class_summary, task_summaries, write_report
from minigpt.grading.results import Row, TaskResult
from minigpt.grading.similarity import SimilarPair

HOSTILE = '<script>alert("name")</script>'
HOSTILE_MESSAGE = 'AssertionError: <img src=x onerror="alert(1)">'
SHAPE = "ExerciseCheckFailed: counts: expected shape (3, 3), got (2, 2)"


def student(name, counts, probs, flags=(), notes=(), origin=None):
    """One row as the grader leaves it: counts is worth 2 points, probs 3."""
    tasks = [TaskResult("test-counts", *counts), TaskResult("test-probs", *probs)]
    return Row(
        name,
        origin or f"{name}_01-demo.ipynb",
        sum(t.score for t in tasks),
        5.0,
        set(flags),
        list(notes),
        tasks,
        {"counts": f"def counts(ids):\n    return ids  # {name}\n"},
    )


@pytest.fixture
def graded_class():
    return [
        student("ann", (2, 2), (3, 3)),
        student("bob", (2, 2), (0, 3, "ExerciseCheckFailed: probs: row 0 sums to 0.5")),
        student("cid", (0, 2, SHAPE), (0, 3, "ExerciseCheckFailed: probs: row 0 sums to 0.75")),
        student("dan", (0, 2, SHAPE), (3, 3), flags={"timed out"}, notes=["a cell ran past 60 s"]),
        student(HOSTILE, (0, 2, HOSTILE_MESSAGE), (3, 3), flags={"tampered"}, notes=[HOSTILE]),
        student("eve", (2, 2), (3, 3), flags={"repaired"}),
        Row("fay", "fay.ipynb", 0, 5.0, {"unreadable"}, ["not a notebook"]),
    ]


def test_task_figures_count_passes_points_and_messages(graded_class):
    counts, probs = task_summaries(graded_class)
    assert (counts.grade_id, counts.graded, counts.passed, counts.max_score) == (
        "test-counts",
        6,
        3,
        2,
    )
    assert counts.pass_rate == 0.5 and counts.mean_score == pytest.approx(1.0)
    assert [(m.message, m.students) for m in counts.messages] == [(SHAPE, 2), (HOSTILE_MESSAGE, 1)]
    assert (probs.passed, probs.mean_score) == (4, pytest.approx(2.0))
    # "sums to 0.5" and "sums to 0.75" are one mistake in two wordings.
    assert [(m.students, m.wordings) for m in probs.messages] == [(2, 2)]


def test_terminal_summary_shows_the_same_figures(graded_class):
    similar = [SimilarPair("ann", "eve", "counts", 0.95), SimilarPair("eve", "dan", "counts", 1.0)]
    text = class_summary(graded_class, similar)
    assert "7 submission(s), 7 scored out of 5: mean 2.57, median 3" in text
    histogram = [line for line in text.splitlines() if re.match(r" +\d+ \|", line)]
    assert histogram == [
        "    0 | ## 2",
        "    1 |",
        "    2 | # 1",
        "    3 | ## 2",
        "    4 |",
        "    5 | ## 2",
    ]
    assert "test-counts    3/6    50%   1.00 of 2" in text
    assert f"    2  {SHAPE}" in text
    assert "ann, dan, eve: counts, 95% to 100% alike" in text  # pairs joined into one group


class Tags(HTMLParser):
    """Every tag and attribute of a page, to check what a browser would run or load."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_report_is_one_offline_file_where_student_text_stays_text(graded_class, tmp_path):
    similar = [SimilarPair("ann", HOSTILE, "counts", 0.95)]
    path = write_report(graded_class, "01-demo", tmp_path, similar)

    assert path == tmp_path / "report-01-demo.html"
    page = path.read_text(encoding="utf-8")
    parser = Tags()
    parser.feed(page)
    tags = parser.tags
    assert not [t for t, _ in tags if t in ("script", "iframe", "object", "embed", "link")]
    assert not [a for _, attrs in tags for a in attrs if a.startswith("on")]
    images = [attrs["src"] for tag, attrs in tags if tag == "img"]
    assert len(images) == 2  # the histogram and the pass rates, embedded
    for src in images:
        assert base64.b64decode(src.removeprefix("data:image/png;base64,"))[:4] == b"\x89PNG"
    assert "http://" not in page and "https://" not in page
    policy = next(a["content"] for t, a in tags if a.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in policy
    # The hostile name, note, message and code appear, escaped.
    assert "&lt;script&gt;alert(&quot;name&quot;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    for figure in [
        "3/6",
        "50%",
        "1.00 of 2",
        "4/6",
        "67%",
        SHAPE,
        "timed out",
        "a cell ran past 60 s",
    ]:
        assert figure.replace("'", "&#x27;") in page, figure
    assert "fay" in page and "unreadable" in page
    assert ">eve<" not in page  # a repaired notebook needs no look
    assert "<details open>" in page and "# ann" in page  # the pair shows both answers


def test_a_large_group_of_similar_answers_is_one_entry(graded_class, tmp_path):
    names = ["ann", "bob", "cid", "dan", "eve"]
    similar = [SimilarPair(a, b, "counts", 1.0) for a, b in zip(names, names[1:], strict=False)]
    page = write_report(graded_class, "01-demo", tmp_path, similar).read_text()
    assert "1 group(s) of similar answers" in page
    assert page.count("<details open>") == 1
    assert "Also: eve" in page  # four answers side by side, the rest named


def test_a_class_with_no_scores_still_gets_a_report(tmp_path):
    rows = [Row("fay", "fay.ipynb", None, None, {"error"}, ["nbgrader failed"])]
    page = write_report(rows, "01-demo", tmp_path / "out.html").read_text()
    assert "none with a score" in page and "No per-task results" in page
    assert "none with a score" in class_summary(rows)
