"""The checking framework: plain data, the judge's messages, naming mistakes, written rules.

In-process and fast: a task of exercise 1 is checked in a namespace of this test, the way a
test cell checks it in Colab, and its probes' records are judged the way the grader judges them.
"""

from __future__ import annotations

import linecache
import math

import pytest
import torch

from minigpt.checks import ExerciseCheckFailed
from minigpt.feedback import Exercise, collecting, plain_case
from minigpt.mistakes import catalogue
from minigpt.plain import Opaque, PlainDataError, dumps, from_plain, loads, to_plain
from minigpt.probes import specs
from minigpt.probes.judge import MAX_MESSAGE, first_failure, named, same_value
from minigpt.probes.rules import answer_problem
from minigpt.probes.run import fingerprint, run_cases
from minigpt.probes.spec import Case

COUNTING = """
def count_matrix(ids, vocab_size):
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.long)
    for a, b in zip(ids.tolist(), ids[1:].tolist()):
        counts[a, b] += 1
    return counts
"""
_cells = iter(range(10**6))


def notebook(*sources: str) -> dict:
    """A namespace in which these cells ran, each registered as a notebook cell would be."""
    namespace = {"torch": torch, "math": math}
    namespace["exercise"] = Exercise("01-bigrams", namespace)
    for source in sources:
        name = f"<cell {next(_cells)}>"
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)
        exec(compile(source, name, "exec"), namespace)
    return namespace


def check_count_matrix(namespace: dict) -> None:
    with namespace["exercise"].task("count-matrix") as task:
        task.call(
            "count_matrix(tensor([0, 1, 1, 2, 0, 1]), 3)", torch.tensor([0, 1, 1, 2, 0, 1]), 3
        )
        task.call("count_matrix on 50 random ids", torch.randint(4, (50,), generator=seeded()), 4)


def seeded() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def test_plain_data_round_trips_and_refuses_anything_else():
    values = {
        ("a", 1): [torch.arange(6).view(2, 3), torch.tensor(True), (1.5, float("inf"))],
        "meta": torch.empty(2, 2, device="meta"),
        "half": torch.ones(3, dtype=torch.bfloat16),
        "none": None,
    }
    back = loads(dumps(values))
    assert back.keys() == values.keys()
    assert torch.equal(back[("a", 1)][0], values[("a", 1)][0])
    assert back[("a", 1)][2] == (1.5, float("inf"))
    assert back["meta"].is_meta and back["meta"].shape == (2, 2)
    assert back["half"].dtype == torch.bfloat16
    assert isinstance(from_plain(to_plain(object())), Opaque)
    for bad in (
        '{"__pickle__": "x"}',
        '{"__tensor__": {"dtype": "float32", "shape": [2], "data": "AAAA"}}',
        '{"__dataclass__": "os:system", "fields": {}}',
        '{"__float__": "1e308"}',
        "[" * 10000 + "]" * 10000,
    ):
        with pytest.raises(PlainDataError):
            loads(bad)


def test_a_correct_answer_passes_in_the_notebook():
    check_count_matrix(notebook(COUNTING))


def test_a_catalogued_mistake_is_named_with_its_hint():
    transposed = next(
        m for m in catalogue("01-bigrams")["count-matrix"].mistakes if "transposed" in m.name
    )
    with pytest.raises(ExerciseCheckFailed) as failure:
        check_count_matrix(notebook(transposed.source))
    message = str(failure.value)
    assert "index (0, 1): expected 2, got 0" in message
    assert transposed.name in message and transposed.hint in message


def test_a_mistake_is_named_only_when_it_behaves_like_the_answer():
    # All zeros fails the first case with the same words as the transposed count ("at (0, 1):
    # expected 2, got 0"), but it is a different mistake: nothing is named.
    zeros = "def count_matrix(ids, vocab_size):\n    return torch.zeros(vocab_size, vocab_size)\n"
    with pytest.raises(ExerciseCheckFailed) as failure:
        check_count_matrix(notebook(zeros))
    assert "expected 2, got 0" in str(failure.value)
    assert "known mistake" not in str(failure.value)


