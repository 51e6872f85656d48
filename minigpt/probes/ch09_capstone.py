"""Exercise 09-capstone: how each piece of the student's GPT is run and judged.

The capstone asks again for the pieces of exercises 4 to 8, written to fit together: attention
(ex4, ex5), the transformer block and the GPT (ex6), batches, loss and training step (ex7),
sampling (ex8). Each piece is a task of its own, checked alone, and `replaceable`: when one
fails, the notebook trains with a correct version of it (`Exercise.replacement`) and says so.

The references below are written for the notebook: a piece that calls another piece calls it
by its name (`causal_attention`, `Block`...). In Colab a replacement runs in the notebook's
namespace, so a replaced Block still uses the student's own attention when that passed.
Models the loops are probed with (`ProbeLM`) are built here from a GPTConfig and a seed: they
are no answer of this exercise, so they stay while references are withheld.
"""

from __future__ import annotations

import ast
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from minigpt import attention as mg_attention
from minigpt import model as mg_model
from minigpt import train as mg_train
from minigpt.probes.ch08_generation import DRAW, generate_with_pick, generation_kind
from minigpt.probes.judge import fail, judge_call, same_kind, same_value, short
from minigpt.probes.modules import fill, structure
from minigpt.probes.spec import Answer, Case, Kind, Rule, TaskSpec

# -- the references, as the notebook's pieces ---------------------------------------------------


def causal_attention(q, k, v):
    """minigpt's scaled dot-product attention under the causal mask, its softmax minigpt's
    written-out one (the same arithmetic as a softmax written as the task says)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    allowed = mg_attention.causal_mask(q.size(-2), q.device)
    return mg_attention.softmax_with_temperature(scores.masked_fill(~allowed, float("-inf"))) @ v


class CausalSelfAttention(mg_attention.CausalSelfAttention):
    """minigpt's attention module, its heads computed by the notebook's `causal_attention`."""

    def __init__(self, n_embd, n_head, dropout=0.0):
        super().__init__(n_embd, n_head, dropout, use_torch_kernel=False)

    def forward(self, x):
        heads = causal_attention(*self._split_heads(x))
        return self.resid_dropout(self.proj(mg_attention.merge_heads(heads)))


class Block(nn.Module):
    """minigpt's pre-norm block (`minigpt.model.Block`) made of the notebook's
    CausalSelfAttention and MLP, its layers made in the order the task lists them."""

    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config.n_embd, config.n_head, config.dropout)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config.n_embd, config.dropout)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


MLP = mg_model.MLP


class GPT(nn.Module):
    """minigpt's GPT (`minigpt.model.GPT`) made of the notebook's Block, its layers made in the
    order the task lists them and started as the task says (every weight N(0, 0.02), every bias
    0, minigpt's `_init_weights`); its forward returns the logits alone."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight
        for module in self.modules():
            mg_model.GPT._init_weights(module)

    def forward(self, idx):
        positions = torch.arange(idx.size(1), device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(positions))
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))


def train_step(model, optimizer, x, y, scaler):
    """One update of minigpt's training loop (float16 where the scaler is on, the loss scaled
    before backward, the step through the scaler) for a model that returns the logits alone."""
    with torch.autocast(x.device.type, dtype=torch.float16, enabled=scaler.is_enabled()):
        loss = mg_train.next_token_loss(model(x), y)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.item()


class _LogitsAlone:
    """A model whose forward returns the logits alone, as minigpt's loop calls a model."""

    def __init__(self, model):
        self.model, self.config = model, model.config

    def __call__(self, idx):
        return self.model(idx), None


def generate(model, idx, max_new_tokens, pick):
    """minigpt's generation loop with `pick`, for a model that returns the logits alone."""
    return generate_with_pick(_LogitsAlone(model), idx, max_new_tokens, pick)


# -- a small model the loops are probed with -----------------------------------------------------


