"""Checks for exercise test cells: on failure they say what was expected and what came back.

A bare `assert` tells a student only that something is wrong. These name the case that failed,
the expected and received shapes, and where and by how much the values differ. Tolerances are
loose enough for GPU arithmetic and tight enough to catch a real mistake.
"""

from __future__ import annotations

import types
from collections.abc import Sequence

import numpy as np
import torch


class ExerciseCheckFailed(AssertionError):
    """An answer did not match the reference; the message explains how."""


def _as_tensor(value) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    return torch.as_tensor(value)


def expect_type(value, kind: type | tuple[type, ...], what: str) -> None:
    if not isinstance(value, kind):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise ExerciseCheckFailed(f"{what}: expected a {names}, got {type(value).__name__}")


def expect_shape(value, shape: Sequence[int], what: str) -> None:
    got = tuple(_as_tensor(value).shape)
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


def expect_own_work(func, what: str, allowed: Sequence[str] = ("minigpt.checks",)) -> None:
    """Fail if `func` calls minigpt's reference code instead of doing the work itself.

    Modules listed in `allowed` (for example earlier chapters' building blocks) may be used.
    """
    visible = dict(func.__globals__)
    cells = func.__closure__ or ()
    visible.update(zip(func.__code__.co_freevars, (c.cell_contents for c in cells), strict=True))
    for name in sorted(_names_used(func.__code__) | set(func.__code__.co_freevars)):
        used = visible.get(name)
        module = getattr(used, "__module__", None) or getattr(used, "__name__", "")
        if isinstance(used, types.ModuleType):
            module = used.__name__
        if module.startswith("minigpt") and not module.startswith(tuple(allowed)):
            raise ExerciseCheckFailed(
                f"{what} uses {name} from {module}: write this one yourself, the point of the "
                f"exercise is to build it (the reference is only for checking)"
            )


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise ExerciseCheckFailed(message)
