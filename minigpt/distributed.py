"""Training on several processes (GPUs or machines) with PyTorch's DistributedDataParallel.

`torchrun` starts one process per GPU and tells each its place through environment variables
(RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT). Every process holds a full copy of
the model and runs its share of each batch; during backward, DDP averages the gradients of all
processes, so every copy takes the same optimizer step and the copies stay identical.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel


@dataclass(frozen=True)
class Ranks:
    """Where this process stands: rank 0 of 1 when training alone."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0  # the process's number on its own machine: which GPU it drives

    @property
    def is_main(self) -> bool:
        """Rank 0 alone logs, evaluates and saves, so the others never write the same file."""
        return self.rank == 0


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def start(device: torch.device) -> tuple[Ranks, torch.device]:
    """Join the group of processes torchrun started; returns this rank and its device.

    NCCL connects GPUs; gloo is the CPU backend (the test suite uses it). Each process of a
    machine drives the GPU numbered by its local rank.
    """
    ranks = Ranks(
        rank=int(os.environ["RANK"]),
        world_size=int(os.environ["WORLD_SIZE"]),
        local_rank=int(os.environ.get("LOCAL_RANK", 0)),
    )
    if device.type == "cuda":
        device = torch.device("cuda", ranks.local_rank)
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return ranks, device


def finish() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def current() -> Ranks:
    """This process's rank, whether or not a process group was started."""
    if not (dist.is_available() and dist.is_initialized()):
        return Ranks()
    return Ranks(
        dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", dist.get_rank()))
    )


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """The model wrapped in DistributedDataParallel when several processes train, else itself."""
    if current().world_size == 1:
        return model
    return DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None
    )


def average(values: torch.Tensor) -> torch.Tensor:
    """The element-wise mean of `values` over all processes (the tensor itself when alone)."""
    if current().world_size == 1:
        return values
    values = values.clone()
    dist.all_reduce(values, op=dist.ReduceOp.SUM)
    return values / current().world_size


def gather(value: object) -> list:
    """`value` from every process, in rank order (picklable objects; [value] when alone)."""
    if current().world_size == 1:
        return [value]
    out: list = [None] * current().world_size
    dist.all_gather_object(out, value)
    return out
