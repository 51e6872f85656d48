"""The course's pictures: loss curves, attention maps, the bigram table, embeddings, temperatures.

Each function draws on a new figure (or on the axes you pass) and returns the figure, so a
notebook cell can show it and a test can inspect it. Every figure is at most `MAX_WIDTH` inches
wide with text of at least 10 points: the book shows figures at most about 690 pixels wide (7
inches at matplotlib's 100 dots per inch) and shrinks them further on a phone, so a wider figure
would only make its labels smaller. Panels stack in rows of at most two.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from minigpt.attention import softmax_with_temperature
from minigpt.train import History

MAX_WIDTH = 6.8  # inches: the book's column at 100 dpi, with a margin
MIN_FONT = 10  # points


def _printable(symbol: str) -> str:
    """A visible one-character label for the characters a figure would show as blanks."""
    return {"\n": "↵", " ": "␣", "\t": "⇥"}.get(symbol, symbol)


def plot_losses(history: History, title: str = "Training", ax: plt.Axes | None = None) -> Figure:
    """Batch loss (faint, every step) with the train and val estimates on top."""
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(MAX_WIDTH, 4))
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

    Panels go two to a row. With tokens, a lone panel grows with T (up to the page width) so that
    every character stays readable on its axes; where the panel is too small for one 10-point
    label per position, every second (or third...) position is labelled.
    """
    weights = weights.detach().float().cpu()
    if weights.dim() == 2:
        weights = weights.unsqueeze(0)
    n_head, T, _ = weights.shape
    labelled = tokens is not None and T <= 32
    cols = min(n_head, 2)
    rows = math.ceil(n_head / cols)
    side = min(MAX_WIDTH / cols, max(3.2, 0.3 * T) if labelled else 3.2)
    fig, axes = plt.subplots(rows, cols, figsize=(side * cols, side * rows), squeeze=False)
    labels = [_printable(t) for t in tokens] if tokens is not None else None
    # A 10-point character needs about 0.13 inch; the image takes about 85% of its panel.
    every = max(1, math.ceil(0.13 * T / (0.85 * side)))
    for h, ax in enumerate(axes.flat):
        if h >= n_head:
            ax.axis("off")
            continue
        ax.imshow(weights[h].numpy(), cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_title(f"head {h}" if n_head > 1 else title, fontsize=11)
        if labelled:
            shown = range(0, T, every)
            ax.set_xticks(shown, [labels[i] for i in shown], fontsize=MIN_FONT)
            ax.set_yticks(shown, [labels[i] for i in shown], fontsize=MIN_FONT)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
    if n_head > 1:
        fig.suptitle(title + " (rows: query, columns: key)")
    fig.tight_layout()
    return fig


def _symbol_groups(symbols: Sequence[str]) -> list[tuple[str, int, int]]:
    """Runs of neighbouring symbols of one kind: (label, first index, last index)."""

    def kind(symbol: str) -> str:
        if symbol.isupper():
            return "A-Z"
        return "a-z" if symbol.islower() else "other"

    groups: list[tuple[str, int, int]] = []
    for i, symbol in enumerate(symbols):
        if groups and groups[-1][0] == kind(symbol):
            groups[-1] = (groups[-1][0], groups[-1][1], i)
        else:
            groups.append((kind(symbol), i, i))
    return groups


def plot_bigram_counts(
    counts: torch.Tensor, symbols: Sequence[str], title: str = "Bigram counts"
) -> Figure:
    """The count table as an image, log scale. Up to 24 symbols each gets a label on both axes;
    a larger table (65 characters) is labelled by groups, capitals, lower case and the rest, with
    lines between them: one 10-point label per row would not fit on a page-wide figure."""
    fig, ax = plt.subplots(figsize=(MAX_WIDTH, MAX_WIDTH * 0.82))
    image = ax.imshow(torch.log1p(counts.detach().float().cpu()).numpy(), cmap="Blues")
    if len(symbols) <= 24:
        labels = [_printable(s) for s in symbols]
        ax.set_xticks(range(len(labels)), labels, fontsize=MIN_FONT)
        ax.set_yticks(range(len(labels)), labels, fontsize=MIN_FONT)
    else:
        groups = _symbol_groups(symbols)
        names = {
            "A-Z": "capitals",
            "a-z": "lower case",
            "other": "↵ ␣ . , ; …",
        }
        centres = [(first + last) / 2 for _, first, last in groups]
        tick_labels = [names[kind] if last - first >= 8 else "" for kind, first, last in groups]
        ax.set_xticks(centres, tick_labels, fontsize=MIN_FONT)
        ax.set_yticks(centres, tick_labels, fontsize=MIN_FONT, rotation=90, va="center")
        for _, first, _ in groups[1:]:
            ax.axvline(first - 0.5, color="tab:orange", lw=0.8)
            ax.axhline(first - 0.5, color="tab:orange", lw=0.8)
        ax.tick_params(length=0)
    ax.set(xlabel="next symbol", ylabel="current symbol", title=title)
    fig.colorbar(image, ax=ax, shrink=0.8, label="log(1 + count)")
    fig.tight_layout()
    return fig


def project_2d(vectors: torch.Tensor) -> torch.Tensor:
    """The two principal components of a set of vectors: the most faithful flat picture."""
    centered = vectors.detach().float().cpu() - vectors.detach().float().cpu().mean(dim=0)
    _, _, v = torch.linalg.svd(centered, full_matrices=False)
    return centered @ v[:2].T


def _label_without_overlap(ax: plt.Axes, points: Sequence[tuple[float, float]], labels) -> None:
    """Write each label beside its point, moving it outwards (with a thin line back to the
    point) until it overlaps no label placed before it: a greedy placement in screen space."""
    fig = ax.figure
    fig.canvas.draw()  # fixes the axes' limits and size, so data map to pixels
    to_pixels = ax.transData.transform
    placed: list[tuple[float, float, float, float]] = []
    pixels_per_point = fig.dpi / 72
    height = MIN_FONT * pixels_per_point * 1.25
    order = sorted(range(len(points)), key=lambda i: (points[i][1], points[i][0]))
    for i in order:
        text = _printable(labels[i])
        width = (0.65 * len(text) + 0.5) * MIN_FONT * pixels_per_point
        px, py = to_pixels(points[i])
        choice = (px, py + 0.6 * height)
        for radius in (0.6, 1.3, 2.0, 2.8, 3.6, 4.5):
            found = None
            for angle in range(90, 450, 45):
                cx = px + radius * height * math.cos(math.radians(angle))
                cy = py + radius * height * math.sin(math.radians(angle))
                box = (cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)
                if all(
                    box[2] <= b[0] or box[0] >= b[2] or box[3] <= b[1] or box[1] >= b[3]
                    for b in placed
                ):
                    found = (cx, cy)
                    break
            if found is not None:
                choice = found
                break
        cx, cy = choice
        placed.append((cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2))
        moved = math.hypot(cx - px, cy - py) > 0.7 * height
        ax.annotate(
            text,
            points[i],
            xytext=(cx - px, cy - py),
            textcoords="offset pixels",
            fontsize=MIN_FONT,
            ha="center",
            va="center",
            arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5} if moved else None,
        )


