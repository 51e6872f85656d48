"""Exercise 07-training: how each answer is run and judged (the cases are in the notebook).

`train_step` and `estimate_loss` take a model (and an optimizer): a case gives a `GPTConfig`, a
seed and the optimizer's name and settings, and the probe builds them (minigpt's GPT, seeded) on
each side, then runs the answer's steps on its own copy. Every weight and its `.grad` is written
down, by the names of `named_parameters`, after every step.
"""

from __future__ import annotations

import torch
from torch import nn

import minigpt.model
import minigpt.train
from minigpt.checks import ExerciseCheckFailed
from minigpt.probes.judge import fail, same_kind, same_value
from minigpt.probes.spec import Answer, Case, Kind, TaskSpec

OPTIMIZERS = {"AdamW": torch.optim.AdamW, "SGD": torch.optim.SGD}


def reference_estimate_loss(model, data, block_size, batch_size, num_batches, generator) -> float:
    """minigpt's estimate_loss with the task's arguments: one split, in full precision."""
    splits = {"data": data}
    return minigpt.train.estimate_loss(
        model, splits, block_size, batch_size, num_batches, generator, mixed_precision=False
    )["data"]


def batch(answer: Answer, data, batch_size: int, block_size: int, seed: int) -> dict:
    """get_batch twice with generators seeded alike (reproducible?)."""
    torch.manual_seed(seed)  # an answer that ignores the generator still runs the same each time
    first = answer.get_batch(data, batch_size, block_size, torch.Generator().manual_seed(seed))
    again = answer.get_batch(data, batch_size, block_size, torch.Generator().manual_seed(seed))
    return {"batch": first, "again": again}


def _pair(value, what: str) -> tuple:
    same_kind(value, (None, None), what)
    return tuple(value)


def _start(windows: torch.Tensor, row: torch.Tensor) -> int:
    """The first position of data where `row` begins (-1 if it is nowhere)."""
    found = (windows[:, : len(row)] == row).all(dim=1).nonzero()
    return int(found[0]) if len(found) else -1


def judge_batch(case: Case, mine: dict, expected: dict | None) -> None:
    data, B, T = case.inputs["data"], case.inputs["batch_size"], case.inputs["block_size"]
    what = f"{case.what}:"
    x, y = _pair(mine["batch"], f"{case.what}: get_batch(...) must return (x, y)")
    want_x, want_y = expected["batch"]
    same_kind(x, want_x, f"{what} x")
    same_kind(y, want_y, f"{what} y")
    windows = data.unfold(0, T + 1, 1)  # every window of T + 1 tokens
    for b in range(B):
        inside = (windows[:, :T] == x[b]).all(dim=1)
        if not bool(inside.any()):
            fail(f"{what} row {b} of x must be {T} consecutive tokens of data")
        if not bool((inside & (windows[:, 1:] == y[b]).all(dim=1)).any()):
            fail(f"{what} row {b} of y must be row {b} of x shifted by one token")
    again = _pair(mine["again"], f"{case.what}: get_batch(...) must return (x, y)")
    if not (torch.equal(again[0], x) and torch.equal(again[1], y)):
        fail(
            f"{what} two calls with generators seeded alike must give the same batch (pass the "
            "generator to torch.randint)"
        )
    if B > 1 and bool((x == x[0]).all()) and not bool((want_x == want_x[0]).all()):
        fail(
            f"{what} every row of x is the same window: draw one start per row, batch_size of "
            "them in one torch.randint call"
        )
    for b in range(B):
        if not torch.equal(x[b].long(), want_x[b].long()):
            fail(
                f"{what} x must match minigpt's get_batch for the same seed (draw the starts with "
                f"one torch.randint call as described): row {b} starts at position "
                f"{_start(windows, x[b])} of data, minigpt's at {_start(windows, want_x[b])}"
            )
    same_value(y, want_y, f"{what} y must match minigpt's get_batch for the same seed")


def sliced(answer: Answer, logits, windows) -> dict:
    """next_token_loss with targets cut from windows, as training cuts them: not contiguous."""
    return {"result": answer.next_token_loss(logits, windows[:, 1:])}


def judge_sliced(case: Case, mine: dict, expected: dict | None) -> None:
    what = f"{case.what}"
    same_kind(mine.get("result"), expected["result"], what)
    same_value(mine["result"], expected["result"], what, case.atol, case.rtol)


def steps(
    answer: Answer,
    config,
    seed: int,
    optimizer: str,
    settings: dict,
    steps: int,
    batch_size: int = 4,
) -> dict:
    """`steps` calls of train_step on a seeded GPT and optimizer, random batches; after each,
    the loss returned, every weight and every .grad."""
    torch.manual_seed(seed)
    model = minigpt.model.GPT(config).train()
    opt = OPTIMIZERS[optimizer](model.parameters(), **settings)
    g = torch.Generator().manual_seed(seed)
    record = []
    for _ in range(steps):
        chunk = torch.randint(config.vocab_size, (batch_size, config.block_size + 1), generator=g)
        loss = answer.train_step(model, opt, chunk[:, :-1], chunk[:, 1:])
        record.append(
            {
                "loss": loss,
                "weights": {n: p.detach().clone() for n, p in model.named_parameters()},
                "grads": {
                    n: None if p.grad is None else p.grad.detach().clone()
                    for n, p in model.named_parameters()
                },
            }
        )
    return {"steps": record}


