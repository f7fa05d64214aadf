"""The lossless mask writer: what a loader decodes is exactly what was written."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

from openfsgan.dataset.encode import LosslessMaskWriter, read_masks


def test_masks_round_trip_bit_exact_through_pyav_and_opencv(tmp_path: Path) -> None:
    import cv2

    rng = np.random.default_rng(0)
    masks = [rng.integers(0, 256, (48, 64), dtype=np.uint8) for _ in range(4)]
    writer = LosslessMaskWriter(tmp_path / "m.mp4", Fraction(25), 64, 48)
    for mask in masks:
        writer.write(mask)
    assert not (tmp_path / "m.mp4").exists()  # atomic: only on close
    writer.close()
    decoded = read_masks(tmp_path / "m.mp4")
    assert len(decoded) == 4 and all(np.array_equal(a, b) for a, b in zip(decoded, masks,
                                                                           strict=True))
    capture = cv2.VideoCapture(str(tmp_path / "m.mp4"))
    for mask in masks:
        ok, bgr = capture.read()
        assert ok and all(np.array_equal(bgr[:, :, c], mask) for c in range(3))


def test_an_aborted_mask_leaves_no_file(tmp_path: Path) -> None:
    writer = LosslessMaskWriter(tmp_path / "m.mp4", Fraction(25), 64, 48)
    writer.write(np.zeros((48, 64), np.uint8))
    writer.abort()
    assert list(tmp_path.iterdir()) == []
