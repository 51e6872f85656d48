"""Known mistakes of exercise 05-causal-masking, with the hints that name them."""

from minigpt.mistakes import Alternative, Known, Mistake

TASKS = {
    "causal-mask": Known(
        mistakes=(
            Mistake(
                "off by one, diagonal hidden (tril with diagonal -1)",
                hint="A position may always look at itself: the diagonal is True. tril() with the default diagonal=0 keeps it.",
                source="""
def causal_mask(T):
    return torch.ones(T, T, dtype=torch.bool).tril(diagonal=-1)
""",
            ),
            Mistake(
                "off by one, one future step allowed (tril with diagonal +1)",
                hint="tril(diagonal=1) also allows the next position, one step into the future. Keep the default diagonal=0.",
                source="""
def causal_mask(T):
    return torch.ones(T, T, dtype=torch.bool).tril(diagonal=1)
""",
            ),
            Mistake(
                "upper triangle (rows and columns swapped)",
                hint="Rows are queries and columns keys: query t may see keys s <= t, the lower triangle (tril), not the upper one.",
                source="""
def causal_mask(T):
    return torch.ones(T, T, dtype=torch.bool).triu()
""",
            ),
            Mistake(
                "float ones and zeros instead of bool",
                hint="The task asks for dtype torch.bool: build it with dtype=torch.bool (masked_fill and ~ need booleans).",
                source="""
def causal_mask(T):
    return torch.tril(torch.ones(T, T))
""",
            ),
        ),
        alternatives=(
            Alternative(
                "comparison of positions",
                """
def causal_mask(T):
    positions = torch.arange(T)
    return positions[None, :] <= positions[:, None]
""",
            ),
            Alternative(
                "python lists",
                """
def causal_mask(T):
    return torch.tensor([[s <= t for s in range(T)] for t in range(T)], dtype=torch.bool)
""",
            ),
        ),
    ),
    "causal-weights": Known(
        mistakes=(
            Mistake(
                "masks with 0 instead of -inf",
                hint="A future score set to 0 still gets weight exp(0) in the softmax. Set it to -inf, whose exponential is exactly 0.",
                source="""
def causal_weights(scores):
    T = scores.size(-1)
    allowed = torch.ones(T, T, dtype=torch.bool).tril()
    return torch.softmax(scores.masked_fill(~allowed, 0.0), dim=-1)
""",
            ),
            Mistake(
                "zeros the future after the softmax",
                hint="Zeroing weights after the softmax leaves rows that no longer sum to 1: the future still counted in the denominator. Mask the scores with -inf before the softmax.",
                source="""
def causal_weights(scores):
    T = scores.size(-1)
    return torch.softmax(scores, dim=-1) * torch.ones(T, T).tril()
""",
            ),
            Mistake(
                "off by one, tril with diagonal +1",
                hint="The mask lets each query see one key in its future: use tril() with the default diagonal=0.",
                source="""
def causal_weights(scores):
    T = scores.size(-1)
    allowed = torch.ones(T, T, dtype=torch.bool).tril(diagonal=1)
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
""",
            ),
            Mistake(
                "off by one, tril with diagonal -1",
                hint="The mask hides the diagonal, so a query cannot see its own key (and the first row has no key at all). Use tril() with the default diagonal=0.",
                source="""
def causal_weights(scores):
    T = scores.size(-1)
    allowed = torch.ones(T, T, dtype=torch.bool).tril(diagonal=-1)
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
""",
            ),
            Mistake(
                "softmax over the queries (dim -2)",
                hint="Your weights sum to 1 down each column: the softmax ran over the queries axis (dim=-2). Normalise over the keys, the last axis (dim=-1).",
                source="""
def causal_weights(scores):
    T = scores.size(-1)
    allowed = torch.ones(T, T, dtype=torch.bool).tril()
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-2)
""",
            ),
            Mistake(
                "no mask at all",
                hint="Every query sees every key, the future included. Set the scores where s > t to -inf before the softmax.",
                source="""
def causal_weights(scores):
    return torch.softmax(scores, dim=-1)
""",
            ),
            Mistake(
                "mask built on the CPU",
                hint="The mask must live on the device of scores (causal_mask(T).to(scores.device)): on a GPU, a CPU mask and GPU scores cannot be combined.",
                source="""
def causal_weights(scores):
    allowed = causal_mask(scores.size(-1))
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
""",
            ),
            Mistake(
                "masks scores in place",
                hint="The task says not to change scores: masked_fill_ (with the underscore) writes into the caller's tensor. Use masked_fill, which returns a new one.",
                source="""
def causal_weights(scores):
    allowed = causal_mask(scores.size(-1)).to(scores.device)
    return torch.softmax(scores.masked_fill_(~allowed, float("-inf")), dim=-1)
""",
            ),
        ),
        alternatives=(
            Alternative(
                "a large negative number instead of -inf",
                """
def causal_weights(scores):
    T = scores.size(-1)
    future = torch.ones(T, T, dtype=torch.bool, device=scores.device).triu(diagonal=1)
    return torch.softmax(scores.masked_fill(future, -1e9), dim=-1)
""",
            ),
            Alternative(
                "zero after the softmax, then renormalize",
                """
def causal_weights(scores):
    T = scores.size(-1)
    weights = torch.softmax(scores, dim=-1) * causal_mask(T).to(scores.device)
    return weights / weights.sum(dim=-1, keepdim=True)
""",
            ),
            Alternative(
                "exponentials by hand with torch.where",
                """
def causal_weights(scores):
    T = scores.size(-1)
    allowed = causal_mask(T).to(scores.device)
    shifted = scores - scores.masked_fill(~allowed, float("-inf")).amax(dim=-1, keepdim=True)
    e = torch.where(allowed, shifted.exp(), torch.zeros_like(shifted))
    return e / e.sum(dim=-1, keepdim=True)
""",
            ),
        ),
    ),
    "causal-attention": Known(
        mistakes=(
            Mistake(
                "not scaled by sqrt(d)",
                hint="Divide the scores q k^T by sqrt(d), d the size of the last axis of q.",
                source="""
def causal_attention(q, k, v):
    return causal_weights(q @ k.transpose(-2, -1)) @ v
""",
            ),
            Mistake(
                "scaled by d instead of sqrt(d)",
                hint="Divide the scores by the square root of d (math.sqrt(q.size(-1))), not by d.",
                source="""
def causal_attention(q, k, v):
    return causal_weights(q @ k.transpose(-2, -1) / q.size(-1)) @ v
""",
            ),
            Mistake(
                "masks with 0 instead of -inf",
                hint="A future score set to 0 still gets weight exp(0) in the softmax. Set it to -inf, whose exponential is exactly 0.",
                source="""
def causal_attention(q, k, v):
    T = q.size(-2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    allowed = torch.ones(T, T, dtype=torch.bool).tril()
    return torch.softmax(scores.masked_fill(~allowed, 0.0), dim=-1) @ v
""",
            ),
            Mistake(
                "off by one, tril with diagonal +1",
                hint="The mask lets each query see one key in its future: use tril() with the default diagonal=0.",
                source="""
def causal_attention(q, k, v):
    T = q.size(-2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    allowed = torch.ones(T, T, dtype=torch.bool).tril(diagonal=1)
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1) @ v
""",
            ),
            Mistake(
                "off by one, tril with diagonal -1",
                hint="The mask hides the diagonal, so a query cannot see its own key (and the first row has no key at all). Use tril() with the default diagonal=0.",
                source="""
def causal_attention(q, k, v):
    T = q.size(-2)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    allowed = torch.ones(T, T, dtype=torch.bool).tril(diagonal=-1)
    return torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1) @ v
""",
            ),
            Mistake(
                "keys times queries (scores transposed)",
                hint="The scores are q @ k^T (rows are queries, columns keys); k @ q^T transposes them, so the mask hides the wrong entries.",
                source="""
def causal_attention(q, k, v):
    return causal_weights(k @ q.transpose(-2, -1) / math.sqrt(q.size(-1))) @ v
""",
            ),
        ),
        alternatives=(
            Alternative(
                "PyTorch's fused kernel",
                """
def causal_attention(q, k, v):
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)
""",
            ),
            Alternative(
                "einsum with its own mask",
                """
def causal_attention(q, k, v):
    T, d = q.shape[-2], q.shape[-1]
    scores = torch.einsum("...td,...sd->...ts", q, k) / d**0.5
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    weights = scores.masked_fill(future, float("-inf")).softmax(dim=-1)
    return torch.einsum("...ts,...se->...te", weights, v)
""",
            ),
        ),
    ),
    "leaks": Known(
        mistakes=(
            Mistake(
                "compares every position, not only 0..t",
                hint="Outputs after t may change, their own inputs changed. Compare only the outputs at positions 0..t.",
                source="""
def leaks(attend, x):
    original = attend(x)
    for t in range(x.size(1) - 1):
        changed = x.clone()
        changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :])
        if not torch.allclose(attend(changed), original, atol=1e-5):
            return True
    return False
""",
            ),
            Mistake(
                "changes position t too",
                hint="Keep positions 0..t as they are and change only the inputs after t ([:, t + 1:]): position t belongs to the past and present.",
                source="""
def leaks(attend, x):
    original = attend(x)
    for t in range(x.size(1) - 1):
        changed = x.clone()
        changed[:, t:] = torch.randn_like(changed[:, t:])
        if not torch.allclose(attend(changed)[:, : t + 1], original[:, : t + 1], atol=1e-5):
            return True
    return False
""",
            ),
            Mistake(
                "compares only positions before t",
                hint="Position t itself must not move either: compare the outputs at positions 0..t, [:, :t + 1].",
                source="""
def leaks(attend, x):
    original = attend(x)
    for t in range(x.size(1) - 1):
        changed = x.clone()
        changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :])
        if not torch.allclose(attend(changed)[:, :t], original[:, :t], atol=1e-5):
            return True
    return False
""",
            ),
            Mistake(
                "changes only the last position",
                hint="Change every position after the cut t ([:, t + 1:]), for every cut t = 0 .. T - 2, not only the last position.",
                source="""
def leaks(attend, x):
    changed = x.clone()
    changed[:, -1] = torch.randn_like(changed[:, -1])
    return not torch.allclose(attend(changed)[:, :-1], attend(x)[:, :-1], atol=1e-5)
""",
            ),
            Mistake(
                "tries only the middle cut",
                hint="Try every cut t = 0, 1, ..., T - 2: a leak may sit at any position.",
                source="""
def leaks(attend, x):
    t = x.size(1) // 2
    changed = x.clone()
    changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :])
    return not torch.allclose(attend(changed)[:, : t + 1], attend(x)[:, : t + 1], atol=1e-5)
""",
            ),
            Mistake(
                "answer inverted",
                hint="leaks returns True when the function leaks (an output at a position <= t moved), False when it does not.",
                source="""
def leaks(attend, x):
    original = attend(x)
    for t in range(x.size(1) - 1):
        changed = x.clone()
        changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :])
        if not torch.allclose(attend(changed)[:, : t + 1], original[:, : t + 1], atol=1e-5):
            return False
    return True
""",
            ),
            Mistake(
                "returns a tensor",
                hint="Return a Python bool: bool(...) or .item() of a comparison.",
                source="""
def leaks(attend, x):
    original = attend(x)
    found = torch.tensor(False)
    for t in range(x.size(1) - 1):
        changed = x.clone()
        changed[:, t + 1 :] = torch.randn_like(changed[:, t + 1 :])
        found = found | ((attend(changed) - original)[:, : t + 1].abs() > 1e-5).any()
    return found
""",
            ),
            Mistake(
                "changes x itself",
                hint="The task says not to change x: write the new values into a copy (x.clone()), not into x.",
                source="""
def leaks(attend, x):
    with torch.no_grad():
        original = attend(x)
        for t in range(x.size(1) - 1):
            x[:, t + 1:] = torch.randn_like(x[:, t + 1:])
            if (attend(x)[:, :t + 1] - original[:, :t + 1]).abs().max().item() > 1e-5:
                return True
    return False
""",
            ),
        ),
        alternatives=(
            Alternative(
                "one position at a time, adding 1",
                """
def leaks(attend, x):
    original = attend(x)
    for s in range(1, x.size(1)):
        changed = x.clone()
        changed[:, s] += 1.0
        if (attend(changed)[:, :s] - original[:, :s]).abs().max() > 1e-5:
            return True
    return False
""",
            ),
            Alternative(
                "exact comparison with torch.equal",
                """
def leaks(attend, x):
    original = attend(x)
    for t in range(x.size(1) - 1):
        changed = torch.cat([x[:, : t + 1], torch.randn_like(x[:, t + 1 :])], dim=1)
        if not torch.equal(attend(changed)[:, : t + 1], original[:, : t + 1]):
            return True
    return False
""",
            ),
            Alternative(
                "the Jacobian's upper triangle",
                """
def leaks(attend, x):
    jac = torch.autograd.functional.jacobian(attend, x)  # (B, T, D, B, T, C)
    T = x.size(1)
    size = jac.abs().sum(dim=(0, 2, 3, 5))  # (T outputs, T inputs)
    future = torch.ones(T, T, dtype=torch.bool).triu(diagonal=1)
    return bool((size[future] > 1e-6).any())
""",
            ),
        ),
    ),
}