class ProbeLM(nn.Module):
    """A tiny language model whose forward returns logits (B, T, V), as the capstone's GPT does:
    token and position embeddings, a running mean over the past (so earlier tokens matter), a
    head. Like a GPT it refuses more than block_size positions."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos = nn.Embedding(config.block_size, config.n_embd)
        self.head = nn.Linear(config.n_embd, config.vocab_size)

    def forward(self, idx):
        length = idx.size(1)
        if length > self.config.block_size:
            raise ValueError(
                f"idx: expected at most block_size={self.config.block_size} positions, got "
                f"{length}; crop the context to its last block_size tokens"
            )
        x = self.tok(idx) + self.pos(torch.arange(length, device=idx.device))
        past = x.cumsum(dim=1) / torch.arange(1, length + 1, device=idx.device)[:, None]
        return self.head(torch.tanh(past))


def probe_model(config, seed):
    torch.manual_seed(seed)
    return ProbeLM(config)


# -- kinds -----------------------------------------------------------------------------------------


def _as_call(name: str):
    """The judge of a plain call, for a function of the answer other than its first."""
    alone = TaskSpec(functions=(name,), reference={})
    return lambda case, mine, expected: judge_call(alone, case, mine, expected)


def softmax_run(answer: Answer, scores, temperature=1.0) -> dict:
    return {"result": answer.temperature_softmax(scores.clone(), temperature)}


def mask_run(answer: Answer, T) -> dict:
    return {"result": answer.causal_mask(T)}


def build_module(answer: Answer, build: str, config):
    """One of the block task's modules, made as the Block makes it."""
    if build == "Block":
        return answer.Block(config)
    if build == "MLP":
        return answer.MLP(config.n_embd, config.dropout)
    return answer.CausalSelfAttention(config.n_embd, config.n_head, config.dropout)


def module_run(answer: Answer, build, config, x, seed, training=False) -> dict:
    """Its weights' names and shapes, then its output on x with the weights filled by name."""
    torch.manual_seed(seed)
    module = build_module(answer, build, config)
    made = structure(module)
    fill(module, seed)
    module.train(training)
    torch.manual_seed(seed)  # the same dropout masks in the answer and the reference
    return {"structure": made, "output": module(x)}


def model_run(answer: Answer, config, seed, idx, training=False) -> dict:
    """The GPT as it starts (names, tying, first logits), then its logits with filled weights."""
    torch.manual_seed(seed)
    model = answer.GPT(config)
    made = structure(model)
    head, embedding = getattr(model, "lm_head", None), getattr(model, "tok_emb", None)
    tied = head is not None and embedding is not None and head.weight is embedding.weight
    with torch.no_grad():
        start = model(idx)
    fill(model, seed)
    model.train(training)
    torch.manual_seed(seed)
    return {"structure": made, "tied": tied, "start": start, "output": model(idx)}


def _same_structure(what: str, mine: dict, theirs: dict) -> None:
    got, want = mine.get("shapes") or {}, theirs["shapes"]
    missing = [name for name in want if name not in got]
    extra = [name for name in got if name not in want]
    if missing or extra:
        problem = f"no weight named {missing[0]!r}" if missing else f"a weight {extra[0]!r}"
        fail(f"{what}: {problem}; use the names the task gives (the tests fill weights by name)")
    for name, shape in want.items():
        if got[name] != shape:
            fail(f"{what}: {name} has shape {tuple(got[name])}, expected {tuple(shape)}")
    if mine.get("parameters") != theirs["parameters"]:
        fail(
            f"{what}: {mine.get('parameters')} parameters, expected {theirs['parameters']} (is "
            "lm_head's weight tied to tok_emb's, one matrix for both?)"
        )


def judge_module(case: Case, mine: dict, expected: dict) -> None:
    _same_structure(case.what, mine["structure"], expected["structure"])
    same_value(mine["output"], expected["output"], f"{case.what}: the output", case.atol, case.rtol)


def judge_model(case: Case, mine: dict, expected: dict) -> None:
    what, vocab = case.what, case.inputs["config"].vocab_size
    _same_structure(what, mine["structure"], expected["structure"])
    if not mine.get("tied"):
        fail(f"{what}: lm_head.weight must be the very tensor tok_emb.weight (weight tying)")
    start = mine.get("start")
    same_kind(start, expected["start"], f"{what}: the logits of the untrained model")
    uniform = math.log(vocab)
    targets = (case.inputs["idx"] * 7 + 3) % vocab  # other tokens than the inputs, mostly
    first = F.cross_entropy(start.flatten(0, 1).double(), targets.flatten()).item()
    if not abs(first - uniform) < 0.3:
        fail(
            f"{what}: the untrained model should score about ln({vocab}) = {uniform:.2f} on its "
            f"inputs, got {first:.2f} (did you start every weight small, standard deviation 0.02?)"
        )
    same_value(mine["output"], expected["output"], f"{what}: the logits", case.atol, case.rtol)