def test_an_error_in_the_answer_names_its_line_and_the_promise():
    broken = (
        "def count_matrix(ids, vocab_size):\n    total = 0\n"
        "    return ids.view(vocab_size, vocab_size)\n"
    )
    with pytest.raises(ExerciseCheckFailed) as failure:
        check_count_matrix(notebook(broken))
    message = str(failure.value)
    assert "raised RuntimeError" in message
    assert "at line 3 of count_matrix: return ids.view(vocab_size, vocab_size)" in message
    assert "the task asks: a (vocab_size, vocab_size) tensor" in message


def test_an_unwritten_answer_says_so_and_a_missing_one_too():
    stub = "def count_matrix(ids, vocab_size):\n    raise NotImplementedError()\n"
    with pytest.raises(ExerciseCheckFailed, match="not written yet"):
        check_count_matrix(notebook(stub))
    with pytest.raises(ExerciseCheckFailed, match="count_matrix is not defined"):
        check_count_matrix(notebook())


@pytest.mark.parametrize(
    "source",
    [
        "from minigpt.bigram import count_bigrams\n\ndef count_matrix(ids, vocab_size):\n"
        "    return count_bigrams(ids, vocab_size)\n",
        "import minigpt.bigram as mb\n\ndef count_matrix(ids, vocab_size):\n"
        "    return mb.count_bigrams(ids, vocab_size)\n",
        "def count_matrix(ids, vocab_size):\n    return __import__('minigpt.bigram')."
        "bigram.count_bigrams(ids, vocab_size)\n",
    ],
)
def test_an_answer_that_imports_minigpt_s_version_is_not_its_own_work(source):
    assert "write this one yourself" in answer_problem(specs("01-bigrams")["count-matrix"], source)
    with pytest.raises(ExerciseCheckFailed, match="write this one yourself"):
        check_count_matrix(notebook(source))


def test_a_reference_passed_in_from_elsewhere_is_caught_in_the_notebook():
    default = (
        "def count_matrix(ids, vocab_size, f=minigpt_counts):\n    return f(ids, vocab_size)\n"
    )
    namespace = notebook("from minigpt.bigram import count_bigrams as minigpt_counts", default)
    with pytest.raises(ExerciseCheckFailed, match="minigpt"):
        check_count_matrix(namespace)


def test_the_judge_compares_any_dtype_and_says_what_differs():
    same_value(torch.tensor([1, 2]), torch.tensor([1.0, 2.0]), "counts")
    with pytest.raises(ExerciseCheckFailed, match="expected a float, got tensor"):
        same_value(torch.tensor(1.0), 1.0, "loss")
    with pytest.raises(ExerciseCheckFailed, match=r"expected 3 items, got 2"):
        same_value([1, 2], [1, 2, 3], "ids")
    with pytest.raises(ExerciseCheckFailed, match="expected dtype torch.bool"):
        same_value(torch.ones(2), torch.ones(2, dtype=torch.bool), "mask", exact_dtype=True)
    assert len(named("x" * 5000, [])) <= MAX_MESSAGE


def test_records_from_a_hostile_probe_are_only_data():
    spec = specs("01-bigrams")["count-matrix"]
    case = Case(
        "call", "count_matrix of 4 ids", {"args": (torch.tensor([0, 1, 1, 0]), 2), "kwargs": {}}
    )
    expected = [{"result": torch.tensor([[0, 1], [1, 1]]), "arguments after": {}}]
    for forged in ({"result": Opaque("Lenient")}, {"result": [[0, 1], [1, 1]]}, "nonsense", {}):
        assert first_failure(spec, [case], [forged], expected) is not None


def test_inputs_changed_on_the_way_change_the_fingerprint():
    spec = specs("01-bigrams")["count-matrix"]
    case = plain_case(Case("call", "x", {"args": (torch.tensor([0, 1]), 2), "kwargs": {}}))
    namespace = notebook(COUNTING)
    record = run_cases(spec, namespace, [case])[0]
    assert record["seen"] == fingerprint(from_plain(case["inputs"]))
    real = torch.frombuffer
    try:
        torch.frombuffer = lambda *a, **k: real(*a, **k).zero_()
        changed = run_cases(spec, namespace, [case])[0]
    finally:
        torch.frombuffer = real
    assert changed["seen"] != record["seen"]


