"""Known mistakes of exercise 09-capstone, with the hints that name them.

Each answer cell of the capstone holds several pieces, and a variant is a whole cell: the pieces
below are correct, written in their own way, and each mistake or alternative changes one of them
(`cell(PIECES, name=wrong)`).
"""

from minigpt.mistakes import Alternative, Known, Mistake


def cell(pieces: dict[str, str], **changed: str) -> str:
    """An answer cell: `pieces` in order, those named in `changed` replaced."""
    return "\n".join(changed.get(name, text) for name, text in pieces.items())


ATTENTION = {
    "temperature_softmax": """
def temperature_softmax(scores, temperature=1.0):
    shifted = (scores - scores.max(dim=-1, keepdim=True).values) / temperature
    weights = shifted.exp()
    return weights / weights.sum(-1, keepdim=True)
""",
    "causal_mask": """
def causal_mask(T):
    positions = torch.arange(T)
    return positions[None, :] <= positions[:, None]
""",
    "causal_attention": """
def causal_attention(q, k, v):
    T, D = q.shape[-2], q.shape[-1]
    scores = torch.matmul(q, k.transpose(-1, -2)) * D**-0.5
    scores = torch.where(causal_mask(T).to(q.device), scores, torch.full_like(scores, float("-inf")))
    return torch.matmul(temperature_softmax(scores), v)
""",
}

MODULES = {
    "CausalSelfAttention": """
class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, dropout=0.0):
        super().__init__()
        self.n_head, self.head_size = n_head, n_embd // n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).reshape(B, T, 3, self.n_head, self.head_size).permute(2, 0, 3, 1, 4)
        out = causal_attention(q, k, v).permute(0, 2, 1, 3).reshape(B, T, C)
        return self.dropout(self.proj(out))
""",
    "MLP": """
class MLP(nn.Module):
    def __init__(self, n_embd, dropout=0.0):
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.proj = nn.Linear(4 * n_embd, n_embd)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        hidden = F.gelu(self.fc(x))
        return self.dropout(self.proj(hidden))
""",
    "Block": """
class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        C = config.n_embd
        self.ln_1, self.ln_2 = nn.LayerNorm(C), nn.LayerNorm(C)
        self.attn = CausalSelfAttention(C, config.n_head, config.dropout)
        self.mlp = MLP(C, config.dropout)

    def forward(self, x):
        after_attention = x + self.attn(self.ln_1(x))
        return after_attention + self.mlp(self.ln_2(after_attention))
""",
}


def block(forward: str) -> str:
    """The block answer cell with Block's forward written as `forward` (its body)."""
    return cell(
        MODULES,
        Block=f"""
class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config.n_embd, config.n_head, config.dropout)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config.n_embd, config.dropout)

    def forward(self, x):
{forward.lstrip(chr(10))}""",
    )


def heads(forward: str, dropout: str = "self.dropout = nn.Dropout(dropout)") -> str:
    """The block answer cell with CausalSelfAttention's forward written as `forward`."""
    return cell(
        MODULES,
        CausalSelfAttention=f"""
class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, dropout=0.0):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        {dropout}

    def forward(self, x):
        B, T, C = x.shape
{forward.lstrip(chr(10))}""",
    )


GPT_INIT = """
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                torch.nn.init.normal_(module.weight, std=0.02)
                if getattr(module, "bias", None) is not None:
                    torch.nn.init.zeros_(module.bias)
"""


def gpt(
    init: str = GPT_INIT,
    tie: str = "self.lm_head.weight = self.tok_emb.weight",
    embed: str = "self.tok_emb(idx) + self.pos_emb(torch.arange(idx.shape[1], device=idx.device))",
    blocks: str = "for block in self.blocks:\n            x = block(x)",
    head: str = "self.lm_head(self.ln_f(x))",
) -> str:
    """The GPT answer cell, with one part written another way."""
    body = f"""        x = self.drop({embed})
        {blocks}
        return {head}
"""
    return f"""
class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        {tie}
{init}
    def forward(self, idx):
{body}"""