def batch_run(answer: Answer, data, batch_size, block_size, seed) -> dict:
    """A batch drawn with a generator of this seed, and again with a fresh one of the same seed."""
    found = answer.get_batch(data, batch_size, block_size, torch.Generator().manual_seed(seed))
    again = answer.get_batch(data, batch_size, block_size, torch.Generator().manual_seed(seed))
    if not (isinstance(found, (tuple, list)) and len(found) == 2):
        return {"returned": found}
    return {"x": found[0], "y": found[1], "again": list(again)}


def judge_batch(case: Case, mine: dict, expected: dict) -> None:
    what = case.what
    if "returned" in mine:
        fail(f"{what}: get_batch must return the pair (x, y), got {short(mine['returned'])}")
    again = mine.get("again") or []
    if not all(
        isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
        for a, b in zip(again, (mine["x"], mine["y"]), strict=False)
    ):
        fail(f"{what}: two calls with generators seeded alike must draw the same batch")
    same_value(mine["x"], expected["x"], f"{what}: x, the windows")
    same_value(mine["y"], expected["y"], f"{what}: y, the targets (each window shifted by one)")


def loss_run(answer: Answer, logits, targets) -> dict:
    return {"result": answer.next_token_loss(logits.clone(), targets.clone())}


OPTIMIZERS = {"sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}


def steps_run(answer: Answer, config, seed, batches, optimizer="sgd", lr=0.1, scale=0.0) -> dict:
    """train_step on a small model, batch after batch; the loss it returns, the weights after
    each step and the scaler's scale. `scale` > 0 switches the scaler on (float16 on the CPU),
    starting there and doubling after every step that goes well."""
    model = probe_model(config, seed)
    opt = OPTIMIZERS[optimizer](model.parameters(), lr=lr)
    scaler = torch.amp.GradScaler("cpu", init_scale=scale or 1.0, growth_interval=1)
    if not scale:
        scaler = torch.amp.GradScaler("cpu", enabled=False)
    record = []
    for x, y in batches:
        loss = answer.train_step(model, opt, x, y, scaler)
        record.append(
            {
                "loss": loss,
                "weights": {k: v.detach().clone() for k, v in model.state_dict().items()},
                "cleared": all(p.grad is None for p in model.parameters()),
                "scale": scaler.get_scale() if scale else 0.0,
            }
        )
    return {"steps": record}


def judge_steps(case: Case, mine: dict, expected: dict) -> None:
    what, scaled = case.what, bool(case.inputs.get("scale"))
    before = probe_model(case.inputs["config"], case.inputs["seed"]).state_dict()
    for n, (got, want) in enumerate(zip(mine["steps"], expected["steps"], strict=True), 1):
        same_kind(got["loss"], 1.0, f"{what}: the loss returned by step {n} (a Python float)")
        same_value(got["loss"], want["loss"], f"{what}: the loss returned by step {n}", 1e-3, 1e-3)
        still = all(torch.equal(got["weights"][k], before[k]) for k in before)
        if still:
            why = (
                "the gradients were cleared before the optimizer step: clear them before backward"
                if got["cleared"]
                else "no optimizer step was taken (scaler.step(optimizer))"
            )
            fail(f"{what}: the weights did not change at step {n}: {why}")
        for name, value in want["weights"].items():
            same_value(
                got["weights"].get(name),
                value,
                f"{what}: {name} after step {n}",
                *((1e-3, 1e-2) if scaled else (1e-5, 1e-4)),
            )
        if scaled and got["scale"] != want["scale"]:
            fail(
                f"{what}: the scaler's scale after step {n} is {got['scale']:g}, expected "
                f"{want['scale']:g} (call scaler.update() after scaler.step(optimizer))"
            )
        before = got["weights"]


# -- the tasks -----------------------------------------------------------------------------------

READY_MADE = {"softmax", "log_softmax", "Softmax", "scaled_dot_product_attention"}


def _ready_made(tree: ast.Module, names: tuple[str, ...]) -> bool:
    """Whether the answer uses torch's softmax or attention (`torch.softmax`, `x.softmax(...)`,
    `F.scaled_dot_product_attention`, or such a name imported); a helper of its own may be
    called softmax."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in READY_MADE:
            return True
        if isinstance(node, ast.ImportFrom) and any(a.name in READY_MADE for a in node.names):
            return True
    return False


OWN_SOFTMAX = Rule(
    "write the softmax and the attention yourself (exp, sum, divide; q @ k^T): torch's softmax "
    "and scaled_dot_product_attention are what this task builds",
    _ready_made,
)
ATTENTION = ("causal_attention", "temperature_softmax", "causal_mask")
BLOCK = ("Block", "CausalSelfAttention", "MLP")
HERE = "minigpt.probes.ch09_capstone"

TASKS = {
    "attention": TaskSpec(
        functions=ATTENTION,
        reference={
            "causal_attention": f"{HERE}:causal_attention",
            "temperature_softmax": "minigpt.attention:softmax_with_temperature",
            "causal_mask": "minigpt.attention:causal_mask",
        },
        promise="causal_attention(q, k, v): softmax(q @ k^T / sqrt(D)) @ v over the last two "
        "axes, the future masked with -inf (causal_mask(T), True where s <= t), the softmax "
        "your temperature_softmax",
        kinds={
            "softmax": Kind(run=softmax_run, judge=_as_call("temperature_softmax")),
            "mask": Kind(run=mask_run, judge=_as_call("causal_mask")),
        },
        rules=(OWN_SOFTMAX,),
        withheld=(
            "minigpt.attention:scaled_dot_product_attention",
            "minigpt.attention:attention_head",
            "minigpt.attention:multi_head_attention",
            "minigpt.causality:causal_weights",
            "minigpt.causality:causal_attention",
        ),
        replaceable=True,
    ),
    "block": TaskSpec(
        functions=BLOCK,
        reference={
            "Block": f"{HERE}:Block",
            "CausalSelfAttention": f"{HERE}:CausalSelfAttention",
            "MLP": "minigpt.model:MLP",
        },
        promise="CausalSelfAttention(n_embd, n_head, dropout) with qkv and proj, MLP(n_embd, "
        "dropout) with fc and proj, Block(config) with ln_1, attn, ln_2, mlp: x + attn(ln_1(x)), "
        "then x + mlp(ln_2(x))",
        kinds={"module": Kind(run=module_run, judge=judge_module)},
        pieces=ATTENTION,
        withheld=(
            "minigpt.attention:CausalSelfAttention",
            "minigpt.attention:Head",
            "minigpt.attention:MultiHeadAttention",
            "minigpt.attention:split_heads",
            "minigpt.attention:merge_heads",
            "minigpt.model:Block",
        ),
        replaceable=True,
    ),
    "gpt": TaskSpec(
        functions=("GPT",),
        reference={"GPT": f"{HERE}:GPT"},
        promise="GPT(config) with tok_emb, pos_emb, blocks, ln_f and lm_head tied to tok_emb, "
        "weights N(0, 0.02) and biases 0; forward(idx) returns the logits (B, T, vocab_size)",
        kinds={"model": Kind(run=model_run, judge=judge_model)},
        pieces=(*BLOCK, *ATTENTION),
        withheld=("minigpt.model:GPT",),
        replaceable=True,
    ),
    "training": TaskSpec(
        functions=("train_step", "get_batch", "next_token_loss"),
        reference={
            "train_step": f"{HERE}:train_step",
            "get_batch": "minigpt.data:get_batch",
            "next_token_loss": "minigpt.train:next_token_loss",
        },
        promise="get_batch(data, batch_size, block_size, generator) -> (x, y), y shifted by one; "
        "next_token_loss(logits, targets) the mean cross-entropy over B * T; train_step(model, "
        "optimizer, x, y, scaler) one update through the scaler, returning the loss as a float",
        kinds={
            "batch": Kind(run=batch_run, judge=judge_batch),
            "loss": Kind(run=loss_run, judge=_as_call("next_token_loss")),
            "steps": Kind(run=steps_run, judge=judge_steps),
        },
        withheld=(
            "minigpt.data:windows_at",
            "minigpt.train:inputs_and_targets",
            "minigpt.train:training_step",
            "minigpt.train:train",
            "minigpt.train:estimate_loss",
            "minigpt.finetune:masked_loss",
        ),
        replaceable=True,
    ),
    "sampling": TaskSpec(
        functions=("generate", "sample_next"),
        reference={
            "generate": f"{HERE}:generate",
            "sample_next": "minigpt.probes.ch08_generation:draw_next",
        },
        promise="generate(model, idx, max_new_tokens, pick): the prompt and max_new_tokens new "
        "ids, pick given the logits of the last position of the last block_size tokens, no "
        "gradients; sample_next(logits, temperature, generator): (B, 1) long ids drawn from "
        "softmax(logits / temperature)",
        kinds={"generate": generation_kind(probe_model), "draws": DRAW},
        withheld=(
            "minigpt.generate:generate",
            "minigpt.generate:next_token_logits",
            "minigpt.generate:pick_next",
            "minigpt.generate:next_token_distribution",
        ),
        replaceable=True,
    ),
}
