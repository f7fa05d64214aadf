from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from openfsgan.metrics.seam import (
    boundary_and_interior,
    changed_region_mask,
    gradient_energy,
    seam_visibility,
)
from openfsgan.metrics.temporal import temporal_jitter_pct


def _moving_track(frames: int = 20) -> np.ndarray:
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 100, size=(68, 2))
    base[36], base[45] = [20, 40], [70, 40]  # inter-ocular distance 50 px
    drift = np.linspace(0, 30, frames)[:, None, None] * np.array([1.0, 0.5])
    return base[None] + drift


def test_output_following_target_has_no_jitter() -> None:
    target = _moving_track()
    result = temporal_jitter_pct(target.copy(), target)
    assert result["excess_motion_pct"] == pytest.approx(0.0, abs=1e-9)
    assert result["motion_residual_pct"] == pytest.approx(0.0, abs=1e-9)
    # A constant offset (the swap sits 3 px lower) is not jitter either.
    shifted = temporal_jitter_pct(target + np.array([0.0, 3.0]), target)
    assert shifted["motion_residual_pct"] == pytest.approx(0.0, abs=1e-9)


def test_shaking_output_has_positive_jitter() -> None:
    target = _moving_track()
    shake = np.zeros_like(target)
    shake[1::2] += np.array([2.0, 0.0])  # every other frame 2 px right: 2 px per step
    result = temporal_jitter_pct(target + shake, target)
    assert result["excess_motion_pct"] > 0.5
    # |Δoutput - Δtarget| = 2 px on every step = 4 % of the 50 px inter-ocular distance.
    assert result["motion_residual_pct"] == pytest.approx(4.0)


def test_invalid_frames_are_skipped() -> None:
    target = _moving_track(6)
    output = target.copy()
    output[3] += 50.0  # a wild frame, but marked invalid (no face found there)
    valid = np.array([True, True, True, False, True, True])
    result = temporal_jitter_pct(output, target, valid)
    assert result["motion_residual_pct"] == pytest.approx(0.0, abs=1e-9)
    none = temporal_jitter_pct(output, target, np.array([True, False] * 3))
    assert math.isnan(none["excess_motion_pct"])
    with pytest.raises(ValueError):
        temporal_jitter_pct(output, target[:5])


def _background_and_patch(size: int = 96) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    texture = ndimage.gaussian_filter(rng.normal(0, 1, (size, size)), 1.5) * 40
    background = np.clip(100 + texture, 0, 255)
    patch = np.clip(170 + texture[::-1], 0, 255)
    yy, xx = np.mgrid[:size, :size]
    mask = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size / 3) ** 2
    return background, patch, mask


def test_hard_edged_paste_scores_higher_than_a_smooth_one() -> None:
    background, patch, mask = _background_and_patch()
    hard = np.where(mask, patch, background)
    alpha = ndimage.gaussian_filter(mask.astype(float), 6.0)
    smooth = alpha * patch + (1 - alpha) * background
    to_rgb = lambda g: np.repeat(np.clip(g, 0, 255).astype(np.uint8)[..., None], 3, axis=2)  # noqa: E731
    hard_score = seam_visibility(to_rgb(hard), mask)
    smooth_score = seam_visibility(to_rgb(smooth), mask)
    untouched_score = seam_visibility(to_rgb(background), mask)
    assert hard_score > 3.0 * smooth_score
    assert hard_score > 3.0 * untouched_score
    assert 0.3 < untouched_score < 3.0  # homogeneous texture: nothing special at the border


def test_seam_edge_cases() -> None:
    image = np.zeros((20, 20, 3), np.uint8)
    assert math.isnan(seam_visibility(image, np.zeros((20, 20), bool)))
    with pytest.raises(ValueError):
        seam_visibility(image, np.zeros((10, 10), bool))
    flat = np.full((40, 40, 3), 128, np.uint8)
    mask = np.zeros((40, 40), bool)
    mask[5:35, 5:35] = True
    assert seam_visibility(flat, mask) == pytest.approx(1.0)
    boundary, interior = boundary_and_interior(mask, 2)
    assert not (boundary & interior).any()
    assert gradient_energy(flat).max() == 0.0


def test_changed_region_mask_finds_the_pasted_region() -> None:
    background, patch, mask = _background_and_patch()
    frame = np.repeat(background.astype(np.uint8)[..., None], 3, axis=2)
    rng = np.random.default_rng(1)
    codec_noise = rng.integers(-2, 3, frame.shape)
    swapped = np.where(mask[..., None], np.repeat(patch[..., None], 3, 2), background[..., None])
    swapped = np.clip(swapped + codec_noise, 0, 255).astype(np.uint8)
    found = changed_region_mask(swapped, frame)
    iou = (found & mask).sum() / (found | mask).sum()
    assert iou > 0.9
    assert not changed_region_mask(np.clip(frame + codec_noise, 0, 255).astype(np.uint8),
                                   frame).any()
