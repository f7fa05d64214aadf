"""Fixtures of the CLI tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openfsgan.io.media import write_image
from people import photo


@pytest.fixture(scope="module")
def neural_inputs(tmp_path_factory: pytest.TempPathFactory,
                  astronaut_rgb: np.ndarray) -> dict[str, Path]:
    """Inputs of the neural CLI tests, made once per test module (each with its own analysis
    cache and signing keys): two different people, Grace Hopper as the source onto the
    (mirrored) astronaut, as a photo and as a 4-frame clip."""
    from openfsgan.benchmarking import write_astronaut_clip

    folder = tmp_path_factory.mktemp("neural-cli")
    return {
        "source": write_image(folder / "source.png", photo("hopper")),
        "photo": write_image(folder / "mirror.png",
                             np.ascontiguousarray(astronaut_rgb[:, ::-1])),
        "clip": write_astronaut_clip(folder / "target.mp4", 320, 240, 4, mirror=True,
                                     face_fraction=0.9),
        "cache": folder / "cache",
        "keys": folder / "c2pa",
    }
