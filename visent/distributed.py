"""Multi-process runs under ``torchrun``: gloo on CPU, NCCL on GPU, one process per device.

``torchrun --nproc_per_node=N -m visent extract ...`` shards extraction by rank;
``torchrun --nproc_per_node=N -m visent train ...`` trains with DistributedDataParallel, each rank
taking an equal slice of every global batch, so the averaged gradient is the single-process one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_from_env(device: str = "auto") -> Context:
    """Join the process group that torchrun describes in the environment (a no-op without it).

    ``device`` is the run's device setting: "auto" picks NCCL when CUDA is present, else gloo."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Context()
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
        if cuda:
            torch.cuda.set_device(local)
        dist.init_process_group("nccl" if cuda else "gloo")
    return Context(rank, world, local)


def current() -> Context:
    """The context of an initialised process group, or the single-process one."""
    if dist.is_available() and dist.is_initialized():
        return Context(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))
    return Context()


def barrier() -> None:
    if current().enabled:
        dist.barrier()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def resolve_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; under torchrun each process takes its local GPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device='cuda' was asked for but torch sees no CUDA device; use --device cpu or auto")
        return torch.device("cuda", current().local_rank)
    return torch.device(name)
