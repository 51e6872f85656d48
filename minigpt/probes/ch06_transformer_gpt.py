"""Exercise 06-transformer-gpt: how each answer is run and judged (the cases are in the notebook).

The MLP, the block and the GPT are modules. A case gives the constructor's arguments and a seed;
the probe builds the module, writes down its weights' names and shapes, fills every weight with
numbers that depend only on its name and shape (`minigpt.probes.modules.fill`), and runs it on a
seeded input, with `torch.manual_seed` before the forward pass so that dropout draws the same
masks on both sides. minigpt's modules go through the same steps, so a module with the names and
shapes the task gives computes with exactly the reference's weights.
"""

from __future__ import annotations

import torch
from torch import nn

import minigpt.model
from minigpt.probes.judge import fail, same_kind, same_value, short
from minigpt.probes.modules import fill, structure
from minigpt.probes.spec import Answer, Case, Kind, TaskSpec


class GPTLogits(minigpt.model.GPT):
    """minigpt's GPT as the task asks for it: forward(idx) returns the logits alone."""

    def forward(self, idx):
        return super().forward(idx)[0]


def _build(answer: Answer, args: tuple, seed: int) -> tuple[object, dict]:
    """The answer's module built after a seed, and what its class says about it."""
    torch.manual_seed(seed)
    module = answer.main(*args)
    observed = {"module": isinstance(module, nn.Module), "type": type(module).__name__}
    observed["minigpt bases"] = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in type(module).__mro__
        if cls.__module__.startswith("minigpt")
    ]
    return module, observed


def forward(answer: Answer, args: tuple, shape: tuple, seed: int, training: bool = False) -> dict:
    """MLP(*args) or Block(*args) on x of `shape`: its structure and its output, weights filled."""
    module, observed = _build(answer, args, seed)
    if not observed["module"]:
        return observed
    module.train(training)
    observed["structure"] = structure(module)
    fill(module, seed)
    x = 2 * torch.randn(*shape, generator=torch.Generator().manual_seed(seed)) + 0.5
    with torch.no_grad():
        torch.manual_seed(seed)  # the same dropout masks for both, if dropout sits in one place
        observed["output"] = module(x)
    return observed


def model(answer: Answer, config, shape: tuple, seed: int, training: bool = False) -> dict:
    """GPT(config) on random ids of `shape`: structure, logits, and logits after a change to the
    token embedding's weight (which a tied head must see too)."""
    gpt, observed = _build(answer, (config,), seed)
    if not observed["module"]:
        return observed
    gpt.train(training)
    observed["structure"] = structure(gpt)
    weights = gpt.state_dict(keep_vars=True)
    head, embedding = weights.get("lm_head.weight"), weights.get("tok_emb.weight")
    observed["head equals embedding"] = (
        isinstance(head, torch.Tensor)
        and isinstance(embedding, torch.Tensor)
        and head.shape == embedding.shape
        and bool(torch.equal(head.detach(), embedding.detach()))
    )
    fill(gpt, seed)
    noise = torch.Generator().manual_seed(seed)
    idx = torch.randint(config.vocab_size, shape, generator=noise)
    with torch.no_grad():
        torch.manual_seed(seed)
        observed["logits"] = gpt(idx)
        if isinstance(embedding, torch.Tensor):
            embedding.add_(0.1 * torch.randn(embedding.shape, generator=noise))
            torch.manual_seed(seed)
            observed["after change"] = gpt(idx)
    return observed


def _fits(mine: dict, want: dict, what: str) -> None:
    """The answer's weights have the reference's names and shapes, or a message naming the first
    that differs."""
    detail = None
    missing = [name for name in want if name not in mine]
    extra = [name for name in mine if name not in want]
    if missing:
        detail = f"your module has no weight {missing[0]} of shape {want[missing[0]]}"
    elif extra:
        detail = f"your module has a weight {extra[0]} that minigpt's has not"
    else:
        for name, shape in want.items():
            if list(mine[name]) != list(shape):
                detail = f"{name}: expected shape {tuple(shape)}, got {tuple(mine[name])}"
                break
    if detail:
        fail(
            f"{what}: minigpt's weights do not fit your module. Use exactly the attribute names "
            f"and sizes that the task gives ({detail})"
        )


def _a_module(case: Case, mine: dict, expected: dict, name: str) -> None:
    """The parts every module case checks first: a module of its own class, with minigpt's
    weights' names and shapes."""
    what = case.what
    if not mine.get("module"):
        fail(f"{what}: {name}(...) must be an nn.Module (subclass nn.Module), got {mine['type']}")
    if mine.get("minigpt bases"):
        fail(
            f"{name} must subclass nn.Module, not one of minigpt's classes (yours inherits from "
            f"{mine['minigpt bases'][0]})"
        )
    _fits(mine["structure"]["shapes"], expected["structure"]["shapes"], what)


