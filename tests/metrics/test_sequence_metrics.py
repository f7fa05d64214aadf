"""Identity-invariant expression error, pose-change error, PSNR and keypoint distance."""

from __future__ import annotations

import numpy as np
import pytest

from openfsgan.face.template import FACE_TEMPLATE_68
from openfsgan.metrics.expression import (
    expression_deltas,
    expression_error_pct,
    eye_distance_normalised,
    invariant_expression_error_pct,
)
from openfsgan.metrics.fidelity import keypoint_distance_pct, psnr
from openfsgan.metrics.pose import pose_change_error_deg, pose_error_deg

MOUTH = slice(48, 68)
JAW = slice(0, 17)
FRAMES = 10


def _face(jaw_width: float, eye_spread: float) -> np.ndarray:
    """A frontal [68, 2] face shape of the generic template, with its own identity: a wider or
    narrower jaw and eyes further apart or closer (what differs between two people)."""
    shape = FACE_TEMPLATE_68[:, :2].astype(np.float64).copy()
    shape[JAW, 0] *= jaw_width
    shape[36:48, 0] *= eye_spread
    return shape


def _talk(shape: np.ndarray, opening: np.ndarray) -> np.ndarray:
    """The shape over frames with the lower lip moving down by ``opening`` of the eye distance
    (the expression motion), ``[T, 68, 2]``."""
    iod = np.linalg.norm(shape[45] - shape[36])
    frames = np.repeat(shape[None], len(opening), axis=0)
    lower_lip = [55, 56, 57, 58, 59, 64, 65, 66, 67]
    frames[:, lower_lip, 1] += (opening * iod)[:, None]
    return frames


def _opening(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.0, 0.3, FRAMES)


def test_two_face_shapes_with_the_same_motion_have_no_invariant_error() -> None:
    ann = _talk(_face(1.0, 1.0), _opening())
    bob = _talk(_face(1.25, 0.85), _opening())  # another person, same expression motion
    valid = np.ones(FRAMES, dtype=bool)
    invariant = invariant_expression_error_pct(ann, bob, valid)
    # the per-frame Procrustes error of today's metric sees the face-shape difference
    procrustes = np.array([expression_error_pct(a, b) for a, b in zip(ann, bob, strict=True)])
    assert np.nanmax(invariant) < 0.5
    assert procrustes.min() > 3.0


def test_a_different_motion_is_an_invariant_expression_error() -> None:
    ann = _talk(_face(1.0, 1.0), _opening(0))
    frozen = _talk(_face(1.25, 0.85), np.zeros(FRAMES))  # the mouth never moves
    valid = np.ones(FRAMES, dtype=bool)
    error = invariant_expression_error_pct(ann, frozen, valid)
    # every frame whose opening differs from the video's mean opening is an error
    assert np.nanmean(error) > 1.0
    # the same shape with the same motion scores exactly 0
    np.testing.assert_allclose(invariant_expression_error_pct(ann, ann, valid), 0.0, atol=1e-9)


def test_invariant_error_ignores_scale_and_uses_frames_valid_in_both() -> None:
    ann = _talk(_face(1.0, 1.0), _opening(1))
    big_bob = 3.0 * _talk(_face(0.9, 1.1), _opening(1)) + 40.0
    valid = np.ones(FRAMES, dtype=bool)
    valid[[2, 5]] = False
    error = invariant_expression_error_pct(ann, big_bob, valid)
    assert np.isnan(error[[2, 5]]).all()
    assert np.nanmax(error) < 0.5
    # frames not valid in both are left out of the means: garbage there changes nothing
    garbage = big_bob.copy()
    garbage[[2, 5]] = np.random.default_rng(3).uniform(-500, 500, (2, 68, 2))
    np.testing.assert_allclose(invariant_expression_error_pct(ann, garbage, valid), error)
    deltas = expression_deltas(ann, valid)
    np.testing.assert_allclose(np.nanmean(deltas[valid], axis=0), 0.0, atol=1e-12)
    normalised = eye_distance_normalised(big_bob)
    iod = np.linalg.norm(normalised[:, 45] - normalised[:, 36], axis=1)
    np.testing.assert_allclose(iod, 1.0)
    with pytest.raises(ValueError):
        invariant_expression_error_pct(ann, big_bob[:-1], valid)


def test_pose_change_error_ignores_the_starting_pose() -> None:
    driver = np.column_stack([np.linspace(0, 20, FRAMES), np.zeros(FRAMES), np.zeros(FRAMES)])
    source_start = np.array([-15.0, 8.0, 3.0])
    follows = driver + source_start  # the source's own pose, the driver's motion
    valid = np.ones(FRAMES, dtype=bool)
    np.testing.assert_allclose(pose_change_error_deg(follows, driver, valid), 0.0, atol=1e-9)
    assert pose_error_deg(follows, driver).min() > 15  # absolute angles differ by design
    frozen = np.repeat(source_start[None], FRAMES, axis=0)  # a reenactment that never moves
    np.testing.assert_allclose(pose_change_error_deg(frozen, driver, valid),
                               np.linspace(0, 20, FRAMES))
    # the reference is the first frame valid in both
    valid[0] = False
    errors = pose_change_error_deg(frozen, driver, valid)
    assert np.isnan(errors[0]) and errors[1] == pytest.approx(0.0)


def test_psnr_and_keypoint_distance_known_values() -> None:
    image = np.full((8, 8, 3), 100, np.uint8)
    other = image.copy()
    other[0, 0, 0] = 110  # one value off by 10: MSE = 100 / 192
    assert psnr(image, image) == float("inf")
    assert psnr(other, image) == pytest.approx(10 * np.log10(255**2 * 192 / 100))
    real = FACE_TEMPLATE_68[:, :2].astype(np.float64)
    iod = np.linalg.norm(real[45] - real[36])
    shifted = real + np.array([0.0, 0.05 * iod])
    assert keypoint_distance_pct(real, real) == 0.0
    assert keypoint_distance_pct(shifted, real) == pytest.approx(5.0)
