"""Plain data: what crosses between a student's code and the checks that judge it.

When a notebook is graded, the student's functions run in a sandbox and the checks that decide
the score run outside it. Nothing but plain values crosses: numbers, strings, lists, dicts and
tensors as raw bytes with their dtype and shape, written as JSON. No pickle, no objects with
methods: whatever the student's code returns, the judge only ever holds data it built itself.
In Colab the same round trip happens in one process, so a student sees the same verdict.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import json
import math
from typing import Any

import numpy as np
import torch

# The only classes a decoder rebuilds from their fields (inputs the checks send to a sandbox).
DATACLASSES = ("minigpt.model:GPTConfig",)
MAX_DEPTH = 64
MAX_ITEMS = 2_000_000
DTYPES = {
    str(dtype).removeprefix("torch."): dtype
    for dtype in (
        torch.float64,
        torch.float32,
        torch.float16,
        torch.bfloat16,
        torch.int64,
        torch.int32,
        torch.int16,
        torch.int8,
        torch.uint8,
        torch.bool,
    )
}


class PlainDataError(ValueError):
    """A message that is not plain data of the expected form."""


@dataclasses.dataclass(frozen=True)
class Opaque:
    """Something that is not plain data, known only by its type name (and a short text)."""

    type_name: str
    text: str = ""


def _tensor(value: torch.Tensor) -> dict:
    name = str(value.dtype).removeprefix("torch.")
    if name not in DTYPES:
        return {"__opaque__": f"tensor of dtype {name}", "text": ""}
    meta = {"dtype": name, "shape": list(value.shape), "grad": bool(value.requires_grad)}
    if value.is_meta:
        return {"__tensor__": {**meta, "device": "meta"}}
    data = value.detach().to("cpu").contiguous()
    raw = data.reshape(-1).view(torch.uint8).numpy().tobytes() if data.numel() else b""
    return {"__tensor__": {**meta, "data": base64.b64encode(raw).decode("ascii")}}


def to_plain(value: Any, depth: int = 0) -> Any:
    """`value` as JSON-ready plain data (tensors, containers, numbers, strings...)."""
    if depth > MAX_DEPTH:
        return {"__opaque__": "data nested too deeply", "text": ""}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, torch.Tensor):
        return _tensor(value)
    if isinstance(value, np.ndarray):
        try:
            return {"__ndarray__": _tensor(torch.from_numpy(np.ascontiguousarray(value)))}
        except TypeError:
            return {"__opaque__": f"numpy array of dtype {value.dtype}", "text": ""}
    if isinstance(value, (torch.dtype, torch.device)):
        return {"__" + type(value).__name__ + "__": str(value)}
    if isinstance(value, torch.Size):
        return {"__tuple__": [int(n) for n in value]}
    if isinstance(value, tuple):
        return {"__tuple__": [to_plain(item, depth + 1) for item in value]}
    if isinstance(value, list):
        return [to_plain(item, depth + 1) for item in value]
    if isinstance(value, dict):
        return {
            "__dict__": [[to_plain(k, depth + 1), to_plain(v, depth + 1)] for k, v in value.items()]
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        name = f"{type(value).__module__}:{type(value).__qualname__}"
        fields = {
            f.name: to_plain(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)
        }
        return {"__dataclass__": name, "fields": fields}
    if isinstance(value, Opaque):
        return {"__opaque__": value.type_name, "text": value.text}
    return {"__opaque__": type(value).__name__, "text": ""}


class _Decoder:
    def __init__(self) -> None:
        self.items = 0

    def __call__(self, data: Any, depth: int = 0) -> Any:
        self.items += 1
        if depth > MAX_DEPTH or self.items > MAX_ITEMS:
            raise PlainDataError("data nested too deeply or too many items")
        if data is None or isinstance(data, (bool, int, float, str)):
            return data
        if isinstance(data, list):
            return [self(item, depth + 1) for item in data]
        if not isinstance(data, dict) or len(data) not in (1, 2):
            raise PlainDataError(f"unexpected {type(data).__name__} in plain data")
        (key, body), *rest = data.items()
        if key == "__tensor__":
            return _decode_tensor(body)
        if key == "__ndarray__":
            return _decode_tensor(body["__tensor__"]).numpy()
        if key == "__float__":
            return float(body) if body in ("nan", "inf", "-inf") else _bad(body)
        if key == "__dtype__":
            return DTYPES.get(body.removeprefix("torch.")) or _bad(body)
        if key == "__device__":
            return torch.device(body)
        if key == "__tuple__":
            return tuple(self(item, depth + 1) for item in body)
        if key == "__dict__":
            return {_hashable(self(k, depth + 1)): self(v, depth + 1) for k, v in body}
        if key == "__opaque__":
            return Opaque(str(body), str(rest[0][1])[:200] if rest else "")
        if key == "__dataclass__" and body in DATACLASSES and rest:
            module, _, name = body.partition(":")
            cls = getattr(importlib.import_module(module), name)
            return cls(**{k: self(v, depth + 1) for k, v in rest[0][1].items()})
        raise PlainDataError(f"unknown plain data marker {key!r}")


def _bad(text: object):
    raise PlainDataError(f"not plain data: {str(text)[:40]!r}")


def _hashable(key: Any) -> Any:
    if isinstance(key, list):
        return tuple(_hashable(k) for k in key)
    try:
        hash(key)
    except TypeError:
        raise PlainDataError("a dict key that cannot be a key") from None
    return key


def _decode_tensor(body: dict) -> torch.Tensor:
    dtype = DTYPES.get(body.get("dtype"))
    shape = body.get("shape")
    if (
        dtype is None
        or not isinstance(shape, list)
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    ):
        raise PlainDataError("a tensor without a valid dtype and shape")
    if body.get("device") == "meta":
        tensor = torch.empty(shape, dtype=dtype, device="meta")
    else:
        raw = base64.b64decode(body.get("data", ""), validate=True)
        count = math.prod(shape)
        if len(raw) != count * torch.empty((), dtype=dtype).element_size():
            raise PlainDataError("a tensor whose bytes do not match its shape")
        tensor = (
            torch.frombuffer(bytearray(raw), dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        )
        tensor = tensor.reshape(shape)
    if body.get("grad") and tensor.is_floating_point():
        tensor.requires_grad_(True)
    return tensor


def from_plain(data: Any) -> Any:
    """Rebuild the values `to_plain` wrote; raises PlainDataError on anything else."""
    return _Decoder()(data)


def dumps(value: Any) -> str:
    """One line of JSON: plain data, with no NaN literals and no newlines."""
    return json.dumps(to_plain(value), allow_nan=False, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise PlainDataError(f"not JSON: {err}") from None
    return from_plain(data)
