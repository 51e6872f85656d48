"""Known mistakes of exercise 01-bigrams, with the hints that name them."""

from minigpt.mistakes import Alternative, Known, Mistake

TASKS = {
    "count-matrix": Known(
        mistakes=(
            Mistake(
                "counts transposed (next, current)",
                hint="N[a, b] must count b coming after a: the current token picks the row, "
                "the next one the column. Your matrix is the transpose of that.",
                source="""
def count_matrix(ids, vocab_size):
    counts = torch.zeros(vocab_size, vocab_size)
    for a, b in zip(ids.tolist(), ids[1:].tolist()):
        counts[b, a] += 1
    return counts
""",
            ),
            Mistake(
                "counts each character, not pairs",
                hint="Every row of your matrix holds how often each token occurs on its own. "
                "Count neighbours instead: the pairs (ids[i], ids[i + 1]).",
                source="""
def count_matrix(ids, vocab_size):
    return torch.bincount(ids, minlength=vocab_size).repeat(vocab_size, 1)
""",
            ),
            Mistake(
                "wraps around from the last id to the first",
                hint="A sequence of length L holds L - 1 pairs; the last id has no successor. "
                "Pairing ids with torch.roll(ids, -1) adds a pair (last, first) that is not in "
                "the text.",
                source="""
def count_matrix(ids, vocab_size):
    counts = torch.zeros(vocab_size, vocab_size)
    counts.index_put_((ids, torch.roll(ids, -1)), torch.ones(len(ids)), accumulate=True)
    return counts
""",
            ),
        ),
        alternatives=(
            Alternative(
                "python loop",
                """
def count_matrix(ids, vocab_size):
    counts = torch.zeros(vocab_size, vocab_size, dtype=torch.int64)
    for a, b in zip(ids.tolist(), ids[1:].tolist()):
        counts[a, b] += 1
    return counts
""",
            ),
            Alternative(
                "index_put_ with accumulate",
                """
def count_matrix(ids, vocab_size):
    counts = torch.zeros(vocab_size, vocab_size)
    counts.index_put_((ids[:-1], ids[1:]), torch.ones(len(ids) - 1), accumulate=True)
    return counts
""",
            ),
        ),
    ),
    "to-probabilities": Known(
        mistakes=(
            Mistake(
                "normalizes columns",
                hint="Your columns sum to 1 (sum(dim=0)). Row a is the distribution of what "
                "follows a, so divide each row by its own sum: sum(dim=1, keepdim=True).",
                source="""
def to_probabilities(counts, smoothing=1.0):
    smoothed = counts.float() + smoothing
    return smoothed / smoothed.sum(dim=0, keepdim=True)
""",
            ),
            Mistake(
                "forgets smoothing",
                hint="Add `smoothing` to every count before you normalize, so that no pair "
                "gets probability zero.",
                source="""
def to_probabilities(counts, smoothing=1.0):
    return counts.float() / counts.float().sum(dim=1, keepdim=True)
""",
            ),
            Mistake(
                "divides by the total of the whole matrix",
                hint="Your whole matrix sums to 1. Each row must sum to 1 on its own: divide "
                "by the row sums, sum(dim=1, keepdim=True).",
                source="""
def to_probabilities(counts, smoothing=1.0):
    smoothed = counts.float() + smoothing
    return smoothed / smoothed.sum()
""",
            ),
        ),
        alternatives=(
            Alternative(
                "softmax of log counts",
                """
def to_probabilities(counts, smoothing=1.0):
    return torch.softmax(torch.log(counts.double() + smoothing), dim=1).float()
""",
            ),
        ),
    ),
    "average-nll": Known(
        mistakes=(
            Mistake(
                "sums instead of averaging",
                hint="Your loss grows with the length of the text. Take the mean over the "
                "pairs, not the sum.",
                source="""
def average_nll(probs, ids):
    return -torch.log(probs[ids[:-1], ids[1:]]).sum().item()
""",
            ),
            Mistake(
                "log base 2",
                hint="Your loss is in bits (log2). The course measures it in nats: use the "
                "natural logarithm, torch.log.",
                source="""
def average_nll(probs, ids):
    return -torch.log2(probs[ids[:-1], ids[1:]]).mean().item()
""",
            ),
            Mistake(
                "returns a tensor",
                hint="Return a Python float: .item() turns a one-element tensor into one.",
                source="""
def average_nll(probs, ids):
    return -torch.log(probs[ids[:-1], ids[1:]]).mean()
""",
            ),
            Mistake(
                "divides by the number of ids, not of pairs",
                hint="L ids hold L - 1 pairs: divide the sum by the number of pairs (or take "
                ".mean() of the L - 1 terms).",
                source="""
def average_nll(probs, ids):
    return -torch.log(probs[ids[:-1], ids[1:]]).sum().item() / len(ids)
""",
            ),
        ),
        alternatives=(
            Alternative(
                "python loop with math.log",
                """
def average_nll(probs, ids):
    ids = ids.tolist()
    pairs = list(zip(ids, ids[1:]))
    return sum(-math.log(probs[a, b].item()) for a, b in pairs) / len(pairs)
""",
            ),
        ),
    ),
    "sample-tokens": Known(
        mistakes=(
            Mistake(
                "samples from the column",
                hint="The next token is drawn from the row of the current one, probs[current]: "
                "rows hold 'what follows', columns do not.",
                source="""
def sample_tokens(probs, num_tokens, generator, start=0):
    tokens = [start]
    while len(tokens) < num_tokens:
        column = probs[:, tokens[-1]]
        tokens.append(int(torch.multinomial(column / column.sum(), 1, generator=generator)))
    return tokens
""",
            ),
            Mistake(
                "ignores the generator",
                hint="Pass generator=generator to torch.multinomial; without it the draws come "
                "from the global random state and the same seed gives different text.",
                source="""
def sample_tokens(probs, num_tokens, generator, start=0):
    tokens = [start]
    while len(tokens) < num_tokens:
        tokens.append(int(torch.multinomial(probs[tokens[-1]], 1)))
    return tokens
""",
            ),
            Mistake(
                "one token too many",
                hint="num_tokens counts the start token too: draw num_tokens - 1 new tokens.",
                source="""
def sample_tokens(probs, num_tokens, generator, start=0):
    tokens = [start]
    for _ in range(num_tokens):
        tokens.append(int(torch.multinomial(probs[tokens[-1]], 1, generator=generator)))
    return tokens
""",
            ),
            Mistake(
                "always picks the most likely token",
                hint="argmax is not sampling: it always follows a token with the same one. Draw "
                "at random with the row's probabilities (torch.multinomial).",
                source="""
def sample_tokens(probs, num_tokens, generator, start=0):
    tokens = [start]
    while len(tokens) < num_tokens:
        tokens.append(int(probs[tokens[-1]].argmax()))
    return tokens
""",
            ),
        ),
        alternatives=(
            Alternative(
                "inverse transform sampling with torch.rand",
                """
def sample_tokens(probs, num_tokens, generator, start=0):
    tokens = [start]
    for _ in range(num_tokens - 1):
        cumulative = probs[tokens[-1]].cumsum(0)
        u = torch.rand(1, generator=generator) * cumulative[-1]
        tokens.append(min(int(torch.searchsorted(cumulative, u)), len(cumulative) - 1))
    return tokens
""",
            ),
        ),
    ),
    "neural-bigram-step": Known(
        mistakes=(
            Mistake(
                "never clears the gradient",
                hint="backward() adds to W.grad; without clearing it first, every step also "
                "applies all the old gradients. Set W.grad = None (or W.grad.zero_()) before "
                "loss.backward().",
                source="""
def neural_bigram_step(W, xs, ys, lr):
    loss = F.cross_entropy(W[xs], ys)
    loss.backward()
    with torch.no_grad():
        W -= lr * W.grad
    return loss.item()
""",
            ),
            Mistake(
                "clears the gradient after the update instead of before",
                hint="The task clears the old gradient before the backward pass, so that "
                "W.grad holds this step's gradient afterwards. Clearing it after the update "
                "throws that gradient away: move W.grad = None before loss.backward().",
                source="""
def neural_bigram_step(W, xs, ys, lr):
    loss = F.cross_entropy(W[xs], ys)
    loss.backward()
    with torch.no_grad():
        W -= lr * W.grad
    W.grad = None
    return loss.item()
""",
            ),
            Mistake(
                "steps uphill",
                hint="Gradient descent subtracts: W -= lr * W.grad. Adding the gradient makes "
                "the loss grow.",
                source="""
def neural_bigram_step(W, xs, ys, lr):
    loss = F.cross_entropy(W[xs], ys)
    W.grad = None
    loss.backward()
    with torch.no_grad():
        W += lr * W.grad
    return loss.item()
""",
            ),
            Mistake(
                "softmax without log",
                hint="Cross-entropy is the mean of -log p of the right token. Without the log "
                "the loss and its gradient are different; F.cross_entropy(W[xs], ys) does it "
                "in one call.",
                source="""
def neural_bigram_step(W, xs, ys, lr):
    loss = -torch.softmax(W[xs], dim=1)[torch.arange(len(ys)), ys].mean()
    W.grad = None
    loss.backward()
    with torch.no_grad():
        W -= lr * W.grad
    return loss.item()
""",
            ),
        ),
        alternatives=(
            Alternative(
                "one-hot matrix product and zero_",
                """
def neural_bigram_step(W, xs, ys, lr):
    logits = F.one_hot(xs, W.shape[0]).float() @ W
    loss = -torch.log_softmax(logits, dim=1)[torch.arange(len(ys)), ys].mean()
    if W.grad is not None:
        W.grad.zero_()
    loss.backward()
    W.data -= lr * W.grad
    return float(loss)
""",
            ),
        ),
    ),
}
