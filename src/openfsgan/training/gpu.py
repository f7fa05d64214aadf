"""``openfsgan train-gpu``: the four stages at 256² on a CUDA machine, in a time budget.

One command takes a packed crop set (``openfsgan prepare ... --size 256`` then ``tar``), a
number of minutes and an output folder, and:

1. unpacks the crop set into ``OUT/data`` (once; a rerun reuses it);
2. trains reenactment -> segmentation (agreeing with the new G_r) -> inpainting -> blending,
   each for its share of the minutes (:data:`STAGE_SHARES`), with the method's losses and
   weights (:class:`~openfsgan.training.config.LossConfig`: λ_perc 1, λ_pixel 0.1, λ_adv 0.001,
   λ_seg 0.1, λ_stepwise 1, λ_reenact 0 -> 1), Adam 2e-4, mixed precision on CUDA;
3. starts every generator from the shipped one (128² weights: the networks are fully
   convolutional, so they load at 256²) unless its run already has a checkpoint, which is
   then continued (a rerun into the same folder resumes where the last one stopped);
4. exports each trained generator to ``OUT/models/<stage>/`` (config.json, float16
   model.safetensors, model.onnx at 256², each < 16 MiB) and writes ``OUT/losses.csv`` (every
   logged loss of every stage) and ``OUT/summary.json``.

The run folders (``OUT/runs/<stage>``) hold the resumable checkpoints (generator,
discriminator, and the optimiser state in safetensors shards: every file < 16 MiB); the
deliverables are ``OUT/models``, ``OUT/losses.csv`` and ``OUT/summary.json``.
"""

from __future__ import annotations

import csv
import json
import logging
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openfsgan.errors import ConfigError, InvalidInputError
from openfsgan.io.atomic import write_text_atomic
from openfsgan.stages import STAGES

log = logging.getLogger(__name__)

STAGE_SHARES: dict[str, float] = {"reenactment": 0.4, "segmentation": 0.2,
                                  "inpainting": 0.2, "blending": 0.2}
"""Fraction of the time budget each stage trains (G_r, the hardest, gets the most)."""

MAX_FILE_BYTES = 16 * 1024 * 1024
DISCRIMINATOR_OPTIONS = {"base_channels": 32, "max_channels": 256}


@dataclass(frozen=True)
class GpuTrainOptions:
    """What ``train-gpu`` was asked for.

    Attributes:
        data: the packed crop set (``.tar``, ``.tar.gz``, ``.tar.xz``) or an unpacked dataset
            folder.
        minutes: total training time, split by :data:`STAGE_SHARES`.
        out: output folder.
        device: ``auto``, ``cuda`` or ``cpu`` (the CPU for tests only).
        resolution: crop size trained at.
        batch_size: samples per step.
        max_steps: steps per stage at most (the time budget usually ends a stage first).
        num_workers: data-loading processes.
        stages: the stages to train, in the method's order.
        init_from: folder with one sub-folder per stage holding a generator to start from
            (default: the shipped ones).
    """

    data: Path
    minutes: float
    out: Path
    device: str = "auto"
    resolution: int = 256
    batch_size: int = 16
    max_steps: int = 100_000
    num_workers: int = 6
    stages: tuple[str, ...] = tuple(STAGES)
    init_from: Path | None = None

    def __post_init__(self) -> None:
        if not self.minutes > 0:
            raise ConfigError(f"--minutes must be > 0, got {self.minutes}")
        unknown = [s for s in self.stages if s not in STAGES]
        if unknown:
            raise ConfigError(f"unknown stage {unknown[0]!r}; stages: {', '.join(STAGES)}")


def unpack_dataset(data: Path, folder: Path) -> Path:
    """The dataset folder of ``data``: itself when it is one, else its archive unpacked into
    ``folder`` (only regular files and folders; nothing outside ``folder``). An archive already
    unpacked there is reused."""
    from openfsgan.data.dataset import INDEX_FILE

    if data.is_dir():
        return data
    if not data.is_file():
        raise InvalidInputError(f"crop set not found: {data}")
    found = sorted(folder.rglob(INDEX_FILE)) if folder.is_dir() else []
    if not found:
        try:
            with tarfile.open(data) as archive:
                archive.extractall(folder, filter="data")
        except (tarfile.TarError, OSError) as error:
            raise InvalidInputError(f"cannot unpack the crop set {data}: {error}") from error
        found = sorted(folder.rglob(INDEX_FILE))
    if not found:
        raise InvalidInputError(f"{data} holds no dataset made by `openfsgan prepare` "
                                f"(no {INDEX_FILE})")
    return found[0].parent


