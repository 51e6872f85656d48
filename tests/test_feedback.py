import linecache
import traceback

import pytest
import torch

from minigpt.checks import ExerciseCheckFailed, expect_close, expect_own_work, swapped
from minigpt.feedback import Checking, describe, same
from minigpt.mistakes import Alternative, Mistake, Task, catalogue, module_name

ROWS = Mistake(
    "normalizes columns",
    hint="Divide each row by its own sum.",
    source="""
def normalize(x):
    return x / x.sum(dim=0, keepdim=True)
""",
)
TASK = Task(
    functions=("normalize",),
    mistakes=(ROWS,),
    alternatives=(Alternative("softmax of logs", "def normalize(x):\n    return x\n"),),
    promise="a tensor of the shape of x whose rows sum to 1",
)


def reference(x):
    return x / x.sum(dim=1, keepdim=True)


def run_test(namespace, task=TASK):
    """A test cell: check the student's normalize against the reference."""
    x = torch.arange(1.0, 7.0).view(2, 3)
    with Checking(task, namespace):
        expect_close(namespace["normalize"](x), reference(x), "normalize(x)")


def test_a_mistake_the_catalogue_knows_is_named_with_its_hint():
    namespace = {"torch": torch}
    exec(ROWS.source, namespace)
    with pytest.raises(ExerciseCheckFailed) as failure:
        run_test(namespace)
    assert "values differ" in str(failure.value)
    assert "known mistake: normalizes columns" in str(failure.value)
    assert "Divide each row by its own sum." in str(failure.value)


def test_an_unknown_mistake_gets_the_plain_message():
    namespace = {"torch": torch}
    exec("def normalize(x):\n    return x / x.sum()\n", namespace)
    with pytest.raises(ExerciseCheckFailed) as failure:
        run_test(namespace)
    assert "values differ" in str(failure.value)
    assert "known mistake" not in str(failure.value)


def test_a_correct_answer_passes_and_the_names_come_back():
    namespace = {"torch": torch, "reference": reference}
    exec("def normalize(x):\n    return x / x.sum(dim=-1, keepdim=True)\n", namespace)
    answer = namespace["normalize"]
    run_test(namespace)
    assert namespace["normalize"] is answer


def test_a_raw_error_says_which_line_and_what_came_in():
    namespace = {"torch": torch}
    cell = "def normalize(x):\n    total = x.sum(dim=1)\n    return x / total\n"
    linecache.cache["<cell 7>"] = (len(cell), None, cell.splitlines(True), "<cell 7>")  # as IPython
    exec(compile(cell, "<cell 7>", "exec"), namespace)
    with pytest.raises(ExerciseCheckFailed) as failure:
        run_test(namespace)
    message = str(failure.value)
    assert "normalize raised RuntimeError" in message
    assert "at line 3 of normalize: return x / total" in message
    assert "x = a tensor of shape (2, 3) (float32)" in message
    assert "the task asks: a tensor of the shape of x whose rows sum to 1" in message


def test_pieces_are_swapped_for_the_reference_during_the_checks_only():
    task = Task(("normalize",), (), (), pieces={"helper": reference})
    namespace = {"torch": torch}
    exec("def helper(x):\n    return x\n\ndef normalize(x):\n    return helper(x)\n", namespace)
    student_helper = namespace["helper"]
    run_test(namespace, task)  # passes: normalize runs on the reference helper
    assert namespace["helper"] is student_helper
    with pytest.raises(ExerciseCheckFailed):
        run_test(namespace, Task(("normalize",), (), ()))


def test_own_work_looks_through_swapped_pieces():
    from minigpt.bigram import count_bigrams

    namespace = {"torch": torch}
    exec("def helper(x):\n    return x\n\ndef answer(x):\n    return helper(x)\n", namespace)
    with swapped(namespace, {"helper": count_bigrams}):
        expect_own_work(namespace["answer"], "answer")  # the student's own helper is judged
    namespace["helper"] = count_bigrams
    with pytest.raises(ExerciseCheckFailed, match="uses helper from minigpt.bigram"):
        expect_own_work(namespace["answer"], "answer")


def test_inputs_changed_in_place_are_reported_when_the_task_forbids_it():
    task = Task(("normalize",), (), (), keeps_inputs=True)
    namespace = {"torch": torch}
    exec("def normalize(x):\n    x /= x.sum(dim=1, keepdim=True)\n    return x\n", namespace)
    with pytest.raises(ExerciseCheckFailed, match="changed its argument x in place"):
        run_test(namespace, task)


