"""Landmark heatmaps: one Gaussian per landmark, NumPy and torch agree."""

from __future__ import annotations

import numpy as np
import pytest

from openfsgan.face.align import CANONICAL_LANDMARKS_2D
from openfsgan.face.heatmaps import heatmap_peaks, landmark_heatmaps, landmark_heatmaps_torch


def _points(size: int) -> np.ndarray:
    # the template on integer pixel centres, inside the map
    return np.round(CANONICAL_LANDMARKS_2D * (size - 9) + 4).astype(np.float32)


def test_peaks_sit_on_the_landmarks() -> None:
    points = _points(64)
    maps = landmark_heatmaps(points, size=64, sigma=1.5)
    assert maps.shape == (68, 64, 64) and maps.dtype == np.float32
    np.testing.assert_array_equal(heatmap_peaks(maps), points.astype(int))
    np.testing.assert_allclose(maps.max(axis=(1, 2)), 1.0, atol=1e-6)


def test_value_is_the_gaussian_of_the_distance() -> None:
    points = np.full((68, 2), 10.0, dtype=np.float32)
    maps = landmark_heatmaps(points, size=32, sigma=3.0)
    expected = np.exp(-((13 - 10) ** 2 + (7 - 10) ** 2) / (2 * 3.0 ** 2))
    assert maps[5, 7, 13] == pytest.approx(expected, rel=1e-5)


def test_batch_and_source_size_rescale() -> None:
    crop = (_points(64) + 0.5) * 4 - 0.5  # the same landmarks in a 256-pixel crop
    single = landmark_heatmaps(crop, 64, 2.0, source_size=256)
    np.testing.assert_allclose(single, landmark_heatmaps(_points(64), 64, 2.0), atol=1e-5)
    batch = landmark_heatmaps(np.stack([crop, crop]), 64, 2.0, source_size=256)
    assert batch.shape == (2, 68, 64, 64)


def test_sigma_controls_width() -> None:
    points = _points(64)
    narrow = landmark_heatmaps(points, 64, sigma=1.0).sum(axis=(1, 2))
    wide = landmark_heatmaps(points, 64, sigma=3.0).sum(axis=(1, 2))
    # mass of an untruncated Gaussian is 2 pi sigma^2
    assert np.median(wide / narrow) == pytest.approx(9.0, rel=0.05)


def test_torch_matches_numpy_and_is_differentiable() -> None:
    import torch

    points = _points(32).astype(np.float32) + 0.3
    expected = landmark_heatmaps(points, 32, 2.0)
    tensor = torch.tensor(points[None], requires_grad=True)
    maps = landmark_heatmaps_torch(tensor, 32, 2.0)
    assert tuple(maps.shape) == (1, 68, 32, 32)
    np.testing.assert_allclose(maps[0].detach().numpy(), expected, atol=1e-5)
    maps.sum().backward()
    assert tensor.grad is not None and torch.isfinite(tensor.grad).all()


def test_bad_shapes_are_refused() -> None:
    with pytest.raises(ValueError, match="68, 2"):
        landmark_heatmaps(np.zeros((5, 2)), 16)
    with pytest.raises(ValueError, match="sigma"):
        landmark_heatmaps(np.zeros((68, 2)), 16, sigma=0)


def test_heatmaps_rendered_into_a_given_array_are_the_same() -> None:
    rng = np.random.default_rng(5)
    first, second = (rng.uniform(0, 64, (2, 68, 2)).astype(np.float32) for _ in range(2))
    out = landmark_heatmaps(first, 64)
    again = landmark_heatmaps(second, 64, out=out)
    assert again is out and np.array_equal(again, landmark_heatmaps(second, 64))
    with pytest.raises(ValueError, match="out must be"):
        landmark_heatmaps(second, 32, out=out)
