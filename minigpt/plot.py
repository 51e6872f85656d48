"""The course's pictures: loss curves, attention maps, the bigram table, embeddings, temperatures.

Each function draws on a new figure (or on the axes you pass) and returns the figure, so a
notebook cell can show it and a test can inspect it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from minigpt.attention import softmax_with_temperature
from minigpt.train import History


def _printable(symbol: str) -> str:
    return {"\n": "\\n", " ": "␣", "\t": "\\t"}.get(symbol, symbol)


def plot_losses(history: History, title: str = "Training", ax: plt.Axes | None = None) -> Figure:
    """Batch loss (faint, every step) with the train and val estimates on top."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7, 4))
    if history.batch_loss:
        ax.plot(history.batch_loss, color="0.8", lw=0.8, label="batch loss")
    ax.plot(history.steps, history.train_loss, "o-", label="train (estimate)")
    ax.plot(history.steps, history.val_loss, "s-", label="val (estimate)")
    ax.set(xlabel="step", ylabel="cross-entropy (nats)", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def plot_attention(
    weights: torch.Tensor, tokens: Sequence[str] | None = None, title: str = "Attention"
) -> Figure:
    """One heatmap per head; `weights` is (n_head, T, T) or (T, T). Rows are queries.

    With tokens, each panel grows with T so that every character stays readable on its axes, and
    the panels wrap into as many rows as a page-wide figure needs.
    """
    weights = weights.detach().float().cpu()
    if weights.dim() == 2:
        weights = weights.unsqueeze(0)
    n_head, T, _ = weights.shape
    labelled = tokens is not None and T <= 32
    side = max(3.2, 0.3 * T) if labelled else 3.2
    cols = max(1, min(n_head, 4, int(13 // side)))
    rows = math.ceil(n_head / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(side * cols, side * rows), squeeze=False)
    labels = [_printable(t) for t in tokens] if tokens is not None else None
    for h, ax in enumerate(axes.flat):
        if h >= n_head:
            ax.axis("off")
            continue
        ax.imshow(weights[h].numpy(), cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_title(f"head {h}" if n_head > 1 else title, fontsize=11)
        if labelled:
            ax.set_xticks(range(T), labels, fontsize=10)
            ax.set_yticks(range(T), labels, fontsize=10)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
    if n_head > 1:
        fig.suptitle(title + " (rows: query, columns: key)")
    fig.tight_layout()
    return fig


def plot_bigram_counts(
    counts: torch.Tensor, symbols: Sequence[str], title: str = "Bigram counts"
) -> Figure:
    """The count table as an image, log scale, with the symbols on both axes."""
    size = max(6.0, 0.16 * len(symbols))
    fig, ax = plt.subplots(figsize=(size, size))
    image = ax.imshow(torch.log1p(counts.detach().float().cpu()).numpy(), cmap="Blues")
    labels = [_printable(s) for s in symbols]
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.set(xlabel="next symbol", ylabel="current symbol", title=title)
    fig.colorbar(image, ax=ax, shrink=0.7, label="log(1 + count)")
    fig.tight_layout()
    return fig


def project_2d(vectors: torch.Tensor) -> torch.Tensor:
    """The two principal components of a set of vectors: the most faithful flat picture."""
    centered = vectors.detach().float().cpu() - vectors.detach().float().cpu().mean(dim=0)
    _, _, v = torch.linalg.svd(centered, full_matrices=False)
    return centered @ v[:2].T


def plot_embeddings_2d(
    vectors: torch.Tensor, labels: Sequence[str], title: str = "Embeddings (PCA)"
) -> Figure:
    """Each row of `vectors` as a labelled point in its 2-D principal projection."""
    points = project_2d(vectors).numpy()
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.scatter(points[:, 0], points[:, 1], s=12, alpha=0.5)
    for (x, y), label in zip(points.tolist(), labels, strict=True):
        ax.annotate(_printable(label), (x, y), fontsize=9, ha="center", va="bottom")
    ax.set(xlabel="component 1", ylabel="component 2", title=title)
    ax.grid(alpha=0.3)
    return fig


def plot_temperatures(
    logits: torch.Tensor,
    temperatures: Sequence[float] = (0.5, 1.0, 2.0),
    labels: Sequence[str] | None = None,
    title: str = "Next-token distribution",
) -> Figure:
    """The same logits (V,) turned into probabilities at several temperatures, side by side."""
    logits = logits.detach().float().cpu()
    n = len(temperatures)
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 3.2), sharey=True, squeeze=False)
    axes = list(axes[0])
    positions = range(len(logits))
    for ax, temperature in zip(axes, temperatures, strict=True):
        ax.bar(positions, softmax_with_temperature(logits, temperature).numpy(), color="tab:blue")
        ax.set_title(f"τ = {temperature:g}")  # τ: T is the sequence length elsewhere
        if labels is not None and len(labels) <= 30:
            ax.set_xticks(positions, [_printable(s) for s in labels], fontsize=8)
        ax.set_xlabel("token")
    axes[0].set_ylabel("probability")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
