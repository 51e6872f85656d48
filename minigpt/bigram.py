"""The bigram model, twice: by counting pairs, and as a one-layer net trained by gradient descent.

Both predict the next token from the current one alone. Counting gives the best such model in
closed form; the neural version reaches the same loss by gradient descent, which is the road
that leads to GPT.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from minigpt.shapes import check_shape


def count_bigrams(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """counts[a, b] = how many times token b directly follows token a."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    check_shape(ids, (None,), "ids")
    codes = ids[:-1] * vocab_size + ids[1:]
    return torch.bincount(codes, minlength=vocab_size * vocab_size).view(vocab_size, vocab_size)


def bigram_probabilities(counts: torch.Tensor, smoothing: float = 1.0) -> torch.Tensor:
    """Row-normalized counts; `smoothing` is added to every cell so no pair has probability 0."""
    smoothed = counts.float() + smoothing
    return smoothed / smoothed.sum(dim=1, keepdim=True)


def average_nll(probs: torch.Tensor, ids: torch.Tensor) -> float:
    """Mean negative log likelihood, in nats, of each next token in `ids` under `probs`."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    return -torch.log(probs[ids[:-1], ids[1:]]).mean().item()


def sample_bigram(
    probs: torch.Tensor, num_tokens: int, generator: torch.Generator, start: int = 0
) -> list[int]:
    """Walk the chain: draw each token from the row of the one before. Returns `num_tokens` ids."""
    out = [start]
    for _ in range(num_tokens - 1):
        out.append(int(torch.multinomial(probs[out[-1]], 1, generator=generator)))
    return out


class NeuralBigram(nn.Module):
    """A V x V table of logits: row a holds the scores of every token that may follow a.

    Looking up a row is the same as multiplying a one-hot vector by the table, so this is a
    one-layer neural network with no hidden units.
    """

    def __init__(self, vocab_size: int):
        super().__init__()
        self.logits_table = nn.Embedding(vocab_size, vocab_size)
        nn.init.zeros_(self.logits_table.weight)  # start uniform: loss = ln(vocab_size)

    def forward(
        self, idx: torch.Tensor, targets: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        logits = self.logits_table(idx)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1))
        return logits, loss


def gradient_descent_step(
    table: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, lr: float
) -> float:
    """One step of plain gradient descent on a (V, V) logits table; returns the loss before it.

    The whole neural bigram by hand: look up the rows of the current tokens, score the true
    next tokens with cross-entropy, backpropagate, and move the table against its gradient.
    """
    check_shape(table, ("V", "V"), "table")
    logits = table[xs]
    loss = F.cross_entropy(logits, ys)
    table.grad = None  # gradients add up in .grad: clear the previous step's first
    loss.backward()
    with torch.no_grad():
        table -= lr * table.grad
    return loss.item()


def fit_neural_bigram(
    model: NeuralBigram,
    ids: torch.Tensor,
    steps: int = 300,
    batch_size: int = 8192,
    lr: float = 0.5,
    generator: torch.Generator | None = None,
) -> list[float]:
    """Train on random (token, next token) pairs from `ids`; returns the loss of every step."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    losses = []
    for _ in range(steps):
        at = torch.randint(len(ids) - 1, (batch_size,), generator=generator)
        _, loss = model(ids[at], ids[at + 1])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return losses
