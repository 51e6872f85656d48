"""The copy of minigpt a student's sandbox imports: this exercise's reference answers taken out.

The judge compares an answer with minigpt's own implementation of the same task. If that
implementation sat in the sandbox, an answer could call it (by name, an alias, a default argument,
a looked-up string...) and earn points it did not write. So the sandbox gets a copy of the
package in which every reference of the exercise being graded is replaced by a stub that raises
`WithheldReference`, the catalogues (which hold correct alternative answers) are empty, other
exercises' probe modules are left out, and no compiled `__pycache__` of the originals exists.
Whatever route an answer takes to minigpt's version, it finds nothing to run. Beside the copy
stands a `google.colab` stand-in (`colab_stand_in`), so a Colab import in an answer cell runs.
"""

from __future__ import annotations

import ast
import shutil
from collections import defaultdict
from pathlib import Path

import minigpt
from minigpt.probes import module_name as probe_module
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


def _probe_modules(assignment: str, probes: Path) -> set[str]:
    """The probe modules grading `assignment` needs: its own, and those it imports."""
    needed, todo = set(), [probe_module(assignment).rsplit(".", 1)[1]]
    while todo:
        name = todo.pop()
        if name in needed or not (probes / f"{name}.py").exists():
            continue
        needed.add(name)
        tree = ast.parse((probes / f"{name}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "minigpt.probes.ch"
            ):
                todo.append(node.module.rsplit(".", 1)[1])
    return needed


def prepare_package(assignment: str, scratch: Path) -> Path:
    """Write the sandbox's copy of minigpt under scratch/; returns the folder that holds it.

    Besides the stubs: every exercise's catalogue is emptied (their alternatives are correct
    answers, and the capstone re-asks earlier exercises' tasks), and the probe modules of other
    exercises are left out (they are not needed, and hold helpers such as a written-out mask)."""
    source = Path(minigpt.__file__).resolve().parent
    root = scratch / "package"
    target = root / "minigpt"
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for module, names in withheld_names(assignment).items():
        path = target.joinpath(*module.split(".")[1:]).with_suffix(".py")
        path.write_text(strip(path.read_text(encoding="utf-8"), names, module), encoding="utf-8")
    for catalogue in (target / "mistakes").glob("ch*.py"):
        catalogue.write_text(
            '"""Not available while notebooks are graded: the grader names mistakes."""\n\n'
            "TASKS = {}\n",
            encoding="utf-8",
        )
    needed = _probe_modules(assignment, target / "probes")
    for probes in (target / "probes").glob("ch*.py"):
        if probes.stem not in needed:
            probes.unlink()
    colab = root / "google" / "colab"  # `google` stays a namespace package
    colab.mkdir(parents=True)
    shutil.copy(target / "grading" / "colab_stand_in.py", colab / "__init__.py")
    return root
