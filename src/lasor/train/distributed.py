"""Single-process or data-parallel (DDP) training on CPUs or GPUs.

Run one process as usual, or N processes on one or several machines with ``torchrun``::

    torchrun --standalone --nproc_per_node=2 -m lasor train --config configs/train_default.yaml
    torchrun --nnodes=2 --node_rank=0 --rdzv_endpoint=HOST:29500 --nproc_per_node=4 -m lasor ...

``torchrun`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; ``init_distributed`` reads them,
joins the process group (``gloo`` on CPU, ``nccl`` on CUDA) and picks the device. Each rank draws
different batches (its rank is part of every batch's seed), gradients are averaged by DDP, and
only rank 0 logs, validates and writes checkpoints.
"""

from __future__ import annotations

import inspect
import logging
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

logger = logging.getLogger(__name__)

__all__ = [
    "DistInfo",
    "all_gather_objects",
    "any_flag",
    "barrier",
    "broadcast_object",
    "init_distributed",
    "set_num_threads",
    "shutdown",
    "wrap_ddp",
]


@dataclass
class DistInfo:
    """Where this process stands.

    Attributes:
        rank: global rank (0 for a single process).
        world_size: number of processes.
        local_rank: rank on this machine (selects the GPU).
        local_world_size: processes on this machine (shares the CPU cores).
        device: the device this process trains on.
        backend: "gloo", "nccl" or "" when not distributed.
        owns_group: this module created the process group (and destroys it in ``shutdown``).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1
    device: torch.device = torch.device("cpu")
    backend: str = ""
    owns_group: bool = False

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _pick_device(preference: str, local_rank: int) -> torch.device:
    if preference not in ("cpu", "cuda", "auto"):
        raise ValueError(f"run.device must be 'cpu', 'cuda' or 'auto', got {preference!r}")
    if preference == "cpu" or not torch.cuda.is_available():
        if preference == "cuda":
            raise RuntimeError("run.device='cuda' but CUDA is not available")
        return torch.device("cpu")
    return torch.device("cuda", local_rank % torch.cuda.device_count())


def init_distributed(device: str = "cpu") -> DistInfo:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE`` > 1).

    Args:
        device: "cpu", "cuda" or "auto" (CUDA when available).

    Returns:
        ``DistInfo``; a single-process default when ``WORLD_SIZE`` is unset or 1.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", str(world)))
    dev = _pick_device(device, local_rank)
    if world <= 1 and not dist.is_initialized():
        return DistInfo(device=dev)
    backend = "nccl" if dev.type == "cuda" else "gloo"
    owns = False
    if not dist.is_initialized():
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend=backend, init_method="env://")
        owns = True
    else:
        backend = dist.get_backend()
        world, rank = dist.get_world_size(), dist.get_rank()
    logger.info("rank %d/%d (local %d) on %s, backend %s", rank, world, local_rank, dev, backend)
    return DistInfo(rank, world, local_rank, local_world, dev, backend, owns)


def set_num_threads(num_threads: int, info: DistInfo) -> int:
    """Set torch (and numba) intra-op threads; 0 = the machine's cores split between local ranks.

    Returns:
        The number of threads set.
    """
    n = num_threads or max(1, (os.cpu_count() or 1) // max(1, info.local_world_size))
    torch.set_num_threads(n)
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except ImportError:  # pragma: no cover - numba is a dependency
        pass
    return n


def wrap_ddp(module: nn.Module, info: DistInfo, broadcast_buffers: bool = False) -> nn.Module:
    """Wrap in ``DistributedDataParallel`` when distributed (else return ``module``).

    ``broadcast_buffers`` only matters for BatchNorm running statistics (GroupNorm has none).
    """
    if not info.distributed:
        return module
    device_ids = [info.device.index] if info.device.type == "cuda" else None
    ddp = nn.parallel.DistributedDataParallel
    # torch >= 2.13 renames the per-forward buffer sync (the old name warns)
    key = "broadcast_buffers"
    if "forward_sync_buffers" in inspect.signature(ddp.__init__).parameters:
        key = "forward_sync_buffers"
    return ddp(module, device_ids=device_ids, **{key: broadcast_buffers})


def barrier(info: DistInfo) -> None:
    """Wait for every rank (no-op for one process)."""
    if info.distributed:
        dist.barrier()


def any_flag(flags: list[bool], info: DistInfo) -> list[bool]:
    """Element-wise OR of boolean flags over ranks, so every rank takes the same decision."""
    if not info.distributed:
        return list(flags)
    t = torch.tensor([int(f) for f in flags], dtype=torch.int32)
    if info.backend == "nccl":
        t = t.to(info.device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return [bool(v) for v in t.tolist()]


def all_gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """``[obj of rank 0, obj of rank 1, ...]`` on every rank (``[obj]`` for one process)."""
    if not info.distributed:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: Any, info: DistInfo) -> Any:
    """Rank 0's ``obj`` on every rank (e.g. a checkpoint read where only rank 0 can see it)."""
    if not info.distributed:
        return obj
    box = [obj if info.is_main else None]
    dist.broadcast_object_list(box, src=0, device=info.device if info.backend == "nccl" else None)
    return box[0]


def shutdown(info: DistInfo) -> None:
    """Leave the process group if this module created it."""
    if info.owns_group and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
