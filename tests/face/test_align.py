"""Alignment: similarity estimate, crop/paste round trips for points and pixels."""

from __future__ import annotations

import numpy as np
import pytest

from openfsgan.face.align import (
    CANONICAL_LANDMARKS_2D,
    FLIP_PERMUTATION,
    AlignTransform,
    canonical_landmarks,
    estimate_alignment,
    paste_back,
    rescale_points,
    similarity_transform,
    transform_points,
    warp_to_crop,
)


def _rotation(deg: float, scale: float, shift: tuple[float, float]) -> np.ndarray:
    a = np.deg2rad(deg)
    return np.array([[scale * np.cos(a), -scale * np.sin(a), shift[0]],
                     [scale * np.sin(a), scale * np.cos(a), shift[1]]])


def test_template_is_in_the_unit_square_and_symmetric() -> None:
    t = CANONICAL_LANDMARKS_2D
    assert t.shape == (68, 2) and t.min() >= 0.0 and t.max() <= 1.0
    mirrored = t[FLIP_PERMUTATION] * [-1, 1] + [1, 0]
    np.testing.assert_allclose(mirrored, t, atol=1e-3)
    assert sorted(FLIP_PERMUTATION.tolist()) == list(range(68))


def test_similarity_recovers_a_known_transform() -> None:
    src = np.random.default_rng(0).uniform(0, 100, (10, 2))
    m = _rotation(23.0, 1.7, (5.0, -8.0))
    np.testing.assert_allclose(similarity_transform(src, transform_points(src, m)), m, atol=1e-9)


def test_alignment_maps_landmarks_onto_the_template() -> None:
    crop_template = canonical_landmarks(128)
    frame_to_crop = _rotation(-15.0, 0.5, (40.0, 10.0))
    landmarks = transform_points(crop_template, np.linalg.inv(
        np.vstack([frame_to_crop, [0, 0, 1]]))[:2])
    transform = estimate_alignment(landmarks, crop_size=128)
    np.testing.assert_allclose(transform.matrix, frame_to_crop, atol=1e-6)
    assert transform.scale == pytest.approx(0.5)
    # points round trip: frame -> crop -> frame
    back = transform_points(transform_points(landmarks, transform.matrix), transform.inverse)
    np.testing.assert_allclose(back, landmarks, atol=1e-4)


def test_pixels_round_trip_through_crop_and_paste_back() -> None:
    rng = np.random.default_rng(1)
    # a smooth frame so bilinear resampling twice loses little
    yy, xx = np.mgrid[0:240, 0:320].astype(np.float32)
    frame = np.stack([128 + 100 * np.sin(xx / 23), 128 + 100 * np.cos(yy / 19),
                      128 + 60 * np.sin((xx + yy) / 31)], axis=-1).astype(np.uint8)
    landmarks = CANONICAL_LANDMARKS_2D * 120 + [100, 60] + rng.normal(0, 0.5, (68, 2))
    transform = estimate_alignment(landmarks, crop_size=160)
    crop = warp_to_crop(frame, transform)
    assert crop.shape == (160, 160, 3) and crop.dtype == np.uint8
    mask = np.zeros((160, 160), np.float32)
    mask[20:140, 20:140] = 1.0
    pasted = paste_back(frame, crop, mask, transform)
    assert pasted.shape == frame.shape
    region = transform_points(np.array([[40, 40], [120, 120]]), transform.inverse)
    (x0, y0), (x1, y1) = np.round(region).astype(int)
    diff = np.abs(pasted[y0:y1, x0:x1].astype(int) - frame[y0:y1, x0:x1])
    assert diff.mean() < 2.0
    # outside the mask's footprint the frame is untouched
    assert np.array_equal(pasted[:, :60], frame[:, :60])


def test_paste_back_replaces_inside_the_mask() -> None:
    frame = np.zeros((100, 100, 3), np.uint8)
    transform = AlignTransform.from_matrix(np.array([[1.0, 0, -20], [0, 1.0, -30]]), 40)
    crop = np.full((40, 40, 3), 200, np.uint8)
    mask = np.full((40, 40), 255, np.uint8)
    pasted = paste_back(frame, crop, mask, transform)
    assert (pasted[32:68, 22:58] == 200).all()
    assert (pasted[:28] == 0).all() and (pasted[:, :18] == 0).all()


def test_paste_back_is_the_float_blend_over_the_whole_footprint_bit_for_bit() -> None:
    # the blend as first written (every footprint pixel, fresh float arrays): the faster
    # paste-back (in place, only where alpha > 0) gives the same frame exactly
    import cv2

    from openfsgan.face.align import _footprint_alpha, _footprint_inverse, crop_footprint

    rng = np.random.default_rng(4)
    frame = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    landmarks = CANONICAL_LANDMARKS_2D * 110 + [110, 50] + rng.normal(0, 2.0, (68, 2))
    transform = estimate_alignment(landmarks, crop_size=128)  # a rotated footprint
    crop = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:128, 0:128]
    mask = np.clip(2.0 - np.hypot(xx - 64, yy - 70) / 25.0, 0.0, 1.0).astype(np.float32)
    rect = crop_footprint(transform, frame.shape)
    assert rect is not None
    x0, y0, x1, y1 = rect
    alpha = _footprint_alpha(mask, transform, rect)
    assert 0.05 < (alpha > 0).mean() < 0.8  # a part of the footprint left alone
    warped = cv2.warpAffine(crop, _footprint_inverse(transform, rect), (x1 - x0, y1 - y0),
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    roi = frame[y0:y1, x0:x1]
    expected = frame.copy()
    expected[y0:y1, x0:x1] = np.clip(roi + alpha[..., None] * (warped.astype(np.float32) - roi)
                                     + 0.5, 0, 255).astype(np.uint8)
    assert np.array_equal(paste_back(frame, crop, mask, transform), expected)


def test_a_crop_far_outside_the_frame_is_a_no_op() -> None:
    frame = np.zeros((50, 50, 3), np.uint8)
    transform = AlignTransform.from_matrix(np.array([[1.0, 0, 500], [0, 1.0, 500]]), 32)
    out = paste_back(frame, np.full((32, 32, 3), 9, np.uint8), np.ones((32, 32)), transform)
    assert np.array_equal(out, frame)


def test_bad_input_shapes() -> None:
    with pytest.raises(ValueError, match="68, 2"):
        estimate_alignment(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="identical"):
        similarity_transform(np.ones((4, 2)), np.zeros((4, 2)))


def test_rescaled_points_stay_on_the_same_image_point() -> None:
    assert np.allclose(rescale_points(canonical_landmarks(512), 512, 128),
                       canonical_landmarks(128), atol=1e-4)
    # dtypes: floats kept, integers become float64; pixel centres stay centres
    assert rescale_points(np.zeros((2, 2), np.float32), 4, 2).dtype == np.float32
    assert np.array_equal(rescale_points(np.array([[0, 3]]), 4, 2), [[-0.25, 1.25]])