def judge_steps(case: Case, mine: dict, expected: dict | None) -> None:
    what = case.what
    for number, (got, want) in enumerate(zip(mine["steps"], expected["steps"], strict=True), 1):
        same_kind(got["loss"], 1.0, f"{what}: the loss returned by step {number}")
        same_value(
            got["loss"],
            want["loss"],
            f"{what}: the loss returned by step {number} (the loss before the update)",
        )
        for name, weight in want["weights"].items():
            grad = got["grads"].get(name)
            try:
                same_value(
                    got["weights"].get(name), weight, f"{what}: weight {name} after step {number}"
                )
            except ExerciseCheckFailed as failure:
                if grad is None and name in got["grads"]:
                    fail(
                        f"{failure}; and {name}.grad is empty: the gradient was cleared before "
                        "optimizer.step() could use it (zero_grad, backward, then step)"
                    )
                raise
            if grad is None:
                fail(
                    f"{what}: {name}.grad is empty after step {number}; it must hold this step's "
                    "gradient (clear the old gradients before backward, not after the step)"
                )
            same_value(
                grad,
                want["grads"][name],
                f"{what}: {name}.grad after step {number} (this step's gradient only)",
            )


class Recorder(nn.Module):
    """minigpt's GPT, noting at every call whether it ran in training mode and with gradients."""

    def __init__(self, config):
        super().__init__()
        self.gpt = minigpt.model.GPT(config)
        self.calls: list[list[bool]] = []

    def forward(self, idx, targets=None):
        self.calls.append([self.training, torch.is_grad_enabled()])
        return self.gpt(idx, targets)


def estimate(
    answer: Answer,
    config,
    seed: int,
    length: int,
    batch_size: int,
    num_batches: int,
    training: bool,
) -> dict:
    """estimate_loss on a seeded GPT (with dropout) in the given mode, on seeded random data."""
    torch.manual_seed(seed)
    model = Recorder(config).train(training)
    data = torch.randint(
        config.vocab_size, (length,), generator=torch.Generator().manual_seed(seed)
    )
    loss = answer.estimate_loss(
        model, data, config.block_size, batch_size, num_batches, torch.Generator().manual_seed(seed)
    )
    return {"loss": loss, "calls": model.calls, "training after": model.training}


def judge_estimate(case: Case, mine: dict, expected: dict | None) -> None:
    what = case.what
    same_kind(mine["loss"], 1.0, f"{what}: the result")
    calls = mine["calls"]
    if not calls:
        fail(f"{what}: the model was never called")
    if any(training for training, _ in calls):
        fail(f"{what}: the model ran in training mode (dropout on): call model.eval() first")
    if any(tracking for _, tracking in calls):
        fail(f"{what}: the model ran with gradients on: compute the losses inside torch.no_grad()")
    if mine["training after"] != case.inputs["training"]:
        fail(
            f"{what}: model.training after estimate_loss: expected {case.inputs['training']}, "
            f"got {mine['training after']} (leave the model in the mode you found it in)"
        )
    same_value(
        mine["loss"],
        expected["loss"],
        f"{what}: the mean loss over {case.inputs['num_batches']} batches",
    )


TASKS = {
    "inputs-and-targets": TaskSpec(
        functions=("inputs_and_targets",),
        reference={"inputs_and_targets": "minigpt.train:inputs_and_targets"},
        promise="a pair (x, y) of shape (..., T): x the first T tokens of the last axis, y the "
        "last T",
    ),
    "get-batch": TaskSpec(
        functions=("get_batch",),
        reference={"get_batch": "minigpt.data:get_batch"},
        promise="(x, y), both (batch_size, block_size), the starts drawn with one "
        "torch.randint(len(data) - block_size, (batch_size,), generator=generator)",
        kinds={"batch": Kind(run=batch, judge=judge_batch)},
        pieces=("inputs_and_targets",),
        withheld=("minigpt.data:windows_at",),
    ),
    "next-token-loss": TaskSpec(
        functions=("next_token_loss",),
        reference={"next_token_loss": "minigpt.train:next_token_loss"},
        promise="the mean cross-entropy over all B * T positions, as a scalar tensor",
        kinds={"sliced": Kind(run=sliced, judge=judge_sliced)},
        withheld=("minigpt.finetune:masked_loss",),  # the same loss when nothing is masked
    ),
    "train-step": TaskSpec(
        functions=("train_step",),
        reference={"train_step": "minigpt.train:training_step"},
        promise="zero_grad, backward, step on one batch; the loss before the update as a float",
        kinds={"steps": Kind(run=steps, judge=judge_steps)},
        pieces=("next_token_loss",),
    ),
    "estimate-loss": TaskSpec(
        functions=("estimate_loss",),
        reference={"estimate_loss": "minigpt.probes.ch07_training:reference_estimate_loss"},
        promise="the mean loss of num_batches batches as a float, in eval mode and without "
        "gradients, the model's mode restored",
        kinds={"estimate": Kind(run=estimate, judge=judge_estimate)},
        pieces=("inputs_and_targets", "get_batch", "next_token_loss"),
        withheld=("minigpt.train:estimate_loss",),
    ),
}