TRAINING = {
    "get_batch": """
def get_batch(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    windows = torch.stack([data[s : s + block_size + 1] for s in starts.tolist()])
    return windows[:, :-1], windows[:, 1:]
""",
    "next_token_loss": """
def next_token_loss(logits, targets):
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())
""",
    "train_step": """
def train_step(model, optimizer, x, y, scaler):
    with torch.autocast(x.device.type, dtype=torch.float16, enabled=scaler.is_enabled()):
        logits = model(x)
        loss = next_token_loss(logits, y)
    optimizer.zero_grad()
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return float(loss)
""",
}


def step(*lines: str, forward: str = "logits = model(x)") -> str:
    """train_step with its update written by `lines` (and another forward or backward)."""
    update = "\n".join(f"    {line}" for line in lines)
    return f"""
def train_step(model, optimizer, x, y, scaler):
    with torch.autocast(x.device.type, dtype=torch.float16, enabled=scaler.is_enabled()):
        {forward}
        loss = next_token_loss(logits, y)
{update}
    return loss.item()
"""


SAMPLING = {
    "sample_next": """
def sample_next(logits, temperature, generator):
    probs = F.softmax(logits / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator)
""",
    "generate": """
def generate(model, idx, max_new_tokens, pick):
    with torch.no_grad():
        for _ in range(max_new_tokens):
            window = idx[:, -model.config.block_size :]
            scores = model(window)[:, -1, :]
            idx = torch.cat((idx, pick(scores)), dim=1)
    return idx
""",
}


def loop(
    window: str = "idx[:, -model.config.block_size :]", last="model(window)[:, -1, :]", grad=True
) -> str:
    """generate with its window, its last logits or its gradients written another way."""
    body = f"""
        window = {window}
        scores = {last}
        idx = torch.cat((idx, pick(scores)), dim=1)"""
    if grad:
        return f"""
def generate(model, idx, max_new_tokens, pick):
    with torch.no_grad():
        for _ in range(max_new_tokens):{body.replace(chr(10), chr(10) + "    ")}
    return idx
"""
    return f"""
def generate(model, idx, max_new_tokens, pick):
    for _ in range(max_new_tokens):{body}
    return idx
"""