def test_random_draws_are_replayed_from_the_same_state():
    wrong = Mistake(
        "ignores the generator",
        hint="Pass the generator.",
        source="def draw(n, generator):\n    return torch.rand(n)\n",
    )
    task = Task(("draw",), (wrong,), ())
    namespace = {"torch": torch}
    exec(wrong.source, namespace)
    named = pytest.raises(ExerciseCheckFailed, match="known mistake: ignores the generator")
    with named, Checking(task, namespace):
        first = namespace["draw"](3, torch.Generator().manual_seed(0))
        expect_close(namespace["draw"](3, torch.Generator().manual_seed(0)), first, "seeded")


def test_same_compares_like_a_grader():
    assert same(torch.tensor([float("-inf"), 1.0]), torch.tensor([float("-inf"), 1.0 + 1e-7]))
    assert not same(torch.tensor([1.0]), 1.0)
    assert not same(torch.ones(2), torch.ones(3))
    assert same([1, (2.0, "a")], [1, (2.0, "a")])
    assert describe(torch.zeros(2, 3, dtype=torch.long)) == "a tensor of shape (2, 3) (int64)"


def test_catalogues_are_found_by_exercise_name():
    assert module_name("04-self-attention") == "minigpt.mistakes.ch04_self_attention"
    assert "count-matrix" in catalogue("01-bigrams")
    with pytest.raises(ValueError, match="no catalogue"):
        catalogue("99-nothing")


def test_an_error_the_test_expects_reaches_the_test_unchanged():
    namespace = {"torch": torch}
    exec("def normalize(x):\n    raise ValueError('empty input')\n", namespace)
    with Checking(TASK, namespace), pytest.raises(ValueError, match="empty input"):
        namespace["normalize"](torch.zeros(0))


def test_a_result_the_checks_cannot_use_is_explained_without_showing_the_test():
    namespace = {"torch": torch}
    exec("def normalize(x):\n    return None\n", namespace)
    with pytest.raises(ExerciseCheckFailed) as failure, Checking(TASK, namespace):
        namespace["normalize"](torch.ones(2, 2)).sum()
    assert "could not use what your code returned (normalize returned None)" in str(failure.value)
    assert failure.value.__suppress_context__


def test_a_module_class_is_watched_through_its_forward_passes():
    source = """
class Scale(torch.nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(n))

    def forward(self, x):
        return x * self.weight {op} 1
"""
    wrong = Mistake("adds one", hint="Subtract one.", source=source.format(op="+"))
    task = Task(("Scale",), (wrong,), ())
    namespace = {"torch": torch}
    exec(wrong.source, namespace)
    student = namespace["Scale"]
    with (
        pytest.raises(ExerciseCheckFailed, match="known mistake: adds one"),
        Checking(task, namespace),
    ):
        module = namespace["Scale"](3)
        assert isinstance(module, student) and type(module).__name__ == "Scale"
        with torch.no_grad():
            module.weight.mul_(2.0)
        expect_close(module(torch.ones(3)), torch.ones(3), "Scale(3)(ones)")
    assert namespace["Scale"] is student


def test_a_failure_never_shows_the_line_of_a_hidden_test():
    namespace = {"torch": torch, "Checking": Checking, "TASK": TASK, "expect_close": expect_close}
    exec("def normalize(x):\n    return x\n", namespace)
    cell = (
        "with Checking(TASK, globals()):\n"
        "    expect_close(normalize(torch.ones(2)), torch.zeros(2), 'secret case')\n"
    )
    linecache.cache["<cell 9>"] = (len(cell), None, cell.splitlines(True), "<cell 9>")
    with pytest.raises(ExerciseCheckFailed) as failure:
        exec(compile(cell, "<cell 9>", "exec"), namespace)
    shown = "".join(traceback.format_tb(failure.value.__traceback__))
    assert "with Checking(TASK, globals())" in shown and "expect_close(normalize" not in shown


def test_an_answer_not_written_yet_says_so():
    namespace = {"torch": torch}
    exec("def normalize(x):\n    raise NotImplementedError()\n", namespace)
    with pytest.raises(ExerciseCheckFailed, match="normalize is not written yet"):
        run_test(namespace)
