"""Fine-tuning G_r on the source (``--finetune [N]``): its settings and its cache.

FSGAN's answer to soft, generic reenactments is to fine-tune G_r on the source person before a
swap (its inference fine-tunes for 800 iterations). Here the shipped G_r is fine-tuned on the
source's own views by self-reenactment (:mod:`openfsgan.training.finetune`, torch on the CPU)
and exported to ONNX for the neural reenactment stage.

The tuned model is cached by what it depends on: the source's *content* (SHA-256 of the file,
or of every photo of a folder), the chosen source face, the fine-tuning settings (steps
included) and the base model's weights. A second job with the same source reuses it. An entry
is a folder under ``$OPENFSGAN_CACHE_DIR/finetune`` (or ``~/.cache/openfsgan/finetune``)::

    <key>/work/checkpoint.pt      resumable state, every ``checkpoint_every`` steps and on Ctrl-C
    <key>/model/                  config.json, model.safetensors, model.onnx (when complete)
    <key>/entry.json              what the entry was made from; ``complete`` once exported

This module imports no torch (the configuration tree reads :class:`FinetuneConfig`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openfsgan import __version__
from openfsgan.config import Config, check_positive
from openfsgan.errors import ConfigError
from openfsgan.io.atomic import write_text_atomic
from openfsgan.io.cache import ENV_CACHE_DIR, file_sha256

FinetuneProgress = Callable[[int, int], None]
"""``(steps_done, steps_total)``, after every fine-tuning step (and once at the start)."""

DEFAULT_FINETUNE_STEPS = 200
"""Steps of a bare ``--finetune`` (measured in docs/swap.md, "Fine-tuning on the source")."""

ENTRY_FILE = "entry.json"
MODEL_DIR = "model"
WORK_DIR = "work"


@dataclass(frozen=True)
class FinetuneConfig(Config):
    """Settings of the fine-tuning of G_r on the source (``finetune:`` in a swap YAML).

    Attributes:
        steps: optimisation steps (0: no fine-tuning, the shipped G_r).
        batch_size: view pairs per step.
        lr: Adam learning rate (betas 0.5, 0.999 as in training).
        lambda_perc: perceptual term of the reconstruction loss (dlib face features).
        lambda_pixel: L1 term of the reconstruction loss.
        lambda_identity: identity term (1 - cos of dlib face descriptors, result vs target view).
        lambda_seg: G_r's segmentation kept to the shipped model's (cross-entropy), so the
            face mask the swap reads from G_r does not drift.
        max_rotation_deg, max_scale, max_shift: random similarity moves of the views (new
            framings of the face).
        move_views_together: both views of a pair get the same move, so that, as in a swap,
            G_r's input and the geometry it is driven to are framed alike. False moves each
            view on its own, which asks G_r to move the face within its crop: measured, the
            tuned G_r then falls back on its synthesis head and the swap loses identity
            (:mod:`openfsgan.training.finetune`).
        checkpoint_every: steps between resumable checkpoints.
        seed: seed of the pair draws and moves.
    """

    steps: int = 0
    batch_size: int = 4
    lr: float = 1e-4
    lambda_perc: float = 1.0
    lambda_pixel: float = 0.1
    lambda_identity: float = 0.1
    lambda_seg: float = 0.1
    max_rotation_deg: float = 8.0
    max_scale: float = 0.06
    max_shift: float = 0.04
    move_views_together: bool = True
    checkpoint_every: int = 20
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0 <= self.steps <= 100_000:
            raise ConfigError(f"finetune steps must be in [0, 100000], got {self.steps}")
        check_positive(self, "batch_size", "lr", "checkpoint_every")
        check_positive(self, "lambda_perc", "lambda_pixel", "lambda_identity", "lambda_seg",
                       "max_rotation_deg", "max_scale", "max_shift", allow_zero=True)

    @property
    def enabled(self) -> bool:
        return self.steps > 0


def default_finetune_dir() -> Path:
    """``$OPENFSGAN_CACHE_DIR/finetune`` if set, else ``~/.cache/openfsgan/finetune``."""
    configured = os.environ.get(ENV_CACHE_DIR)
    if configured:
        return Path(configured).expanduser() / "finetune"
    return Path.home() / ".cache" / "openfsgan" / "finetune"


def source_sha256(path: Path) -> str:
    """SHA-256 of a source's content: the file's, or the photos' of a folder (names and
    contents, in order)."""
    if not path.is_dir():
        return file_sha256(path)
    from openfsgan.jobs.request import list_photos

    digest = hashlib.sha256()
    for photo in list_photos(path):
        digest.update(photo.name.encode("utf-8") + b"\0" + file_sha256(photo).encode("ascii"))
    return digest.hexdigest()


def base_sha256(base_dir: Path | None = None) -> str:
    """SHA-256 of the weights fine-tuning starts from (``base_dir``; default the shipped
    G_r): part of every cache key, so new shipped weights never reuse an old tuning."""
    from openfsgan.inference.sessions import shipped_model_dir
    from openfsgan.models.checkpoint import WEIGHTS_FILE

    return file_sha256((base_dir or shipped_model_dir("reenactment")) / WEIGHTS_FILE)


def finetune_key(source_hash: str, source_face: int | None, config: FinetuneConfig,
                 base_hash: str) -> str:
    """The cache key (hex) of a tuned G_r."""
    data = {"source": source_hash, "face": source_face, "config": config.to_dict(),
            "base": base_hash, "version": __version__}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class FinetuneEntry:
    """One cache entry (see the module docstring)."""

    folder: Path

    @property
    def model_dir(self) -> Path:
        return self.folder / MODEL_DIR

    @property
    def work_dir(self) -> Path:
        return self.folder / WORK_DIR

    def info(self) -> dict[str, Any]:
        try:
            data = json.loads((self.folder / ENTRY_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    @property
    def complete(self) -> bool:
        return bool(self.info().get("complete")) and (self.model_dir / "model.onnx").is_file()

    def write_info(self, **values: Any) -> None:
        data = {**self.info(), **values}
        write_text_atomic(self.folder / ENTRY_FILE, json.dumps(data, indent=2) + "\n")

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.folder.rglob("*") if p.is_file())


class FinetuneCache:
    """Tuned G_r models keyed by :func:`finetune_key`, one folder each."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_finetune_dir()

    def entry(self, key: str) -> FinetuneEntry:
        return FinetuneEntry(self.directory / key[:32])

    def entries(self) -> list[FinetuneEntry]:
        if not self.directory.is_dir():
            return []
        return [FinetuneEntry(p) for p in sorted(self.directory.iterdir())
                if p.is_dir() and (p / ENTRY_FILE).is_file()]

    def clear(self) -> int:
        """Delete every entry (finished or not); returns how many went."""
        entries = self.entries()
        for entry in entries:
            shutil.rmtree(entry.folder, ignore_errors=True)
        return len(entries)


