"""Known mistakes of exercise 09-capstone, with the hints that name them."""

from minigpt.mistakes import Alternative, Mistake, Task

TASKS = {
    "prepare-data": Task(
        functions=("prepare_data",),
        promise="(train_ids, val_ids, chars): torch.long ids of the first int(len(text) * (1 - val_fraction)) characters and of the rest, and the sorted vocabulary",
        mistakes=(
            Mistake(
                "vocabulary in order of first appearance",
                hint="The vocabulary is sorted: sorted(set(text)), so that ids do not depend on where a character first appears.",
                source="""
def prepare_data(text, val_fraction=0.1):
    chars = list(dict.fromkeys(text))
    index_of = {ch: i for i, ch in enumerate(chars)}
    ids = torch.tensor([index_of[ch] for ch in text], dtype=torch.long)
    n_train = int(len(ids) * (1 - val_fraction))
    return ids[:n_train], ids[n_train:], chars
""",
            ),
            Mistake(
                "validation taken from the start",
                hint="The training part is the first int(len(text) * (1 - val_fraction)) ids and the validation part the rest, in the order of the text.",
                source="""
def prepare_data(text, val_fraction=0.1):
    chars = sorted(set(text))
    index_of = {ch: i for i, ch in enumerate(chars)}
    ids = torch.tensor([index_of[ch] for ch in text], dtype=torch.long)
    n_val = len(ids) - int(len(ids) * (1 - val_fraction))
    return ids[n_val:], ids[:n_val], chars
""",
            ),
            Mistake(
                "shuffles before splitting",
                hint="Do not shuffle: the validation text must be a stretch of text the model never saw, the end of the text.",
                source="""
def prepare_data(text, val_fraction=0.1):
    chars = sorted(set(text))
    index_of = {ch: i for i, ch in enumerate(chars)}
    ids = torch.tensor([index_of[ch] for ch in text], dtype=torch.long)
    ids = ids[torch.randperm(len(ids))]
    n_train = int(len(ids) * (1 - val_fraction))
    return ids[:n_train], ids[n_train:], chars
""",
            ),
            Mistake(
                "int32 ids",
                hint="The ids must have dtype torch.long (int64): embeddings and cross_entropy expect it.",
                source="""
def prepare_data(text, val_fraction=0.1):
    chars = sorted(set(text))
    ids = torch.tensor([chars.index(ch) for ch in text], dtype=torch.int32)
    n_train = int(len(ids) * (1 - val_fraction))
    return ids[:n_train], ids[n_train:], chars
""",
            ),
        ),
        alternatives=(
            Alternative(
                "numpy lookup table",
                """
import numpy as np

def prepare_data(text, val_fraction=0.1):
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    unique = np.unique(codes)
    ids = torch.from_numpy(np.searchsorted(unique, codes).astype(np.int64))
    n_train = int(len(ids) * (1 - val_fraction))
    return ids[:n_train], ids[n_train:], [chr(c) for c in unique]
""",
            ),
            Alternative(
                "torch.split with a string for the vocabulary",
                """
def prepare_data(text, val_fraction=0.1):
    vocabulary = "".join(sorted(set(text)))
    ids = torch.LongTensor([vocabulary.index(ch) for ch in text])
    n_train = int(len(text) * (1 - val_fraction))
    train_ids, val_ids = torch.split(ids, [n_train, len(text) - n_train])
    return train_ids, val_ids, list(vocabulary)
""",
            ),
        ),
    ),
    "capstone-gpt": Task(
        functions=("CapstoneGPT",),
        promise="an nn.Module with tok_emb, pos_emb, blocks, ln_f and a tied lm_head, weights N(0, 0.02) and zero biases; forward(idx, targets=None) returns (logits, loss)",
        mistakes=(
            Mistake(
                "no position embeddings",
                hint="Add the position embeddings of positions 0 .. T - 1 (self.pos_emb(torch.arange(T, device=idx.device))) to the token embeddings.",
                source="""
class CapstoneGPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets=None):
        x = self.tok_emb(idx)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())
""",
            ),
            Mistake(
                "no final layer norm",
                hint="Keep a final nn.LayerNorm as self.ln_f and apply it after the last block, before lm_head.",
                source="""
class CapstoneGPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets=None):
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(x)
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())
""",
            ),
            Mistake(
                "head not tied to the embedding",
                hint="Tie the head: self.lm_head.weight = self.tok_emb.weight, one matrix learned once.",
                source="""
class CapstoneGPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets=None):
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())
""",
            ),
            Mistake(
                "default initialization",
                hint="Start the weights small: normal values with standard deviation 0.02 for every nn.Linear and nn.Embedding, zeros for the biases. PyTorch's default embeddings (std 1) with a tied head make the untrained model score near 40.",
                source="""
class CapstoneGPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight

    def forward(self, idx, targets=None):
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())
""",
            ),
            Mistake(
                "loss of the last position only",
                hint="The loss is the mean cross-entropy over all B * T positions, not only the last one.",
                source="""
class CapstoneGPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.tok_emb.weight
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets=None):
        x = self.tok_emb(idx) + self.pos_emb(torch.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits[:, -1, :], targets[:, -1])
""",
            ),
            Mistake(
                "wraps minigpt's GPT",
                hint="Build the model from its pieces (embeddings, minigpt's Block, layer norm, head); minigpt's GPT is the class you are rebuilding.",
                source="""
from minigpt.model import GPT

class CapstoneGPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.inner = GPT(config)

    def forward(self, idx, targets=None):
        return self.inner(idx, targets)
""",
            ),
        ),
        alternatives=(
            Alternative(
                "logits from the embedding matrix, nn.Sequential blocks, log_softmax",
                """
class CapstoneGPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.Sequential(*[Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd)
        with torch.no_grad():
            for name, p in self.named_parameters():
                if name.endswith("weight") and p.dim() == 2:
                    p.normal_(0.0, 0.02)
                elif name.endswith("bias"):
                    p.zero_()

    def forward(self, idx, targets=None):
        T = idx.size(1)
        x = self.blocks(self.tok_emb(idx) + self.pos_emb.weight[:T])
        logits = self.ln_f(x) @ self.tok_emb.weight.T
        if targets is None:
            return logits, None
        logp = torch.log_softmax(logits, dim=-1)
        loss = -logp.gather(-1, targets.unsqueeze(-1)).mean()
        return logits, loss
""",
            ),
            Alternative(
                "tied the other way round, cross-entropy over (B, V, T)",
                """
class CapstoneGPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.tok_emb = nn.Embedding(config.vocab_size, config.n_embd)
        self.tok_emb.weight = self.lm_head.weight
        self.pos_emb = nn.Embedding(config.block_size, config.n_embd)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        nn.init.normal_(self.tok_emb.weight, std=0.02)
        nn.init.normal_(self.pos_emb.weight, std=0.02)

    def forward(self, idx, targets=None):
        positions = torch.arange(idx.shape[-1], device=idx.device).unsqueeze(0)
        x = self.tok_emb(idx) + self.pos_emb(positions)
        for block in self.blocks:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        loss = None if targets is None else F.cross_entropy(logits.transpose(1, 2), targets)
        return logits, loss
""",
            ),
        ),
    ),
    "learning-rate": Task(
        functions=("learning_rate",),
        promise="a float: a linear warmup to learning_rate, then a cosine decay to min_lr at max_iters, min_lr after",
        mistakes=(
            Mistake(
                "no warmup",
                hint="While step < warmup_iters the rate rises in a straight line: learning_rate * (step + 1) / warmup_iters.",
                source="""
def learning_rate(step, config):
    progress = min(1.0, step / config.max_iters)
    return config.min_lr + (config.learning_rate - config.min_lr) * (1 + math.cos(math.pi * progress)) / 2
""",
            ),
            Mistake(
                "warmup starts at zero",
                hint="The warmup uses step + 1, so step 0 already gets a small non-zero rate: learning_rate * (step + 1) / warmup_iters.",
                source="""
def learning_rate(step, config):
    if step < config.warmup_iters:
        return config.learning_rate * step / config.warmup_iters
    progress = min(1.0, (step - config.warmup_iters) / (config.max_iters - config.warmup_iters))
    return config.min_lr + (config.learning_rate - config.min_lr) * (1 + math.cos(math.pi * progress)) / 2
""",
            ),
            Mistake(
                "decays to zero",
                hint="The cosine glides down to min_lr, not to 0: min_lr + (learning_rate - min_lr) * (1 + cos(pi * progress)) / 2.",
                source="""
def learning_rate(step, config):
    if step < config.warmup_iters:
        return config.learning_rate * (step + 1) / config.warmup_iters
    progress = min(1.0, (step - config.warmup_iters) / (config.max_iters - config.warmup_iters))
    return config.learning_rate * (1 + math.cos(math.pi * progress)) / 2
""",
            ),
            Mistake(
                "cosine over all of max_iters",
                hint="The decay starts after the warmup: progress = (step - warmup_iters) / (max_iters - warmup_iters).",
                source="""
def learning_rate(step, config):
    if step < config.warmup_iters:
        return config.learning_rate * (step + 1) / config.warmup_iters
    progress = min(1.0, step / config.max_iters)
    return config.min_lr + (config.learning_rate - config.min_lr) * (1 + math.cos(math.pi * progress)) / 2
""",
            ),
            Mistake(
                "rises again after max_iters",
                hint="Cap progress at 1, so that after max_iters the rate stays at min_lr instead of climbing the cosine back up.",
                source="""
def learning_rate(step, config):
    if step < config.warmup_iters:
        return config.learning_rate * (step + 1) / config.warmup_iters
    progress = (step - config.warmup_iters) / (config.max_iters - config.warmup_iters)
    return config.min_lr + (config.learning_rate - config.min_lr) * (1 + math.cos(math.pi * progress)) / 2
""",
            ),
        ),
        alternatives=(
            Alternative(
                "cosine squared, written with numpy",
                """
import numpy as np

def learning_rate(step, config):
    warm, top, low = config.warmup_iters, config.learning_rate, config.min_lr
    if step < warm:
        return float(np.interp(step + 1, [0, warm], [0.0, top]))
    progress = np.clip((step - warm) / (config.max_iters - warm), 0.0, 1.0)
    return float(low + (top - low) * np.cos(np.pi * progress / 2) ** 2)
""",
            ),
        ),
    ),
    "train-gpt": Task(
        functions=("train_gpt",),
        promise="config.max_iters steps in training mode (schedule, get_batch, zero_grad, backward, clip to grad_clip, step); the list of batch losses as floats",
        mistakes=(
            Mistake(
                "never takes an optimizer step",
                hint="Call optimizer.step() after backward (and clipping): without it the model never learns.",
                source="""
def train_gpt(model, optimizer, train_data, config, generator, schedule):
    model.train()
    losses = []
    for step in range(config.max_iters):
        for group in optimizer.param_groups:
            group["lr"] = schedule(step, config)
        x, y = get_batch(train_data, config.batch_size, model.config.block_size, generator)
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        losses.append(loss.item())
    return losses
""",
            ),
            Mistake(
                "clears the gradients before the step",
                hint="Clear the old gradients before backward, not between backward and step: the step must use the gradient you just computed.",
                source="""
def train_gpt(model, optimizer, train_data, config, generator, schedule):
    model.train()
    losses = []
    for step in range(config.max_iters):
        for group in optimizer.param_groups:
            group["lr"] = schedule(step, config)
        x, y = get_batch(train_data, config.batch_size, model.config.block_size, generator)
        _, loss = model(x, y)
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.zero_grad()
        optimizer.step()
        losses.append(loss.item())
    return losses
""",
            ),
            Mistake(
                "ignores the schedule",
                hint="At every step set the rate of every parameter group to schedule(step, config).",
                source="""
def train_gpt(model, optimizer, train_data, config, generator, schedule):
    model.train()
    losses = []
    for step in range(config.max_iters):
        x, y = get_batch(train_data, config.batch_size, model.config.block_size, generator)
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses.append(loss.item())
    return losses
""",
            ),
            Mistake(
                "sets the rate of the first group only",
                hint="Set group['lr'] for every group in optimizer.param_groups: minigpt's AdamW has two (with and without weight decay).",
                source="""
def train_gpt(model, optimizer, train_data, config, generator, schedule):
    model.train()
    losses = []
    for step in range(config.max_iters):
        optimizer.param_groups[0]["lr"] = schedule(step, config)
        x, y = get_batch(train_data, config.batch_size, model.config.block_size, generator)
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses.append(loss.item())
    return losses
""",
            ),
            Mistake(
                "ignores the generator",
                hint="Draw every batch with the generator you were given (get_batch(..., generator, device)), so the same seed gives the same batches.",
                source="""
def train_gpt(model, optimizer, train_data, config, generator, schedule):
    model.train()
    losses = []
    for step in range(config.max_iters):
        for group in optimizer.param_groups:
            group["lr"] = schedule(step, config)
        x, y = get_batch(train_data, config.batch_size, model.config.block_size)
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses.append(loss.item())
    return losses
""",
            ),
            Mistake(
                "targets not shifted",
                hint="The targets are the inputs shifted by one token: get_batch returns both, (x, y).",
                source="""
def train_gpt(model, optimizer, train_data, config, generator, schedule):
    model.train()
    losses = []
    T = model.config.block_size
    for step in range(config.max_iters):
        for group in optimizer.param_groups:
            group["lr"] = schedule(step, config)
        starts = torch.randint(len(train_data) - T, (config.batch_size,), generator=generator)
        x = torch.stack([train_data[s : s + T] for s in starts.tolist()])
        _, loss = model(x, x)
        optimizer.zero_grad()
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses.append(loss.item())
    return losses
""",
            ),
            Mistake(
                "returns tensors",
                hint="Append loss.item(), a Python float, not the loss tensor.",
                source="""
def train_gpt(model, optimizer, train_data, config, generator, schedule):
    model.train()
    losses = []
    for step in range(config.max_iters):
        for group in optimizer.param_groups:
            group["lr"] = schedule(step, config)
        x, y = get_batch(train_data, config.batch_size, model.config.block_size, generator)
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses.append(loss.detach())
    return losses
""",
            ),
            Mistake(
                "calls minigpt's train",
                hint="Write the loop yourself; minigpt's train is the loop you are rebuilding.",
                source="""
from minigpt.train import train

def train_gpt(model, optimizer, train_data, config, generator, schedule):
    history = train(model, train_data, train_data[-5000:], config, progress=False)
    return history.batch_loss
""",
            ),
            Mistake(
                "never clears the gradients",
                hint="PyTorch adds each new gradient to .grad: call optimizer.zero_grad() before loss.backward() at every step, or the gradients of all earlier batches pile up.",
                source="""
def train_gpt(model, optimizer, train_data, config, generator, schedule):
    model.train()
    device = next(model.parameters()).device
    losses = []
    for step in range(config.max_iters):
        for group in optimizer.param_groups:
            group["lr"] = schedule(step, config)
        x, y = get_batch(train_data, config.batch_size, model.config.block_size, generator, device)
        _, loss = model(x, y)
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses.append(loss.item())
    return losses
""",
            ),
            Mistake(
                "never clips the gradients",
                hint="Clip the gradient norm to config.grad_clip between backward and step: torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip), unless grad_clip is 0.",
                source="""
def train_gpt(model, optimizer, train_data, config, generator, schedule):
    model.train()
    device = next(model.parameters()).device
    losses = []
    for step in range(config.max_iters):
        for group in optimizer.param_groups:
            group["lr"] = schedule(step, config)
        x, y = get_batch(train_data, config.batch_size, model.config.block_size, generator, device)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses
""",
            ),
            Mistake(
                "never puts the model in training mode",
                hint="Call model.train() before the loop: a model handed over in evaluation mode would train with dropout off.",
                source="""
def train_gpt(model, optimizer, train_data, config, generator, schedule):
    device = next(model.parameters()).device
    losses = []
    for step in range(config.max_iters):
        for group in optimizer.param_groups:
            group["lr"] = schedule(step, config)
        x, y = get_batch(train_data, config.batch_size, model.config.block_size, generator, device)
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        losses.append(loss.item())
    return losses
""",
            ),
        ),
        alternatives=(
            Alternative(
                "own batches, manual clipping and gradient reset, with progress prints",
                """
from minigpt.train import estimate_loss

def train_gpt(model, optimizer, train_data, config, generator, schedule):
    model.train()
    device = next(model.parameters()).device
    T = model.config.block_size
    history = []
    for step in range(config.max_iters):
        rate = schedule(step, config)
        for group in optimizer.param_groups:
            group.update(lr=rate)
        starts = torch.randint(0, len(train_data) - T, (config.batch_size,), generator=generator)
        window = torch.stack([train_data[s : s + T + 1] for s in starts.tolist()]).to(device)
        logits, loss = model(window[:, :-1], window[:, 1:])
        for p in model.parameters():
            p.grad = None
        loss.backward()
        if config.grad_clip:
            norm = torch.sqrt(sum((p.grad ** 2).sum() for p in model.parameters() if p.grad is not None))
            scale = min(1.0, config.grad_clip / (float(norm) + 1e-6))
            for p in model.parameters():
                if p.grad is not None:
                    p.grad.mul_(scale)
        optimizer.step()
        history.append(float(loss))
        if step == config.max_iters - 1:
            print("val", estimate_loss(model, {"val": train_data[-2000:]}, T, 4, 2)["val"])
    return history
""",
            ),
        ),
    ),
}
