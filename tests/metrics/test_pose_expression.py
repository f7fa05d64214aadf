from __future__ import annotations

import numpy as np
import pytest

from openfsgan.metrics.expression import (
    expression_error_pct,
    inter_ocular_distance,
    similarity_align,
)
from openfsgan.metrics.pose import pose_error_deg, wrap_degrees


def _face_landmarks(seed: int = 0) -> np.ndarray:
    """A plausible [68, 2] layout: random points plus eye corners 100 px apart."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(100, 300, size=(68, 2))
    points[36] = [150, 150]
    points[45] = [250, 150]
    return points


def test_identical_poses_give_zero_error() -> None:
    poses = np.array([[10.0, -5.0, 3.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(pose_error_deg(poses, poses), [0.0, 0.0])


def test_pose_error_is_euclidean_and_wraps() -> None:
    assert pose_error_deg(np.array([3.0, 4.0, 0.0]), np.zeros(3)) == pytest.approx(5.0)
    # 179° vs -179° yaw are 2° apart, not 358°.
    assert pose_error_deg(np.array([179.0, 0, 0]), np.array([-179.0, 0, 0])) == pytest.approx(2.0)
    np.testing.assert_allclose(wrap_degrees(np.array([180.0, 190.0, -190.0])),
                               [-180.0, -170.0, 170.0])
    with pytest.raises(ValueError):
        pose_error_deg(np.zeros(3), np.zeros(2))


def test_identical_landmarks_give_zero_expression_error() -> None:
    points = _face_landmarks()
    assert expression_error_pct(points, points) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("angle_deg,scale,shift", [(30.0, 1.7, (40.0, -12.0)),
                                                   (-75.0, 0.4, (0.0, 300.0))])
def test_similarity_transformed_landmarks_give_zero_expression_error(angle_deg, scale,
                                                                     shift) -> None:
    target = _face_landmarks(1)
    a = np.deg2rad(angle_deg)
    rotation = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    output = scale * target @ rotation.T + np.array(shift)
    assert expression_error_pct(output, target) == pytest.approx(0.0, abs=1e-8)
    np.testing.assert_allclose(similarity_align(output, target), target, atol=1e-8)


def test_expression_change_is_measured_in_percent_of_inter_ocular_distance() -> None:
    target = _face_landmarks(2)
    output = target.copy()
    # Open the mouth: move the 8 inner-lip points (60-67) down by 10 px = 10 % of the IOD.
    output[60:68, 1] += 10.0
    error = expression_error_pct(output, target)
    # Least-squares alignment can only lower the RMS of the displacement, sqrt(8/68) * 10 %,
    # and the mean is at most the RMS.
    assert 0.5 < error <= 10.0 * np.sqrt(8 / 68) + 1e-9
    assert inter_ocular_distance(target) == pytest.approx(100.0)


def test_reflection_is_not_allowed_in_alignment() -> None:
    target = _face_landmarks(3)
    mirrored = target * np.array([-1.0, 1.0])
    assert expression_error_pct(mirrored, target) > 5.0
