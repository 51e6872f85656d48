"""Known mistakes of exercise 04-self-attention, with the hints that name them."""

from minigpt.mistakes import Alternative, Known, Mistake

TASKS = {
    "temperature-softmax": Known(
        mistakes=(
            Mistake(
                "unstable, overflows on large scores",
                hint="exp(1000) overflows to inf and inf / inf is nan. Subtract each row's largest score before exponentiating (scores.amax(dim=-1, keepdim=True)); it changes nothing mathematically.",
                source="""
def temperature_softmax(scores, temperature=1.0):
    exps = torch.exp(scores / temperature)
    return exps / exps.sum(dim=-1, keepdim=True)
""",
            ),
            Mistake(
                "multiplies by the temperature",
                hint="Divide the scores by the temperature: a temperature above 1 flattens the distribution, below 1 sharpens it.",
                source="""
def temperature_softmax(scores, temperature=1.0):
    scaled = scores * temperature
    exps = torch.exp(scaled - scaled.amax(dim=-1, keepdim=True))
    return exps / exps.sum(dim=-1, keepdim=True)
""",
            ),
            Mistake(
                "softmax over the first axis",
                hint="Your values sum to 1 down each column (dim=0). The softmax runs over the last axis (dim=-1): every row must sum to 1.",
                source="""
def temperature_softmax(scores, temperature=1.0):
    scaled = scores / temperature
    exps = torch.exp(scaled - scaled.amax(dim=0, keepdim=True))
    return exps / exps.sum(dim=0, keepdim=True)
""",
            ),
            Mistake(
                "subtracts one maximum for the whole tensor",
                hint="One maximum for the whole tensor leaves other rows far below it, and their exponentials underflow to 0. Subtract each row's own maximum (amax(dim=-1, keepdim=True)).",
                source="""
def temperature_softmax(scores, temperature=1.0):
    scaled = scores / temperature
    exps = torch.exp(scaled - scaled.max())
    return exps / exps.sum(dim=-1, keepdim=True)
""",
            ),
            Mistake(
                "calls a ready-made softmax",
                hint="Write the softmax with torch.exp and a sum.",
                source="""
def temperature_softmax(scores, temperature=1.0):
    return torch.softmax(scores / temperature, dim=-1)
""",
            ),
        ),
        alternatives=(
            Alternative(
                "logsumexp",
                """
def temperature_softmax(scores, temperature=1.0):
    scaled = scores / temperature
    return torch.exp(scaled - torch.logsumexp(scaled, dim=-1, keepdim=True))
""",
            ),
            Alternative(
                "shift first, then divide, with max()",
                """
def temperature_softmax(scores, temperature=1.0):
    shifted = (scores - scores.max(dim=-1, keepdim=True).values) / temperature
    numerator = shifted.exp()
    return numerator / torch.sum(numerator, -1, keepdim=True)
""",
            ),
        ),
    ),
    "attention": Known(
        mistakes=(
            Mistake(
                "no scaling by sqrt(d)",
                hint="Divide the scores q k^T by sqrt(d), d the size of the last axis of q: without it the softmax turns into an argmax as d grows.",
                source="""
def attention(q, k, v):
    return torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v
""",
            ),
            Mistake(
                "divides by d instead of sqrt(d)",
                hint="Divide the scores by the square root of d (math.sqrt(q.size(-1))), not by d.",
                source="""
def attention(q, k, v):
    return torch.softmax(q @ k.transpose(-2, -1) / q.size(-1), dim=-1) @ v
""",
            ),
            Mistake(
                "softmax over the queries (wrong axis)",
                hint="Your weights sum to 1 down each column: the softmax ran over the queries axis (dim=-2). Attention normalises over the keys, the last axis (dim=-1), so that each query's weights sum to 1.",
                source="""
def attention(q, k, v):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    return torch.softmax(scores, dim=-2) @ v
""",
            ),
            Mistake(
                "unstable softmax",
                hint="exp of scores around 2000 overflows. Use a stable softmax: your temperature_softmax, or torch.softmax(scores, dim=-1).",
                source="""
def attention(q, k, v):
    exps = torch.exp(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)))
    return exps / exps.sum(dim=-1, keepdim=True) @ v
""",
            ),
            Mistake(
                "k.T reverses every axis",
                hint="k.T reverses all the axes of a batched k. Swap only the last two: k.transpose(-2, -1).",
                source="""
def attention(q, k, v):
    return torch.softmax(q @ k.T / math.sqrt(q.size(-1)), dim=-1) @ v
""",
            ),
            Mistake(
                "scaled by the number of keys",
                hint="Divide by sqrt(d), d the size of the last axis of q and k (the channels), not by the number of keys.",
                source="""
def attention(q, k, v):
    scores = q @ k.transpose(-2, -1) / math.sqrt(k.size(-2))
    return temperature_softmax(scores) @ v
""",
            ),
        ),
        alternatives=(
            Alternative(
                "einsum and scaled queries",
                """
def attention(q, k, v):
    scores = torch.einsum("...qd,...kd->...qk", q / q.shape[-1] ** 0.5, k)
    return torch.einsum("...qk,...kd->...qd", torch.nn.functional.softmax(scores, dim=-1), v)
""",
            ),
            Alternative(
                "own softmax and mT",
                """
def attention(q, k, v):
    d = k.shape[-1]
    weights = temperature_softmax(torch.matmul(q, k.mT), temperature=math.sqrt(d))
    return torch.matmul(weights, v)
""",
            ),
        ),
    ),
    "one-head": Known(
        mistakes=(
            Mistake(
                "queries and keys swapped",
                hint="The queries come from w_q and the keys from w_k: attention(x @ w_q, x @ w_k, x @ w_v).",
                source="""
def one_head(x, w_q, w_k, w_v):
    return attention(x @ w_k, x @ w_q, x @ w_v)
""",
            ),
            Mistake(
                "values made with w_q",
                hint="The values come from w_v: v = x @ w_v.",
                source="""
def one_head(x, w_q, w_k, w_v):
    return attention(x @ w_q, x @ w_k, x @ w_q)
""",
            ),
            Mistake(
                "transposed weights",
                hint="w_q, w_k and w_v have shape (C, head_size) already: x @ w_q, with no transpose.",
                source="""
def one_head(x, w_q, w_k, w_v):
    return attention(x @ w_q.T, x @ w_k.T, x @ w_v.T)
""",
            ),
            Mistake(
                "no scaling",
                hint="Divide the scores by sqrt(head_size); your attention from task 2 does that for you.",
                source="""
def one_head(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    return torch.softmax(q @ k.transpose(1, 2), dim=-1) @ v
""",
            ),
        ),
        alternatives=(
            Alternative(
                "PyTorch's fused kernel",
                """
def one_head(x, w_q, w_k, w_v):
    q, k, v = (torch.matmul(x, w) for w in (w_q, w_k, w_v))
    return torch.nn.functional.scaled_dot_product_attention(q, k, v)
""",
            ),
            Alternative(
                "written out with bmm",
                """
def one_head(x, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = torch.bmm(q, k.transpose(1, 2)) / math.sqrt(w_k.shape[1])
    return torch.bmm(torch.softmax(scores, dim=2), v)
""",
            ),
        ),
    ),
    "multi-head": Known(
        mistakes=(
            Mistake(
                "reshape without moving the head axis",
                hint="After reshaping to (B, T, n_head, head_size), move the head axis in front of T (.transpose(1, 2)) before attending, and back before merging: otherwise the heads attend across the wrong axis.",
                source="""
def multi_head(x, w_q, w_k, w_v, w_o, n_head):
    B, T, C = x.shape
    q, k, v = ((x @ w).reshape(B, n_head, T, C // n_head) for w in (w_q, w_k, w_v))
    out = attention(q, k, v)
    return out.reshape(B, T, C) @ w_o
""",
            ),
            Mistake(
                "one big head, scaled by sqrt(C)",
                hint="n_head heads attend separately, each with its own columns and scores divided by sqrt(head_size), not one head of size C.",
                source="""
def multi_head(x, w_q, w_k, w_v, w_o, n_head):
    return one_head(x, w_q, w_k, w_v) @ w_o
""",
            ),
            Mistake(
                "forgets the output projection",
                hint="Multiply the concatenated heads by the output projection: torch.cat(outputs, dim=-1) @ w_o.",
                source="""
def multi_head(x, w_q, w_k, w_v, w_o, n_head):
    head_size = x.size(-1) // n_head
    parts = [slice(h * head_size, (h + 1) * head_size) for h in range(n_head)]
    return torch.cat([one_head(x, w_q[:, p], w_k[:, p], w_v[:, p]) for p in parts], dim=-1)
""",
            ),
            Mistake(
                "splits rows instead of columns",
                hint="Head h uses columns h * head_size to (h + 1) * head_size - 1 of each matrix: w_q[:, columns], not w_q[columns].",
                source="""
def multi_head(x, w_q, w_k, w_v, w_o, n_head):
    head_size = x.size(-1) // n_head
    parts = [slice(h * head_size, (h + 1) * head_size) for h in range(n_head)]
    return torch.cat([one_head(x, w_q[p], w_k[p], w_v[p]) for p in parts], dim=-1) @ w_o
""",
            ),
            Mistake(
                "heads concatenated in reverse order",
                hint="Concatenate the heads in order, head 0 first, along the last axis.",
                source="""
def multi_head(x, w_q, w_k, w_v, w_o, n_head):
    head_size = x.size(-1) // n_head
    parts = [slice(h * head_size, (h + 1) * head_size) for h in reversed(range(n_head))]
    return torch.cat([one_head(x, w_q[:, p], w_k[:, p], w_v[:, p]) for p in parts], dim=-1) @ w_o
""",
            ),
        ),
        alternatives=(
            Alternative(
                "batched with view and transpose",
                """
def multi_head(x, w_q, w_k, w_v, w_o, n_head):
    B, T, C = x.shape
    q, k, v = ((x @ w).view(B, T, n_head, C // n_head).transpose(1, 2) for w in (w_q, w_k, w_v))
    out = attention(q, k, v)
    return out.transpose(1, 2).reshape(B, T, C) @ w_o
""",
            ),
            Alternative(
                "chunk the weights",
                """
def multi_head(x, w_q, w_k, w_v, w_o, n_head):
    heads = zip(w_q.chunk(n_head, dim=1), w_k.chunk(n_head, dim=1), w_v.chunk(n_head, dim=1))
    return torch.cat([one_head(x, a, b, c) for a, b, c in heads], dim=2) @ w_o
""",
            ),
        ),
    ),
}
