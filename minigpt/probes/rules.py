"""Rules about how an answer is written, read from the answer cell's text.

The same text is read in Colab (the cell the student's function came from) and when grading (the
submitted answer cell, outside the sandbox), so both say the same thing. Two kinds of rule: the
answer does its own work (it does not import minigpt's version of what it should write), and each
task's own written rules (say, "no ready-made softmax").
"""

from __future__ import annotations

import ast
import re

from minigpt.probes.spec import TaskSpec

IMPORTERS = {"__import__", "import_module"}
MODULE_NAME = re.compile(r"minigpt(\.[A-Za-z_][\w.]*)?$")


def parse_answer(source: str) -> ast.Module | None:
    """The cell as Python (magics and `!` lines as IPython rewrites them); None if it is not.
    A cell magic such as `%%time` or `%%capture` runs the rest of the cell as code: that code is
    what the rules read (IPython would turn it into one string)."""
    lines = source.lstrip("\n").splitlines()
    while lines and lines[0].lstrip().startswith("%%"):
        lines = lines[1:]
    source = "\n".join(lines)
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        source = TransformerManager().transform_cell(source)
    except ImportError:  # plain Python without IPython: read the text as it is
        pass
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        return None


def minigpt_modules(tree: ast.Module) -> list[str]:
    """Every minigpt module the code imports or names (`import minigpt.bigram`, `from minigpt
    import bigram`, `minigpt.bigram.count_bigrams`, a string such as `"minigpt." + "bigram"`),
    and any import of a module whose name is only known when the answer runs."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("minigpt")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("minigpt"):
            found += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Attribute):
            chain = []
            while isinstance(node, ast.Attribute):
                chain.append(node.attr)
                node = node.value
            if isinstance(node, ast.Name) and node.id == "minigpt":
                found.append(".".join(["minigpt", *reversed(chain)]))
        elif isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            if name in IMPORTERS and node.args and _text(node.args[0]) is None:
                found.append("a module whose name the answer puts together as it runs")
        text = _text(node)
        if text is not None and MODULE_NAME.match(text):
            found.append(text)  # "minigpt.probes.ch05...", sys.modules["minigpt.x"], ...
    return list(dict.fromkeys(found))


def _text(node: ast.AST) -> str | None:
    """The string an expression spells out without running anything: a literal, literals
    joined with +, or an f-string of literals; None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left), _text(node.right)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.JoinedStr):
        parts = [_text(value) for value in node.values]
        return None if None in parts else "".join(parts)
    return None


def answer_problem(spec: TaskSpec, source: str) -> str | None:
    """Why this answer cell breaks a rule of its task, or None."""
    tree = parse_answer(source)
    if tree is None:
        return None  # it fails when it runs, and that error is the message
    name = spec.functions[0]
    for module in minigpt_modules(tree):
        if not module.startswith(tuple(spec.allowed)):
            return (
                f"{name} uses {module}: write this one yourself, the point of the exercise is to "
                "build it (minigpt's version is only for checking)"
            )
    for rule in spec.rules:
        if rule.broken(tree, spec.functions):
            return f"{name}: {rule.message}"
    return None
