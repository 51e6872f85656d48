"""What a training run does to go fast on its hardware, each piece switched on where it helps.

- mixed precision: matrix products in bfloat16 where the hardware runs it natively, float16
  with a gradient scaler on GPUs without bfloat16 (a Colab T4); weights stay float32;
- TF32: float32 matrix products on NVIDIA tensor cores, 10 mantissa bits instead of 23;
- pinned memory: batches copied to the GPU from page-locked memory, without waiting;
- torch.compile (opt-in): the model fused into generated kernels, or a message and eager mode
  where this machine cannot compile.
"""

from __future__ import annotations

import contextlib
import shutil

import torch
import torch.nn as nn

from minigpt.utils import bfloat16_switched_off


def native_bfloat16(device: torch.device) -> bool:
    """Whether this device multiplies bfloat16 in hardware; emulated bfloat16 is slower.

    MINIGPT_NO_BF16=1 answers no, to run (and time) what a CPU without it runs."""
    if bfloat16_switched_off():
        return False
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        probe = getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
        return bool(probe())
    return False


def autocast_dtype(device: torch.device, enabled: bool = True) -> torch.dtype | None:
    """The half-precision type for mixed precision here, or None to stay in float32.

    bfloat16 keeps float32's range, so it needs nothing else. float16 has a narrow range:
    small gradients underflow to zero unless a GradScaler scales the loss up first.
    """
    if not enabled:
        return None
    if native_bfloat16(device):
        return torch.bfloat16
    if device.type == "cuda":
        return torch.float16
    return None


def autocast_for(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """Mixed precision where the hardware has it: matrix products in half precision, while
    weights, optimizer state and the softmax stay in float32."""
    dtype = autocast_dtype(device, enabled)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def grad_scaler(device: torch.device, enabled: bool = True) -> torch.amp.GradScaler:
    """A gradient scaler that is active only under float16 autocast (a no-op otherwise)."""
    needed = autocast_dtype(device, enabled) == torch.float16
    return torch.amp.GradScaler(device.type, enabled=needed)


def allow_tf32(device: torch.device) -> None:
    """Let float32 matrix products and convolutions use TF32 tensor cores (Ampere and later)."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def to_device(batch: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Move a CPU batch to `device`; to a GPU through pinned memory, without blocking."""
    if device.type == "cuda":
        return batch.pin_memory().to(device, non_blocking=True)
    return batch.to(device)


def why_no_compile(device: torch.device) -> str | None:
    """Why torch.compile cannot run here, or None when it should."""
    if not hasattr(torch, "compile"):
        return f"torch {torch.__version__} has no torch.compile (it needs torch 2.0 or later)"
    if device.type == "cuda":
        try:
            import triton  # noqa: F401  (the GPU code generator torch.compile needs)
        except ImportError:
            return "Triton is not installed, and torch.compile needs it on a GPU"
    elif device.type == "cpu":
        if not (shutil.which("g++") or shutil.which("clang++") or shutil.which("c++")):
            return "no C++ compiler (g++ or clang++) is on PATH, and torch.compile needs one"
    else:
        return f"torch.compile is not supported on {device.type} by this course's recipes"
    return None


def compile_model(model: nn.Module, device: torch.device, verbose: bool = True) -> nn.Module:
    """torch.compile(model), or the model as it is, with a message saying why it was not.

    Compiling happens at the first call; `first_call_failed` handles a failure then.
    """
    reason = why_no_compile(device)
    if reason is not None:
        if verbose:
            print(f"--compile: {reason}; training without it (same results, slower).")
        return model
    if verbose:
        print("--compile: compiling the model at its first step (this takes a minute or so)")
    return torch.compile(model)


def first_call_failed(err: Exception, verbose: bool = True) -> None:
    """Say what went wrong when a compiled model failed to build, before falling back."""
    first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if verbose:
        print(f"--compile: compiling failed ({first_line}); training without it (same results).")
