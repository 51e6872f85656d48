"""Teacher-forcing training: AdamW, warmup then cosine decay, clipping, loss estimates, checkpoints.

Every position of every window in a batch is a training example: the model sees the true
tokens up to t and is scored on token t + 1, all B * T predictions in one forward pass.
"""

from __future__ import annotations

import contextlib
import math
import pickle
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from minigpt import distributed
from minigpt.data import get_batch, windows_at
from minigpt.model import GPT, GPTConfig, KVCache
from minigpt.shapes import ShapeError
from minigpt.speed import (
    allow_tf32,
    autocast_for,
    compile_model,
    first_call_failed,
    grad_scaler,
    to_device,
)
from minigpt.tokenizers import Tokenizer, tokenizer_from_dict


@dataclass
class TrainConfig:
    max_iters: int = 2000
    batch_size: int = 12
    learning_rate: float = 1e-3
    min_lr: float = 1e-4
    warmup_iters: int = 100
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 250
    eval_iters: int = 20
    seed: int = 1337
    mixed_precision: bool = True  # bfloat16 where native, else float16 on a GPU (see speed.py)
    grad_accum: int = 1  # micro-batches per process per step: the same batch in less memory
    compile: bool = False  # torch.compile the model: faster steps after a minute of compiling


@dataclass
class History:
    """What happened during training, for plots and reports."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)  # every step, noisy
    learning_rate: list[float] = field(default_factory=list)
    tokens_per_second: float = 0.0
    seconds: float = 0.0  # training steps only: no evaluations, no compiling
    compile_seconds: float = 0.0  # the first step's extra time when torch.compile builds kernels

    def to_dict(self) -> dict:
        return asdict(self)


def inputs_and_targets(chunk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows of T + 1 tokens (..., T + 1) -> inputs and targets, both (..., T).

    The target at t is the token after input t, so T + 1 tokens of text make T examples.
    """
    if chunk.size(-1) < 2:
        raise ShapeError(f"chunk: need at least 2 tokens along the last axis, got {chunk.size(-1)}")
    return chunk[..., :-1], chunk[..., 1:]