def stage_config(stage: str, options: GpuTrainOptions, generator_options: dict[str, Any],
                 reenactment_model: Path | None) -> Any:
    """The training config of one stage: the full-size values (``configs/*-full.yaml``) at
    ``options``' size, batch and step cap, with the generator's architecture given."""
    from openfsgan.training.config import ModelSpec, TrainConfig

    return TrainConfig.from_dict({
        "stage": stage, "resolution": options.resolution, "batch_size": options.batch_size,
        "max_steps": options.max_steps, "num_workers": options.num_workers, "amp": True,
        "checkpoint_every": 500, "keep_checkpoints": 1, "log_every": 10, "image_every": 0,
        "generator": ModelSpec(options=generator_options).to_dict(),
        # the shipped runs' discriminator: 5.3 MiB of weights (the default one is 21 MiB)
        "discriminator": ModelSpec(options=dict(DISCRIMINATOR_OPTIONS)).to_dict(),
        "reenactment_model": (str(reenactment_model)
                              if stage == "segmentation" and reenactment_model else None),
    })


def _start_model(stage: str, options: GpuTrainOptions) -> Path:
    from openfsgan.inference.sessions import shipped_model_dir

    return options.init_from / stage if options.init_from else shipped_model_dir(stage)


def export_stage(run: Path, folder: Path, resolution: int) -> list[Path]:
    """The latest generator of run folder ``run`` into ``folder``: config.json, float16
    model.safetensors and model.onnx (checked against torch)."""
    import torch

    from openfsgan.export.onnx import export_onnx, resolve_model_dir
    from openfsgan.models.checkpoint import load_pretrained, save_pretrained

    model_dir, _ = resolve_model_dir(run)
    model = load_pretrained(model_dir)
    export_onnx(model_dir, folder / "model.onnx", resolution=resolution)
    save_pretrained(model.to(torch.float16), folder,
                    metadata={"resolution": resolution, "trained_by": "openfsgan train-gpu"})
    files = [folder / "config.json", folder / "model.safetensors", folder / "model.onnx"]
    for path in files:
        if path.stat().st_size >= MAX_FILE_BYTES:
            log.warning("%s is %.1f MiB, over the 16 MiB limit", path,
                        path.stat().st_size / 2**20)
    return files


def _losses_rows(run: Path, stage: str) -> list[dict[str, Any]]:
    from openfsgan.training.logging import SCALARS_FILE

    path = run / "logs" / SCALARS_FILE
    if not path.is_file():
        return []
    rows: list[dict[str, Any]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        rows.extend({"stage": stage, "step": record["step"], "name": key, "value": value}
                    for key, value in record.items() if key != "step")
    return rows


def write_losses(rows: list[dict[str, Any]], path: Path) -> None:
    """``stage,step,name,value`` rows as CSV (atomically)."""
    import io

    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["stage", "step", "name", "value"])
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, text.getvalue())


def train_all(options: GpuTrainOptions,
              progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Train the stages of ``options`` in their time shares; returns the summary
    (also written to ``OUT/summary.json``)."""
    from openfsgan.models.checkpoint import read_checkpoint_config
    from openfsgan.training.run import train

    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    data = unpack_dataset(options.data, out / "data")
    total = sum(STAGE_SHARES[s] for s in options.stages)
    summary: dict[str, Any] = {"data": str(options.data), "minutes": options.minutes,
                               "device": options.device, "resolution": options.resolution,
                               "stages": {}}
    rows: list[dict[str, Any]] = []
    reenactment_model: Path | None = None
    for stage in options.stages:
        start = _start_model(stage, options)
        generator = read_checkpoint_config(start)["config"]
        run = out / "runs" / stage
        config = stage_config(stage, options, generator, reenactment_model)
        seconds = 60.0 * options.minutes * STAGE_SHARES[stage] / total
        began = time.monotonic()

        def report(step: int, steps: int, stage: str = stage) -> None:
            if progress is not None:
                progress(stage, step, steps)

        result = train(config, data, run, device=options.device, resume=True,
                       progress=report, init_from=start, deadline=began + seconds)
        models = out / "models" / stage
        files = export_stage(run, models, options.resolution)
        if stage == "reenactment":
            reenactment_model = models
        stage_rows = _losses_rows(run, stage)
        rows.extend(stage_rows)
        summary["stages"][stage] = {
            "steps": result.step, "status": result.status,
            "seconds": round(time.monotonic() - began, 1), "warm_start": str(start),
            "last_losses": {k: round(v, 5) for k, v in result.last_losses.items()},
            "files": {p.name: p.stat().st_size for p in files}}
        write_losses(rows, out / "losses.csv")
        write_text_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


__all__ = ["STAGE_SHARES", "GpuTrainOptions", "export_stage", "stage_config", "train_all",
           "unpack_dataset", "write_losses"]
