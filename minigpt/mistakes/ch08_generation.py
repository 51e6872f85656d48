"""Known mistakes of exercise 08-generation, with the hints that name them."""

from minigpt.mistakes import Alternative, Known, Mistake

TASKS = {
    "generate": Known(
        mistakes=(
            Mistake(
                "never crops to the context window",
                hint="The model has position embeddings for block_size positions only: run it on the last block_size tokens, idx[:, -block_size:].",
                source="""
def generate(model, idx, max_new_tokens, pick):
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits, _ = model(idx)
            idx = torch.cat([idx, pick(logits[:, -1, :])], dim=1)
    return idx
""",
            ),
            Mistake(
                "crops one token too short",
                hint="Keep the last block_size tokens, idx[:, -block_size:], not one fewer.",
                source="""
def generate(model, idx, max_new_tokens, pick):
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits, _ = model(idx[:, -(model.config.block_size - 1):])
            idx = torch.cat([idx, pick(logits[:, -1, :])], dim=1)
    return idx
""",
            ),
            Mistake(
                "keeps the first block_size tokens",
                hint="Once the text is longer than the context, the model must see the most recent block_size tokens, idx[:, -block_size:]; idx[:, :block_size] keeps the oldest ones, so the model stops seeing anything new.",
                source="""
def generate(model, idx, max_new_tokens, pick):
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits, _ = model(idx[:, : model.config.block_size])
            idx = torch.cat([idx, pick(logits[:, -1, :])], dim=1)
    return idx
""",
            ),
            Mistake(
                "picks from the first position",
                hint="The next token is scored by the last position: logits[:, -1, :].",
                source="""
def generate(model, idx, max_new_tokens, pick):
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits, _ = model(idx[:, -model.config.block_size:])
            idx = torch.cat([idx, pick(logits[:, 0, :])], dim=1)
    return idx
""",
            ),
            Mistake(
                "gives pick probabilities instead of logits",
                hint="Pass pick the logits of the last position as they are: pick decides itself what to do with them (argmax, softmax and sampling, ...).",
                source="""
def generate(model, idx, max_new_tokens, pick):
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits, _ = model(idx[:, -model.config.block_size:])
            idx = torch.cat([idx, pick(torch.softmax(logits[:, -1, :], dim=-1))], dim=1)
    return idx
""",
            ),
            Mistake(
                "returns only the new tokens",
                hint="Return the whole sequence, the prompt included: glue each new id to idx and return idx.",
                source="""
def generate(model, idx, max_new_tokens, pick):
    prompt_length = idx.shape[1]
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits, _ = model(idx[:, -model.config.block_size:])
            idx = torch.cat([idx, pick(logits[:, -1, :])], dim=1)
    return idx[:, prompt_length:]
""",
            ),
            Mistake(
                "runs the model with gradients on",
                hint="Run the model inside with torch.no_grad(): nothing is trained here, and building the graph for every step costs memory and time.",
                source="""
def generate(model, idx, max_new_tokens, pick):
    block_size = model.config.block_size
    for _ in range(max_new_tokens):
        logits, _ = model(idx[:, -block_size:])
        idx = torch.cat([idx, pick(logits[:, -1, :])], dim=1)
    return idx
""",
            ),
        ),
        alternatives=(
            Alternative(
                "a preallocated output and explicit window bounds",
                """
def generate(model, idx, max_new_tokens, pick):
    model.eval()
    batch, length = idx.shape
    out = torch.empty(batch, length + max_new_tokens, dtype=idx.dtype)
    out[:, :length] = idx
    for _ in range(max_new_tokens):
        start = max(0, length - model.config.block_size)
        with torch.no_grad():
            logits, _ = model(out[:, start:length])
        out[:, length : length + 1] = pick(logits[:, -1])
        length += 1
    return out
""",
            ),
            Alternative(
                "inference_mode and a while loop",
                """
@torch.inference_mode()
def generate(model, idx, max_new_tokens, pick):
    target = idx.size(1) + max_new_tokens
    while idx.size(1) < target:
        context = idx if idx.size(1) <= model.config.block_size else idx[:, idx.size(1) - model.config.block_size :]
        logits = model(context)[0]
        idx = torch.cat((idx, pick(logits[:, -1, :])), dim=-1)
    return idx
""",
            ),
        ),
    ),
    "sample-next": Known(
        mistakes=(
            Mistake(
                "samples from the logits",
                hint="torch.multinomial wants probabilities (non-negative weights): apply softmax(logits / temperature) first.",
                source="""
def sample_next(logits, temperature, generator):
    return torch.multinomial(logits / temperature, num_samples=1, generator=generator)
""",
            ),
            Mistake(
                "multiplies by the temperature",
                hint="Divide the logits by the temperature: T < 1 sharpens the distribution, T > 1 flattens it.",
                source="""
def sample_next(logits, temperature, generator):
    probs = torch.softmax(logits * temperature, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator)
""",
            ),
            Mistake(
                "ignores the generator",
                hint="Pass generator=generator to torch.multinomial, so that the same seed gives the same draws.",
                source="""
def sample_next(logits, temperature, generator):
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, num_samples=1)
""",
            ),
            Mistake(
                "takes the most likely token (no sampling)",
                hint="Draw at random from softmax(logits / temperature) with torch.multinomial; argmax always takes the same token, whatever the temperature.",
                source="""
def sample_next(logits, temperature, generator):
    return (logits / temperature).argmax(dim=-1, keepdim=True)
""",
            ),
            Mistake(
                "returns shape (B,)",
                hint="Return one id per row as a (B, 1) tensor: torch.multinomial(probs, num_samples=1) already has that shape.",
                source="""
def sample_next(logits, temperature, generator):
    probs = torch.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)
""",
            ),
        ),
        alternatives=(
            Alternative(
                "the Gumbel-max trick",
                """
def sample_next(logits, temperature, generator):
    u = torch.rand(logits.shape, generator=generator).clamp_min(1e-20)
    return (logits / temperature - torch.log(-torch.log(u))).argmax(dim=-1, keepdim=True)
""",
            ),
            Alternative(
                "inverse transform sampling with searchsorted",
                """
def sample_next(logits, temperature, generator):
    probs = torch.exp(logits / temperature - (logits / temperature).max(dim=-1, keepdim=True).values)
    cumulative = (probs / probs.sum(dim=-1, keepdim=True)).cumsum(dim=-1)
    u = torch.rand(logits.shape[0], 1, generator=generator)
    return torch.searchsorted(cumulative, u).clamp(max=logits.shape[-1] - 1)
""",
            ),
        ),
    ),
    "top-k-logits": Known(
        mistakes=(
            Mistake(
                "keeps every token tied at the k-th place",
                hint="A comparison with the k-th largest keeps every token tied with it, more than k. Keep exactly k: the indices of logits.topk(k).",
                source="""
def top_k_logits(logits, k):
    kth = logits.topk(k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits < kth, float("-inf"))
""",
            ),
            Mistake(
                "drops the k-th token (keeps k - 1)",
                hint="Keep the k largest logits, the k-th included.",
                source="""
def top_k_logits(logits, k):
    kth = logits.topk(k, dim=-1).values[:, -1:]
    return logits.masked_fill(logits <= kth, float("-inf"))
""",
            ),
            Mistake(
                "top k over the whole batch, not per row",
                hint="Each row keeps its own k largest logits: topk along the last dimension (dim=-1).",
                source="""
def top_k_logits(logits, k):
    flat = logits.flatten()
    out = torch.full_like(flat, float("-inf"))
    keep = flat.topk(k).indices
    out[keep] = flat[keep]
    return out.view_as(logits)
""",
            ),
            Mistake(
                "returns probabilities",
                hint="Return logits (the kept ones unchanged, the others -inf), not probabilities.",
                source="""
def top_k_logits(logits, k):
    keep = logits.topk(k, dim=-1).indices
    filtered = torch.full_like(logits, float("-inf")).scatter(-1, keep, logits.gather(-1, keep))
    return torch.softmax(filtered, dim=-1)
""",
            ),
        ),
        alternatives=(
            Alternative(
                "stable argsort, drop the rest",
                """
def top_k_logits(logits, k):
    order = logits.argsort(dim=-1, descending=True, stable=True)
    return logits.scatter(-1, order[:, k:], float("-inf"))
""",
            ),
            Alternative(
                "a loop over rows",
                """
def top_k_logits(logits, k):
    out = torch.full_like(logits, float("-inf"))
    for row in range(logits.shape[0]):
        values, indices = torch.topk(logits[row], k)
        out[row, indices] = values
    return out
""",
            ),
        ),
    ),
    "top-p-logits": Known(
        mistakes=(
            Mistake(
                "drops the token that crosses p",
                hint="Keep the token whose probability brings the running total to p or beyond: a token is kept when the total before it is still below p.",
                source="""
def top_p_logits(logits, p):
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    keep = torch.zeros_like(cumulative, dtype=torch.bool).scatter(-1, order, cumulative <= p)
    return logits.masked_fill(~keep, float("-inf"))
""",
            ),
            Mistake(
                "adds up in vocabulary order, unsorted",
                hint="Add up the probabilities from the most likely token down: sort them first (descending).",
                source="""
def top_p_logits(logits, p):
    probs = torch.softmax(logits, dim=-1)
    before = probs.cumsum(dim=-1) - probs
    return logits.masked_fill(before >= p, float("-inf"))
""",
            ),
            Mistake(
                "adds up logits, not probabilities",
                hint="The running total adds probabilities, softmax of the row, not the logits.",
                source="""
def top_p_logits(logits, p):
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    before = sorted_logits.cumsum(dim=-1) - sorted_logits
    keep = torch.zeros_like(before, dtype=torch.bool).scatter(-1, order, before < p)
    return logits.masked_fill(~keep, float("-inf"))
""",
            ),
            Mistake(
                "returns the logits in sorted order",
                hint="Return the logits in the original token order: put the keep decisions back in place (scatter with the sort order) before masking.",
                source="""
def top_p_logits(logits, p):
    sorted_logits, _ = logits.sort(dim=-1, descending=True)
    probs = torch.softmax(sorted_logits, dim=-1)
    before = probs.cumsum(dim=-1) - probs
    return sorted_logits.masked_fill(before >= p, float("-inf"))
""",
            ),
        ),
        alternatives=(
            Alternative(
                "a loop that stops once the total reaches p",
                """
def top_p_logits(logits, p):
    out = torch.full_like(logits, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    for row in range(logits.shape[0]):
        total = 0.0
        for i in probs[row].argsort(descending=True).tolist():
            out[row, i] = logits[row, i]
            total += probs[row, i].item()
            if total >= p:
                break
    return out
""",
            ),
            Alternative(
                "a probability threshold",
                """
def top_p_logits(logits, p):
    probs = torch.softmax(logits, dim=-1)
    sorted_probs = probs.sort(dim=-1, descending=True).values
    crossing = (sorted_probs.cumsum(dim=-1) < p).sum(dim=-1, keepdim=True)
    threshold = sorted_probs.gather(-1, crossing.clamp(max=logits.shape[-1] - 1))
    return logits.masked_fill(probs < threshold, float("-inf"))
""",
            ),
        ),
    ),
    "kv-cache-step": Known(
        mistakes=(
            Mistake(
                "forgets to scale by sqrt(D)",
                hint="Divide the scores q @ keys^T by sqrt(D), as in full attention.",
                source="""
def kv_cache_step(q, k, v, past_k, past_v):
    keys = torch.cat([past_k, k], dim=-2)
    values = torch.cat([past_v, v], dim=-2)
    return torch.softmax(q @ keys.transpose(-2, -1), dim=-1) @ values, keys, values
""",
            ),
            Mistake(
                "attends before adding the new key and value",
                hint="Append the new key and value to the cache first: the newest position attends to itself too.",
                source="""
def kv_cache_step(q, k, v, past_k, past_v):
    weights = torch.softmax(q @ past_k.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)
    return weights @ past_v, torch.cat([past_k, k], dim=-2), torch.cat([past_v, v], dim=-2)
""",
            ),
            Mistake(
                "softmax over the wrong dimension",
                hint="The softmax runs over the keys, the last dimension (dim=-1).",
                source="""
def kv_cache_step(q, k, v, past_k, past_v):
    keys = torch.cat([past_k, k], dim=-2)
    values = torch.cat([past_v, v], dim=-2)
    weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-2)
    return weights @ values, keys, values
""",
            ),
            Mistake(
                "new key in front of the cache",
                hint="Append the new key and value after the cached ones, torch.cat([past_k, k], dim=-2): position t belongs at index t of the cache.",
                source="""
def kv_cache_step(q, k, v, past_k, past_v):
    keys = torch.cat([k, past_k], dim=-2)
    values = torch.cat([v, past_v], dim=-2)
    weights = torch.softmax(q @ keys.transpose(-2, -1) / math.sqrt(q.size(-1)), dim=-1)
    return weights @ values, keys, values
""",
            ),
        ),
        alternatives=(
            Alternative(
                "PyTorch's fused attention",
                """
def kv_cache_step(q, k, v, past_k, past_v):
    keys, values = torch.cat((past_k, k), -2), torch.cat((past_v, v), -2)
    return F.scaled_dot_product_attention(q, keys, values), keys, values
""",
            ),
            Alternative(
                "einsum",
                """
def kv_cache_step(q, k, v, past_k, past_v):
    keys = torch.cat([past_k, k], dim=2)
    values = torch.cat([past_v, v], dim=2)
    scores = torch.einsum("bhqd,bhkd->bhqk", q, keys) * q.shape[-1] ** -0.5
    return torch.einsum("bhqk,bhkd->bhqd", scores.softmax(-1), values), keys, values
""",
            ),
        ),
    ),
}