def judge_forward(case: Case, mine: dict, expected: dict | None, name: str, hint: str) -> None:
    _a_module(case, mine, expected, name)
    x_shape = tuple(case.inputs["shape"])
    what = f"{case.what}, output for x of shape {x_shape}"
    same_kind(mine.get("output"), expected["output"], what)
    same_value(mine["output"], expected["output"], what + hint, case.atol, case.rtol)


def judge_mlp(case: Case, mine: dict, expected: dict | None) -> None:
    judge_forward(case, mine, expected, "MLP", "")


def judge_block(case: Case, mine: dict, expected: dict | None) -> None:
    judge_forward(
        case, mine, expected, "Block", " (pre-norm: x + attn(ln_1(x)), then x + mlp(ln_2(x)))"
    )


def judge_model(case: Case, mine: dict, expected: dict | None) -> None:
    _a_module(case, mine, expected, "GPT")
    what, config = case.what, case.inputs["config"]
    count, want = mine["structure"]["parameters"], expected["structure"]["parameters"]
    if count == want + config.vocab_size * config.n_embd:
        if mine.get("head equals embedding"):
            fail(
                f"{what} has {count:,} parameters, vocab_size x n_embd too many: lm_head's weight "
                "starts as a copy of tok_emb's, but it is a second matrix. Share the parameter "
                "itself: self.lm_head.weight = self.tok_emb.weight"
            )
        fail(
            f"{what} has {count:,} parameters, vocab_size x n_embd too many: is lm_head's weight "
            "tied to tok_emb's (self.lm_head.weight = self.tok_emb.weight)?"
        )
    if count != want:
        fail(f"number of parameters of {what}: expected {want:,}, got {count:,}")
    logits, shape = mine.get("logits"), tuple(case.inputs["shape"])
    if not isinstance(logits, torch.Tensor):
        fail(f"{what}(idx) should return the logits only (one tensor), got {short(logits)}")
    same_value(logits, expected["logits"], f"logits of {what} for idx of shape {shape}")
    same_value(
        mine.get("after change"),
        expected["after change"],
        f"logits of {what} after a change to tok_emb's weight, which the tied head must see too",
    )


TASKS = {
    "mlp": TaskSpec(
        functions=("MLP",),
        reference={"MLP": "minigpt.model:MLP"},
        promise="an nn.Module with fc, proj and dropout whose forward returns "
        "dropout(proj(gelu(fc(x)))), of the shape of x",
        kinds={"module": Kind(run=forward, judge=judge_mlp)},
    ),
    "block": TaskSpec(
        functions=("Block",),
        reference={"Block": "minigpt.model:Block"},
        promise="an nn.Module with ln_1, attn, ln_2, mlp; forward: x + attn(ln_1(x)), then "
        "x + mlp(ln_2(x))",
        kinds={"module": Kind(run=forward, judge=judge_block)},
        pieces=("MLP",),
        allowed=("minigpt.checks", "minigpt.attention"),
        withheld=("minigpt.model:BlockVariant", "minigpt.model:rewire"),
    ),
    "gpt": TaskSpec(
        functions=("GPT",),
        reference={"GPT": "minigpt.probes.ch06_transformer_gpt:GPTLogits"},
        promise="an nn.Module whose forward(idx) returns the logits (B, T, vocab_size), lm_head "
        "tied to tok_emb",
        kinds={"model": Kind(run=model, judge=judge_model)},
        pieces=("MLP", "Block"),
        allowed=("minigpt.checks", "minigpt.attention"),
        withheld=("minigpt.model:GPT",),
    ),
    "parameter-count": TaskSpec(
        functions=("parameter_count",),
        reference={"parameter_count": "minigpt.model:parameter_count_formula"},
        promise="the number of trainable parameters of GPT(config), as a Python int",
        pieces=("MLP", "Block", "GPT"),
        allowed=("minigpt.checks", "minigpt.attention"),
        withheld=("minigpt.model:parameter_breakdown",),
    ),
    "cross-attention": TaskSpec(
        functions=("cross_attention",),
        reference={"cross_attention": "minigpt.attention:cross_attention"},
        promise="softmax(q k^T / sqrt(head_size)) v with q = x @ w_q, k = memory @ w_k, "
        "v = memory @ w_v, no mask: a tensor (B, T_dec, head_size)",
    ),
}
