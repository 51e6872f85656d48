"""Exercise 05-causal-masking: how each answer is run and judged (the cases are in the notebook).

The mask, the masked weights and causal attention are plain calls compared with minigpt's
reference. The leak test takes a function, and a function cannot travel to where the answer
runs: so the functions a leak test is tried on are written here, each under a name, built from
plain parameters (a weight matrix, a position), and a case names one:

    task.verdicts("z @ W (a projection to 3 features)", x=x, attend="project", weight=W)

Withheld while grading, besides the references: chapter 4's `scaled_dot_product_attention`
(given a mask it is task 3 in one call), and the steps of minigpt's leak test
(`perturb_future`, `output_change`) and `influence_matrix`, which answers task 4 in one line.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from minigpt.checks import ExerciseCheckFailed
from minigpt.probes.judge import fail, kind_of, same_value
from minigpt.probes.spec import NOTHING, Answer, Case, Kind, TaskSpec

Attend = Callable[[torch.Tensor], torch.Tensor]


def _head(
    w_q: torch.Tensor,
    w_k: torch.Tensor,
    w_v: torch.Tensor,
    diagonal: int = 0,
    fill: float = float("-inf"),
) -> Attend:
    """One attention head with its own projections; the mask keeps keys s <= t + diagonal and
    sets the others to `fill` before the softmax (-inf is right; 0 or diagonal 1 leak)."""

    def attend(z: torch.Tensor) -> torch.Tensor:
        scores = (z @ w_q) @ (z @ w_k).transpose(-2, -1) / math.sqrt(w_k.size(-1))
        # True where query t may see key s (s <= t + diagonal). Written inline: a mask helper
        # here would be an answer to causal_mask within a student's reach in the sandbox.
        allowed = torch.ones(z.size(1), z.size(1), dtype=torch.bool).tril(diagonal)
        return torch.softmax(scores.masked_fill(~allowed, fill), dim=-1) @ (z @ w_v)

    return attend


def _causal_attention(z: torch.Tensor) -> torch.Tensor:
    """Causal self-attention of z with itself (queries, keys and values all z)."""
    scores = z @ z.transpose(-2, -1) / math.sqrt(z.size(-1))
    allowed = torch.ones(z.size(1), z.size(1), dtype=torch.bool).tril()
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1) @ z


def _shift(z: torch.Tensor) -> torch.Tensor:
    """Each position gets the input of the one before it (position 0 gets zeros)."""
    return torch.cat([torch.zeros_like(z[:, :1]), z[:, :-1]], dim=1)


def _reads(reader: int, source: int) -> Attend:
    """Every position on its own, except that position `reader` also reads position `source`."""

    def attend(z: torch.Tensor) -> torch.Tensor:
        out = z.clone()
        out[:, reader] = out[:, reader] + 0.1 * z[:, source]
        return out

    return attend


# The functions a leak test is tried on, by name; each takes its parameters as plain data.
ATTEND: dict[str, Callable[..., Attend]] = {
    "double": lambda: lambda z: z * 2,
    "project": lambda weight: lambda z: z @ weight,
    "cumsum": lambda: lambda z: z.cumsum(dim=1),
    "cummax": lambda: lambda z: z.cummax(dim=1).values,
    "shift": lambda: _shift,
    "causal attention": lambda: _causal_attention,
    "head": _head,
    "no mask": lambda: lambda z: F.scaled_dot_product_attention(z, z, z),
    "flip": lambda: lambda z: z.flip(1),
    "reads": _reads,
    "minus the mean": lambda: lambda z: z - z.mean(dim=1, keepdim=True),
}


def verdict(answer: Answer, x: torch.Tensor, attend: str, seed: int = 0, **parameters) -> dict:
    """Run leaks on the named function (random numbers seeded); keep its verdict and x after."""
    function = ATTEND[attend](**parameters)
    torch.manual_seed(seed)
    found = answer.leaks(function, x)
    return {"verdict": found, "x after": x}


def judge_verdict(case: Case, mine: dict, expected: dict | None) -> None:
    """The verdict must be a bool, x must come back unchanged, and the verdict right."""
    name, found = case.what, mine.get("verdict")
    if not isinstance(found, bool):
        fail(f"leaks({name}, x): expected a bool (True or False), got {kind_of(found)}")
    try:
        same_value(mine.get("x after"), case.inputs["x"], "x")
    except ExerciseCheckFailed:
        fail(
            f"leaks({name}, x) changed x in place; the task says to leave x as it is (write the "
            "new values into a copy, x.clone())"
        )
    want = case.expected if case.expected is not NOTHING else expected["verdict"]
    if found and not want:
        fail(
            f"leaks says that {name} leaks, but none of its outputs at positions <= t depends on "
            "inputs after t (compare only outputs 0..t, and change only inputs after t)"
        )
    if want and not found:
        fail(
            f"leaks missed the leak in {name} (do you try every cut t, and compare every output "
            "at positions 0..t?)"
        )


TASKS = {
    "causal-mask": TaskSpec(
        functions=("causal_mask",),
        reference={"causal_mask": "minigpt.attention:causal_mask"},
        promise="a (T, T) torch.bool tensor, True where key s <= query t (the lower triangle "
        "with its diagonal)",
    ),
    "causal-weights": TaskSpec(
        functions=("causal_weights",),
        reference={"causal_weights": "minigpt.causality:causal_weights"},
        promise="weights of the shape of scores: softmax over the allowed keys, exactly 0 in the "
        "future; scores unchanged; the mask on scores.device",
        pieces=("causal_mask",),
        keeps_inputs=True,
    ),
    "causal-attention": TaskSpec(
        functions=("causal_attention",),
        reference={"causal_attention": "minigpt.causality:causal_attention"},
        promise="causal softmax(q k^T / sqrt(d)) v, shape (..., T, d_v)",
        pieces=("causal_mask", "causal_weights"),
        withheld=("minigpt.attention:scaled_dot_product_attention",),
    ),
    "leaks": TaskSpec(
        functions=("leaks",),
        reference={"leaks": "minigpt.causality:leaks"},
        promise="True if an output at a position <= t changes when only inputs after t change, "
        "for some cut t; x unchanged",
        kinds={"verdicts": Kind(run=verdict, judge=judge_verdict)},
        keeps_inputs=True,
        withheld=(
            "minigpt.causality:perturb_future",
            "minigpt.causality:output_change",
            "minigpt.causality:influence_matrix",
        ),
    ),
}
