"""Teacher-forcing training: AdamW, warmup then cosine decay, clipping, loss estimates, checkpoints.

Every position of every window in a batch is a training example: the model sees the true
tokens up to t and is scored on token t + 1, all B * T predictions in one forward pass.
"""

from __future__ import annotations

import contextlib
import math
import pickle
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from minigpt.data import get_batch
from minigpt.model import GPT, GPTConfig, KVCache
from minigpt.shapes import ShapeError
from minigpt.tokenizers import Tokenizer, tokenizer_from_dict
from minigpt.utils import bfloat16_switched_off


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
    mixed_precision: bool = True  # bfloat16 where the hardware runs it natively


@dataclass
class History:
    """What happened during training, for plots and reports."""

    steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    batch_loss: list[float] = field(default_factory=list)  # every step, noisy
    learning_rate: list[float] = field(default_factory=list)
    tokens_per_second: float = 0.0
    seconds: float = 0.0

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


def native_bfloat16(device: torch.device) -> bool:
    """Whether this device multiplies bfloat16 in hardware; emulated bfloat16 is slower."""
    if bfloat16_switched_off():
        return False
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probe = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
        return bool(probe())
    return False


def autocast_for(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """bfloat16 mixed precision where it is native: matrix products at twice the speed, while
    weights, optimizer state and the softmax stay in float32."""
    if enabled and native_bfloat16(device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


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


def train(
    model: GPT,
    train_data: torch.Tensor,
    val_data: torch.Tensor,
    config: TrainConfig,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> History:
    """Train `model` in place; returns its History. Deterministic for a given config.seed."""
    device = torch.device(device)
    model.to(device).train()
    block_size = model.config.block_size
    batches = torch.Generator().manual_seed(config.seed)
    eval_batches = torch.Generator().manual_seed(config.seed + 1)
    optimizer = make_optimizer(model, config)
    history = History()
    splits = {"train": train_data, "val": val_data}

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
    silence = {} if progress else {"disable": True}
    bar = tqdm(range(config.max_iters), desc="training", unit="it", **silence)
    train_seconds = 0.0
    for step in bar:
        if step % config.eval_interval == 0:
            evaluate(step)
        started = time.perf_counter()
        lr = learning_rate_at(step, config)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch(train_data, config.batch_size, block_size, batches, device)
        with autocast_for(device, config.mixed_precision):
            _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        history.batch_loss.append(loss.item())  # .item() waits for the GPU: timing stays honest
        history.learning_rate.append(lr)
        train_seconds += time.perf_counter() - started
        bar.set_postfix(loss=f"{history.batch_loss[-1]:.3f}", refresh=False)
    evaluate(config.max_iters)
    bar.close()
    history.seconds = train_seconds
    history.tokens_per_second = (
        config.max_iters * config.batch_size * block_size / max(train_seconds, 1e-9)
    )
    return history


def save_checkpoint(
    path: str | Path,
    model: GPT,
    tokenizer: Tokenizer,
    train_config: TrainConfig | None = None,
    history: History | None = None,
) -> None:
    """Everything needed to sample later: weights, model config, tokenizer, and how it trained."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = {
        "model_config": model.config.to_dict(),
        "state_dict": model.state_dict(),
        "tokenizer": tokenizer.to_dict(),
        "train_config": asdict(train_config) if train_config is not None else None,
        "history": history.to_dict() if history is not None else None,
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
