"""Exercise 03-embeddings: how each answer is run and judged (the cases are in the notebook).

Every task is a plain call compared with minigpt's reference in `minigpt.embeddings`. Task 1
also has a written rule, read from the answer cell: the embedding is computed as the one-hot
product, not looked up (`table[ids]`, `F.embedding`, `index_select`...), which is the point of
the task and which its results alone cannot show.
"""

from __future__ import annotations

import ast

from minigpt.probes.spec import Rule, TaskSpec

LOOKUPS = {
    "embedding",
    "Embedding",
    "from_pretrained",
    "index_select",
    "gather",
    "take",
    "take_along_dim",
}
PRODUCTS = {"matmul", "mm", "bmm", "einsum", "tensordot", "linear"}
SIZES = {"shape", "size", "dtype", "device", "ndim", "dim"}  # reading these is no lookup


def _name(node: ast.AST) -> str:
    """The name a call or an attribute ends with: `F.embedding` -> 'embedding'."""
    return getattr(node, "id", getattr(node, "attr", ""))


def _root(node: ast.AST) -> tuple[str | None, set[str]]:
    """The variable an expression such as `table.double()` or `table.T` starts from, and the
    attributes it goes through on the way."""
    through = set()
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            through.add(node.attr)
            node = node.value
        elif isinstance(node, ast.Name):
            return node.id, through
        else:
            return None, through


def _table_names(tree: ast.Module, function: str) -> set[str]:
    """The table argument of `function` and the names the cell gives it (t = table.double())."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == function and len(node.args.args) > 1:
            names.add(node.args.args[1].arg)
    grew = True
    while grew:
        grew = False
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                root, through = _root(node.value)
                if root in names and not through & SIZES:
                    for target in node.targets:
                        if isinstance(target, ast.Name) and target.id not in names:
                            names.add(target.id)
                            grew = True
    return names


def looks_up_the_table(tree: ast.Module, functions: tuple[str, ...]) -> bool:
    """True when the cell indexes the table (table[ids], table.double()[ids]...), calls a
    ready-made lookup (F.embedding, nn.Embedding, index_select, gather, take), or has no
    product at all (@, matmul, mm, einsum, tensordot, or a product summed by hand). A cell that
    still raises NotImplementedError needs no product yet: running it says it is not written."""
    tables = _table_names(tree, functions[0])
    product = summed = multiplied = unwritten = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            root, through = _root(node.value)
            if root in tables and not through & SIZES:
                return True
        elif isinstance(node, ast.Call):
            name = _name(node.func)
            if name in LOOKUPS:
                return True
            product |= name in PRODUCTS
            summed |= name == "sum"
        elif isinstance(node, ast.Raise) and node.exc is not None:
            unwritten |= _name(getattr(node.exc, "func", node.exc)) == "NotImplementedError"
        elif isinstance(node, ast.BinOp):
            product |= isinstance(node.op, ast.MatMult)
            multiplied |= isinstance(node.op, ast.Mult)
    return not (product or (multiplied and summed) or unwritten)


ONE_HOT_PRODUCT = Rule(
    "indexes the table instead of the one-hot product: this task computes the embedding as "
    "one_hot(ids) @ table (F.one_hot with num_classes=V, in the table's dtype, times the table), "
    "to see that a lookup is a matrix product. Indexing the table (table[ids]) or calling "
    "F.embedding, nn.Embedding, index_select, gather or take gives the same numbers without the "
    "product, so it does not count here",
    looks_up_the_table,
)

TASKS = {
    "embed-with-one-hot": TaskSpec(
        functions=("embed_with_one_hot",),
        reference={"embed_with_one_hot": "minigpt.embeddings:one_hot_embed"},
        promise="one_hot(ids, V) in the table's dtype, times the (V, C) table: shape "
        "ids.shape + (C,)",
        rules=(ONE_HOT_PRODUCT,),
    ),
    "add-positions": TaskSpec(
        functions=("add_positions",),
        reference={"add_positions": "minigpt.embeddings:embed_tokens_and_positions"},
        promise="x of shape (B, T, C) with x[b, t] = tok_table[idx[b, t]] + pos_table[t]; a "
        "ValueError with the numbers for a bad idx",
        allowed=("minigpt.checks", "minigpt.shapes"),
    ),
    "cosine-similarity": TaskSpec(
        functions=("cosine_similarity",),
        reference={"cosine_similarity": "minigpt.embeddings:cosine_similarity"},
        promise="the cosine along the last dimension: a broadcast shape without the last axis",
    ),
    "nearest-neighbours": TaskSpec(
        functions=("nearest_neighbours",),
        reference={"nearest_neighbours": "minigpt.embeddings:nearest_neighbours"},
        promise="a list of the k most similar row ids (Python ints), best first, none from exclude",
        pieces=("cosine_similarity",),
    ),
    "analogy": TaskSpec(
        functions=("analogy",),
        reference={"analogy": "minigpt.embeddings:analogy"},
        promise="the id (a Python int) of the row nearest to table[b] - table[a] + table[c], "
        "leaving out a, b and c",
        pieces=("cosine_similarity", "nearest_neighbours"),
    ),
}
