"""Exercise 08-generation: how each answer is run and judged (the cases are in the notebook).

`generate` takes a model and a `pick` callback: the probe builds the model from a GPTConfig and a
seed, and takes `pick` from `PICKS` by name, a version that writes down every logits tensor it is
given. The judge compares those logits, step by step, with what minigpt's loop gives the same pick
on the same model. Sampling has no single right answer: `sample_next` is judged on the frequencies
of its own draws against softmax(logits / temperature), worked out by the judge.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from minigpt.attention import causal_mask, scaled_dot_product_attention
from minigpt.generate import next_token_logits, pick_next
from minigpt.model import GPT, GPTConfig
from minigpt.probes.judge import fail, same_kind, same_value, short
from minigpt.probes.spec import Answer, Case, Kind, TaskSpec


def generate_with_pick(model, idx, max_new_tokens, pick):
    """minigpt's generation loop (`next_token_logits`: the last block_size tokens, no gradients)
    with the task's `pick` in place of minigpt's own choice of the next token."""
    for _ in range(max_new_tokens):
        logits, _ = next_token_logits(model, idx)
        idx = torch.cat([idx, pick(logits)], dim=1)
    return idx


def draw_next(logits, temperature, generator):
    """minigpt's sampling of one token per row at a temperature, as the task calls it."""
    return pick_next(logits, temperature, generator=generator)


# -- generate: a model from data, a pick by name -----------------------------------------------


def _greedy(logits: torch.Tensor) -> torch.Tensor:
    return logits.argmax(dim=-1, keepdim=True)


def _sampler(seed: int) -> Callable[[torch.Tensor], torch.Tensor]:
    draws = torch.Generator().manual_seed(seed)
    return lambda logits: torch.multinomial(torch.softmax(logits, -1), 1, generator=draws)


PICKS: dict[str, Callable[[int], Callable]] = {
    "greedy": lambda seed: _greedy,  # the most likely token
    "sample": _sampler,  # a draw from softmax(logits), from a generator seeded `seed`
}


def recording(pick: Callable) -> tuple[Callable, dict]:
    """`pick`, and what it is given on every call: the logits, and whether they track gradients."""
    seen: dict[str, list] = {"logits": [], "tracked": []}

    def recorded(logits):
        seen["logits"].append(logits.detach().clone())
        seen["tracked"].append(bool(getattr(logits, "requires_grad", False)))
        return pick(logits)

    return recorded, seen


def build_gpt(config: GPTConfig, seed: int):
    torch.manual_seed(seed)
    return GPT(config).eval()


def generation_kind(build: Callable) -> Kind:
    """The `generate` case for models made by `build(config, seed)`: the loop runs on the model
    with a recording pick; it observes the result and everything given to pick."""

    def run(answer: Answer, config, seed, prompt, new_tokens, pick="greedy", pick_seed=0) -> dict:
        model = build(config, seed)
        picker, seen = recording(PICKS[pick](pick_seed))
        out = answer.generate(model, prompt.clone(), new_tokens, picker)
        return {"result": out, **seen}

    return Kind(run=run, judge=judge_generate)


def judge_generate(case: Case, mine: dict, expected: dict | None) -> None:
    what, prompt, new = case.what, case.inputs["prompt"], case.inputs["new_tokens"]
    out = mine.get("result")
    if not isinstance(out, torch.Tensor):
        fail(f"{what}: generate must return a tensor of ids, got {short(out)}")
    want = (prompt.shape[0], prompt.shape[1] + new)
    if tuple(out.shape) != want:
        fail(
            f"{what}: generate returns the prompt and the new tokens: expected shape {want}, "
            f"got {tuple(out.shape)}"
        )
    if not torch.equal(out[:, : prompt.shape[1]].long(), prompt.long()):
        fail(f"{what}: the result must start with the prompt")
    seen, theirs = mine.get("logits") or [], expected["logits"]
    if len(seen) != new:
        fail(f"{what}: pick was called {len(seen)} times, expected {new} (once per new token)")
    if any(mine.get("tracked") or []):
        fail(
            f"{what}: the logits given to pick track gradients: run the model inside "
            "torch.no_grad()"
        )
    for step, (logits, reference) in enumerate(zip(seen, theirs, strict=True)):
        same_value(
            logits,
            reference,
            f"{what}: the logits given to pick at step {step} (the last position, computed "
            "from the last block_size tokens)",
        )
    tokens = "the sampled tokens" if case.inputs.get("pick") == "sample" else "the greedy tokens"
    if not torch.equal(out.long(), expected["result"].long()):
        first = (out.long() != expected["result"].long()).nonzero()[0].tolist()
        fail(f"{what}: {tokens} differ from the reference first at index {first}")


