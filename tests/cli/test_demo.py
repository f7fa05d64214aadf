"""``openfsgan demo`` runs on built-in material only and writes everything it announces."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from openfsgan.cli.demo import demo_frame
from openfsgan.io.media import probe, read_image


def test_demo_frames_move_and_are_recoloured() -> None:
    first, middle = demo_frame(0, 16), demo_frame(4, 16)
    assert first.shape == (360, 480, 3) and first.dtype == np.uint8
    assert np.abs(first.astype(int) - middle).mean() > 3  # the head moves
    red, green, blue = first.reshape(-1, 3).mean(axis=0)
    assert red > green > blue  # warmer than the original photo


def test_demo_command_writes_its_outputs(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    env = {**os.environ, "OPENFSGAN_CACHE_DIR": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "openfsgan", "demo", "-o", str(folder),
                           "--frames", "8"], env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert str(folder.resolve()) in done.stdout
    for name in ("swap.mp4", "reenact.mp4", "analysis_overlay.mp4", "target_clip.mp4"):
        assert probe(folder / name).frame_count == 8, name
    pngs = sorted(folder.glob("frame_*_target_swap_reenact.png"))
    assert len(pngs) == 4
    row = read_image(pngs[0])
    assert row.shape[0] == 360 and row.shape[1] > 3 * 360
