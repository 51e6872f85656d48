"""Known mistakes of exercise 06-transformer-gpt, with the hints that name them."""

from minigpt.mistakes import Alternative, Known, Mistake

TASKS = {
    "mlp": Known(
        mistakes=(
            Mistake(
                "ReLU instead of GELU",
                hint="The MLP's nonlinearity is the GELU, F.gelu(h), not the ReLU.",
                source="""
class MLP(nn.Module):
    def __init__(self, n_embd, dropout=0.0):
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.proj = nn.Linear(4 * n_embd, n_embd)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.proj(F.relu(self.fc(x))))
""",
            ),
            Mistake(
                "no nonlinearity",
                hint="Without a nonlinearity between fc and proj the two layers collapse into one linear map. Apply F.gelu to the output of fc.",
                source="""
class MLP(nn.Module):
    def __init__(self, n_embd, dropout=0.0):
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.proj = nn.Linear(4 * n_embd, n_embd)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.proj(self.fc(x)))
""",
            ),
            Mistake(
                "twice as wide instead of four times",
                hint="The hidden layer is four times as wide as n_embd: nn.Linear(n_embd, 4 * n_embd), then nn.Linear(4 * n_embd, n_embd).",
                source="""
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
            Mistake(
                "forgets the dropout",
                hint="Create self.dropout = nn.Dropout(dropout) and apply it to the output of proj: in training mode it must zero some values.",
                source="""
class MLP(nn.Module):
    def __init__(self, n_embd, dropout=0.0):
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.proj = nn.Linear(4 * n_embd, n_embd)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x)))
""",
            ),
            Mistake(
                "tanh approximation of GELU",
                hint="Use the exact GELU, F.gelu(h) with PyTorch's default; approximate='tanh' differs from it by up to about 1e-3.",
                source="""
class MLP(nn.Module):
    def __init__(self, n_embd, dropout=0.0):
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.proj = nn.Linear(4 * n_embd, n_embd)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.dropout(self.proj(F.gelu(self.fc(x), approximate="tanh")))
""",
            ),
            Mistake(
                "dropout before the projection",
                hint="Dropout comes last, on the output of proj: dropout(proj(gelu(fc(x)))). Applied to the wide hidden layer it drops other numbers.",
                source="""
class MLP(nn.Module):
    def __init__(self, n_embd, dropout=0.0):
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.proj = nn.Linear(4 * n_embd, n_embd)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        return self.proj(self.dropout(F.gelu(self.fc(x))))
""",
            ),
        ),
        alternatives=(
            Alternative(
                "GELU written out with erf",
                """
class MLP(nn.Module):
    def __init__(self, n_embd, dropout=0.0):
        super().__init__()
        self.fc = nn.Linear(n_embd, 4 * n_embd)
        self.proj = nn.Linear(4 * n_embd, n_embd)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        h = self.fc(x)
        h = 0.5 * h * (1.0 + torch.erf(h / math.sqrt(2.0)))
        return self.dropout(self.proj(h))
""",
            ),
            Alternative(
                "nn.GELU module",
                """
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
    "block": Known(
        mistakes=(
            Mistake(
                "post-norm instead of pre-norm",
                hint="Pre-norm normalizes the input of each sublayer: x + attn(ln_1(x)), not ln_1(x + attn(x)).",
                source="""
class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config.n_embd, config.n_head, config.dropout)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config.n_embd, config.dropout)

    def forward(self, x):
        x = self.ln_1(x + self.attn(x))
        return self.ln_2(x + self.mlp(x))
""",
            ),
            Mistake(
                "residual added to the normed input",
                hint="Add each sublayer's output to the stream x itself, not to its normalized version: x = x + attn(ln_1(x)).",
                source="""
class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config.n_embd, config.n_head, config.dropout)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config.n_embd, config.dropout)

    def forward(self, x):
        h = self.ln_1(x)
        x = h + self.attn(h)
        h = self.ln_2(x)
        return h + self.mlp(h)
""",
            ),
            Mistake(
                "no residual paths",
                hint="Each sublayer's output is added to the stream: x = x + attn(ln_1(x)), then x = x + mlp(ln_2(x)), not replaced by it.",
                source="""
class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config.n_embd, config.n_head, config.dropout)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config.n_embd, config.dropout)

    def forward(self, x):
        return self.mlp(self.ln_2(self.attn(self.ln_1(x))))
""",
            ),
            Mistake(
                "layer norms swapped",
                hint="ln_1 goes before the attention and ln_2 before the MLP.",
                source="""
class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config.n_embd, config.n_head, config.dropout)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config.n_embd, config.dropout)

    def forward(self, x):
        x = x + self.attn(self.ln_2(x))
        return x + self.mlp(self.ln_1(x))
""",
            ),
            Mistake(
                "MLP and attention in parallel on the same input",
                hint="The MLP works on the stream after the attention has been added: x = x + attn(ln_1(x)) first, then x + mlp(ln_2(x)) on that new x.",
                source="""
class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config.n_embd, config.n_head, config.dropout)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config.n_embd, config.dropout)

    def forward(self, x):
        return x + self.attn(self.ln_1(x)) + self.mlp(self.ln_2(x))
""",
            ),
            Mistake(
                "MLP before attention",
                hint="The attention comes first, then the MLP: x + attn(ln_1(x)), then x + mlp(ln_2(x)).",
                source="""
class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config.n_embd, config.n_head, config.dropout)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config.n_embd, config.dropout)

    def forward(self, x):
        x = x + self.mlp(self.ln_2(x))
        return x + self.attn(self.ln_1(x))
""",
            ),
        ),
        alternatives=(
            Alternative(
                "written-out attention kernel and in-place style",
                """
class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=1e-5)
        self.attn = CausalSelfAttention(
            config.n_embd, config.n_head, dropout=config.dropout, use_torch_kernel=False
        )
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=1e-5)
        self.mlp = MLP(config.n_embd, dropout=config.dropout)

    def forward(self, x):
        attended = self.attn(self.ln_1(x))
        x = x + attended
        thought = self.mlp(self.ln_2(x))
        return x + thought
""",
            ),
            Alternative(
                "a loop over the two sublayers",
                """
class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config.n_embd, config.n_head, config.dropout)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config.n_embd, config.dropout)

    def forward(self, x):
        for norm, sublayer in ((self.ln_1, self.attn), (self.ln_2, self.mlp)):
            x = x + sublayer(norm(x))
        return x
""",
            ),
        ),
    ),
    "gpt": Known(
        mistakes=(
            Mistake(
                "untied head",
                hint="Tie the head to the token embedding: self.lm_head.weight = self.tok_emb.weight makes both layers hold one matrix, so it is learned once.",
                source="""
class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)

    def forward(self, idx):
        positions = torch.arange(idx.size(1), device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(positions))
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))
""",
            ),
            Mistake(
                "head tied by copying the values once",
                hint="Copying the values makes two matrices that drift apart as soon as one is trained. Share the parameter itself: self.lm_head.weight = self.tok_emb.weight.",
                source="""
class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight.data.copy_(self.tok_emb.weight.data)

    def forward(self, idx):
        positions = torch.arange(idx.size(1), device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(positions))
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))
""",
            ),
            Mistake(
                "forgets the final layer norm",
                hint="After the last block, apply the final layer norm ln_f before lm_head.",
                source="""
class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight

    def forward(self, idx):
        positions = torch.arange(idx.size(1), device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(positions))
        for block in self.blocks:
            x = block(x)
        return self.lm_head(x)
""",
            ),
            Mistake(
                "looks up positions with the token ids",
                hint="The position embedding is indexed by the positions 0 .. T - 1 (torch.arange(T, device=idx.device)), not by the token ids.",
                source="""
class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight

    def forward(self, idx):
        x = self.drop(self.tok_emb(idx) + self.pos_emb(idx % self.pos_emb.num_embeddings))
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))
""",
            ),
            Mistake(
                "only the first block runs",
                hint="Run every block, in order: x = block(x) for each block of self.blocks.",
                source="""
class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight

    def forward(self, idx):
        positions = torch.arange(idx.size(1), device=idx.device)
        x = self.blocks[0](self.drop(self.tok_emb(idx) + self.pos_emb(positions)))
        return self.lm_head(self.ln_f(x))
""",
            ),
            Mistake(
                "returns probabilities instead of logits",
                hint="Return the logits, the output of lm_head, without a softmax: the loss and sampling apply their own.",
                source="""
class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight

    def forward(self, idx):
        positions = torch.arange(idx.size(1), device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(positions))
        for block in self.blocks:
            x = block(x)
        return torch.softmax(self.lm_head(self.ln_f(x)), dim=-1)
""",
            ),
            Mistake(
                "no dropout on the embeddings",
                hint="Apply self.drop to the sum of the token and position embeddings, before the first block: in training mode it must zero some of them.",
                source="""
class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight

    def forward(self, idx):
        positions = torch.arange(idx.size(1), device=idx.device)
        x = self.tok_emb(idx) + self.pos_emb(positions)
        for block in self.blocks:
            x = block(x)
        return self.lm_head(self.ln_f(x))
""",
            ),
        ),
        alternatives=(
            Alternative(
                "tied the other way, Sequential blocks, F.linear head",
                """
class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.Sequential(*[Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.tok_emb.weight = self.lm_head.weight

    def forward(self, idx):
        B, T = idx.shape
        x = self.tok_emb(idx) + self.pos_emb.weight[:T]
        x = self.blocks(self.dropout(x))
        return F.linear(self.ln_f(x), self.tok_emb.weight)
""",
            ),
            Alternative(
                "GPT-2 initialization and a block-size check",
                """
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
        self.lm_head.weight = self.tok_emb.weight
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)

    def forward(self, idx):
        T = idx.shape[1]
        assert T <= self.config.block_size, "sequence longer than the context"
        pos = torch.arange(0, T, dtype=torch.long, device=idx.device).unsqueeze(0)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return logits
""",
            ),
        ),
    ),
    "parameter-count": Known(
        mistakes=(
            Mistake(
                "counts an untied head",
                hint="The head is tied to the token embedding, so its vocab_size x n_embd weights are already counted.",
                source="""
def parameter_count(config):
    C, V, L = config.n_embd, config.vocab_size, config.n_layer
    return 2 * V * C + config.block_size * C + L * (12 * C * C + 13 * C) + 2 * C
""",
            ),
            Mistake(
                "forgets the biases",
                hint="Every nn.Linear here has a bias (n_out numbers) except the head, and each layer norm has a weight and a bias (2 C).",
                source="""
def parameter_count(config):
    C, V, L = config.n_embd, config.vocab_size, config.n_layer
    return V * C + config.block_size * C + L * (12 * C * C + 4 * C) + 2 * C
""",
            ),
            Mistake(
                "forgets the position embedding",
                hint="Count the position embedding too: block_size x n_embd.",
                source="""
def parameter_count(config):
    C, V, L = config.n_embd, config.vocab_size, config.n_layer
    return V * C + L * (12 * C * C + 13 * C) + 2 * C
""",
            ),
            Mistake(
                "forgets the final layer norm",
                hint="Count the final layer norm ln_f: a weight and a bias, 2 x n_embd.",
                source="""
def parameter_count(config):
    C, V, L = config.n_embd, config.vocab_size, config.n_layer
    return V * C + config.block_size * C + L * (12 * C * C + 13 * C)
""",
            ),
        ),
        alternatives=(
            Alternative(
                "counted on a model built on the meta device",
                """
def parameter_count(config):
    with torch.device("meta"):
        model = GPT(config)
    return sum(p.numel() for p in model.parameters())
""",
            ),
            Alternative(
                "term by term from the layer shapes",
                """
def parameter_count(config):
    C, V, T = config.n_embd, config.vocab_size, config.block_size

    def linear(n_in, n_out):
        return n_in * n_out + n_out

    def norm():
        return 2 * C

    block = linear(C, 3 * C) + linear(C, C) + linear(C, 4 * C) + linear(4 * C, C) + 2 * norm()
    return int(V * C + T * C + config.n_layer * block + norm())
""",
            ),
        ),
    ),
    "cross-attention": Known(
        mistakes=(
            Mistake(
                "keys and values from x (self-attention)",
                hint="In cross-attention only the queries come from the decoder: q = x @ w_q. The keys and values come from the encoder's output, k = memory @ w_k and v = memory @ w_v; taking them from x is self-attention again.",
                source="""
def cross_attention(x, memory, w_q, w_k, w_v):
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.transpose(-2, -1) / math.sqrt(k.size(-1))
    return torch.softmax(scores, dim=-1) @ v
""",
            ),
            Mistake(
                "queries from memory, keys and values from x",
                hint="The roles are the other way round: the decoder asks (queries from x) and the encoder's output answers (keys and values from memory). The result has one row per decoder position, (B, T_dec, head_size).",
                source="""
def cross_attention(x, memory, w_q, w_k, w_v):
    q, k, v = memory @ w_q, x @ w_k, x @ w_v
    scores = q @ k.transpose(-2, -1) / math.sqrt(k.size(-1))
    return torch.softmax(scores, dim=-1) @ v
""",
            ),
            Mistake(
                "a causal mask on the memory",
                hint="Cross-attention needs no mask: the whole source is known before decoding starts, so every decoder position may read every encoder position. The decoder's causal mask belongs to its self-attention only.",
                source="""
def cross_attention(x, memory, w_q, w_k, w_v):
    q, k, v = x @ w_q, memory @ w_k, memory @ w_v
    scores = q @ k.transpose(-2, -1) / math.sqrt(k.size(-1))
    allowed = torch.ones(x.size(1), memory.size(1), dtype=torch.bool).tril()
    scores = scores.masked_fill(~allowed, float("-inf"))
    return torch.softmax(scores, dim=-1) @ v
""",
            ),
            Mistake(
                "no scaling",
                hint="Divide the scores by sqrt(head_size) before the softmax: without it large scores make the softmax nearly one-hot (chapter 4).",
                source="""
def cross_attention(x, memory, w_q, w_k, w_v):
    q, k, v = x @ w_q, memory @ w_k, memory @ w_v
    return torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v
""",
            ),
            Mistake(
                "scaled by sqrt(C) instead of sqrt(head_size)",
                hint="The scores are divided by the square root of the size of a query or key, head_size (w_k.shape[1]), not of the model width C.",
                source="""
def cross_attention(x, memory, w_q, w_k, w_v):
    q, k, v = x @ w_q, memory @ w_k, memory @ w_v
    scores = q @ k.transpose(-2, -1) / math.sqrt(x.size(-1))
    return torch.softmax(scores, dim=-1) @ v
""",
            ),
            Mistake(
                "softmax over the queries",
                hint="Each decoder position needs weights over the encoder positions that sum to 1: take the softmax over the last axis (the keys), dim=-1, not over the queries.",
                source="""
def cross_attention(x, memory, w_q, w_k, w_v):
    q, k, v = x @ w_q, memory @ w_k, memory @ w_v
    scores = q @ k.transpose(-2, -1) / math.sqrt(k.size(-1))
    return torch.softmax(scores, dim=1) @ v
""",
            ),
            Mistake(
                "averages the memory, not the values",
                hint="The weights average the values v = memory @ w_v, not the memory itself: the result has head_size channels, not C.",
                source="""
def cross_attention(x, memory, w_q, w_k, w_v):
    q, k = x @ w_q, memory @ w_k
    scores = q @ k.transpose(-2, -1) / math.sqrt(k.size(-1))
    return torch.softmax(scores, dim=-1) @ memory
""",
            ),
        ),
        alternatives=(
            Alternative(
                "PyTorch's fused attention",
                """
def cross_attention(x, memory, w_q, w_k, w_v):
    return F.scaled_dot_product_attention(x @ w_q, memory @ w_k, memory @ w_v)
""",
            ),
            Alternative(
                "einsum, scaled queries",
                """
def cross_attention(x, memory, w_q, w_k, w_v):
    head_size = w_q.shape[1]
    q = x @ w_q / head_size**0.5
    k, v = memory @ w_k, memory @ w_v
    weights = torch.einsum("bqd,bkd->bqk", q, k).softmax(dim=-1)
    return torch.einsum("bqk,bkd->bqd", weights, v)
""",
            ),
        ),
    ),
}
