"""Small synthetic talking-head clips for the dataset tests (no real face data needed).

Four "people" (clips of the astronaut and of her mirror image: the swap does not need them to
differ, and the splits go by name). ``ann`` has two frames without a face and ``dan`` one, so
their fakes' masks must be empty exactly there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dataset_checks import CLIPS, FPS, FRAMES, HEIGHT, PAIRS_CSV, WIDTH


def write_clip(path: Path, mirror: bool, blank: frozenset[int], frames: int = FRAMES) -> Path:
    from openfsgan.benchmarking import astronaut_frame
    from openfsgan.io.media import VideoWriter

    with VideoWriter(path, FPS, WIDTH, HEIGHT, preset="ultrafast") as writer:
        for index in range(frames):
            rgb = astronaut_frame(WIDTH, HEIGHT, index, frames, mirror, 0.8)
            writer.write(np.full_like(rgb, 90) if index in blank else rgb)
    return path


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with ann/bob/cat/dan.mp4 and pairs.csv (ann<->bob in train, dan->cat in test)."""
    folder = tmp_path_factory.mktemp("clips")
    for name, (mirror, blank) in CLIPS.items():
        write_clip(folder / f"{name}.mp4", mirror, blank)
    (folder / "pairs.csv").write_text(PAIRS_CSV)
    return folder