def test_an_answer_that_ignores_its_generator_draws_alike_in_every_run():
    """Its draws must match when the grader replays the catalogued mistake, or it goes unnamed;
    the caller's own random state is left as it was."""
    spec = specs("01-bigrams")["sample-tokens"]
    probs = torch.full((3, 3), 1 / 3)
    case = plain_case(Case("draw", "x", {"probs": probs, "num_tokens": 30, "seed": 1}))
    namespace = notebook(
        "def sample_tokens(probs, num_tokens, generator, start=0):\n"
        "    tokens = [start]\n"
        "    while len(tokens) < num_tokens:\n"
        "        tokens.append(int(torch.multinomial(probs[tokens[-1]], 1)))\n"
        "    return tokens\n"
    )
    torch.manual_seed(5)
    first = run_cases(spec, namespace, [case])[0]["observed"]
    after_first = torch.rand(3)
    torch.manual_seed(6)
    second = run_cases(spec, namespace, [case])[0]["observed"]
    assert first == second
    torch.manual_seed(5)
    assert torch.equal(torch.rand(3), after_first)


def test_collecting_records_cases_without_checking_anything():
    namespace = notebook()  # no answer at all: collecting does not need one
    with collecting() as found:
        check_count_matrix(namespace)
    assert [case.what for case in found["count-matrix"]][0].startswith("count_matrix(tensor")


SAMPLERS = {
    "its own generator": "g = torch.Generator().manual_seed(0)\n"
    "    return torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=g)",
    "no randomness at all": "probs = torch.softmax(logits / temperature, -1)\n"
    "    share = (torch.arange(len(probs)) + 0.5).unsqueeze(1) / len(probs)\n"
    "    return (probs.cumsum(-1) < share).sum(-1, keepdim=True)",
}


@pytest.mark.parametrize("name", [None, *SAMPLERS])
def test_a_sampler_must_draw_with_the_generator_it_is_given(name):
    spec = specs("08-generation")["sample-next"]
    body = SAMPLERS.get(name) or (
        "return torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=generator)"
    )
    namespace = {"torch": torch}
    exec(f"def sample_next(logits, temperature, generator):\n    {body}\n", namespace)
    logits = torch.tensor([[1.0, 2.0, 3.0, 0.5]])
    case = plain_case(Case("draws", "x", {"logits": logits, "temperature": 1.0, "seed": 0}))
    observed = [from_plain(run_cases(spec, namespace, [case])[0]["observed"])]
    cases = [Case("draws", "x", from_plain(case["inputs"]))]
    failure = first_failure(spec, cases, observed, [None])
    if name is None:
        assert failure is None
    else:
        assert failure and "seeded differently drew exactly the same ids" in failure[1]


@pytest.mark.parametrize(
    "source",
    [
        "import importlib\n\ndef count_matrix(ids, vocab_size):\n    return importlib."
        "import_module('minigpt.' + 'bigram').count_bigrams(ids, vocab_size)\n",
        "import sys\n\ndef count_matrix(ids, vocab_size):\n"
        "    return sys.modules[f'minigpt.bigram'].count_bigrams(ids, vocab_size)\n",
        "import importlib\n\ndef count_matrix(ids, vocab_size):\n"
        "    name = ''.join(['mini', 'gpt.bigram'])\n"
        "    return importlib.import_module(name).count_bigrams(ids, vocab_size)\n",
        "%%capture\nfrom minigpt.bigram import count_bigrams as count_matrix\n",
    ],
)
def test_a_module_name_spelled_in_pieces_or_under_a_cell_magic_is_still_read(source):
    assert "write this one yourself" in answer_problem(specs("01-bigrams")["count-matrix"], source)


def test_a_cell_magic_on_an_honest_answer_keeps_it_within_the_rules():
    honest = "%%time\n" + COUNTING.lstrip("\n")
    assert answer_problem(specs("01-bigrams")["count-matrix"], honest) is None
    one_hot = (
        "%%time\ndef embed_with_one_hot(ids, table):\n"
        "    return torch.nn.functional.one_hot(ids, table.shape[0]).to(table.dtype) @ table\n"
    )
    assert answer_problem(specs("03-embeddings")["embed-with-one-hot"], one_hot) is None
    lookup = "%%capture\ndef embed_with_one_hot(ids, table):\n    return table[ids]\n"
    assert answer_problem(specs("03-embeddings")["embed-with-one-hot"], lookup)
