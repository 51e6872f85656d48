"""Signs that a notebook changed what its tests see, found where student code cannot reach.

Three sources, all read by the grader outside the sandbox, after the student's processes are gone:
- the submitted code itself, read as Python (after IPython's own rewriting of magics and `!`
  lines): imports and calls that have no place in an exercise answer;
- the guard's reports from inside the kernel (see `guard`), sent while the code ran;
- the guard's heartbeats: every test cell that ran must have run with its own text, else an
  input transformer or a silenced guard stood in between.
An answers-only notebook (`answers_only`), graded in a fresh sandbox, is the comparison.
"""

from __future__ import annotations

import ast
import copy

from nbformat import NotebookNode

from minigpt.grading.guard import cell_hash

SUSPECT_IMPORTS = {
    "subprocess",
    "multiprocessing",
    "threading",
    "_thread",
    "ctypes",
    "socket",
    "importlib",
    "gc",
    "builtins",
    "IPython",
    "pty",
    "signal",
    "shutil",
    "glob",
    "nbformat",
    "nbgrader",
}
SUSPECT_CALLS = {
    "exec",
    "eval",
    "compile",
    "__import__",
    "get_ipython",
    "setattr",
    "delattr",
    "globals",
}
# Attributes suspect on these modules only (a list's .remove is fine, os.remove is not).
SUSPECT_MODULE_ATTRIBUTES = {
    "os": {
        "system",
        "popen",
        "fork",
        "forkpty",
        "kill",
        "killpg",
        "spawnl",
        "spawnv",
        "execv",
        "execl",
        "execve",
        "execvp",
        "dup2",
        "closerange",
        "listdir",
        "scandir",
        "walk",
        "remove",
        "unlink",
        "rmdir",
        "chdir",
    },
    "sys": {"modules", "settrace", "setprofile", "addaudithook", "meta_path"},
}
# Attributes suspect on anything: IPython's machinery and Python's introspection.
SUSPECT_ATTRIBUTES = {
    "input_transformers_post",
    "input_transformer_manager",
    "ast_transformers",
    "__builtins__",
    "__subclasses__",
    "__globals__",
    "__code__",
    "__closure__",
}
PATCHABLE_ROOTS = {"torch", "np", "numpy", "F", "nn", "minigpt", "math", "random", "sys", "os"}


def _grading(cell: NotebookNode) -> dict:
    return cell.get("metadata", {}).get("nbgrader") or {}


def _as_python(source: str) -> str:
    """The cell as IPython runs it: magics and `!` lines become get_ipython() calls."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _imported_modules(tree: ast.AST) -> dict[str, str]:
    """Local name -> module, for every `import x [as y]` in the code."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = alias.name
    return names


def _code_findings(source: str) -> list[str]:
    try:
        tree = ast.parse(_as_python(source))
    except SyntaxError:
        return []  # it fails when it runs, which the tests report
    imported = _imported_modules(tree)
    modules = PATCHABLE_ROOTS | set(imported)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names.append(getattr(node, "module", None) or "")
            for name in names:
                if name.split(".")[0] in SUSPECT_IMPORTS:
                    found.append(f"imports {name}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in SUSPECT_CALLS:
                found.append(f"calls {node.func.id}()")
            if node.func.id == "open" and node.args:
                path = getattr(node.args[0], "value", None)
                if isinstance(path, str) and (path.startswith("/") or ".." in path):
                    found.append(f"opens {path}")
        elif isinstance(node, ast.Attribute):
            base = node.value.id if isinstance(node.value, ast.Name) else ""
            module = imported.get(base, base)
            if node.attr in SUSPECT_ATTRIBUTES or node.attr in SUSPECT_MODULE_ATTRIBUTES.get(
                module, ()
            ):
                found.append(f"uses {module + '.' if module else '.'}{node.attr}")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
            targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
            for target in targets:
                root = target
                while isinstance(root, ast.Attribute | ast.Subscript):
                    root = root.value
                if root is not target and isinstance(root, ast.Name) and root.id in modules:
                    found.append(f"assigns to {ast.unparse(target)}")
    return list(dict.fromkeys(found))


def _student_code(notebook: NotebookNode, released: NotebookNode) -> list[tuple[str, str]]:
    """(label, source) of every code cell the student wrote or changed that will run.

    Locked cells are left out (nbgrader runs their released text, whatever was submitted), and
    so are copies of an answer."""
    given = {cell_hash(c.source) for c in released.cells if not _grading(c).get("solution")}
    answers = {cell_hash(c.source) for c in notebook.cells if _grading(c).get("solution")}
    cells = []
    for index, cell in enumerate(notebook.cells):
        meta, digest = _grading(cell), cell_hash(cell.source)
        if (
            cell.cell_type != "code"
            or digest in given
            or (meta.get("locked") and not meta.get("solution"))
            or (digest in answers and not meta.get("solution"))
        ):
            continue
        grade_id = meta.get("grade_id")
        cells.append((f"answer {grade_id}" if grade_id else f"cell {index + 1}", cell.source))
    return cells


def static_findings(notebook: NotebookNode, released: NotebookNode) -> list[str]:
    """What the student's own code cells do that an exercise answer has no need for."""
    return [
        f"{label} {finding}"
        for label, source in _student_code(notebook, released)
        for finding in _code_findings(source)
    ]


def trusted_hashes(released: NotebookNode, source: NotebookNode) -> dict[str, str]:
    """Fingerprints of the cells the course wrote: cell id -> hash (tests with hidden parts)."""
    answers = {c.get("id") for c in released.cells if _grading(c).get("solution")}
    hashes = {c.get("id", ""): cell_hash(c.source) for c in released.cells if c.cell_type == "code"}
    for cell in source.cells:
        if cell.cell_type == "code" and _grading(cell).get("grade"):
            hashes[cell.get("id", "")] = cell_hash(cell.source)
    return {cell_id: digest for cell_id, digest in hashes.items() if cell_id not in answers}


def guard_findings(
    lines: list[str], finished: list[str], trusted: dict[str, str], tests: set[str]
) -> list[str]:
    """The guard's reports about student code, and test cells that did not run as written."""
    course_code = set(trusted.values())
    heard, found = set(), []
    for line in lines:
        kind, *fields = line.split("\t")
        if kind == "cell" and fields:
            heard.add(fields[0])
        elif kind == "tampering" and len(fields) >= 2 and fields[0] not in course_code:
            where = f" in: {fields[2]}" if len(fields) > 2 and fields[2] else ""
            found.append(f"{fields[1]}{where}")
    ran = [cell_id for cell_id in finished if cell_id in tests]
    if ran and not heard:
        found.append("the grading guard heard nothing from the kernel (silenced?)")
    elif heard:
        for cell_id in ran:
            if trusted.get(cell_id) not in heard:
                found.append(f"test cell {cell_id} did not run as written (input rewritten?)")
    return list(dict.fromkeys(found))


def has_extra_code(notebook: NotebookNode, released: NotebookNode) -> bool:
    """Whether the notebook runs code beyond the course's cells and the student's answers."""
    return any(
        not label.startswith("answer ") for label, _source in _student_code(notebook, released)
    )


def answers_only(notebook: NotebookNode, released: NotebookNode) -> NotebookNode:
    """The released notebook with the student's answers in place, and nothing else of theirs."""
    answers = {c.get("id"): c for c in notebook.cells if _grading(c).get("solution")}
    clean = copy.deepcopy(released)
    clean.cells = [
        copy.deepcopy(answers.get(cell.get("id"), cell)) if _grading(cell).get("solution") else cell
        for cell in clean.cells
    ]
    return clean
