"""Known mistakes of exercise 07-training, with the hints that name them."""

from minigpt.mistakes import Alternative, Known, Mistake

TASKS = {
    "inputs-and-targets": Known(
        mistakes=(
            Mistake(
                "unshifted targets",
                hint="The targets are the inputs shifted by one token: y[..., t] is the token after x[..., t], so y is the window without its first token.",
                source="""
def inputs_and_targets(chunk):
    return chunk[..., :-1], chunk[..., :-1]
""",
            ),
            Mistake(
                "shifted the wrong way",
                hint="x is the first T tokens (chunk[..., :-1]) and y the last T (chunk[..., 1:]), not the other way round.",
                source="""
def inputs_and_targets(chunk):
    return chunk[..., 1:], chunk[..., :-1]
""",
            ),
            Mistake(
                "slices the first axis, not the last",
                hint="chunk[:-1] slices the first axis, which for a batch is the windows. Slice the last axis: chunk[..., :-1] and chunk[..., 1:].",
                source="""
def inputs_and_targets(chunk):
    return chunk[:-1], chunk[1:]
""",
            ),
            Mistake(
                "targets two steps ahead",
                hint="The target is the very next token, one step ahead: chunk[..., 1:], with x = chunk[..., :-1], both of length T.",
                source="""
def inputs_and_targets(chunk):
    return chunk[..., :-2], chunk[..., 2:]
""",
            ),
        ),
        alternatives=(
            Alternative(
                "narrow on the last axis",
                """
def inputs_and_targets(chunk):
    n = chunk.size(-1) - 1
    return chunk.narrow(-1, 0, n), chunk.narrow(-1, 1, n).clone()
""",
            ),
        ),
    ),
    "get-batch": Known(
        mistakes=(
            Mistake(
                "ignores the generator",
                hint="Pass generator=generator to torch.randint; without it the same seed gives other batches.",
                source="""
def get_batch(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size, (batch_size,))
    x = torch.stack([data[s:s + block_size] for s in starts])
    y = torch.stack([data[s + 1:s + block_size + 1] for s in starts])
    return x, y
""",
            ),
            Mistake(
                "unshifted targets",
                hint="The targets are the inputs shifted by one token: y[..., t] is the token after x[..., t], so y is the window without its first token.",
                source="""
def get_batch(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[s:s + block_size] for s in starts])
    return x, x.clone()
""",
            ),
            Mistake(
                "last start never drawn",
                hint="The upper bound of torch.randint is len(data) - block_size (it is never returned itself), so the last possible start, len(data) - block_size - 1, can be drawn.",
                source="""
def get_batch(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size - 1, (batch_size,), generator=generator)
    x = torch.stack([data[s:s + block_size] for s in starts])
    y = torch.stack([data[s + 1:s + block_size + 1] for s in starts])
    return x, y
""",
            ),
            Mistake(
                "windows run past the end",
                hint="A window needs block_size + 1 tokens: draw the starts below len(data) - block_size, or windows near the end run past the data.",
                source="""
def get_batch(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size + 1, (batch_size,), generator=generator)
    x = torch.stack([data[s:s + block_size] for s in starts])
    y = torch.stack([data[s + 1:s + block_size + 1] for s in starts])
    return x, y
""",
            ),
            Mistake(
                "one random start per batch",
                hint="Draw one start per row, batch_size of them in one call: torch.randint(len(data) - block_size, (batch_size,), generator=generator).",
                source="""
def get_batch(data, batch_size, block_size, generator):
    start = int(torch.randint(len(data) - block_size, (1,), generator=generator))
    window = data[start:start + block_size + 1]
    return window[:-1].repeat(batch_size, 1), window[1:].repeat(batch_size, 1)
""",
            ),
        ),
        alternatives=(
            Alternative(
                "python loop and stack",
                """
def get_batch(data, batch_size, block_size, generator):
    starts = torch.randint(len(data) - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[s:s + block_size] for s in starts.tolist()])
    y = torch.stack([data[s + 1:s + block_size + 1] for s in starts.tolist()])
    return x, y
""",
            ),
            Alternative(
                "unfold into all windows",
                """
def get_batch(data, batch_size, block_size, generator):
    starts = torch.randint(0, len(data) - block_size, (batch_size,), generator=generator)
    windows = data.unfold(0, block_size + 1, 1)[starts]
    return windows[:, :-1], windows[:, 1:]
""",
            ),
        ),
    ),
    "next-token-loss": Known(
        mistakes=(
            Mistake(
                "transposes B and T",
                hint="Flatten logits (B, T, V) to (B * T, V) and targets (B, T) to (B * T,) in the same order; transposing one of them pairs logits with the wrong targets.",
                source="""
def next_token_loss(logits, targets):
    B, T, V = logits.shape
    return F.cross_entropy(logits.transpose(0, 1).reshape(B * T, V), targets.reshape(B * T))
""",
            ),
            Mistake(
                "flattens logits to (B, T*V)",
                hint="cross_entropy wants one row of V scores per position: reshape the logits to (B * T, V), not (B, T * V).",
                source="""
def next_token_loss(logits, targets):
    B, T, V = logits.shape
    return F.cross_entropy(logits.reshape(B, T * V), targets[:, 0])
""",
            ),
            Mistake(
                "logits passed as (B, T, V) unchanged",
                hint="F.cross_entropy reads a 3-D input as (N, V, T), with the classes on axis 1. Reshape the logits to (B * T, V) and the targets to (B * T,).",
                source="""
def next_token_loss(logits, targets):
    return F.cross_entropy(logits, targets)
""",
            ),
            Mistake(
                "sums over positions",
                hint="Take the mean over the B * T positions (cross_entropy's default), not the sum.",
                source="""
def next_token_loss(logits, targets):
    B, T, V = logits.shape
    return F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T), reduction="sum")
""",
            ),
            Mistake(
                "returns a float",
                hint="Return the loss as a scalar tensor: training calls .backward() on it, which a float does not have.",
                source="""
def next_token_loss(logits, targets):
    B, T, V = logits.shape
    return F.cross_entropy(logits.reshape(B * T, V), targets.reshape(B * T)).item()
""",
            ),
            Mistake(
                "softmax before cross_entropy",
                hint="F.cross_entropy takes the logits and applies log-softmax itself; a softmax before it computes something else.",
                source="""
def next_token_loss(logits, targets):
    B, T, V = logits.shape
    return F.cross_entropy(torch.softmax(logits, -1).reshape(B * T, V), targets.reshape(B * T))
""",
            ),
            Mistake(
                "reshapes with .view",
                hint=".view needs the tensor's memory to be contiguous, and targets sliced from windows (chunk[:, 1:]) are not. Use .reshape, which copies when it has to.",
                source="""
def next_token_loss(logits, targets):
    B, T, V = logits.shape
    return F.cross_entropy(logits.view(B * T, V), targets.view(B * T))
""",
            ),
        ),
        alternatives=(
            Alternative(
                "classes on axis 1",
                """
def next_token_loss(logits, targets):
    return F.cross_entropy(logits.transpose(1, 2), targets)
""",
            ),
            Alternative(
                "log_softmax and gather",
                """
def next_token_loss(logits, targets):
    log_probs = torch.log_softmax(logits, dim=-1)
    return -log_probs.gather(-1, targets.unsqueeze(-1)).mean()
""",
            ),
            Alternative(
                "flatten and reshape with -1",
                """
def next_token_loss(logits, targets):
    return F.cross_entropy(logits.flatten(0, 1), targets.reshape(-1))
""",
            ),
        ),
    ),
    "train-step": Known(
        mistakes=(
            Mistake(
                "forgets zero_grad",
                hint="PyTorch adds each new gradient to .grad: call optimizer.zero_grad() before loss.backward(), or the old batches' gradients mix into this step.",
                source="""
def train_step(model, optimizer, x, y):
    logits, _ = model(x)
    loss = next_token_loss(logits, y)
    loss.backward()
    optimizer.step()
    return loss.item()
""",
            ),
            Mistake(
                "zero_grad between backward and step",
                hint="optimizer.zero_grad() after backward throws away the gradient you just computed: clear before backward, then backward, then step.",
                source="""
def train_step(model, optimizer, x, y):
    logits, _ = model(x)
    loss = next_token_loss(logits, y)
    loss.backward()
    optimizer.zero_grad()
    optimizer.step()
    return loss.item()
""",
            ),
            Mistake(
                "never steps",
                hint="Call optimizer.step() after loss.backward(): without it the weights never change.",
                source="""
def train_step(model, optimizer, x, y):
    logits, _ = model(x)
    loss = next_token_loss(logits, y)
    optimizer.zero_grad()
    loss.backward()
    return loss.item()
""",
            ),
            Mistake(
                "returns the loss after the update",
                hint="Return the loss computed before the update, the one you backpropagated.",
                source="""
def train_step(model, optimizer, x, y):
    logits, _ = model(x)
    loss = next_token_loss(logits, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        return next_token_loss(model(x)[0], y).item()
""",
            ),
            Mistake(
                "returns a tensor",
                hint="Return a Python float: loss.item().",
                source="""
def train_step(model, optimizer, x, y):
    logits, _ = model(x)
    loss = next_token_loss(logits, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.detach()
""",
            ),
            Mistake(
                "clears the gradients after the step",
                hint="The task clears the old gradients before the backward pass, so that .grad holds this step's gradients afterwards. Call optimizer.zero_grad() before loss.backward(), not after optimizer.step().",
                source="""
def train_step(model, optimizer, x, y):
    logits, _ = model(x)
    loss = next_token_loss(logits, y)
    loss.backward()
    optimizer.step()
    optimizer.zero_grad()
    return loss.item()
""",
            ),
        ),
        alternatives=(
            Alternative(
                "the model's own loss and set_to_none=False",
                """
def train_step(model, optimizer, x, y):
    optimizer.zero_grad(set_to_none=False)
    _, loss = model(x, y)
    loss.backward()
    optimizer.step()
    return float(loss)
""",
            ),
            Alternative(
                "clears the weights' gradients by hand",
                """
def train_step(model, optimizer, x, y):
    for p in model.parameters():
        p.grad = None
    logits, _ = model(x)
    loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
    loss.backward()
    optimizer.step()
    return loss.item()
""",
            ),
        ),
    ),
    "estimate-loss": Known(
        mistakes=(
            Mistake(
                "forgets eval()",
                hint="Call model.eval() first: in training mode dropout switches off random parts of the network and the estimate is noisy.",
                source="""
def estimate_loss(model, data, block_size, batch_size, num_batches, generator):
    total = 0.0
    with torch.no_grad():
        for _ in range(num_batches):
            x, y = get_batch(data, batch_size, block_size, generator)
            total += next_token_loss(model(x)[0], y).item()
    return total / num_batches
""",
            ),
            Mistake(
                "forgets no_grad()",
                hint="Compute the losses inside with torch.no_grad(): an estimate needs no gradients, and building the graph costs memory and time.",
                source="""
def estimate_loss(model, data, block_size, batch_size, num_batches, generator):
    was_training = model.training
    model.eval()
    total = 0.0
    for _ in range(num_batches):
        x, y = get_batch(data, batch_size, block_size, generator)
        total += next_token_loss(model(x)[0], y).item()
    model.train(was_training)
    return total / num_batches
""",
            ),
            Mistake(
                "leaves the model in eval mode",
                hint="Put the model back in the mode it was in: remember model.training at the start and call model.train(was_training) at the end.",
                source="""
def estimate_loss(model, data, block_size, batch_size, num_batches, generator):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for _ in range(num_batches):
            x, y = get_batch(data, batch_size, block_size, generator)
            total += next_token_loss(model(x)[0], y).item()
    return total / num_batches
""",
            ),
            Mistake(
                "always switches to train mode at the end",
                hint="A model that came in evaluation mode must leave in evaluation mode: restore the mode it had (model.train(was_training)), not always training mode.",
                source="""
def estimate_loss(model, data, block_size, batch_size, num_batches, generator):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for _ in range(num_batches):
            x, y = get_batch(data, batch_size, block_size, generator)
            total += next_token_loss(model(x)[0], y).item()
    model.train()
    return total / num_batches
""",
            ),
            Mistake(
                "one batch reused",
                hint="Draw a new batch for every one of the num_batches losses, one after the other with the same generator.",
                source="""
def estimate_loss(model, data, block_size, batch_size, num_batches, generator):
    was_training = model.training
    model.eval()
    x, y = get_batch(data, batch_size, block_size, generator)
    with torch.no_grad():
        loss = next_token_loss(model(x)[0], y).item()
    model.train(was_training)
    return loss
""",
            ),
            Mistake(
                "returns a tensor",
                hint="Return a Python float: loss.item().",
                source="""
def estimate_loss(model, data, block_size, batch_size, num_batches, generator):
    was_training = model.training
    model.eval()
    with torch.no_grad():
        losses = [model(*get_batch(data, batch_size, block_size, generator))[1]
                  for _ in range(num_batches)]
    model.train(was_training)
    return torch.stack(losses).mean()
""",
            ),
        ),
        alternatives=(
            Alternative(
                "inference_mode and the model's own loss",
                """
def estimate_loss(model, data, block_size, batch_size, num_batches, generator):
    mode = model.training
    model.eval()
    with torch.inference_mode():
        losses = torch.stack([model(*get_batch(data, batch_size, block_size, generator))[1]
                              for _ in range(num_batches)])
    model.train(mode)
    return losses.mean().item()
""",
            ),
            Alternative(
                "try/finally and a running total",
                """
def estimate_loss(model, data, block_size, batch_size, num_batches, generator):
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            total = 0.0
            for _ in range(num_batches):
                x, y = get_batch(data, batch_size, block_size, generator)
                total += float(F.cross_entropy(model(x)[0].flatten(0, 1), y.flatten()))
    finally:
        model.train(was_training)
    return total / num_batches
""",
            ),
        ),
    ),
}
