"""Shape checks whose errors say what was expected and what arrived.

A wrong shape is the most common bug in model code, and the hardest to read from a stack trace
deep inside a matrix product. Checking at the door gives a message a student can act on.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


class ShapeError(ValueError):
    """A tensor arrived with the wrong shape."""


def describe(expected: Sequence[int | str | None]) -> str:
    return "(" + ", ".join("*" if d is None else str(d) for d in expected) + ")"


def check_shape(tensor: torch.Tensor, expected: Sequence[int | str | None], name: str) -> None:
    """Raise ShapeError unless `tensor` has shape `expected`.

    Entries may be an int (must match), None (anything), or a letter such as "B" that must take
    the same size everywhere it appears in `expected`.
    """
    got = tuple(tensor.shape)
    ok = len(got) == len(expected)
    letters: dict[str, int] = {}
    for want, have in zip(expected, got, strict=False):
        if not ok:
            break
        if isinstance(want, str):
            ok = letters.setdefault(want, have) == have
        elif want is not None:
            ok = want == have
    if not ok:
        raise ShapeError(f"{name}: expected shape {describe(expected)}, got {describe(got)}")
