from __future__ import annotations

import numpy as np
import pytest

from openfsgan.metrics.fidelity import face_region, l1_error, ssim


def test_frame_against_itself_has_ssim_one_and_l1_zero(astronaut_rgb) -> None:
    crop = np.ascontiguousarray(astronaut_rgb[50:200, 150:300])
    assert ssim(crop, crop) == pytest.approx(1.0)
    assert l1_error(crop, crop) == 0.0


def test_degraded_frame_scores_worse(astronaut_rgb) -> None:
    crop = np.ascontiguousarray(astronaut_rgb[50:200, 150:300])
    rng = np.random.default_rng(0)
    noisy = np.clip(crop.astype(int) + rng.integers(-40, 41, crop.shape), 0, 255).astype(np.uint8)
    assert ssim(noisy, crop) < 0.8
    assert l1_error(noisy, crop) == pytest.approx(
        np.abs(noisy.astype(float) - crop).mean() / 255.0)
    inverted = 255 - crop
    assert l1_error(inverted, crop) > l1_error(noisy, crop)


def test_l1_of_constant_offset() -> None:
    a = np.full((8, 8, 3), 100, np.uint8)
    b = np.full((8, 8, 3), 151, np.uint8)
    assert l1_error(a, b) == pytest.approx(0.2)


def test_small_images_and_shape_checks() -> None:
    tiny = np.zeros((4, 4, 3), np.uint8)
    assert ssim(tiny, tiny) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        ssim(tiny, np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(ValueError):
        ssim(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2, 3), np.uint8))


def test_face_region_grows_and_clips() -> None:
    points = np.zeros((68, 2))
    points[:, 0] = np.linspace(10, 110, 68)
    points[:, 1] = np.linspace(20, 70, 68)
    assert face_region(points, (200, 300), margin=0.1) == (0, 15, 121, 76)
    assert face_region(points, (60, 100), margin=0.1) == (0, 15, 100, 60)