TASKS = {
    "attention": Known(
        mistakes=(
            Mistake(
                "mask of the upper triangle (rows and columns swapped)",
                hint="Row t of the mask is query t: it may see keys s <= t, the lower triangle with the diagonal (torch.ones(T, T, dtype=torch.bool).tril()).",
                source=cell(
                    ATTENTION,
                    causal_mask="""
def causal_mask(T):
    return torch.ones(T, T, dtype=torch.bool).triu()
""",
                ),
            ),
            Mistake(
                "mask hides the diagonal",
                hint="A position may look at itself: keep the diagonal (tril(), not tril(-1)). Without it the first row has nothing to attend to.",
                source=cell(
                    ATTENTION,
                    causal_mask="""
def causal_mask(T):
    return torch.ones(T, T, dtype=torch.bool).tril(-1)
""",
                ),
            ),
            Mistake(
                "mask of float ones and zeros",
                hint="The mask is a boolean tensor (dtype=torch.bool): ~mask and masked_fill need True and False, not 1.0 and 0.0.",
                source=cell(
                    ATTENTION,
                    causal_mask="""
def causal_mask(T):
    return torch.tril(torch.ones(T, T))
""",
                ),
            ),
            Mistake(
                "softmax without subtracting the maximum",
                hint="exp of a large score overflows to inf, and inf / inf is nan: subtract each row's maximum before exp (the result does not change).",
                source=cell(
                    ATTENTION,
                    temperature_softmax="""
def temperature_softmax(scores, temperature=1.0):
    weights = torch.exp(scores / temperature)
    return weights / weights.sum(dim=-1, keepdim=True)
""",
                ),
            ),
            Mistake(
                "multiplies by the temperature",
                hint="Divide the scores by the temperature: a temperature below 1 sharpens the distribution, above 1 flattens it.",
                source=cell(
                    ATTENTION,
                    temperature_softmax="""
def temperature_softmax(scores, temperature=1.0):
    scaled = scores * temperature
    weights = torch.exp(scaled - scaled.amax(dim=-1, keepdim=True))
    return weights / weights.sum(dim=-1, keepdim=True)
""",
                ),
            ),
            Mistake(
                "softmax over the first axis",
                hint="The softmax runs over the last axis (dim=-1): each row of scores becomes the weights of one query.",
                source=cell(
                    ATTENTION,
                    temperature_softmax="""
def temperature_softmax(scores, temperature=1.0):
    scaled = scores / temperature
    weights = torch.exp(scaled - scaled.amax(dim=0, keepdim=True))
    return weights / weights.sum(dim=0, keepdim=True)
""",
                ),
            ),
            Mistake(
                "no scaling by sqrt(D)",
                hint="Divide the scores by sqrt(D), the size of a query: without it the softmax of long vectors is nearly one-hot.",
                source=cell(
                    ATTENTION,
                    causal_attention="""
def causal_attention(q, k, v):
    scores = q @ k.transpose(-2, -1)
    scores = scores.masked_fill(~causal_mask(q.size(-2)), float("-inf"))
    return temperature_softmax(scores) @ v
""",
                ),
            ),
            Mistake(
                "masks with 0 instead of -inf",
                hint="A score of 0 still gets weight exp(0) after the softmax: set the forbidden scores to float('-inf'), which becomes a weight of exactly 0.",
                source=cell(
                    ATTENTION,
                    causal_attention="""
def causal_attention(q, k, v):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    scores = scores.masked_fill(~causal_mask(q.size(-2)), 0.0)
    return temperature_softmax(scores) @ v
""",
                ),
            ),
            Mistake(
                "zeros the future after the softmax",
                hint="Mask the scores before the softmax: zeroing weights afterwards leaves rows that no longer sum to 1.",
                source=cell(
                    ATTENTION,
                    causal_attention="""
def causal_attention(q, k, v):
    weights = temperature_softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)))
    return (weights * causal_mask(q.size(-2))) @ v
""",
                ),
            ),
            Mistake(
                "keys times queries (scores transposed)",
                hint="Row t of the scores belongs to query t: q @ k^T, not k @ q^T.",
                source=cell(
                    ATTENTION,
                    causal_attention="""
def causal_attention(q, k, v):
    scores = k @ q.transpose(-2, -1) / math.sqrt(q.size(-1))
    scores = scores.masked_fill(~causal_mask(q.size(-2)), float("-inf"))
    return temperature_softmax(scores) @ v
""",
                ),
            ),
        ),
        alternatives=(
            Alternative("comparisons, torch.where, matmul", cell(ATTENTION)),
            Alternative(
                "logsumexp and a mask buffer of -inf",
                """
def temperature_softmax(scores, temperature=1.0):
    scaled = scores / temperature
    return torch.exp(scaled - torch.logsumexp(scaled, dim=-1, keepdim=True))


def causal_mask(T):
    return torch.tril(torch.ones(T, T)).bool()


def causal_attention(q, k, v):
    T = q.shape[-2]
    bias = torch.zeros(T, T, device=q.device).masked_fill(~causal_mask(T).to(q.device), float("-inf"))
    return temperature_softmax(q @ k.mT / q.shape[-1] ** 0.5 + bias) @ v
""",
            ),
        ),
    ),
    "block": Known(
        mistakes=(
            Mistake(
                "one big head instead of n_head",
                hint="Split q, k and v into n_head heads of n_embd // n_head channels each ((B, n_head, T, hs)) and attend within each head; one head over all channels is another model.",
                source=heads("""
        q, k, v = self.qkv(x).split(C, dim=-1)
        return self.dropout(self.proj(causal_attention(q, k, v)))
"""),
            ),
            Mistake(
                "heads made by a reshape that keeps T before the heads",
                hint="view(B, T, n_head, hs).transpose(1, 2) gives each head its own channels; view(B, n_head, T, hs) cuts the (T, C) block in the wrong places and mixes positions.",
                source=heads("""
        q, k, v = (t.reshape(B, self.n_head, T, C // self.n_head) for t in self.qkv(x).split(C, dim=-1))
        heads = causal_attention(q, k, v)
        return self.dropout(self.proj(heads.transpose(1, 2).reshape(B, T, C)))
"""),
            ),
            Mistake(
                "never applies the output projection",
                hint="After putting the heads side by side, mix them with self.proj before the dropout.",
                source=heads("""
        q, k, v = (t.view(B, T, self.n_head, -1).transpose(1, 2) for t in self.qkv(x).split(C, dim=-1))
        return self.dropout(causal_attention(q, k, v).transpose(1, 2).reshape(B, T, C))
"""),
            ),
            Mistake(
                "forgets the attention's dropout",
                hint="Apply self.dropout to the output of proj: in training mode it must zero some values.",
                source=heads(
                    """
        q, k, v = (t.view(B, T, self.n_head, -1).transpose(1, 2) for t in self.qkv(x).split(C, dim=-1))
        return self.proj(causal_attention(q, k, v).transpose(1, 2).reshape(B, T, C))
""",
                    dropout="# (no dropout)",
                ),
            ),
            Mistake(
                "ReLU instead of GELU",
                hint="The MLP's nonlinearity is the GELU, F.gelu(h), not the ReLU.",
                source=cell(
                    MODULES,
                    MLP="""
class MLP(nn.Module):
    def __init__(self, n_embd, dropout=0.0):
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.proj = nn.Linear(4 * n_embd, n_embd)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.proj(torch.relu(self.fc(x))))
""",
                ),
            ),
            Mistake(
                "MLP twice as wide instead of four times",
                hint="The hidden layer is four times as wide as n_embd: nn.Linear(n_embd, 4 * n_embd), then nn.Linear(4 * n_embd, n_embd).",
                source=cell(
                    MODULES,
                    MLP="""
class MLP(nn.Module):
    def __init__(self, n_embd, dropout=0.0):
        super().__init__()
        self.fc = nn.Linear(n_embd, 2 * n_embd)
        self.proj = nn.Linear(2 * n_embd, n_embd)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.proj(F.gelu(self.fc(x))))
""",
                ),
            ),
            Mistake(
                "post-norm instead of pre-norm",
                hint="Normalize the input of each sublayer, x + attn(ln_1(x)), not the sum, ln_1(x + attn(x)): the residual stream itself is never normalized.",
                source=block("""
        x = self.ln_1(x + self.attn(x))
        return self.ln_2(x + self.mlp(x))
"""),
            ),
            Mistake(
                "no residual paths",
                hint="Add each sublayer's output to its input: x = x + attn(ln_1(x)), then x + mlp(ln_2(x)).",
                source=block("""
        x = self.attn(self.ln_1(x))
        return self.mlp(self.ln_2(x))
"""),
            ),
            Mistake(
                "residual added to the normed input",
                hint="The residual path carries x itself: x + attn(ln_1(x)), not ln_1(x) + attn(ln_1(x)).",
                source=block("""
        h = self.ln_1(x)
        x = h + self.attn(h)
        h = self.ln_2(x)
        return h + self.mlp(h)
"""),
            ),
            Mistake(
                "attention and MLP side by side on the same input",
                hint="The MLP reads the stream after attention: x = x + attn(ln_1(x)) first, then x + mlp(ln_2(x)) with that new x.",
                source=block("""
        return x + self.attn(self.ln_1(x)) + self.mlp(self.ln_2(x))
"""),
            ),
        ),
        alternatives=(
            Alternative("one reshape and permute for q, k and v", cell(MODULES)),
            Alternative(
                "split_heads helper, nn.GELU, an nn.Sequential MLP under the task's names",
                cell(
                    MODULES,
                    CausalSelfAttention="""
class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, dropout=0.0):
        super().__init__()
        self.n_head = n_head
        self.qkv = nn.Linear(n_embd, 3 * n_embd)
        self.proj = nn.Linear(n_embd, n_embd)
        self.dropout = nn.Dropout(dropout)

    def split_heads(self, t):
        B, T, C = t.shape
        return t.unflatten(-1, (self.n_head, C // self.n_head)).transpose(1, 2)

    def forward(self, x):
        q, k, v = map(self.split_heads, self.qkv(x).chunk(3, dim=-1))
        out = causal_attention(q, k, v).transpose(1, 2).flatten(2)
        return self.dropout(self.proj(out))
""",
                    MLP="""
class MLP(nn.Module):
    def __init__(self, n_embd, dropout=0.0):
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.gelu = nn.GELU()
        self.proj = nn.Linear(4 * n_embd, n_embd)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.proj(self.gelu(self.fc(x))))
""",
                ),
            ),
        ),
    ),
    "gpt": Known(
        mistakes=(
            Mistake(
                "untied head",
                hint="Tie the head to the token embedding: self.lm_head.weight = self.tok_emb.weight, one matrix learned once, for reading tokens in and scoring them on the way out.",
                source=gpt(tie="pass"),
            ),
            Mistake(
                "default initialization",
                hint="Start every nn.Linear and nn.Embedding weight at normal values with standard deviation 0.02 and every bias at 0: PyTorch's default embeddings (standard deviation 1) with a tied head make the untrained model wildly over-confident.",
                source=gpt(init=""),
            ),
            Mistake(
                "forgets the position embeddings",
                hint="Add the position embeddings of positions 0 .. T-1, self.pos_emb(torch.arange(T, device=idx.device)), to the token embeddings: without them the model cannot tell where a token stands.",
                source=gpt(embed="self.tok_emb(idx)"),
            ),
            Mistake(
                "forgets the final layer norm",
                hint="Apply self.ln_f after the last block, before lm_head.",
                source=gpt(head="self.lm_head(x)"),
            ),
            Mistake(
                "looks up positions with the token ids",
                hint="The position embedding is looked up with the positions 0 .. T-1 (torch.arange(T)), not with the token ids.",
                source=gpt(embed="self.tok_emb(idx) + self.pos_emb(idx)"),
            ),
            Mistake(
                "only the first block runs",
                hint="Run x through every block in turn: for block in self.blocks: x = block(x).",
                source=gpt(blocks="x = self.blocks[0](x)"),
            ),
            Mistake(
                "returns (logits, loss)",
                hint="The capstone's GPT returns the logits alone, shape (B, T, vocab_size): the loss is your next_token_loss, in task 4.",
                source=gpt(head="self.lm_head(self.ln_f(x)), None"),
            ),
        ),
        alternatives=(
            Alternative("a loop over modules, blocks in a generator", gpt()),
            Alternative(
                "tied the other way round, apply(), nn.Sequential blocks, position table sliced",
                """
class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.tok_emb.weight = self.lm_head.weight
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.Sequential(*[Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.apply(self.start_small)

    @staticmethod
    def start_small(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, 0.0, 0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.constant_(module.bias, 0.0)

    def forward(self, idx):
        x = self.drop(self.tok_emb(idx) + self.pos_emb.weight[: idx.size(1)])
        return self.lm_head(self.ln_f(self.blocks(x)))
""",
            ),
        ),
    ),
    "training": Known(
        mistakes=(
            Mistake(
                "targets not shifted",
                hint="y is x shifted by one token: the target at position t is the token after x[t], data[s + t + 1].",
                source=cell(
                    TRAINING,
                    get_batch="""
def get_batch(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[s : s + block_size] for s in starts.tolist()])
    return x, x.clone()
""",
                ),
            ),
            Mistake(
                "last start never drawn",
                hint="Draw the starts with torch.randint(len(data) - block_size, ...): the last window that still has a target starts at len(data) - block_size - 1, and randint's upper bound is left out already.",
                source=cell(
                    TRAINING,
                    get_batch="""
def get_batch(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size - 1, (batch_size,), generator=generator)
    windows = torch.stack([data[s : s + block_size + 1] for s in starts.tolist()])
    return windows[:, :-1], windows[:, 1:]
""",
                ),
            ),
            Mistake(
                "ignores the generator",
                hint="Pass generator=generator to torch.randint, so the same seed draws the same batches.",
                source=cell(
                    TRAINING,
                    get_batch="""
def get_batch(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size, (batch_size,))
    windows = torch.stack([data[s : s + block_size + 1] for s in starts.tolist()])
    return windows[:, :-1], windows[:, 1:]
""",
                ),
            ),
            Mistake(
                "sums the loss instead of averaging it",
                hint="The loss is the mean cross-entropy over all B * T positions (F.cross_entropy's default), not the sum: a sum grows with the batch and the learning rate would have to shrink with it.",
                source=cell(
                    TRAINING,
                    next_token_loss="""
def next_token_loss(logits, targets):
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten(), reduction="sum")
""",
                ),
            ),
            Mistake(
                "loss of the last position only",
                hint="Every position is a prediction: the loss averages over all B * T positions, not only the last one.",
                source=cell(
                    TRAINING,
                    next_token_loss="""
def next_token_loss(logits, targets):
    return F.cross_entropy(logits[:, -1, :], targets[:, -1])
""",
                ),
            ),
            Mistake(
                "softmax before cross_entropy",
                hint="F.cross_entropy takes the logits and applies the (log-)softmax itself: give it the logits, not probabilities.",
                source=cell(
                    TRAINING,
                    next_token_loss="""
def next_token_loss(logits, targets):
    return F.cross_entropy(torch.softmax(logits, dim=-1).flatten(0, 1), targets.flatten())
""",
                ),
            ),
            Mistake(
                "unpacks (logits, loss) from the model",
                hint="Your GPT returns the logits alone: logits = model(x). Exercise 7's model returned a pair, logits, _ = model(x).",
                source=cell(
                    TRAINING,
                    train_step=step(
                        "optimizer.zero_grad()",
                        "scaler.scale(loss).backward()",
                        "scaler.step(optimizer)",
                        "scaler.update()",
                        forward="logits, _ = model(x)",
                    ),
                ),
            ),
            Mistake(
                "never clears the gradients",
                hint="PyTorch adds each new gradient to .grad: call optimizer.zero_grad() before backward at every step, or the gradients of all earlier batches pile up.",
                source=cell(
                    TRAINING,
                    train_step=step(
                        "scaler.scale(loss).backward()",
                        "scaler.step(optimizer)",
                        "scaler.update()",
                    ),
                ),
            ),
            Mistake(
                "clears the gradients between backward and the step",
                hint="Clear the old gradients before backward, not between backward and the step: the step must use the gradients you just computed.",
                source=cell(
                    TRAINING,
                    train_step=step(
                        "scaler.scale(loss).backward()",
                        "optimizer.zero_grad()",
                        "scaler.step(optimizer)",
                        "scaler.update()",
                    ),
                ),
            ),
            Mistake(
                "never takes the optimizer step",
                hint="After backward, scaler.step(optimizer) takes the step (with the scaler off, it is optimizer.step()); without it the weights never change.",
                source=cell(
                    TRAINING,
                    train_step=step(
                        "optimizer.zero_grad()",
                        "scaler.scale(loss).backward()",
                    ),
                ),
            ),
            Mistake(
                "backward without the scaler",
                hint="Scale the loss before backward, scaler.scale(loss).backward(): scaler.step unscales the gradients by the scale it applied, so unscaled gradients come out that much too small.",
                source=cell(
                    TRAINING,
                    train_step=step(
                        "optimizer.zero_grad()",
                        "loss.backward()",
                        "scaler.step(optimizer)",
                        "scaler.update()",
                    ),
                ),
            ),
            Mistake(
                "optimizer.step() instead of scaler.step(optimizer)",
                hint="Step through the scaler, scaler.step(optimizer): it divides the scaled gradients by the scale first (and skips a step whose gradients overflowed). optimizer.step() would take a step as large as the scale.",
                source=cell(
                    TRAINING,
                    train_step=step(
                        "optimizer.zero_grad()",
                        "scaler.scale(loss).backward()",
                        "optimizer.step()",
                        "scaler.update()",
                    ),
                ),
            ),
            Mistake(
                "never updates the scaler",
                hint="Call scaler.update() after scaler.step(optimizer): it lowers the scale after an overflow and raises it after steps that went well.",
                source=cell(
                    TRAINING,
                    train_step=step(
                        "optimizer.zero_grad()",
                        "scaler.scale(loss).backward()",
                        "scaler.step(optimizer)",
                    ),
                ),
            ),
            Mistake(
                "returns the loss tensor",
                hint="Return the loss as a Python float, loss.item(): a tensor keeps its whole graph alive.",
                source=cell(
                    TRAINING,
                    train_step="""
def train_step(model, optimizer, x, y, scaler):
    with torch.autocast(x.device.type, dtype=torch.float16, enabled=scaler.is_enabled()):
        loss = next_token_loss(model(x), y)
    optimizer.zero_grad()
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss.detach()
""",
                ),
            ),
        ),
        alternatives=(
            Alternative("stacked windows, flatten, float(loss)", cell(TRAINING)),
            Alternative(
                "index arithmetic, reshape, gradients cleared after the step",
                cell(
                    TRAINING,
                    get_batch="""
def get_batch(data, batch_size, block_size, generator):
    starts = torch.randint(0, len(data) - block_size, (batch_size, 1), generator=generator)
    index = starts + torch.arange(block_size + 1)
    return data[index[:, :-1]], data[index[:, 1:]]
""",
                    next_token_loss="""
def next_token_loss(logits, targets):
    V = logits.size(-1)
    return -torch.log_softmax(logits.reshape(-1, V), dim=-1).gather(1, targets.reshape(-1, 1)).mean()
""",
                    train_step="""
def train_step(model, optimizer, x, y, scaler):
    with torch.autocast(device_type=x.device.type, dtype=torch.float16, enabled=scaler.is_enabled()):
        loss = next_token_loss(model(x), y)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()
""",
                ),
            ),
        ),
    ),
    "sampling": Known(
        mistakes=(
            Mistake(
                "never crops to the context window",
                hint="The model knows block_size positions only: run it on the last block_size tokens, idx[:, -block_size:].",
                source=cell(SAMPLING, generate=loop(window="idx")),
            ),
            Mistake(
                "keeps the first block_size tokens",
                hint="Once the text is longer than the context, the model must see the most recent block_size tokens, idx[:, -block_size:]; idx[:, :block_size] keeps the oldest ones, so the model stops seeing anything new.",
                source=cell(SAMPLING, generate=loop(window="idx[:, : model.config.block_size]")),
            ),
            Mistake(
                "picks from the first position",
                hint="The next token is scored by the last position: logits[:, -1, :].",
                source=cell(SAMPLING, generate=loop(last="model(window)[:, 0, :]")),
            ),
            Mistake(
                "unpacks (logits, loss) from the model",
                hint="Your GPT returns the logits alone: logits = model(window). Exercise 8's model returned a pair, logits, _ = model(window).",
                source=cell(
                    SAMPLING,
                    generate="""
def generate(model, idx, max_new_tokens, pick):
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits, _ = model(idx[:, -model.config.block_size :])
            idx = torch.cat([idx, pick(logits[:, -1, :])], dim=1)
    return idx
""",
                ),
            ),
            Mistake(
                "runs the model with gradients on",
                hint="Run the model inside with torch.no_grad(): nothing is trained here, and building the graph for every step costs memory and time.",
                source=cell(SAMPLING, generate=loop(grad=False)),
            ),
            Mistake(
                "samples from the logits",
                hint="torch.multinomial wants probabilities (non-negative weights): apply softmax(logits / temperature) first.",
                source=cell(
                    SAMPLING,
                    sample_next="""
def sample_next(logits, temperature, generator):
    return torch.multinomial(logits / temperature, 1, generator=generator)
""",
                ),
            ),
            Mistake(
                "multiplies by the temperature",
                hint="Divide the logits by the temperature: below 1 it sharpens the distribution, above 1 it flattens it.",
                source=cell(
                    SAMPLING,
                    sample_next="""
def sample_next(logits, temperature, generator):
    return torch.multinomial(torch.softmax(logits * temperature, dim=-1), 1, generator=generator)
""",
                ),
            ),
            Mistake(
                "ignores the generator",
                hint="Pass generator=generator to torch.multinomial, so that the same seed gives the same draws.",
                source=cell(
                    SAMPLING,
                    sample_next="""
def sample_next(logits, temperature, generator):
    return torch.multinomial(torch.softmax(logits / temperature, dim=-1), 1)
""",
                ),
            ),
            Mistake(
                "returns shape (B,)",
                hint="Return one id per row as a (B, 1) tensor: torch.multinomial(probs, num_samples=1) already has that shape.",
                source=cell(
                    SAMPLING,
                    sample_next="""
def sample_next(logits, temperature, generator):
    return torch.multinomial(torch.softmax(logits / temperature, dim=-1), 1, generator=generator)[:, 0]
""",
                ),
            ),
        ),
        alternatives=(
            Alternative("F.softmax, a tuple cat", cell(SAMPLING)),
            Alternative(
                "the Gumbel-max trick, inference_mode and a while loop",
                """
def sample_next(logits, temperature, generator):
    u = torch.rand(logits.shape, generator=generator).clamp_min(1e-20)
    return (logits / temperature - torch.log(-torch.log(u))).argmax(dim=-1, keepdim=True)


@torch.inference_mode()
def generate(model, idx, max_new_tokens, pick):
    target = idx.size(1) + max_new_tokens
    while idx.size(1) < target:
        logits = model(idx[:, max(0, idx.size(1) - model.config.block_size) :])
        idx = torch.cat([idx, pick(logits[:, -1])], dim=-1)
    return idx
""",
            ),
        ),
    ),
}
