"""The copy of minigpt a student's sandbox imports: this exercise's reference answers taken out.

The judge compares an answer with minigpt's own implementation of the same task. If that
implementation sat in the sandbox, an answer could call it (by name, an alias, a default argument,
a looked-up string...) and earn points it did not write. So the sandbox gets a copy of the
package in which every reference of the exercise being graded is replaced by a stub that raises
`WithheldReference`, the catalogue of that exercise (which holds correct alternative answers) is
empty, and no compiled `__pycache__` of the originals exists. Whatever route an answer takes to
minigpt's version, it finds nothing to run.
"""

from __future__ import annotations

import ast
import shutil
from collections import defaultdict
from pathlib import Path

import minigpt
from minigpt.mistakes import module_name as catalogue_module
from minigpt.probes import specs

HELPER = """

def _withheld(name):
    from minigpt.checks import WithheldReference

    return WithheldReference(name)
"""


def withheld_names(assignment: str) -> dict[str, set[str]]:
    """module -> the names (or Class.method) in it that the exercise's tasks are judged against."""
    found: dict[str, set[str]] = defaultdict(set)
    for spec in specs(assignment).values():
        for target in [*spec.reference.values(), *spec.withheld]:
            module, _, name = target.partition(":")
            found[module].add(name)
    return dict(found)


def _stub(name: str, qualified: str, template: ast.FunctionDef | None = None) -> ast.FunctionDef:
    """def name(*args, **kwargs): raise _withheld(qualified), keeping a method's decorators."""
    stub = ast.parse(f"def {name}(*args, **kwargs):\n    raise _withheld({qualified!r})\n").body[0]
    if template is not None:
        stub.decorator_list = template.decorator_list
    return stub


def strip(source: str, names: set[str], module: str) -> str:
    """The module's source with `names` (functions, classes, Class.method) replaced by stubs."""
    tree = ast.parse(source)
    body = []
    for node in tree.body:
        name = getattr(node, "name", None)
        qualified = f"{module}.{name}"
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and name in names:
            body.append(_stub(name, qualified))
        elif isinstance(node, ast.ClassDef) and name in names:
            node.body = [_stub("__init__", qualified)]
            node.decorator_list = []
            body.append(node)
        elif isinstance(node, ast.ClassDef):
            methods = {n.split(".", 1)[1] for n in names if n.startswith(f"{name}.")}
            node.body = [
                _stub(item.name, f"{qualified}.{item.name}", item)
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                and item.name in methods
                else item
                for item in node.body
            ]
            body.append(node)
        else:
            body.append(node)
    tree.body = body
    return ast.unparse(ast.fix_missing_locations(tree)) + HELPER


def prepare_package(assignment: str, scratch: Path) -> Path:
    """Write the sandbox's copy of minigpt under scratch/; returns the folder that holds it."""
    source = Path(minigpt.__file__).resolve().parent
    root = scratch / "package"
    target = root / "minigpt"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for module, names in withheld_names(assignment).items():
        path = target.joinpath(*module.split(".")[1:]).with_suffix(".py")
        path.write_text(strip(path.read_text(encoding="utf-8"), names, module), encoding="utf-8")
    catalogue = target.joinpath(*catalogue_module(assignment).split(".")[1:]).with_suffix(".py")
    if catalogue.exists():
        catalogue.write_text(
            '"""Not available while notebooks are graded: the grader names mistakes."""\n\n'
            "TASKS = {}\n",
            encoding="utf-8",
        )
    return root