def plot_embeddings_2d(
    vectors: torch.Tensor, labels: Sequence[str], title: str = "Embeddings (PCA)"
) -> Figure:
    """Each row of `vectors` as a labelled point in its 2-D principal projection; labels that
    would overlap are moved aside, with a thin line back to their point."""
    points = project_2d(vectors).numpy()
    fig, ax = plt.subplots(figsize=(MAX_WIDTH, 6))
    ax.scatter(points[:, 0], points[:, 1], s=12, alpha=0.6)
    spread = points.max(axis=0) - points.min(axis=0)
    ax.set_xlim(points[:, 0].min() - 0.12 * spread[0], points[:, 0].max() + 0.12 * spread[0])
    ax.set_ylim(points[:, 1].min() - 0.12 * spread[1], points[:, 1].max() + 0.12 * spread[1])
    ax.set(xlabel="component 1", ylabel="component 2", title=title)
    ax.grid(alpha=0.3)
    _label_without_overlap(ax, [tuple(p) for p in points.tolist()], list(labels))
    return fig


def plot_temperatures(
    logits: torch.Tensor,
    temperatures: Sequence[float] = (0.5, 1.0, 2.0),
    labels: Sequence[str] | None = None,
    title: str = "Next-token distribution",
) -> Figure:
    """The same logits (V,) turned into probabilities at several temperatures, one panel above
    the other, on the same axes."""
    logits = logits.detach().float().cpu()
    n = len(temperatures)
    fig, axes = plt.subplots(
        n, 1, figsize=(MAX_WIDTH, 1.2 + 1.6 * n), sharex=True, sharey=True, squeeze=False
    )
    axes = list(axes[:, 0])
    positions = range(len(logits))
    for ax, temperature in zip(axes, temperatures, strict=True):
        ax.bar(positions, softmax_with_temperature(logits, temperature).numpy(), color="tab:blue")
        ax.set_title(f"τ = {temperature:g}", fontsize=11)  # τ: T is the sequence length
        ax.set_ylabel("probability")
        ax.grid(alpha=0.3, axis="y")
    if labels is not None and len(labels) <= 30:
        axes[-1].set_xticks(positions, [_printable(s) for s in labels], fontsize=MIN_FONT)
    axes[-1].set_xlabel("token")
    fig.suptitle(title)
    fig.tight_layout()
    return fig
