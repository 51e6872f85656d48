"""Exercise 01-bigrams: how each answer is run and judged (the cases are in the notebook)."""

from __future__ import annotations

import torch

from minigpt.probes.judge import fail, same_kind, same_value
from minigpt.probes.spec import Answer, Case, Kind, TaskSpec


def draw_twice(answer: Answer, probs, num_tokens, seed, **start) -> dict:
    """Sample with a seeded generator, then again with the same seed."""
    first = answer.sample_tokens(probs, num_tokens, torch.Generator().manual_seed(seed), **start)
    again = answer.sample_tokens(probs, num_tokens, torch.Generator().manual_seed(seed), **start)
    return {"tokens": first, "again": again}


def judge_draw(case: Case, mine: dict, expected: dict | None) -> None:
    """No single right text exists: check the rules every correct sampler keeps."""
    tokens, what = mine.get("tokens"), case.what
    probs, count = case.inputs["probs"], case.inputs["num_tokens"]
    same_kind(tokens, [], what)
    if len(tokens) != count:
        fail(f"{what}: expected {count} tokens (the start token included), got {len(tokens)}")
    if not all(isinstance(t, int) and not isinstance(t, bool) for t in tokens):
        fail(f"{what}: sample_tokens must return Python ints (use int(...) or .item())")
    start = case.inputs.get("start", 0)
    if tokens and tokens[0] != start:
        fail(f"{what}: the first token must be the start token {start}, got {tokens[0]}")
    if mine.get("again") != tokens:
        fail(f"{what}: two runs with the same seed must give the same tokens")
    size = probs.shape[0]
    outside = [t for t in tokens if not 0 <= t < size]
    if outside:
        fail(f"{what}: token {outside[0]} is not a token of this {size}-token model")
    impossible = [(a, b) for a, b in zip(tokens, tokens[1:], strict=False) if probs[a, b] == 0]
    if impossible:
        fail(
            f"{what}: sample_tokens drew a pair with probability 0: {impossible[0]} (did you use "
            "the row of the current token?)"
        )


def steps(answer: Answer, W, xs, ys, lr, steps) -> dict:
    """Several steps in a row on a copy of W; after each, the loss, W and W.grad."""
    W = W.clone().requires_grad_()
    record = []
    for _ in range(steps):
        loss = answer.neural_bigram_step(W, xs, ys, lr)
        grad = None if W.grad is None else W.grad.detach().clone()
        record.append({"loss": loss, "W": W.detach().clone(), "grad": grad})
    return {"steps": record}


def judge_steps(case: Case, mine: dict, expected: dict | None) -> None:
    what = case.what
    for number, (got, want) in enumerate(zip(mine["steps"], expected["steps"], strict=True), 1):
        same_kind(got["loss"], 1.0, f"{what}: the loss returned by step {number}")
        same_value(got["loss"], want["loss"], f"{what}: loss returned by step {number}")
        same_value(got["W"], want["W"], f"{what}: W after step {number}")
        if got["grad"] is None:
            fail(
                f"{what}: W.grad is empty after step {number}; it must hold this step's gradient "
                "(clear the old gradient before backward, not after the update)"
            )
        same_value(
            got["grad"],
            want["grad"],
            f"{what}: W.grad after step {number} (this step's gradient only)",
        )


def share_after(tokens: list[int], current: int, following: int) -> float:
    """How often `following` comes right after `current` in the sampled tokens."""
    after = [b for a, b in zip(tokens, tokens[1:], strict=False) if a == current]
    return after.count(following) / max(1, len(after))


TASKS = {
    "count-matrix": TaskSpec(
        functions=("count_matrix",),
        reference={"count_matrix": "minigpt.bigram:count_bigrams"},
        promise="a (vocab_size, vocab_size) tensor N with N[a, b] = how often b follows a",
    ),
    "to-probabilities": TaskSpec(
        functions=("to_probabilities",),
        reference={"to_probabilities": "minigpt.bigram:bigram_probabilities"},
        promise="a float tensor of the shape of counts whose rows sum to 1",
    ),
    "average-nll": TaskSpec(
        functions=("average_nll",),
        reference={"average_nll": "minigpt.bigram:average_nll"},
        promise="the mean of -log probs[a, b] over the neighbouring pairs (a, b), as a float",
    ),
    "sample-tokens": TaskSpec(
        functions=("sample_tokens",),
        reference={"sample_tokens": "minigpt.bigram:sample_bigram"},
        promise="a list of num_tokens Python ints, the first one `start`",
        kinds={"draw": Kind(run=draw_twice, judge=judge_draw, uses_reference=False)},
    ),
    "neural-bigram-step": TaskSpec(
        functions=("neural_bigram_step",),
        reference={"neural_bigram_step": "minigpt.bigram:gradient_descent_step"},
        promise="one gradient descent step on W in place, returning the loss as a float",
        kinds={"steps": Kind(run=steps, judge=judge_steps)},
    ),
}
