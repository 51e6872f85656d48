"""Checks for exercise test cells: on failure they say what was expected and what came back.

A bare `assert` tells a student only that something is wrong. These name the case that failed,
the expected and received shapes, and where and by how much the values differ. Tolerances are
loose enough for GPU arithmetic and tight enough to catch a real mistake.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import numpy as np
import torch


class ExerciseCheckFailed(AssertionError):
    """An answer did not match the reference; the message explains how."""


class WithheldReference(RuntimeError):
    """Raised by minigpt's own answer to a task while that task is graded (see grading)."""

    def __init__(self, name: str):
        super().__init__(
            f"uses minigpt's own {name.rsplit('.', 1)[-1]} ({name}), which is switched off while "
            "notebooks are graded: write this part yourself"
        )


def _as_tensor(value) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    return torch.as_tensor(value)


def expect_type(value, kind: type | tuple[type, ...], what: str) -> None:
    if not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise ExerciseCheckFailed(f"{what}: expected a {names}, got {type(value).__name__}")


def expect_shape(value, shape: Sequence[int], what: str) -> None:
    # A tensor's shape is read where it lives: a meta tensor has no data to copy.
    got = tuple(value.shape if isinstance(value, torch.Tensor) else _as_tensor(value).shape)
    if got != tuple(shape):
        raise ExerciseCheckFailed(f"{what}: expected shape {tuple(shape)}, got {got}")


def expect_close(value, expected, what: str, atol: float = 1e-4, rtol: float = 1e-4) -> None:
    """Same shape and values within tolerance; otherwise say where they differ most."""
    got, want = _as_tensor(value), _as_tensor(expected)
    expect_shape(got, want.shape, what)
    got, want = got.double(), want.double()
    if torch.equal(torch.isinf(got), torch.isinf(want)) and torch.allclose(
        got, want, atol=atol, rtol=rtol, equal_nan=True
    ):
        return
    difference = (got - want).abs().nan_to_num(nan=float("inf"), posinf=float("inf"))
    difference[got == want] = 0.0  # -inf against -inf is no difference at all
    worst = int(difference.flatten().argmax())
    index = tuple(int(i) for i in np.unravel_index(worst, tuple(got.shape)))
    raise ExerciseCheckFailed(
        f"{what}: values differ from the reference. Largest difference at index {index}: "
        f"expected {want.flatten()[worst].item():.6g}, got {got.flatten()[worst].item():.6g}"
    )


def expect_equal(value, expected, what: str) -> None:
    if isinstance(expected, torch.Tensor) or isinstance(value, torch.Tensor):
        got, want = _as_tensor(value), _as_tensor(expected)
        expect_shape(got, want.shape, what)
        if not torch.equal(got.to(want.dtype), want):
            mismatch = (got.to(want.dtype) != want).nonzero()[0].tolist()
            raise ExerciseCheckFailed(
                f"{what}: differs from the reference first at index {mismatch}"
            )
        return
    if value != expected:
        raise ExerciseCheckFailed(f"{what}: expected {expected!r}, got {value!r}")


def _names_used(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):  # nested functions, lambdas, comprehensions
            names |= _names_used(const)
    return names


# The names a `swapped` block replaced, per namespace (by id): their students' originals.
_ORIGINALS: dict[int, dict[str, object]] = {}


@contextmanager
def swapped(namespace: dict, replacements: Mapping[str, object]) -> Iterator[None]:
    """Put other objects under some names of a notebook's namespace for the length of a block.

    A test uses it to judge a task alone: a function that calls the student's earlier answers
    runs on minigpt's reference versions of them instead. The names come back on exit, whatever
    happened inside.
    """
    saved = {name: namespace[name] for name in replacements if name in namespace}
    originals = _ORIGINALS.setdefault(id(namespace), {})
    outer = dict(originals)
    for name, value in replacements.items():
        originals.setdefault(name, namespace.get(name))
        namespace[name] = value
    try:
        yield
    finally:
        for name in replacements:
            if name in saved:
                namespace[name] = saved[name]
            else:
                namespace.pop(name, None)
        originals.clear()
        originals.update(outer)
        if not originals:
            del _ORIGINALS[id(namespace)]


def _student_version(namespace: dict, name: str):
    """What `name` means in the student's notebook, looking through any `swapped` block."""
    originals = _ORIGINALS.get(id(namespace), {})
    return originals[name] if name in originals else namespace.get(name)


def _functions_of(answer) -> list:
    """The functions an answer consists of: itself, or every method a class defines."""
    answer = inspect.unwrap(answer)
    if isinstance(answer, type):
        members = (inspect.unwrap(getattr(m, "__func__", m)) for m in vars(answer).values())
        return [m for m in members if isinstance(m, types.FunctionType)]
    return [answer]


def expect_own_work(func, what: str, allowed: Sequence[str] = ("minigpt.checks",)) -> None:
    """Fail if `func` calls minigpt's reference code instead of doing the work itself.

    `func` may be a function or a class (then every method it defines is checked). Modules listed
    in `allowed` (for example earlier chapters' building blocks) may be used.
    """
    for function in _functions_of(func):
        namespace = function.__globals__
        cells = (c.cell_contents for c in function.__closure__ or ())
        free = dict(zip(function.__code__.co_freevars, cells, strict=True))
        defaults = {
            f"default value {i + 1}": value for i, value in enumerate(function.__defaults__ or ())
        }
        defaults.update({f"default of {k}": v for k, v in (function.__kwdefaults__ or {}).items()})
        seen = {**free, **defaults}
        for name in sorted(_names_used(function.__code__) | set(seen)):
            used = seen[name] if name in seen else _student_version(namespace, name)
            module = getattr(used, "__module__", None) or getattr(used, "__name__", "")
            if isinstance(used, types.ModuleType):
                module = used.__name__
            if module.startswith("minigpt") and not module.startswith(tuple(allowed)):
                raise ExerciseCheckFailed(
                    f"{what} uses {name} from {module}: write this one yourself, the point of "
                    f"the exercise is to build it (the reference is only for checking)"
                )


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise ExerciseCheckFailed(message)
