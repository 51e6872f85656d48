"""A GPT: token and position embeddings, a stack of pre-norm transformer blocks, a tied LM head.

    idx (B, T) -> embeddings (B, T, C) -> n_layer x Block -> LayerNorm -> logits (B, T, vocab)

Each Block adds attention (tokens talk to earlier tokens) and an MLP (each token thinks on its
own) to a residual stream that runs straight from the embeddings to the head.
"""

from __future__ import annotations

import math
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

    def __post_init__(self):
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd={self.n_embd} must be divisible by n_head={self.n_head}")

    def to_dict(self) -> dict:
        return asdict(self)


class MLP(nn.Module):
    """Widen to 4x, GELU, project back: the per-token computation of a block."""

    def __init__(self, n_embd: int, dropout: float = 0.0):
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.proj = nn.Linear(4 * n_embd, n_embd)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(
            config.n_embd, config.n_head, config.dropout, config.use_torch_kernel
        )
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config.n_embd, config.dropout)

    def forward(self, x: torch.Tensor, cache: LayerCache | None = None) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), cache)
        return x + self.mlp(self.ln_2(x))


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
        positions = torch.arange(past, past + idx.size(1), device=idx.device)
        x = self.dropout(self.tok_emb(idx) + self.pos_emb(positions))
        for i, block in enumerate(self.blocks):
            x = block(x, cache.layers[i] if cache is not None else None)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss

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


def parameter_count_formula(config: GPTConfig) -> int:
    """The parameter count worked out by hand, to check `GPT.num_parameters` against.

    Each block: attention 4C^2 + 4C (q, k, v and output projection with biases), MLP 8C^2 + 5C,
    two layer norms 4C. Embeddings V*C + block_size*C; final norm 2C; the head is tied (0).
    """
    C, V, L = config.n_embd, config.vocab_size, config.n_layer
    return V * C + config.block_size * C + L * (12 * C * C + 13 * C) + 2 * C
