"""A training run: a run folder, a config, a dataset, and the loop until the step budget.

A run folder holds ``config.yaml`` (the resolved :class:`TrainConfig`), ``run.json`` (dataset,
device, process count, versions), ``checkpoints/`` and ``logs/``. Starting a run into a folder
that already has checkpoints is refused unless ``resume`` is set; a resumed run keeps the saved
config (only ``max_steps`` and ``num_workers`` may change) and continues bit-exactly.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from openfsgan import __version__
from openfsgan.config import load_yaml
from openfsgan.errors import ConfigError, OutputError
from openfsgan.io.atomic import write_text_atomic
from openfsgan.training.checkpointing import latest_checkpoint
from openfsgan.training.config import TrainConfig
from openfsgan.training.distributed import init_distributed, shutdown_distributed
from openfsgan.training.logging import RunLogger
from openfsgan.training.loop import LoopConfig, Progress, Trainer, TrainResult

log = logging.getLogger(__name__)

CONFIG_NAME = "config.yaml"
RUN_INFO_NAME = "run.json"
# options a resumed run may change: they do not alter what is computed
_RESUMABLE_CHANGES = frozenset({"max_steps", "num_workers"})


def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ConfigError(f"unknown device {name!r}; use cpu, cuda or auto") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA GPU is available "
                          "(torch.cuda.is_available() is False); use --device cpu")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"unsupported device {name!r}; use cpu, cuda or auto")
    return device


def loop_config(config: TrainConfig) -> LoopConfig:
    return LoopConfig(max_steps=config.max_steps, batch_size=config.batch_size, seed=config.seed,
                      num_workers=config.num_workers, amp=config.amp,
                      checkpoint_every=config.checkpoint_every,
                      keep_checkpoints=config.keep_checkpoints, log_every=config.log_every,
                      image_every=config.image_every, val_every=config.val_every,
                      val_batches=config.val_batches, optimizer=config.optimizer)


def settle_config(run_dir: Path, config: TrainConfig, resume: bool) -> TrainConfig:
    """The config a run uses: the given one for a new run, the saved one when resuming.

    Raises:
        OutputError: the folder holds checkpoints and ``resume`` is off.
        ConfigError: resuming with a config that differs in anything but max_steps/num_workers.
    """
    saved_path = run_dir / CONFIG_NAME
    has_checkpoint = latest_checkpoint(run_dir) is not None
    if has_checkpoint and not resume:
        raise OutputError(f"{run_dir} already holds a training run; pass --resume to continue "
                          "it or choose another --out")
    if not (resume and has_checkpoint and saved_path.is_file()):
        return config
    saved = TrainConfig.from_dict(load_yaml(saved_path))
    wanted, before = config.to_dict(), saved.to_dict()
    changed = sorted(k for k in wanted if wanted[k] != before[k] and k not in _RESUMABLE_CHANGES)
    if changed:
        raise ConfigError(f"the config differs from the one {run_dir} was started with in: "
                          f"{', '.join(changed)}; resume with the saved config "
                          f"({saved_path}) or start a new run")
    return saved.replace(max_steps=config.max_steps, num_workers=config.num_workers)


def train(config: TrainConfig, data: str | os.PathLike[str], run_dir: str | os.PathLike[str],
          device: str = "auto", resume: bool = False, vgg_weights: str | None = None,
          progress: Progress | None = None,
          on_log: Callable[[int, dict[str, float]], None] | None = None,
          init_from: str | os.PathLike[str] | None = None,
          deadline: float | None = None) -> TrainResult:
    """Train ``config.stage`` on the prepared dataset ``data`` into ``run_dir``.

    Args:
        config: the training config (``max_steps`` included).
        data: a folder made by ``openfsgan prepare``.
        run_dir: the run folder (created).
        device: ``auto``, ``cpu`` or ``cuda``; under torchrun each process takes its GPU.
        resume: continue from the run folder's latest checkpoint (a fresh start if none).
        vgg_weights: VGG-19 weights for the perceptual loss (default: dlib face features).
        progress: ``(step, max_steps)`` callback.
        on_log: ``(step, mean losses)`` callback at every scalar log.
        init_from: a model folder (config.json + model.safetensors, e.g. a shipped generator)
            whose weights start the trained generator when the run has no checkpoint yet
            (a warm start; the discriminator and Adam's moments start fresh). The generator
            must have the same architecture; the nets are fully convolutional, so weights
            trained at one crop size load at another.
        deadline: stop (with a checkpoint) once ``time.monotonic()`` passes it.
    """
    from openfsgan.data.dataset import PreparedDataset
    from openfsgan.io.paths import check_output_folder
    from openfsgan.training.stages import build_stage

    run = check_output_folder(run_dir, "run folder (--out)")
    torch_device = resolve_device(device)
    config = settle_config(run, config, resume)
    prepared = PreparedDataset(data)
    context = init_distributed(torch_device.type)
    if torch_device.type == "cuda" and context.enabled:
        torch_device = torch.device("cuda", context.local_rank)
    try:
        torch.manual_seed(config.seed)
        stage = build_stage(config, vgg_weights)
        train_set, val_set = stage.datasets(prepared)
        trainer = Trainer(stage, train_set, run, loop_config(config), torch_device, context,
                          val_set=val_set)
        resumed_from = trainer.resume() if resume else None
        if resumed_from is None and init_from is not None:
            warm_start(stage, init_from)
        logger = None
        if context.is_main:
            run.mkdir(parents=True, exist_ok=True)
            config.to_yaml(run / CONFIG_NAME)
            _write_run_info(run, data, torch_device, context.world_size, vgg_weights,
                            len(train_set), 0 if val_set is None else len(val_set))
            logger = RunLogger(run / "logs",
                               resume_step=trainer.step if resumed_from is not None else None)
        try:
            result = trainer.run(config.max_steps, logger, progress, on_log, deadline)
        finally:
            if logger is not None:
                logger.close()
    finally:
        shutdown_distributed(context)
    return result


def warm_start(stage: Any, model_dir: str | os.PathLike[str]) -> None:
    """Load the generator weights of ``model_dir`` into ``stage``'s trained generator.

    Raises:
        ModelError: not a model of this stage, or another architecture.
    """
    from openfsgan.models.checkpoint import load_pretrained
    from openfsgan.training.distributed import unwrap

    source = load_pretrained(model_dir, expected_model=stage.name)
    target = unwrap(stage.nets[stage.role])
    try:
        target.load_state_dict(source.state_dict())
    except RuntimeError as error:
        from openfsgan.errors import ModelError

        raise ModelError(f"{model_dir} does not fit the {stage.name} generator of this run "
                         f"(another architecture): {str(error).splitlines()[0]}") from error
    log.info("%s generator warm-started from %s", stage.name, model_dir)


def _write_run_info(run: Path, data: str | os.PathLike[str], device: torch.device,
                    world_size: int, vgg_weights: str | None, train_samples: int,
                    val_samples: int) -> None:
    info: dict[str, Any] = {
        "data": str(Path(data).resolve()), "device": str(device), "processes": world_size,
        "perceptual_weights": vgg_weights, "train_samples": train_samples,
        "val_samples": val_samples, "openfsgan_version": __version__,
        "torch_version": torch.__version__,
    }
    write_text_atomic(run / RUN_INFO_NAME, json.dumps(info, indent=2) + "\n")
