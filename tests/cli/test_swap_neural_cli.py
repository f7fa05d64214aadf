"""``openfsgan swap/reenact --method neural`` end to end in a subprocess, on the shipped models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from cli_helpers import openfsgan

from openfsgan.io.media import probe, read_image


def test_neural_swap_of_a_video(neural_inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "swapped.mp4"
    done = openfsgan("swap", neural_inputs["source"], neural_inputs["clip"], "-o", out,
                     "--method", "neural", "--no-watermark", cache=neural_inputs["cache"])
    assert done.returncode == 0, done.stderr
    assert "4 swapped" in done.stdout
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (320, 240, 4)


def test_neural_swap_of_a_photo_changes_only_the_face(neural_inputs: dict[str, Path],
                                                      tmp_path: Path) -> None:
    out = tmp_path / "swapped.png"
    done = openfsgan("swap", neural_inputs["source"], neural_inputs["photo"], "-o", out,
                     "--method", "neural", "--no-watermark", cache=neural_inputs["cache"])
    assert done.returncode == 0, done.stderr
    before, after = read_image(neural_inputs["photo"]), read_image(out)
    assert after.shape == before.shape
    changed = np.abs(after.astype(int) - before).max(axis=2) > 8
    assert changed[100:300, 150:350].mean() > 0.05  # the face region (512 px astronaut)
    assert changed[:, :60].mean() < 0.01 and changed[450:].mean() < 0.01


def test_neural_reenact_of_a_photo(neural_inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "driven.mp4"
    done = openfsgan("reenact", neural_inputs["source"], neural_inputs["clip"], "-o", out,
                     "--method", "neural", "--no-watermark", cache=neural_inputs["cache"])
    assert done.returncode == 0, done.stderr
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (512, 600, 4)  # Hopper's photo
