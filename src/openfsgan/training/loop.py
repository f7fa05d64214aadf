"""The one training loop: every stage supplies ``step(batch)``, the loop owns everything else.

What the loop owns: the device and mixed precision (float16 autocast + gradient scaling, CUDA
only), one Adam optimiser per trained network, the data order (:class:`ShardedSampler`, exact
on resume), DDP under ``torchrun``, checkpoints every N steps, at the end and on SIGTERM/SIGINT,
resume (networks, optimisers, scaler, RNG states, step, data position), scalar logs, preview
grids, validation losses and progress reports.

A step: ``losses = stage.step(batch, step)`` under autocast; the losses the stage names in
``stage.objectives`` are summed and back-propagated once, then every optimiser steps. This is
correct for the GAN stages because each objective only reaches its own network: the
discriminator loss sees detached fakes, and the generator's adversarial term runs through the
discriminator with its parameters frozen (see :meth:`Stage.frozen`).
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import torch
from torch import nn

from openfsgan.errors import ConfigError
from openfsgan.training.checkpointing import (
    capture_rng_state,
    latest_checkpoint,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from openfsgan.training.config import OptimizerConfig
from openfsgan.training.distributed import (
    DistributedContext,
    ShardedSampler,
    any_rank,
    mean_over_ranks,
    unwrap,
    wrap_module,
)
from openfsgan.training.logging import RunLogger

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class Objective:
    """One optimised loss: the key of ``step()``'s result and the networks it trains."""

    loss: str
    roles: tuple[str, ...]


class Stage:
    """Base of the training stages (see :mod:`openfsgan.training.stages`).

    A stage holds its networks in :attr:`nets` (role name -> module; the loop may replace a
    trained one by its DDP wrapper), lists its :attr:`objectives`, and implements :meth:`step`.
    Randomness inside a step must come from :attr:`generator` (saved in checkpoints).
    """

    name = "stage"

    def __init__(self) -> None:
        self.nets: dict[str, nn.Module] = {}
        self.objectives: tuple[Objective, ...] = ()
        self.generator = torch.Generator()

    def trained_roles(self) -> tuple[str, ...]:
        roles: list[str] = []
        for objective in self.objectives:
            roles.extend(r for r in objective.roles if r not in roles)
        return tuple(roles)

    def step(self, batch: Batch, step: int) -> dict[str, torch.Tensor]:
        """Losses of one batch at global ``step``: the objectives' keys and any parts to log."""
        raise NotImplementedError

    def previews(self, batch: Batch) -> dict[str, torch.Tensor]:
        """Named ``[N, 3, H, W]`` image sets in ``[-1, 1]`` to log as grids (no gradients).

        Called on the main process only: use the networks through ``unwrap`` (a DDP forward
        on one process alone could wait for the others).
        """
        return {}

    def preview_columns(self) -> int | None:
        return None

    @staticmethod
    @contextlib.contextmanager
    def frozen(module: nn.Module) -> Iterator[nn.Module]:
        """``module`` unwrapped from DDP with ``requires_grad`` off: a loss computed through it
        trains only what feeds it (the generator's adversarial term)."""
        inner = unwrap(module)
        flags = [p.requires_grad for p in inner.parameters()]
        for p in inner.parameters():
            p.requires_grad_(False)
        try:
            yield inner
        finally:
            for p, flag in zip(inner.parameters(), flags, strict=True):
                p.requires_grad_(flag)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.generator.set_state(state["generator"])


@dataclass(frozen=True)
class LoopConfig:
    """The loop's cadence (taken from :class:`~openfsgan.training.config.TrainConfig`)."""

    max_steps: int
    batch_size: int
    seed: int = 0
    num_workers: int = 0
    amp: bool = False
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    log_every: int = 50
    image_every: int = 0
    val_every: int = 0
    val_batches: int = 4
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)


@dataclass(frozen=True)
class TrainResult:
    """How a run ended."""

    step: int
    status: str  # "completed", "interrupted" or "time_limit"
    checkpoint: Path | None
    last_losses: dict[str, float]
    signal_number: int | None = None


class _StopRequest:
    """SIGTERM/SIGINT handlers that ask the loop to stop after the current step."""

    def __init__(self) -> None:
        self.signal_number: int | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, number: int, frame: FrameType | None) -> None:
        if self.signal_number is not None and number == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        self.signal_number = number
        log.warning("received %s: stopping after this step and saving a checkpoint",
                    signal.Signals(number).name)

    def __enter__(self) -> _StopRequest:
        if threading.current_thread() is threading.main_thread():
            for number in (signal.SIGTERM, signal.SIGINT):
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)

    @property
    def requested(self) -> bool:
        return self.signal_number is not None