def finetuned_reenactment(source: Path, source_face: int | None,
                          views: list[tuple[Any, Any]], config: FinetuneConfig,
                          progress: FinetuneProgress | None = None,
                          cache: FinetuneCache | None = None,
                          base_dir: Path | None = None) -> Path:
    """The folder of a G_r fine-tuned on ``views`` (``model.onnx`` for the neural stage),
    from the cache when the same source was tuned before with the same settings.

    Args:
        source: the source file or folder (its content is the cache key).
        source_face: the chosen source face (part of the key).
        views: ``(crop [S, S, 3] uint8, landmarks [68, 2] crop pixels)`` of the source face.
        config: the fine-tuning settings (``steps`` > 0).
        progress: ``(done, total)`` after each step.
        cache: default :class:`FinetuneCache` in the user cache folder.
        base_dir: the model fine-tuned (default: the shipped G_r).

    An interrupted fine-tuning (Ctrl-C) leaves its checkpoint in the entry's work folder; the
    same job run again continues from it.
    """
    from openfsgan.inference.sessions import shipped_model_dir
    from openfsgan.training.finetune import base_resolution, export_tuned, finetune

    cache = cache or FinetuneCache()
    base = base_dir or shipped_model_dir("reenactment")
    key = finetune_key(source_sha256(source), source_face, config, base_sha256(base))
    entry = cache.entry(key)
    if entry.complete:
        if progress is not None:
            progress(config.steps, config.steps)
        return entry.model_dir
    entry.folder.mkdir(parents=True, exist_ok=True)
    entry.write_info(key=key, source=str(source), source_face=source_face,
                     steps=config.steps, views=len(views), complete=False,
                     created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    started = time.perf_counter()
    model = finetune(base, views, config, entry.work_dir, progress)
    trained = time.perf_counter() - started
    export_tuned(model, entry.model_dir, base_resolution(base))
    entry.write_info(complete=True, train_seconds=round(trained, 1),
                     export_seconds=round(time.perf_counter() - started - trained, 1))
    shutil.rmtree(entry.work_dir, ignore_errors=True)  # the model is what is kept
    return entry.model_dir


__all__ = ["DEFAULT_FINETUNE_STEPS", "FinetuneCache", "FinetuneConfig", "FinetuneEntry",
           "FinetuneProgress", "base_sha256", "default_finetune_dir", "finetune_key",
           "finetuned_reenactment", "source_sha256"]
