"""Exercise 04-self-attention: how each answer is run and judged (the cases are in the notebook).

Every task is a plain call compared with minigpt's reference in `minigpt.attention`. Task 1
also has a written rule, read from the answer cell: the softmax is built with exp and a sum,
not called ready-made.

Withheld while grading, besides the references: minigpt's other one-call versions of an
answer or of its steps (`next_token_distribution` is task 1's softmax with a temperature;
`split_heads` and `merge_heads` are the head split and merge of task 4). `CausalSelfAttention`
stays: its forward always masks the future, so it never returns the unmasked result these
tasks ask for.
"""

from __future__ import annotations

import ast

from minigpt.probes.spec import Rule, TaskSpec


def _names_used(tree: ast.Module) -> list[str]:
    """The names the cell reads from elsewhere: attributes (torch.softmax, x.softmax), imports,
    getattr strings, and plain names other than those the cell defines itself."""
    own = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    own |= {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)
    }
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id not in own:
            names.append(node.id)
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
        elif isinstance(node, ast.alias):
            names += [node.name, node.asname or ""]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "getattr":
            names += [a.value for a in node.args if isinstance(a, ast.Constant)]
    return [name for name in names if isinstance(name, str)]


def uses_ready_made_softmax(tree: ast.Module, functions: tuple[str, ...]) -> bool:
    """True when the cell uses a softmax it did not write itself (torch.softmax, F.softmax,
    Tensor.softmax, nn.Softmax, log_softmax, an import of one...)."""
    return any("softmax" in name.lower() for name in _names_used(tree))


NO_READY_MADE_SOFTMAX = Rule(
    "calls a ready-made softmax (torch.softmax, F.softmax, .softmax(), log_softmax...): write it "
    "with torch.exp and a sum, the point is to see how it works",
    uses_ready_made_softmax,
)

TASKS = {
    "temperature-softmax": TaskSpec(
        functions=("temperature_softmax",),
        reference={"temperature_softmax": "minigpt.attention:softmax_with_temperature"},
        promise="softmax(scores / temperature) over the last axis, same shape, stable for large "
        "scores",
        rules=(NO_READY_MADE_SOFTMAX,),
        withheld=("minigpt.generate:next_token_distribution",),
    ),
    "attention": TaskSpec(
        functions=("attention",),
        reference={"attention": "minigpt.attention:scaled_dot_product_attention"},
        promise="softmax(q k^T / sqrt(d)) v over the keys (the last axis), shape (..., T_q, d_v)",
        pieces=("temperature_softmax",),
    ),
    "one-head": TaskSpec(
        functions=("one_head",),
        reference={"one_head": "minigpt.attention:attention_head"},
        promise="attention(x @ w_q, x @ w_k, x @ w_v), shape (B, T, head_size)",
        pieces=("temperature_softmax", "attention"),
    ),
    "multi-head": TaskSpec(
        functions=("multi_head",),
        reference={"multi_head": "minigpt.attention:multi_head_attention"},
        promise="the heads (columns h * head_size ... of each matrix) side by side, times w_o: "
        "shape (B, T, C)",
        pieces=("temperature_softmax", "attention", "one_head"),
        withheld=("minigpt.attention:split_heads", "minigpt.attention:merge_heads"),
    ),
}
