"""Multi-GPU training with ``torchrun``: process groups, DDP wrapping, sharded data order.

``torchrun --nproc_per_node=N -m openfsgan train ...`` starts N processes with ``RANK``,
``LOCAL_RANK`` and ``WORLD_SIZE`` set; each trains on its own shard of every epoch and DDP
averages the gradients. Only rank 0 writes checkpoints and logs. One process without those
variables is a plain single-device run.

:class:`ShardedSampler` replaces ``DistributedSampler``: the same shuffled shards, plus a
start offset (a resumed run continues mid-epoch exactly where the checkpoint was taken) and a
per-sample seed for the augmentations (independent of worker count and process).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from openfsgan.errors import ConfigError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedContext:
    """This process's place in the run."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_type: str) -> DistributedContext:
    """Join the process group torchrun describes in the environment (or run alone).

    NCCL is used on CUDA, Gloo on CPU. On CUDA each process takes GPU ``LOCAL_RANK``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistributedContext()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device_type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ConfigError(f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} "
                              "GPUs are visible")
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_type == "cuda" else "gloo")
    log.info("distributed training: rank %d of %d", rank, world_size)
    return DistributedContext(rank, local_rank, world_size)


def shutdown_distributed(context: DistributedContext) -> None:
    if context.enabled and dist.is_initialized():
        dist.destroy_process_group()


def wrap_module(module: nn.Module, context: DistributedContext,
                device: torch.device) -> nn.Module:
    """``module`` in DistributedDataParallel when the run is distributed, else itself."""
    if not context.enabled:
        return module
    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids)


def unwrap(module: nn.Module) -> nn.Module:
    """The network inside a DDP wrapper (for calls that must not synchronise gradients)."""
    return module.module if isinstance(module, DistributedDataParallel) else module


def any_rank(flag: bool, context: DistributedContext, device: torch.device) -> bool:
    """True on every rank if ``flag`` is true on any (e.g. one process got SIGTERM)."""
    if not context.enabled:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def mean_over_ranks(values: Mapping[str, float], context: DistributedContext,
                    device: torch.device) -> dict[str, float]:
    """Average logged scalars over the processes (same keys on every rank)."""
    if not context.enabled or not values:
        return dict(values)
    keys = sorted(values)
    tensor = torch.tensor([values[k] for k in keys], device=device, dtype=torch.float64)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    tensor /= context.world_size
    return dict(zip(keys, tensor.tolist(), strict=True))


def sample_seed(seed: int, epoch: int, position: int) -> int:
    """Seed of the augmentation of the sample at ``position`` of ``epoch``'s global order."""
    return ((seed * 1_000_003 + epoch) * 10_000_019 + position) % (1 << 62)


class ShardedSampler(torch.utils.data.Sampler[tuple[int, int]]):
    """Shuffled epochs, sharded over ranks, yielding ``(index, sample_seed)``.

    Every epoch is a permutation of ``range(length)`` from a generator seeded with
    ``seed + epoch``, truncated to a multiple of ``world_size`` (like DistributedSampler with
    ``drop_last``); rank ``r`` takes positions ``r, r + world_size, ...``.

    Args:
        length: dataset size.
        seed: run seed.
        context: rank and world size.
        shuffle: shuffle each epoch (False: natural order, e.g. validation).
    """

    def __init__(self, length: int, seed: int, context: DistributedContext | None = None,
                 shuffle: bool = True) -> None:
        self.length = length
        self.seed = seed
        self.context = context or DistributedContext()
        self.shuffle = shuffle
        self.epoch = 0
        self.start = 0

    def set_position(self, epoch: int, start: int = 0) -> None:
        """Iterate ``epoch`` from this rank's ``start``-th sample on."""
        self.epoch = epoch
        self.start = start

    def __len__(self) -> int:
        return max(self.length // self.context.world_size - self.start, 0)

    def per_rank(self) -> int:
        """Samples each rank sees in one whole epoch."""
        return self.length // self.context.world_size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.length, generator=generator).tolist()
        else:
            order = list(range(self.length))
        world = self.context.world_size
        usable = self.per_rank() * world
        for position in range(self.context.rank + self.start * world, usable, world):
            yield order[position], sample_seed(self.seed, self.epoch, position)
