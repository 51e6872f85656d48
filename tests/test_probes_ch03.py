"""Exercise 3's written rule: the embedding is the one-hot product, never a lookup of the table."""

from __future__ import annotations

import pytest

from minigpt.probes.ch03_embeddings import TASKS
from minigpt.probes.rules import answer_problem

SPEC = TASKS["embed-with-one-hot"]
HEAD = "def embed_with_one_hot(ids, table):\n"

PRODUCTS = {
    "the solution": """
    one_hot = F.one_hot(ids, num_classes=table.shape[0]).to(table.dtype)
    return one_hot @ table""",
    "rows of an identity matrix": """
    return torch.eye(table.size(0), dtype=table.dtype)[ids] @ table""",
    "einsum": """
    V, C = table.shape
    return torch.einsum('...v,vc->...c', F.one_hot(ids, V).to(table.dtype), table)""",
    "scatter and matmul": """
    hot = torch.zeros(*ids.shape, len(table), dtype=table.dtype)
    hot.scatter_(-1, ids.unsqueeze(-1), 1.0)
    return torch.matmul(hot, table)""",
    "multiply and sum": """
    hot = F.one_hot(ids, table.shape[0]).to(table.dtype)
    return (hot[..., None] * table).sum(-2)""",
    "the blank answer (the probe says it is not written)": """
    # YOUR CODE HERE
    raise NotImplementedError()""",
    "names for the table's size and dtype": """
    n, kind = table.shape[0], table.dtype
    size = table.shape
    return F.one_hot(ids, size[0]).to(kind) @ table""",
}

LOOKUPS = {
    "table[ids]": """
    return table[ids]""",
    "an alias indexed": """
    t = table.double()
    _ = F.one_hot(ids, 3) @ t
    return t[ids]""",
    "F.embedding": """
    return F.embedding(ids, table)""",
    "nn.Embedding": """
    return nn.Embedding.from_pretrained(table)(ids)""",
    "index_select": """
    return table.index_select(0, ids.flatten()).view(*ids.shape, -1)""",
    "a loop of lookups": """
    return torch.stack([table[i] for i in ids])""",
    "a product thrown away": """
    _ = F.one_hot(ids, len(table)).float() @ table
    return table[ids]""",
    "no product at all": """
    return F.one_hot(ids, len(table)).float().sum()""",
    "a lookup left above the stub": """
    return table[ids]
    raise NotImplementedError()""",
}


@pytest.mark.parametrize("name", PRODUCTS)
def test_one_hot_products_keep_the_rule(name):
    assert answer_problem(SPEC, HEAD + PRODUCTS[name].lstrip("\n")) is None


@pytest.mark.parametrize("name", LOOKUPS)
def test_lookups_break_the_rule(name):
    problem = answer_problem(SPEC, HEAD + LOOKUPS[name].lstrip("\n"))
    assert problem and "indexes the table instead of the one-hot product" in problem
