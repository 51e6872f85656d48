"""Known mistakes of exercise 03-embeddings, with the hints that name them."""

from minigpt.mistakes import Alternative, Known, Mistake

TASKS = {
    "embed-with-one-hot": Known(
        mistakes=(
            Mistake(
                "one-hot sized by the largest id, not by V",
                hint="F.one_hot(ids) without num_classes makes vectors as long as the largest id + 1, which is shorter than V when the last tokens do not occur. Pass num_classes=table.shape[0].",
                source="""
def embed_with_one_hot(ids, table):
    return F.one_hot(ids).float() @ table
""",
            ),
            Mistake(
                "integer one-hot times a float table",
                hint="F.one_hot returns integers, and PyTorch does not multiply an integer matrix by a float one. Convert the one-hot vectors to the table's dtype first: .to(table.dtype).",
                source="""
def embed_with_one_hot(ids, table):
    return F.one_hot(ids, table.shape[0]) @ table
""",
            ),
            Mistake(
                "result transposed (C, ...) instead of (..., C)",
                hint="The result keeps the shape of ids and adds C at the end: (..., V) @ (V, C) gives (..., C) already, no transpose needed.",
                source="""
def embed_with_one_hot(ids, table):
    one_hot = F.one_hot(ids, table.shape[0]).float()
    return (one_hot @ table).transpose(0, -1)
""",
            ),
            Mistake(
                "one-hot always float32, not the table's dtype",
                hint="Convert the one-hot vectors to the table's dtype (.to(table.dtype)), not always to float32: a float64 table then gives a float64 result.",
                source="""
def embed_with_one_hot(ids, table):
    return F.one_hot(ids, num_classes=table.shape[0]).float() @ table
""",
            ),
            Mistake(
                "casts the table to float32",
                hint="Keep the table's dtype: convert the one-hot vectors to table.dtype rather than the table to float32, so that a float64 table gives a float64 result.",
                source="""
def embed_with_one_hot(ids, table):
    return F.one_hot(ids, num_classes=table.shape[0]).float() @ table.float()
""",
            ),
            Mistake(
                "indexes the table instead of the one-hot product",
                hint="table[ids] gives the same numbers, but this task is about why: an embedding is the product of one-hot vectors with the table. Build F.one_hot(ids, num_classes=V) in the table's dtype and multiply it by the table (@); do not index the table or call F.embedding, index_select, gather or take.",
                source="""
def embed_with_one_hot(ids, table):
    return table[ids]
""",
            ),
        ),
        alternatives=(
            Alternative(
                "rows of the identity matrix as one-hot vectors",
                """
def embed_with_one_hot(ids, table):
    one_hot = torch.eye(table.shape[0], dtype=table.dtype)[ids]
    return one_hot @ table
""",
            ),
            Alternative(
                "one-hot vectors times the table, summed over the vocabulary by hand",
                """
def embed_with_one_hot(ids, table):
    one_hot = F.one_hot(ids, num_classes=table.size(0)).to(table.dtype)
    return (one_hot.unsqueeze(-1) * table).sum(dim=-2)
""",
            ),
            Alternative(
                "einsum over the vocabulary",
                """
def embed_with_one_hot(ids, table):
    one_hot = F.one_hot(ids.long(), num_classes=len(table)).double()
    return torch.einsum("...v,vc->...c", one_hot, table.double()).to(table.dtype)
""",
            ),
        ),
    ),
    "add-positions": Known(
        mistakes=(
            Mistake(
                "positions indexed by token id (pos_table[idx])",
                hint="The position table is indexed by the position t = 0, 1, ..., T - 1 (torch.arange(T)), not by the token id.",
                source="""
def add_positions(idx, tok_table, pos_table):
    if idx.dim() != 2:
        raise ValueError(f"idx: expected shape (B, T), got {tuple(idx.shape)}")
    if idx.shape[1] > pos_table.shape[0]:
        raise ValueError(f"expected at most {pos_table.shape[0]} positions, got {idx.shape[1]}")
    return tok_table[idx] + pos_table[idx]
""",
            ),
            Mistake(
                "no length check (IndexError from arange)",
                hint="When T is larger than block_size there is no position vector for the extra tokens: check it first and raise a ValueError saying both numbers.",
                source="""
def add_positions(idx, tok_table, pos_table):
    if idx.dim() != 2:
        raise ValueError(f"idx: expected shape (B, T), got {tuple(idx.shape)}")
    return tok_table[idx] + pos_table[torch.arange(idx.shape[1])]
""",
            ),
            Mistake(
                "no checks at all, slicing the position table",
                hint="Check the input before using it: raise a ValueError when idx is not 2-D, and when T is larger than block_size, with the numbers in the message.",
                source="""
def add_positions(idx, tok_table, pos_table):
    return tok_table[idx] + pos_table[: idx.shape[-1]]
""",
            ),
            Mistake(
                "a message without the numbers",
                hint="The ValueError must say what was expected and what arrived, with the numbers (for example block_size=5 and T=7), so that the reader can act on it.",
                source="""
def add_positions(idx, tok_table, pos_table):
    if idx.dim() != 2:
        raise ValueError("idx has the wrong shape")
    if idx.shape[1] > pos_table.shape[0]:
        raise ValueError("the sequence is too long")
    return tok_table[idx] + pos_table[: idx.shape[1]]
""",
            ),
            Mistake(
                "off by one, refuses T equal to block_size",
                hint="T equal to block_size is allowed: there are block_size position vectors, for t = 0 to block_size - 1. Refuse only T > block_size.",
                source="""
def add_positions(idx, tok_table, pos_table):
    if idx.dim() != 2:
        raise ValueError(f"idx: expected shape (B, T), got {tuple(idx.shape)}")
    if idx.shape[1] >= pos_table.shape[0]:
        raise ValueError(f"expected fewer than {pos_table.shape[0]} positions, got {idx.shape[1]}")
    return tok_table[idx] + pos_table[: idx.shape[1]]
""",
            ),
            Mistake(
                "positions along the batch axis",
                hint="The positions run along the T axis (dimension 1), the same for every sequence of the batch: pos_table[:T], broadcast over B.",
                source="""
def add_positions(idx, tok_table, pos_table):
    if idx.dim() != 2:
        raise ValueError(f"idx: expected shape (B, T), got {tuple(idx.shape)}")
    if idx.shape[1] > pos_table.shape[0]:
        raise ValueError(f"expected at most {pos_table.shape[0]} positions, got {idx.shape[1]}")
    return tok_table[idx] + pos_table[torch.arange(idx.shape[0])][:, None, :]
""",
            ),
        ),
        alternatives=(
            Alternative(
                "F.embedding, slicing and ShapeError with assert-style checks",
                """
def add_positions(idx, tok_table, pos_table):
    if idx.ndim != 2:
        raise ShapeError(f"idx must be (B, T), but it has shape {list(idx.shape)}")
    B, T = idx.shape
    if T > len(pos_table):
        raise ShapeError(f"context too long: {T} tokens, the position table has {len(pos_table)} rows")
    return F.embedding(idx, tok_table) + pos_table[:T].unsqueeze(0)
""",
            ),
            Alternative(
                "one-hot products and expand",
                """
def add_positions(idx, tok_table, pos_table):
    if len(idx.shape) != 2:
        raise ValueError("expected idx of shape (B, T), got shape " + str(tuple(idx.shape)))
    B, T = idx.shape
    if T > pos_table.shape[0]:
        raise ValueError("T=" + str(T) + " is more than block_size=" + str(pos_table.shape[0]))
    tokens = F.one_hot(idx, tok_table.shape[0]).to(tok_table.dtype) @ tok_table
    positions = torch.arange(T).expand(B, T)
    return tokens + pos_table[positions]
""",
            ),
        ),
    ),
    "cosine-similarity": Known(
        mistakes=(
            Mistake(
                "dot product without normalizing",
                hint="The dot product alone grows with the lengths of the vectors. Divide it by the product of the two lengths.",
                source="""
def cosine_similarity(a, b):
    return (a * b).sum(dim=-1)
""",
            ),
            Mistake(
                "normalizes only the first vector",
                hint="Divide by the lengths of both vectors: a.norm(dim=-1) * b.norm(dim=-1).",
                source="""
def cosine_similarity(a, b):
    return (a * b).sum(dim=-1) / a.norm(dim=-1)
""",
            ),
            Mistake(
                "norm of the whole tensor, not of each vector",
                hint="a.norm() is one number for the whole tensor. Each vector needs its own length, along the last axis: a.norm(dim=-1).",
                source="""
def cosine_similarity(a, b):
    return (a * b).sum(dim=-1) / (a.norm() * b.norm())
""",
            ),
            Mistake(
                "divides by squared lengths",
                hint="Divide by the lengths, not by the squared lengths: the norm is the square root of the sum of squares.",
                source="""
def cosine_similarity(a, b):
    return (a * b).sum(dim=-1) / ((a * a).sum(dim=-1) * (b * b).sum(dim=-1))
""",
            ),
            Mistake(
                "sums over the first axis",
                hint="The vectors lie along the last dimension: sum and take the lengths with dim=-1, not dim=0.",
                source="""
def cosine_similarity(a, b):
    return (a * b).sum(dim=0) / (a.norm(dim=0) * b.norm(dim=0))
""",
            ),
        ),
        alternatives=(
            Alternative(
                "F.normalize first",
                """
def cosine_similarity(a, b):
    return (F.normalize(a, dim=-1) * F.normalize(b, dim=-1)).sum(dim=-1)
""",
            ),
            Alternative(
                "PyTorch's own",
                """
def cosine_similarity(a, b):
    return F.cosine_similarity(a, b, dim=-1)
""",
            ),
            Alternative(
                "vector_norm and keepdim",
                """
def cosine_similarity(a, b):
    a = a / torch.linalg.vector_norm(a, dim=-1, keepdim=True)
    b = b / torch.linalg.vector_norm(b, dim=-1, keepdim=True)
    return torch.sum(a * b, dim=-1)
""",
            ),
        ),
    ),
    "nearest-neighbours": Known(
        mistakes=(
            Mistake(
                "ranks by dot product",
                hint="Rank by cosine similarity, not by the dot product: a long row would win by its length alone.",
                source="""
def nearest_neighbours(query, table, k, exclude=()):
    scores = table @ query
    scores[list(exclude)] = float("-inf")
    return scores.topk(k).indices.tolist()
""",
            ),
            Mistake(
                "least similar first",
                hint="Best first: take the rows with the highest cosine (torch.topk, or argsort with descending=True).",
                source="""
def nearest_neighbours(query, table, k, exclude=()):
    scores = cosine_similarity(query, table)
    scores[list(exclude)] = float("inf")
    return scores.argsort()[:k].tolist()
""",
            ),
            Mistake(
                "ignores exclude",
                hint="Rows whose id is in exclude must never be returned: set their scores to -inf before ranking, or skip them.",
                source="""
def nearest_neighbours(query, table, k, exclude=()):
    return cosine_similarity(query, table).topk(k).indices.tolist()
""",
            ),
            Mistake(
                "a list of tensors, not of ints",
                hint="list(tensor) gives a list of one-element tensors. Return Python ints: .tolist() turns a tensor of ids into a list of them.",
                source="""
def nearest_neighbours(query, table, k, exclude=()):
    scores = cosine_similarity(query, table)
    scores[list(exclude)] = float("-inf")
    return list(scores.topk(k).indices)
""",
            ),
            Mistake(
                "returns a tensor",
                hint="Return a list of Python ints: .tolist() turns a tensor of ids into one.",
                source="""
def nearest_neighbours(query, table, k, exclude=()):
    scores = cosine_similarity(query, table)
    scores[list(exclude)] = float("-inf")
    return scores.topk(k).indices
""",
            ),
        ),
        alternatives=(
            Alternative(
                "python sort over candidates",
                """
def nearest_neighbours(query, table, k, exclude=()):
    q = query / query.norm()
    scored = []
    for i in range(len(table)):
        if i not in exclude:
            scored.append((float(table[i] @ q / table[i].norm()), i))
    scored.sort(reverse=True)
    return [i for _, i in scored[:k]]
""",
            ),
            Alternative(
                "argsort, then filter",
                """
def nearest_neighbours(query, table, k, exclude=()):
    order = torch.argsort(F.cosine_similarity(query[None], table, dim=-1), descending=True)
    return [int(i) for i in order if int(i) not in set(exclude)][:k]
""",
            ),
        ),
    ),
    "analogy": Known(
        mistakes=(
            Mistake(
                "forgets to leave out a, b and c",
                hint="The target vector is often closest to one of the given words: leave out a, b and c (exclude=[a, b, c]).",
                source="""
def analogy(table, a, b, c):
    target = table[b] - table[a] + table[c]
    return nearest_neighbours(target, table, 1)[0]
""",
            ),
            Mistake(
                "subtracts the wrong word (a - b + c)",
                hint="a is to b as c is to ?: the target is table[b] - table[a] + table[c] (king - man + woman), not table[a] - table[b] + table[c].",
                source="""
def analogy(table, a, b, c):
    target = table[a] - table[b] + table[c]
    return nearest_neighbours(target, table, 1, exclude=[a, b, c])[0]
""",
            ),
            Mistake(
                "returns a tensor",
                hint="Return a Python int: int(...) or .item() turns a one-element tensor into one.",
                source="""
def analogy(table, a, b, c):
    target = table[b] - table[a] + table[c]
    scores = F.cosine_similarity(target[None], table, dim=-1)
    scores[[a, b, c]] = -2.0
    return scores.argmax()
""",
            ),
        ),
        alternatives=(
            Alternative(
                "masked argmax with its own cosine",
                """
def analogy(table, a, b, c):
    target = table[b] - table[a] + table[c]
    scores = F.cosine_similarity(target.unsqueeze(0), table, dim=1)
    scores[[a, b, c]] = -2.0
    return int(scores.argmax())
""",
            ),
            Alternative(
                "unit vectors first (the target is not normalized, which cosine ignores)",
                """
def analogy(table, a, b, c):
    unit = table / table.norm(dim=1, keepdim=True)
    target = table[b] - table[a] + table[c]
    scores = unit @ (target / target.norm())
    best = [i for i in scores.argsort(descending=True).tolist() if i not in (a, b, c)]
    return best[0]
""",
            ),
        ),
    ),
}