def next_token_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over all B * T positions of logits (B, T, V) against targets (B, T).

    cross_entropy wants one row of V scores per example, so (B, T, V) becomes (B * T, V) and
    the targets line up as (B * T,): every position counts as one next-token prediction.
    """
    if logits.dim() != 3 or targets.shape != logits.shape[:2]:
        raise ShapeError(
            f"expected logits (B, T, V) and targets (B, T), got {tuple(logits.shape)} and "
            f"{tuple(targets.shape)}"
        )
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))


def training_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor
) -> float:
    """One teacher-forced update: loss on the true inputs, fresh gradients, one optimizer step.

    The old gradients are cleared first: PyTorch adds new gradients to what .grad holds.
    """
    logits, _ = model(x)
    loss = next_token_loss(logits, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


@torch.no_grad()
def free_running_inputs(
    model: GPT, x: torch.Tensor, mix: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """x (B, T) with tokens after the first replaced, each with probability `mix`, by a token
    the model samples from the sequence built so far.

    mix=1 feeds the model only its own output (free running), mix=0 returns x (teacher
    forcing), values between are scheduled sampling. Random draws come from `generator`
    (on the CPU): first the (B, T) replacement mask, then one sample per position. The model
    runs as it is (train or eval mode), with a KV cache so each position is computed once.
    """
    if mix <= 0:
        return x.clone()
    B, T = x.shape
    replace = torch.rand(B, T, generator=generator) < mix
    built = x.clone()
    cache = KVCache(model.config)
    for t in range(1, T):
        logits, _ = model(built[:, t - 1 : t], cache=cache)
        probs = torch.softmax(logits[:, -1].float(), dim=-1).cpu()
        sampled = torch.multinomial(probs, 1, generator=generator).squeeze(1).to(x.device)
        built[:, t] = torch.where(replace[:, t].to(x.device), sampled, x[:, t])
    return built


def learning_rate_at(step: int, config: TrainConfig) -> float:
    """Linear warmup to learning_rate, then cosine decay to min_lr at max_iters."""
    if step < config.warmup_iters:
        return config.learning_rate * (step + 1) / config.warmup_iters
    span = max(1, config.max_iters - config.warmup_iters)
    progress = min(1.0, (step - config.warmup_iters) / span)
    return config.min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (
        config.learning_rate - config.min_lr
    )


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW that decays matrices and embeddings but not biases and norm gains."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    betas = (config.beta1, config.beta2)
    try:  # the fused kernel is much faster where this torch has it for the device
        return torch.optim.AdamW(groups, lr=config.learning_rate, betas=betas, fused=True)
    except RuntimeError:
        return torch.optim.AdamW(groups, lr=config.learning_rate, betas=betas)


@torch.no_grad()
def estimate_loss(
    model: nn.Module,
    splits: dict[str, torch.Tensor],
    block_size: int,
    batch_size: int,
    eval_iters: int,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    mixed_precision: bool = True,
) -> dict[str, float]:
    """Mean loss over `eval_iters` random batches of each split, in eval mode (no dropout)."""
    was_training = model.training
    model.eval()
    out = {}
    for name, data in splits.items():
        total = 0.0
        for _ in range(eval_iters):
            x, y = get_batch(data, batch_size, block_size, generator, device)
            with autocast_for(torch.device(device), mixed_precision):
                _, loss = model(x, y)
            total += loss.item()
        out[name] = total / eval_iters
    model.train(was_training)
    return out


def micro_batch_rows(config: TrainConfig, world_size: int = 1) -> int:
    """Rows in each micro-batch: the batch of a step is shared by the processes, and each
    process cuts its share into `grad_accum` micro-batches. The batch itself never changes."""
    parts = world_size * config.grad_accum
    if config.grad_accum < 1 or config.batch_size % parts:
        raise ValueError(
            f"a batch of {config.batch_size} rows cannot be cut into {world_size} process(es) x "
            f"{config.grad_accum} micro-batch(es) of equal size: choose --grad-accum so that "
            f"{world_size} x grad_accum divides {config.batch_size}"
        )
    return config.batch_size // parts


def _random_states(device: torch.device) -> dict:
    """The global random states this process draws dropout masks from."""
    states = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        states["cuda"] = torch.cuda.get_rng_state(device)
    return states


def _set_random_states(states: dict, device: torch.device) -> None:
    torch.set_rng_state(states["cpu"].cpu())
    if "cuda" in states and device.type == "cuda":
        torch.cuda.set_rng_state(states["cuda"].cpu(), device)


def train(
    model: GPT,
    train_data: torch.Tensor,
    val_data: torch.Tensor,
    config: TrainConfig,
    device: torch.device | str = "cpu",
    progress: bool = True,
    checkpoint: str | Path | None = None,
    tokenizer: Tokenizer | None = None,
    resume: dict | None = None,
) -> History:
    """Train `model` in place; returns its History. Deterministic for a given config.seed.

    Under torchrun every process calls this: each runs its share of every batch, DDP averages
    the gradients, and rank 0 alone evaluates, logs and saves. With `checkpoint` (and the
    `tokenizer` to store beside the weights), rank 0 saves the whole training state at every
    evaluation and at the end. `resume`, a checkpoint dict from load_checkpoint whose weights
    are already in `model`, continues that run: it ends exactly where an uninterrupted run ends.
    """
    device = torch.device(device)
    ranks = distributed.current()
    rows = micro_batch_rows(config, ranks.world_size)
    if checkpoint is not None and tokenizer is None:
        raise ValueError("saving checkpoints needs the tokenizer, to store it with the weights")
    block_size = model.config.block_size
    allow_tf32(device)
    model.to(device).train()
    optimizer = make_optimizer(model, config)
    scaler = grad_scaler(device, config.mixed_precision)
    # Every process draws the same starts for a step's whole batch and cuts out its own rows,
    # so the data of a step depends on the seed alone, not on how many processes share it.
    batches = torch.Generator().manual_seed(config.seed)
    eval_batches = torch.Generator().manual_seed(config.seed + 1)
    if ranks.world_size > 1:
        torch.manual_seed(config.seed + ranks.rank)  # each process drops out other units
    history, first = History(), 0
    if resume is not None:
        history, first = _restore(resume, optimizer, scaler, batches, eval_batches, device)
        if first >= config.max_iters and ranks.is_main:
            print(f"the run finished all {config.max_iters} steps: nothing left to train")
    shared = distributed.wrap(model, device)
    net = compile_model(shared, device, ranks.is_main) if config.compile else shared
    splits = {"train": train_data, "val": val_data}
    pending: list[torch.Tensor] = []  # batch losses not yet copied to the host
    segment_began = time.perf_counter()

    def one_step(step: int, net: nn.Module) -> None:
        lr = learning_rate_at(step, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        starts = torch.randint(
            len(train_data) - block_size, (config.batch_size, 1), generator=batches
        )
        mine = starts.split(rows)[
            ranks.rank * config.grad_accum : (ranks.rank + 1) * config.grad_accum
        ]
        total = torch.zeros((), device=device)
        for k, part in enumerate(mine):
            x, y = (to_device(t, device) for t in windows_at(train_data, part, block_size))
            # DDP averages gradients during backward; between micro-batches they only add up.
            last = k == len(mine) - 1
            syncing = contextlib.nullcontext() if last or shared is model else shared.no_sync()
            with syncing:
                with autocast_for(device, config.mixed_precision):
                    _, loss = net(x, y)
                scaler.scale(loss / len(mine)).backward()
            total += loss.detach().float()
        if config.grad_clip > 0:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        optimizer.zero_grad(set_to_none=True)
        pending.append(total / len(mine))
        history.learning_rate.append(lr)

    def checkpoint_point(step: int) -> None:
        """Copy the losses to the host (the one wait for the GPU), evaluate, log and save."""
        nonlocal segment_began
        if pending:
            history.batch_loss.extend(distributed.average(torch.stack(pending)).tolist())
            pending.clear()
            history.seconds += time.perf_counter() - segment_began
            bar.set_postfix(loss=f"{history.batch_loss[-1]:.3f}", refresh=False)
        random_states = distributed.gather(_random_states(device))
        if ranks.is_main:
            evaluate(step)
            if checkpoint is not None and (step > first or step == config.max_iters):
                state = {
                    "step": step,
                    "optimizer": optimizer.state_dict(),
                    "scaler": scaler.state_dict(),
                    "batches": batches.get_state(),
                    "eval_batches": eval_batches.get_state(),
                    "random_states": random_states,
                }
                save_checkpoint(checkpoint, model, tokenizer, config, history, state)
        segment_began = time.perf_counter()

    def evaluate(step: int) -> None:
        losses = estimate_loss(
            model,
            splits,
            block_size,
            config.batch_size,
            config.eval_iters,
            eval_batches,
            device,
            config.mixed_precision,
        )
        history.steps.append(step)
        history.train_loss.append(losses["train"])
        history.val_loss.append(losses["val"])
        bar.write(f"step {step:5d}: train loss {losses['train']:.4f}, val loss {losses['val']:.4f}")

    # Leave `disable` to tqdm unless asked for silence, so TQDM_DISABLE=1 works as usual.
    silence = {} if progress and ranks.is_main else {"disable": True}
    bar = tqdm(
        range(first, config.max_iters),
        desc="training",
        unit="it",
        initial=first,
        total=config.max_iters,
        **silence,
    )
    for step in bar:
        if step % config.eval_interval == 0 and not (resume is not None and step == first):
            checkpoint_point(step)
        if step == first and net is not shared:
            began = time.perf_counter()
            net = _first_compiled_step(net, shared, optimizer, batches, partial(one_step, step))
            history.compile_seconds = time.perf_counter() - began
            segment_began += history.compile_seconds  # the steps' clock leaves compiling out
        else:
            one_step(step, net)
    if first < config.max_iters:
        checkpoint_point(config.max_iters)
    bar.close()
    history.tokens_per_second = (
        config.max_iters * config.batch_size * block_size / max(history.seconds, 1e-9)
    )
    return history


def _first_compiled_step(
    compiled: nn.Module,
    eager: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: torch.Generator,
    step: Callable[[nn.Module], None],
) -> nn.Module:
    """Run the first step, where torch.compile builds its kernels; on failure, say why and
    run that step again without compiling. Returns the module to train with from now on."""
    drawn = batches.get_state()
    try:
        step(compiled)
        return compiled
    except Exception as err:  # compiler errors come in many types; any of them means eager
        first_call_failed(err, distributed.current().is_main)
        batches.set_state(drawn)
        optimizer.zero_grad(set_to_none=True)
        step(eager)
        return eager


def _restore(
    checkpoint: dict,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    batches: torch.Generator,
    eval_batches: torch.Generator,
    device: torch.device,
) -> tuple[History, int]:
    """Put a saved run's optimizer, scaler, generators and history back; returns the history
    and the step to continue from."""
    state = checkpoint.get("training_state")
    if state is None or checkpoint.get("history") is None:
        raise ValueError(
            "this checkpoint holds weights but no training state (it was saved by an older "
            "minigpt, or by save_checkpoint without one), so the run cannot be resumed"
        )
    optimizer.load_state_dict(state["optimizer"])
    scaler.load_state_dict(state["scaler"])
    batches.set_state(state["batches"].cpu())
    eval_batches.set_state(state["eval_batches"].cpu())
    ranks = distributed.current()
    saved = state["random_states"]
    if len(saved) == ranks.world_size:
        _set_random_states(saved[ranks.rank], device)
    elif ranks.is_main:
        print(
            f"resuming with {ranks.world_size} process(es) where {len(saved)} saved the run: "
            "the batches are the same, the dropout draws are not"
        )
    return History(**checkpoint["history"]), state["step"]


def save_checkpoint(
    path: str | Path,
    model: GPT,
    tokenizer: Tokenizer,
    train_config: TrainConfig | None = None,
    history: History | None = None,
    training_state: dict | None = None,
) -> None:
    """Everything needed to sample later: weights, model config, tokenizer, and how it trained.

    `training_state` (optimizer, generators, step; `train` makes it) lets the run resume."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = {
        "model_config": model.config.to_dict(),
        "state_dict": model.state_dict(),
        "tokenizer": tokenizer.to_dict(),
        "train_config": asdict(train_config) if train_config is not None else None,
        "history": history.to_dict() if history is not None else None,
        "training_state": training_state,
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(checkpoint, tmp)
    tmp.replace(path)  # never leave a half-written checkpoint behind


def load_checkpoint(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[GPT, Tokenizer, dict]:
    """The model (in eval mode, on `device`), its tokenizer, and the raw checkpoint dict."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}: train one with `minigpt train`")
    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
        model = GPT(GPTConfig(**checkpoint["model_config"]))
        model.load_state_dict(checkpoint["state_dict"])
        tokenizer = tokenizer_from_dict(checkpoint["tokenizer"])
    except (pickle.UnpicklingError, RuntimeError, KeyError, TypeError, ValueError, EOFError) as err:
        raise ValueError(f"{path} is not a readable minigpt checkpoint: {err}") from err
    return model.to(device).eval(), tokenizer, checkpoint