# -- sample_next: frequencies of the student's own draws ----------------------------------------


FEW = 1000  # draws per row below which frequencies say nothing (5 sigma is 0.02 at 20,000)


def draw_many(answer: Answer, logits, temperature, seed, draws=20000) -> dict:
    """Each row of `logits` repeated draws // rows times, sampled once; again with the same seed,
    and once with another seed."""
    many = logits.repeat(draws // logits.shape[0], 1)
    ids = answer.sample_next(many.clone(), temperature, torch.Generator().manual_seed(seed))
    again = answer.sample_next(many.clone(), temperature, torch.Generator().manual_seed(seed))
    other = answer.sample_next(many.clone(), temperature, torch.Generator().manual_seed(seed + 1))
    return {"ids": ids, "again": again, "other": other}


def _could_repeat(wanted: torch.Tensor, per_row: int) -> bool:
    """Whether two honest samplers with different seeds could plausibly draw the very same ids:
    the chance, prod over rows of (sum_i p_i^2) ** draws, is above one in 10^12."""
    log_chance = per_row * torch.log((wanted**2).sum(dim=-1)).sum()
    return not torch.isfinite(log_chance) or bool(log_chance > math.log(1e-12))


def judge_draws(case: Case, mine: dict, expected: dict | None) -> None:
    """No single right draw exists: the rules every correct sampler keeps, and the frequencies."""
    what, logits = case.what, case.inputs["logits"]
    temperature = case.inputs["temperature"]
    rows, vocab = logits.shape
    draws = case.inputs.get("draws", 20000) // rows * rows
    ids = mine.get("ids")
    same_kind(ids, torch.zeros(draws, 1), f"{what}: sample_next on {draws} rows")
    if ids.dtype != torch.long:
        fail(f"{what}: ids must be torch.long, got {ids.dtype}")
    again = mine.get("again")
    if not isinstance(again, torch.Tensor) or not torch.equal(again, ids):
        fail(f"{what}: two calls with generators seeded alike must draw the same ids")
    if ids.min() < 0 or ids.max() >= vocab:
        fail(f"{what}: id {int(ids.max())} is not one of the {vocab} tokens")
    wanted = torch.softmax(logits.double() / temperature, dim=-1)
    other = mine.get("other")
    same = isinstance(other, torch.Tensor) and torch.equal(other, ids)
    if same and not _could_repeat(wanted, draws // rows):
        fail(
            f"{what}: a generator seeded differently drew exactly the same ids: draw with "
            "the generator you are given (torch.multinomial(..., generator=generator))"
        )
    if draws // rows < FEW:
        return  # too few draws per row to judge how often each token comes out
    for row in range(rows):
        share = torch.bincount(ids[row::rows, 0], minlength=vocab).double() / (draws // rows)
        label = "" if rows == 1 else f", row {row}"
        same_value(
            share,
            wanted[row],
            f"{what}{label}: how often each token was drawn (should follow softmax(logits / "
            f"{temperature:g}))",
            atol=0.02,
            rtol=0.0,
        )


DRAW = Kind(run=draw_many, judge=judge_draws, uses_reference=False)


# -- top_k_logits with ties: any k of the tied tokens --------------------------------------------


def filtered(answer: Answer, logits, k) -> dict:
    return {"result": answer.top_k_logits(logits.clone(), k)}


def judge_ties(case: Case, mine: dict, expected: dict | None) -> None:
    """Exactly k tokens kept per row, the others -inf, the kept ones the k largest unchanged."""
    what, logits, k = case.what, case.inputs["logits"], case.inputs["k"]
    kept = mine.get("result")
    same_kind(kept, logits, what)
    finite = torch.isfinite(kept)
    counts = finite.sum(dim=-1)
    if not bool((counts == k).all()):
        fail(
            f"{what}: kept {counts.tolist()} tokens per row, expected exactly k={k} (keep "
            "exactly k even when logits tie)"
        )
    if not bool((kept[~finite] == float("-inf")).all()):
        fail(f"{what}: dropped tokens must be -inf")
    same_value(
        kept[finite].view(-1, k).sort(dim=-1).values,
        logits.topk(k, dim=-1).values.sort(dim=-1).values,
        f"{what}: the kept logits must be the k largest, unchanged",
    )


# -- kv_cache_step: step after step against full causal attention -------------------------------


def cache_steps(answer: Answer, q, k, v) -> dict:
    """One position at a time, each step given the keys and values the answer returned before."""
    B, H, T, D = q.shape
    keys, values = torch.zeros(B, H, 0, D), torch.zeros(B, H, 0, D)
    steps = []
    for t in range(T):
        now = slice(t, t + 1)
        result = answer.kv_cache_step(q[..., now, :], k[..., now, :], v[..., now, :], keys, values)
        if not (isinstance(result, tuple) and len(result) == 3):
            steps.append({"returned": result})
            break
        out, keys, values = result
        steps.append({"out": out, "keys": keys, "values": values})
    return {"steps": steps}


def judge_cache(case: Case, mine: dict, expected: dict | None) -> None:
    what = case.what
    q, k, v = (case.inputs[name] for name in ("q", "k", "v"))
    full = scaled_dot_product_attention(q, k, v, causal_mask(q.shape[-2]))
    steps = mine.get("steps") or []
    for t, step in enumerate(steps):
        if "returned" in step:
            got = short(step["returned"])
            fail(f"{what}: kv_cache_step must return (out, keys, values), got {got}")
        same_value(
            step["keys"],
            k[..., : t + 1, :],
            f"{what}: keys after step {t} (the earlier keys first, the new one last)",
        )
        same_value(
            step["values"],
            v[..., : t + 1, :],
            f"{what}: values after step {t} (the earlier values first, the new one last)",
        )
        same_value(
            step["out"],
            full[..., t : t + 1, :],
            f"{what}: the output at position {t}, compared with full causal attention",
        )
        same_value(step["out"], expected["steps"][t]["out"], f"{what}: the output at position {t}")
    if len(steps) != q.shape[-2]:
        fail(f"{what}: expected {q.shape[-2]} steps, got {len(steps)}")


TASKS = {
    "generate": TaskSpec(
        functions=("generate",),
        reference={"generate": "minigpt.probes.ch08_generation:generate_with_pick"},
        promise="the prompt and max_new_tokens new ids, shape (B, T + max_new_tokens); pick "
        "called once per token with the (B, V) logits of the last position of the last "
        "block_size tokens; no gradients",
        kinds={"generate": generation_kind(build_gpt)},
        withheld=("minigpt.generate:generate", "minigpt.generate:next_token_logits"),
    ),
    "sample-next": TaskSpec(
        functions=("sample_next",),
        reference={"sample_next": "minigpt.probes.ch08_generation:draw_next"},
        promise="a (B, 1) torch.long tensor, one draw per row from softmax(logits / "
        "temperature), all randomness from generator",
        kinds={"draws": DRAW},
        withheld=("minigpt.generate:pick_next", "minigpt.generate:next_token_distribution"),
    ),
    "top-k-logits": TaskSpec(
        functions=("top_k_logits",),
        reference={"top_k_logits": "minigpt.generate:top_k_filter"},
        promise="the logits with exactly k kept per row, the others -inf, same shape",
        kinds={"ties": Kind(run=filtered, judge=judge_ties, uses_reference=False)},
    ),
    "top-p-logits": TaskSpec(
        functions=("top_p_logits",),
        reference={"top_p_logits": "minigpt.generate:top_p_filter"},
        promise="the logits with the smallest most-likely set holding at least p kept, the "
        "others -inf, in the original order",
    ),
    "kv-cache-step": TaskSpec(
        functions=("kv_cache_step",),
        reference={"kv_cache_step": "minigpt.generate:cached_attention_step"},
        promise="(out, keys, values): keys and values with the new ones appended last along "
        "dim=-2, out of shape (B, H, 1, D)",
        kinds={"steps": Kind(run=cache_steps, judge=judge_cache)},
        allowed=("minigpt.checks", "minigpt.attention"),
    ),
}
