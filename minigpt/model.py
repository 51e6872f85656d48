"""A GPT: token and position embeddings, a stack of pre-norm transformer blocks, a tied LM head.

    idx (B, T) -> embeddings (B, T, C) -> n_layer x Block -> LayerNorm -> logits (B, T, vocab)

Each Block adds attention (tokens talk to earlier tokens) and an MLP (each token thinks on its
own) to a residual stream that runs straight from the embeddings to the head.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from minigpt.attention import CausalSelfAttention, LayerCache
from minigpt.shapes import ShapeError


@dataclass
class GPTConfig:
    vocab_size: int = 65
    block_size: int = 64  # the longest context the model can see
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    use_torch_kernel: bool = True  # False runs the written-out attention
    # The MLP's GELU: "none" is the exact x * Phi(x); "tanh" is the approximation that GPT-2 was
    # trained with, needed to reproduce its outputs from its weights (GPT.from_gpt2).
    gelu_approximate: str = "none"

    def __post_init__(self):
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} must be divisible by n_head={self.n_head}")
        if self.gelu_approximate not in ("none", "tanh"):
            raise ValueError(
                f"gelu_approximate must be 'none' or 'tanh', got {self.gelu_approximate!r}"
            )

    def to_dict(self) -> dict:
        return asdict(self)


class MLP(nn.Module):
    """Widen to 4x, GELU, project back: the per-token computation of a block."""

    def __init__(self, n_embd: int, dropout: float = 0.0, gelu_approximate: str = "none"):
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.proj = nn.Linear(4 * n_embd, n_embd)
        self.dropout = nn.Dropout(dropout)
        self.gelu_approximate = gelu_approximate  # "none": exact GELU; "tanh": GPT-2's

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(F.gelu(self.fc(x), approximate=self.gelu_approximate)))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(
            config.n_embd, config.n_head, config.dropout, config.use_torch_kernel
        )
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config.n_embd, config.dropout, config.gelu_approximate)

    def forward(self, x: torch.Tensor, cache: LayerCache | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))

    def last_position(self, x: torch.Tensor) -> torch.Tensor:
        """The block's output (B, 1, C) at the last position of x (B, T, C) alone.

        Keys and values still come from every position, but one query, one output projection
        and one MLP row are all that is left: the same numbers as forward(x)[:, -1:], for less
        work when nothing reads the other positions (the last block, while generating).
        """
        x_last = x[:, -1:] + self.attn.last_query(self.ln_1(x))
        return x_last + self.mlp(self.ln_2(x_last))


class KVCache:
    """One LayerCache per block, so generation computes each position only once."""

    def __init__(self, config: GPTConfig):
        self.layers = [LayerCache(config.block_size) for _ in range(config.n_layer)]

    @property
    def length(self) -> int:
        return self.layers[0].length


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        # Weight tying: reading a token in and scoring it on the way out share one matrix.
        self.lm_head.weight = self.tok_emb.weight
        self.apply(self._init_weights)
        # Each block adds two projections to the residual stream; shrink them so the stream's
        # variance does not grow with depth (GPT-2's scheme).
        for name, param in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    @classmethod
    def from_gpt2(cls, state_dict: Mapping[str, torch.Tensor], n_head: int | None = None) -> GPT:
        """A GPT holding GPT-2 weights given in Hugging Face's layout, in eval mode.

        `state_dict` is what `transformers`' GPT2LMHeadModel (or GPT2Model) returns from
        state_dict(). The sizes are read from the shapes; the number of heads cannot be, so it
        is taken from `n_head` or, when None, from the published models' widths (768: 12 heads,
        1024: 16, 1280: 20, 1600: 25). GPT-2's layers are `Conv1D`s, which store a weight as
        (in, out) where nn.Linear stores (out, in), so every matrix is transposed; its c_attn
        holds queries, keys and values side by side, in the order of minigpt's qkv. The MLP
        uses the tanh approximation of GELU that GPT-2 was trained with.
        """
        weights = {key.removeprefix("transformer."): value for key, value in state_dict.items()}
        if "wte.weight" not in weights or "wpe.weight" not in weights:
            raise ValueError("not a GPT-2 state dict: it has no wte.weight and wpe.weight")
        wte = weights.pop("wte.weight")
        head = weights.pop("lm_head.weight", None)
        if head is not None and not torch.equal(head, wte):
            raise ValueError("lm_head.weight differs from wte.weight: minigpt's head is tied")
        vocab_size, n_embd = wte.shape
        n_layer = len({key.split(".")[1] for key in weights if key.startswith("h.")})
        if n_head is None:
            n_head = _GPT2_HEADS.get(n_embd)
            if n_head is None:
                raise ValueError(f"width {n_embd} is not a published GPT-2: pass n_head")
        config = GPTConfig(
            vocab_size=vocab_size,
            block_size=weights["wpe.weight"].size(0),
            n_layer=n_layer,
            n_head=n_head,
            n_embd=n_embd,
            gelu_approximate="tanh",
        )
        ours = {"tok_emb.weight": wte, "lm_head.weight": wte}
        for key, value in weights.items():
            if key.endswith((".attn.bias", ".attn.masked_bias")):
                continue  # the causal mask, a buffer in older versions of transformers
            if key.startswith("wpe."):
                key = "pos_emb." + key.removeprefix("wpe.")
            if key.startswith("h."):  # h.0.attn.c_attn.weight -> blocks.0.attn.qkv.weight
                key = "blocks." + key.removeprefix("h.")
                for theirs, mine in _GPT2_SUBLAYERS:
                    key = key.replace(theirs, mine)
                value = value.t() if value.dim() == 2 else value  # Conv1D's (in, out)
            ours[key] = value
        with torch.random.fork_rng(devices=[]):  # the random start is overwritten: draw aside
            model = cls(config)
        try:
            model.load_state_dict(ours)
        except RuntimeError as err:
            raise ValueError(f"these weights do not fit a GPT-2 of {config}: {err}") from err
        return model.eval()

    def num_parameters(self) -> int:
        """Distinct trainable numbers (the tied head matrix counts once)."""
        return sum(p.numel() for p in self.parameters())

    def _check_idx(self, idx: torch.Tensor, past: int) -> None:
        if idx.dim() != 2 or idx.dtype != torch.long:
            raise ShapeError(
                f"idx: expected a (B, T) tensor of token ids (torch.long), got shape "
                f"{tuple(idx.shape)} of {idx.dtype}"
            )
        if past + idx.size(1) > self.config.block_size:
            raise ShapeError(
                f"idx: expected at most block_size={self.config.block_size} positions, got "
                f"{past + idx.size(1)}; crop the context to its last block_size tokens"
            )

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (B, T, vocab) for every position, and the mean cross-entropy if targets given.

        With a `cache`, idx holds only the new tokens; their positions continue after the cached
        ones, and their keys and values are added to the cache.
        """
        past = cache.length if cache is not None else 0
        self._check_idx(idx, past)
        if targets is not None and targets.shape != idx.shape:
            raise ShapeError(
                f"targets: expected shape {tuple(idx.shape)} like idx, got {tuple(targets.shape)}"
            )
        x = self._embed(idx, past)
        for i, block in enumerate(self.blocks):
            x = block(x, cache.layers[i] if cache is not None else None)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

    def _embed(self, idx: torch.Tensor, past: int = 0) -> torch.Tensor:
        """Token plus position embeddings (B, T, C); positions start after `past` cached ones."""
        positions = torch.arange(past, past + idx.size(1), device=idx.device)
        return self.dropout(self.tok_emb(idx) + self.pos_emb(positions))

    def last_logits(self, idx: torch.Tensor) -> torch.Tensor:
        """Logits (B, vocab) for the token after idx (B, T): all that sampling needs.

        Every block but the last runs on all positions, because later blocks read their keys
        and values; the last block and the head run on the final position alone.
        """
        self._check_idx(idx, 0)
        x = self._embed(idx)
        for block in self.blocks[:-1]:
            x = block(x)
        x = self.blocks[-1].last_position(x)
        return self.lm_head(self.ln_f(x))[:, -1]

    @torch.no_grad()
    def attention_maps(self, idx: torch.Tensor) -> list[torch.Tensor]:
        """Attention weights of every layer, each (B, n_head, T, T), for plotting."""
        self._check_idx(idx, 0)
        positions = torch.arange(idx.size(1), device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(positions)
        maps = []
        for block in self.blocks:
            maps.append(block.attn.weights(block.ln_1(x)))
            x = block(x)
        return maps


# The layers of a GPT-2 block in Hugging Face's layout, and minigpt's names for them.
_GPT2_SUBLAYERS = [
    ("attn.c_attn.", "attn.qkv."),
    ("attn.c_proj.", "attn.proj."),
    ("mlp.c_fc.", "mlp.fc."),
    ("mlp.c_proj.", "mlp.proj."),
]
_GPT2_HEADS = {768: 12, 1024: 16, 1280: 20, 1600: 25}  # small, medium, large, xl


def parameter_count_formula(config: GPTConfig) -> int:
    """The parameter count worked out by hand, to check `GPT.num_parameters` against.

    Each block: attention 4C^2 + 4C (q, k, v and output projection with biases), MLP 8C^2 + 5C,
    two layer norms 4C. Embeddings V*C + block_size*C; final norm 2C; the head is tied (0).
    """
    C, V, L = config.n_embd, config.vocab_size, config.n_layer
    return V * C + config.block_size * C + L * (12 * C * C + 13 * C) + 2 * C


class BlockVariant(Block):
    """A Block wired another way, to measure what the standard wiring buys.

    norm="post" normalizes after each residual addition (the order of the 2017 Transformer);
    residual=False drops the skip paths, so each sublayer's output replaces the stream. The
    parameters and their names are Block's, so weights load across wirings and an experiment
    can change the wiring alone.
    """

    def __init__(self, config: GPTConfig, norm: str = "pre", residual: bool = True):
        if norm not in ("pre", "post"):
            raise ValueError(f"norm must be 'pre' or 'post', got {norm!r}")
        super().__init__(config)
        self.norm = norm
        self.residual = residual

    def _add(self, x: torch.Tensor, update: torch.Tensor) -> torch.Tensor:
        return x + update if self.residual else update

    def forward(self, x: torch.Tensor, cache: LayerCache | None = None) -> torch.Tensor:
        if self.norm == "pre":
            x = self._add(x, self.attn(self.ln_1(x), cache))
            return self._add(x, self.mlp(self.ln_2(x)))
        x = self.ln_1(self._add(x, self.attn(x, cache)))
        return self.ln_2(self._add(x, self.mlp(x)))

    def last_position(self, x: torch.Tensor) -> torch.Tensor:
        """Every wiring runs in full here: the shortcut of Block.last_position is pre-norm's."""
        return self(x)[:, -1:]


def rewire(model: GPT, norm: str = "pre", residual: bool = True) -> GPT:
    """A copy of `model`, same weights, whose blocks are wired as asked (see BlockVariant).

    The global random state is left as it was, so rewiring does not shift later random draws.
    """
    new = copy.deepcopy(model)
    with torch.random.fork_rng(devices=[]):
        blocks = nn.ModuleList(BlockVariant(model.config, norm, residual) for _ in model.blocks)
    blocks.load_state_dict(model.blocks.state_dict())
    new.blocks = blocks.to(next(model.parameters()).device).train(model.training)
    return new


def _stream_hooks(model: GPT, keep: list[torch.Tensor], retain_grad: bool) -> list:
    """Hooks that record the residual stream entering every block and the final norm."""

    def record(module: nn.Module, args: tuple) -> None:
        if retain_grad:
            args[0].retain_grad()
        keep.append(args[0])

    return [m.register_forward_pre_hook(record) for m in [*model.blocks, model.ln_f]]


@torch.no_grad()
def stream_scale(model: GPT, idx: torch.Tensor) -> list[float]:
    """Standard deviation of the residual stream entering each block, then entering ln_f.

    Pre-norm blocks add to the stream and never rescale it, so it can grow with depth; post-norm
    blocks renormalize it after every addition.
    """
    states: list[torch.Tensor] = []
    hooks = _stream_hooks(model, states, retain_grad=False)
    try:
        model(idx)
    finally:
        for hook in hooks:
            hook.remove()
    return [s.float().std().item() for s in states]


def stream_gradients(
    model: GPT, idx: torch.Tensor, targets: torch.Tensor
) -> tuple[list[float], list[float]]:
    """How the loss gradient reaches each block, for measuring what residual paths do.

    For the residual stream entering every block: the norm of d loss / d stream, and its cosine
    similarity with the gradient at the top of the stack (entering ln_f). A cosine near 1 means
    the error signal arrives as it left the top; near 0, the layers between have scrambled it.
    The model's parameter gradients are cleared afterwards.
    """
    states: list[torch.Tensor] = []
    hooks = _stream_hooks(model, states, retain_grad=True)
    try:
        _, loss = model(idx, targets)
        loss.backward()
    finally:
        for hook in hooks:
            hook.remove()
        model.zero_grad(set_to_none=True)
    top = states[-1].grad.flatten()
    grads = [s.grad.flatten() for s in states[:-1]]
    norms = [g.norm().item() for g in grads]
    cosines = [F.cosine_similarity(g, top, dim=0).item() for g in grads]
    return norms, cosines


def parameter_breakdown(config: GPTConfig) -> dict[str, int]:
    """parameter_count_formula term by term: where a GPT's parameters live.

    The token embedding is also the head (weight tying), so it is counted once.
    """
    C, V, L = config.n_embd, config.vocab_size, config.n_layer
    return {
        "token embedding (= head)": V * C,
        "position embedding": config.block_size * C,
        "attention": L * (4 * C * C + 4 * C),
        "MLP": L * (8 * C * C + 5 * C),
        "layer norms": L * 4 * C + 2 * C,
    }


def count_by_group(model: GPT) -> dict[str, int]:
    """The parameters of a real model, counted in parameter_breakdown's groups by their names.

    named_parameters lists a shared tensor once, so the tied head adds nothing.
    """
    groups = dict.fromkeys(parameter_breakdown(model.config), 0)
    for name, param in model.named_parameters():
        if name.startswith("tok_emb"):
            group = "token embedding (= head)"
        elif name.startswith("pos_emb"):
            group = "position embedding"
        elif ".attn." in name:
            group = "attention"
        elif ".mlp." in name:
            group = "MLP"
        elif ".ln_" in name or name.startswith("ln_f"):
            group = "layer norms"
        else:
            raise ValueError(f"parameter {name} belongs to no group")
        groups[group] += param.numel()
    return groups