def _to_device(batch: Mapping[str, torch.Tensor], device: torch.device) -> Batch:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _make_optimizers(stage: Stage, config: OptimizerConfig) -> dict[str, torch.optim.Optimizer]:
    optimizers: dict[str, torch.optim.Optimizer] = {}
    for role in stage.trained_roles():
        params = [p for p in unwrap(stage.nets[role]).parameters() if p.requires_grad]
        optimizers[role] = torch.optim.Adam(params, lr=config.lr, betas=config.betas,
                                            weight_decay=config.weight_decay)
    return optimizers


def _loader(dataset: torch.utils.data.Dataset, sampler: ShardedSampler, config: LoopConfig,
            device: torch.device, drop_last: bool = True) -> torch.utils.data.DataLoader:
    # a private generator: the loader's worker seeds must not consume the global RNG (the
    # datasets draw their randomness from the per-sample seeds instead)
    return torch.utils.data.DataLoader(
        dataset, batch_size=config.batch_size, sampler=sampler, num_workers=config.num_workers,
        drop_last=drop_last, pin_memory=device.type == "cuda",
        persistent_workers=False, generator=torch.Generator().manual_seed(config.seed))


class Trainer:
    """Runs a stage on a dataset into a run folder (see :func:`train`)."""

    def __init__(self, stage: Stage, train_set: torch.utils.data.Dataset, run_dir: Path,
                 config: LoopConfig, device: torch.device,
                 context: DistributedContext | None = None,
                 val_set: torch.utils.data.Dataset | None = None) -> None:
        context = context or DistributedContext()
        self.stage = stage
        self.train_set = train_set
        self.val_set = val_set
        self.run_dir = Path(run_dir)
        self.config = config
        self.device = device
        self.context = context
        self.amp = config.amp and device.type == "cuda"
        if config.amp and not self.amp:
            log.info("mixed precision is CUDA only; training in float32 on %s", device.type)
        self.step = 0
        self.epoch = 0
        self.batch_in_epoch = 0
        for role, module in list(stage.nets.items()):
            module.to(device)
            if role in stage.trained_roles():
                module.train()
                stage.nets[role] = wrap_module(module, context, device)
            else:
                module.eval()
        self.optimizers = _make_optimizers(stage, config.optimizer)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp)
        self.sampler = ShardedSampler(len(train_set), config.seed, context)  # type: ignore[arg-type]
        batches = self.sampler.per_rank() // config.batch_size
        if batches == 0:
            raise ConfigError(
                f"the training split has {len(train_set)} samples, fewer than one batch of "  # type: ignore[arg-type]
                f"{config.batch_size} per process ({context.world_size} processes); lower "
                "batch_size or add data")
        self.batches_per_epoch = batches

    # -- state ----------------------------------------------------------------------------

    def modules(self) -> dict[str, nn.Module]:
        return {role: unwrap(self.stage.nets[role]) for role in self.stage.trained_roles()}

    def state(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "batch_in_epoch": self.batch_in_epoch,
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "scaler": self.scaler.state_dict(), "rng": capture_rng_state(),
                "stage": self.stage.state_dict()}

    def save(self) -> Path | None:
        if not self.context.is_main:
            return None
        return save_checkpoint(self.run_dir, self.step, self.modules(), self.state(),
                               keep=self.config.keep_checkpoints)

    def resume(self) -> Path | None:
        """Load the latest checkpoint of the run folder, if any; returns its folder."""
        folder = latest_checkpoint(self.run_dir)
        if folder is None:
            return None
        state = load_checkpoint(folder, self.modules(), map_location=self.device)
        for role, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][role])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self.epoch = int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.stage.load_state_dict(state["stage"])
        restore_rng_state(state["rng"])
        log.info("resumed from %s (step %d)", folder, self.step)
        return folder

    # -- one step -------------------------------------------------------------------------

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp:
            return torch.autocast("cuda", dtype=torch.float16)
        return contextlib.nullcontext()

    def train_step(self, batch: Batch) -> dict[str, float]:
        for optimizer in self.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            losses = self.stage.step(batch, self.step)
        total = torch.stack([losses[o.loss].float() for o in self.stage.objectives]).sum()
        if not torch.isfinite(total.detach()):
            message = f"non-finite loss at step {self.step}: " + ", ".join(
                f"{k}={float(v):.4g}" for k, v in losses.items())
            if not self.amp:
                raise FloatingPointError(message)
            # float16 overflow: the gradient scaler skips this step and lowers its scale
            log.warning("%s (mixed precision: step skipped)", message)
        self.scaler.scale(total).backward()
        for optimizer in self.optimizers.values():
            self.scaler.step(optimizer)
        self.scaler.update()
        return {k: float(v.detach()) for k, v in losses.items()}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Mean losses over the first ``val_batches`` batches of the validation split."""
        if self.val_set is None:
            return {}
        val_set = self.val_set
        # every process must run the same number of batches (collective operations)
        if len(val_set) // self.context.world_size < self.config.batch_size:  # type: ignore[arg-type]
            return {}
        # validation must not change what training draws next
        rng = capture_rng_state()
        stage_state = self.stage.state_dict()
        for role in self.stage.trained_roles():
            self.stage.nets[role].eval()
        sampler = ShardedSampler(len(val_set), self.config.seed,  # type: ignore[arg-type]
                                 self.context, shuffle=False)
        sums: dict[str, float] = {}
        count = 0
        try:
            for batch in _loader(val_set, sampler, self.config, self.device):
                with self._autocast():
                    losses = self.stage.step(_to_device(batch, self.device), self.step)
                for key, value in losses.items():
                    sums[key] = sums.get(key, 0.0) + float(value)
                count += 1
                if count >= self.config.val_batches:
                    break
        finally:
            for role in self.stage.trained_roles():
                self.stage.nets[role].train()
            self.stage.load_state_dict(stage_state)
            restore_rng_state(rng)
        means = {f"val/{k}": v / count for k, v in sums.items()} if count else {}
        return mean_over_ranks(means, self.context, self.device)

    # -- the loop -------------------------------------------------------------------------

    def _batches(self) -> Iterator[Batch]:
        """Batches from the saved data position on, epoch after epoch."""
        while True:
            start = self.batch_in_epoch * self.config.batch_size
            self.sampler.set_position(self.epoch, start)
            # run() advances epoch and batch_in_epoch as batches are consumed; an exhausted
            # loader means the epoch is over and the next one starts from its first batch
            yield from _loader(self.train_set, self.sampler, self.config, self.device)

    def run(self, max_steps: int, logger: RunLogger | None = None,
            progress: Progress | None = None,
            on_log: Callable[[int, dict[str, float]], None] | None = None,
            deadline: float | None = None) -> TrainResult:
        """Train until ``max_steps``, a stop signal or ``deadline`` (a ``time.monotonic()``
        value; the run then ends with status ``time_limit``); checkpoint at the end."""
        interval: dict[str, float] = {}
        interval_steps = 0
        last: dict[str, float] = {}
        checkpoint = None
        started = time.perf_counter()
        start_step = self.step
        if progress is not None:
            progress(self.step, max_steps)
        with _StopRequest() as stop:
            if self.step >= max_steps:
                return TrainResult(self.step, "completed", latest_checkpoint(self.run_dir), {})
            for batch in self._batches():
                device_batch = _to_device(batch, self.device)
                last = self.train_step(device_batch)
                self.step += 1
                self.batch_in_epoch += 1
                if self.batch_in_epoch >= self.batches_per_epoch:
                    self.epoch += 1
                    self.batch_in_epoch = 0
                for key, value in last.items():
                    interval[key] = interval.get(key, 0.0) + value
                interval_steps += 1
                if self.step % self.config.log_every == 0 or self.step == max_steps:
                    means = {k: v / interval_steps for k, v in interval.items()}
                    means = mean_over_ranks(means, self.context, self.device)
                    elapsed = time.perf_counter() - started
                    means["time/steps_per_s"] = (self.step - start_step) / max(elapsed, 1e-9)
                    if logger is not None and self.context.is_main:
                        logger.scalars(self.step, means)
                    if on_log is not None:
                        on_log(self.step, means)
                    interval, interval_steps = {}, 0
                if self.config.val_every and self.step % self.config.val_every == 0:
                    values = self.validate()
                    if values and logger is not None and self.context.is_main:
                        logger.scalars(self.step, values)
                if (self.config.image_every and self.step % self.config.image_every == 0
                        and logger is not None and self.context.is_main):
                    self._log_previews(device_batch, logger)
                if progress is not None:
                    progress(self.step, max_steps)
                out_of_time = deadline is not None and time.monotonic() >= deadline
                stopping = any_rank(stop.requested or out_of_time, self.context, self.device)
                if (self.step % self.config.checkpoint_every == 0 or self.step >= max_steps
                        or stopping):
                    checkpoint = self.save()
                if stopping or self.step >= max_steps:
                    break
            if logger is not None:
                logger.flush()
            if stop.requested:
                return TrainResult(self.step, "interrupted", checkpoint, last, stop.signal_number)
        if self.step < max_steps:
            return TrainResult(self.step, "time_limit", checkpoint, last)
        return TrainResult(self.step, "completed", checkpoint, last)

    @torch.no_grad()
    def _log_previews(self, batch: Batch, logger: RunLogger) -> None:
        previews = self.stage.previews(batch)
        for name, images in previews.items():
            if images.numel() and math.prod(images.shape[-2:]) > 0:
                logger.images(self.step, name, images, self.stage.preview_columns())
