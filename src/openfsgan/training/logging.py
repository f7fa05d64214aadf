"""Run logs: scalars and preview image grids.

Scalars always go to ``logs/scalars.jsonl`` (one JSON object per logged step: ``{"step": ...,
"<name>": value, ...}``), readable without extra packages. When the ``tensorboard`` package is
installed (``pip install 'openfsgan[train]'``) they also go to TensorBoard event files in
``logs/``, with the image grids; without it the grids are written as PNG files to
``logs/images/<name>-<step>.png``. On resume, entries after the resumed step are dropped (they
belong to the interrupted continuation), so the logs read as one uninterrupted run.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from openfsgan.io.atomic import write_text_atomic

log = logging.getLogger(__name__)

SCALARS_FILE = "scalars.jsonl"


def image_grid(images: torch.Tensor, columns: int | None = None, padding: int = 2) -> np.ndarray:
    """Tile ``[N, 3, H, W]`` images in ``[-1, 1]`` into one ``[H', W', 3]`` uint8 grid."""
    if images.ndim != 4 or images.shape[1] != 3:
        raise ValueError(f"expected [N, 3, H, W] images, got {list(images.shape)}")
    count, _, height, width = images.shape
    columns = columns or count
    rows = -(-count // columns)
    pixels = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    grid = np.full((rows * (height + padding) + padding, columns * (width + padding) + padding, 3),
                   255, dtype=np.uint8)
    for index in range(count):
        row, column = divmod(index, columns)
        y = padding + row * (height + padding)
        x = padding + column * (width + padding)
        grid[y:y + height, x:x + width] = pixels[index].permute(1, 2, 0).numpy()
    return grid


def _tensorboard_writer(log_dir: Path, purge_step: int | None) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(log_dir=str(log_dir), purge_step=purge_step)


class RunLogger:
    """Scalars and images of one run (only the main process of a distributed run logs).

    Args:
        log_dir: the run's ``logs`` folder.
        resume_step: the step a resumed run continues from (later entries are dropped).
        tensorboard: use TensorBoard when available (``False``: JSONL and PNG only).
    """

    def __init__(self, log_dir: str | os.PathLike[str], resume_step: int | None = None,
                 tensorboard: bool = True) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.scalars_path = self.log_dir / SCALARS_FILE
        if resume_step is not None:
            self._truncate(resume_step)
        purge = resume_step + 1 if resume_step is not None else None
        self._tensorboard = _tensorboard_writer(self.log_dir, purge) if tensorboard else None
        if self._tensorboard is None:
            log.info("tensorboard is not installed: scalars go to %s, images to %s",
                     self.scalars_path, self.log_dir / "images")
        self._scalars = open(self.scalars_path, "a", encoding="utf-8")  # noqa: SIM115

    def _truncate(self, step: int) -> None:
        if not self.scalars_path.is_file():
            return
        kept = []
        for line in self.scalars_path.read_text(encoding="utf-8").splitlines():
            try:
                if int(json.loads(line)["step"]) <= step:
                    kept.append(line)
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by a kill
        write_text_atomic(self.scalars_path, "".join(f"{line}\n" for line in kept))

    @property
    def uses_tensorboard(self) -> bool:
        return self._tensorboard is not None

    def scalars(self, step: int, values: Mapping[str, float]) -> None:
        record = {"step": int(step), **{k: float(v) for k, v in values.items()}}
        self._scalars.write(json.dumps(record) + "\n")
        self._scalars.flush()
        if self._tensorboard is not None:
            for name, value in values.items():
                self._tensorboard.add_scalar(name, float(value), int(step))

    def images(self, step: int, name: str, images: torch.Tensor, columns: int | None = None
               ) -> None:
        """Log ``[N, 3, H, W]`` images in ``[-1, 1]`` as one grid."""
        grid = image_grid(images, columns)
        if self._tensorboard is not None:
            self._tensorboard.add_image(name, grid, int(step), dataformats="HWC")
            return
        from openfsgan.io.media import write_image

        folder = self.log_dir / "images"
        folder.mkdir(exist_ok=True)
        write_image(folder / f"{name.replace('/', '_')}-{step:09d}.png", grid)

    def flush(self) -> None:
        self._scalars.flush()
        if self._tensorboard is not None:
            self._tensorboard.flush()

    def close(self) -> None:
        self._scalars.close()
        if self._tensorboard is not None:
            self._tensorboard.close()


def read_scalars(log_dir: str | os.PathLike[str]) -> list[dict[str, float]]:
    """The JSONL scalar log of a run, in order."""
    path = Path(log_dir) / SCALARS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
