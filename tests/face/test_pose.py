"""Pose, Euler convention and 3D landmark geometry on synthetic projections of the template."""

from __future__ import annotations

import numpy as np
import pytest

from openfsgan.face.pose import (
    camera_matrix,
    canonical_shape,
    euler_from_rotation,
    face_scale,
    fit_landmarks_3d,
    interpolate_landmarks,
    project_landmarks,
    rotation_matrix,
    solve_pose,
    view_rotation,
)
from openfsgan.face.template import FACE_TEMPLATE_68
from openfsgan.types import BoundingBox, EulerAngles, Face

WIDTH, HEIGHT = 640, 480


def perspective_projection(pose: EulerAngles, distance: float = 1500.0,
                           offset: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """The template posed by ``pose`` relative to its viewing ray, at ``offset`` from the optical
    axis, projected to pixels ``[68, 2]``."""
    centre = np.array([offset[0], offset[1], distance])
    rotation = view_rotation(centre) @ rotation_matrix(pose)
    camera_points = FACE_TEMPLATE_68 @ rotation.T + centre
    homogeneous = camera_points @ camera_matrix(WIDTH, HEIGHT).T
    return homogeneous[:, :2] / homogeneous[:, 2:]


def make_face(pose: EulerAngles, distance: float = 1500.0,
              offset: tuple[float, float] = (0.0, 0.0)) -> Face:
    landmarks = perspective_projection(pose, distance, offset)
    fitted = solve_pose(landmarks, WIDTH, HEIGHT).euler
    landmarks_3d, _ = fit_landmarks_3d(landmarks, rotation_matrix(fitted))
    return Face(BoundingBox.around(landmarks), 1.0, landmarks, landmarks_3d, fitted)


@pytest.mark.parametrize("angles", [(0, 0, 0), (25, 0, 0), (-40, 0, 0), (0, 20, 0),
                                    (0, -25, 0), (0, 0, 15), (0, 0, -30), (30, -15, 10),
                                    (-20, 25, -20), (0, 0, 170)])
def test_solve_pose_recovers_known_angles(angles: tuple[float, float, float]) -> None:
    truth = EulerAngles(*angles)
    recovered = solve_pose(perspective_projection(truth), WIDTH, HEIGHT).euler
    np.testing.assert_allclose(recovered.as_array(), truth.as_array(), atol=0.05)


def test_solve_pose_with_noise_and_off_centre_face() -> None:
    rng = np.random.default_rng(0)
    truth = EulerAngles(15.0, -10.0, 5.0)
    landmarks = perspective_projection(truth, offset=(200.0, -100.0))
    landmarks += rng.normal(0.0, 0.5, landmarks.shape)
    recovered = solve_pose(landmarks, WIDTH, HEIGHT).euler
    np.testing.assert_allclose(recovered.as_array(), truth.as_array(), atol=2.0)


def test_a_face_looking_into_the_camera_is_frontal_anywhere_in_the_frame() -> None:
    for offset in [(-300.0, 0.0), (0.0, 250.0), (300.0, -200.0)]:
        centre = np.array([offset[0], offset[1], 1000.0])
        looking_at_camera = view_rotation(centre)
        camera_points = FACE_TEMPLATE_68 @ looking_at_camera.T + centre
        homogeneous = camera_points @ camera_matrix(WIDTH, HEIGHT).T
        fit = solve_pose(homogeneous[:, :2] / homogeneous[:, 2:], WIDTH, HEIGHT)
        np.testing.assert_allclose(fit.euler.as_array(), 0.0, atol=0.05)
        np.testing.assert_allclose(fit.camera_rotation, looking_at_camera, atol=1e-3)
        # view_rotation takes the optical axis onto the ray
        np.testing.assert_allclose(looking_at_camera @ [0, 0, 1], centre / np.linalg.norm(centre))


def test_euler_signs_follow_the_documented_convention() -> None:
    frontal = perspective_projection(EulerAngles(0, 0, 0))
    nose, right_eye_corner, left_eye_corner = 30, 36, 45

    def nose_offset(points: np.ndarray) -> np.ndarray:
        return points[nose] - points.mean(axis=0)

    # yaw > 0: the face turns towards the image's right, so the nose tip moves right
    assert nose_offset(perspective_projection(EulerAngles(20, 0, 0)))[0] > \
        nose_offset(frontal)[0] + 5
    # pitch > 0: chin up, so the nose tip moves up (smaller y)
    assert nose_offset(perspective_projection(EulerAngles(0, 20, 0)))[1] < \
        nose_offset(frontal)[1] - 5
    # roll > 0: clockwise tilt in the image (y down), so the image-right eye corner drops
    tilted = perspective_projection(EulerAngles(0, 0, 20))
    assert tilted[left_eye_corner, 1] > tilted[right_eye_corner, 1] + 10


def test_rotation_matrix_and_euler_round_trip() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        angles = EulerAngles(*rng.uniform([-80, -80, -170], [80, 80, 170]))
        rotation = rotation_matrix(angles)
        np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
        assert np.linalg.det(rotation) == pytest.approx(1.0)
        np.testing.assert_allclose(euler_from_rotation(rotation).as_array(), angles.as_array(),
                                   atol=1e-9)


@pytest.mark.parametrize("mode", ["lifted", "rigid"])
def test_fit_landmarks_3d_matches_2d_landmarks(mode: str) -> None:
    pose = EulerAngles(20.0, 10.0, -5.0)
    landmarks = perspective_projection(pose)
    points_3d, scale = fit_landmarks_3d(landmarks, rotation_matrix(pose), mode)  # type: ignore[arg-type]
    assert points_3d.shape == (68, 3)
    assert points_3d.dtype == np.float32
    assert abs(float(points_3d[:, 2].mean())) < 1e-3  # centroid-zero depth
    inter_ocular = np.linalg.norm(landmarks[45] - landmarks[36])
    error = np.linalg.norm(points_3d[:, :2] - landmarks, axis=1).mean() / inter_ocular
    assert error < (1e-5 if mode == "lifted" else 0.02)  # perspective vs orthographic fit
    # depth in pixels: the nose tip is nearer the camera (smaller z) than the jaw's ends
    assert points_3d[30, 2] < points_3d[[0, 16], 2].mean() - 0.3 * inter_ocular
    # pixels per template unit: focal length / distance for a face this far away
    assert scale == pytest.approx(max(WIDTH, HEIGHT) / 1500.0, rel=0.03)


def test_canonical_shape_and_projection_round_trip() -> None:
    face = make_face(EulerAngles(25.0, -10.0, 8.0), offset=(50.0, 30.0))
    shape = canonical_shape(face)
    assert shape.shape == (68, 3)
    # pose-normalised: close to the template (the face *is* the template here)
    assert np.sqrt(((shape - FACE_TEMPLATE_68) ** 2).sum(axis=1).mean()) < 3.0
    projected = project_landmarks(shape, face.pose, face_scale(face), face.landmarks.mean(axis=0))
    np.testing.assert_allclose(projected, face.landmarks, atol=1e-3)


def test_interpolate_landmarks_moves_from_source_to_target_pose() -> None:
    source = make_face(EulerAngles(-20.0, 5.0, 0.0), distance=1500.0, offset=(-60.0, 0.0))
    target = make_face(EulerAngles(25.0, -5.0, 10.0), distance=1200.0, offset=(80.0, 20.0))
    steps = interpolate_landmarks(source, target, 4)
    assert len(steps) == 4
    assert all(s.shape == (68, 2) for s in steps)
    centroids = np.array([s.mean(axis=0) for s in steps])
    expected = [source.landmarks.mean(axis=0)
                + t * (target.landmarks.mean(axis=0) - source.landmarks.mean(axis=0))
                for t in (0.25, 0.5, 0.75, 1.0)]
    np.testing.assert_allclose(centroids, expected, atol=1e-3)
    # the last step has the target's pose: the same template shape lands on its landmarks
    # (up to the orthographic vs perspective difference)
    inter_ocular = target.inter_ocular
    assert np.linalg.norm(steps[-1] - target.landmarks, axis=1).mean() < 0.06 * inter_ocular
    # the pose read back from each step moves monotonically in yaw
    yaws = [solve_pose(s, WIDTH, HEIGHT).euler.yaw for s in steps]
    assert all(b > a for a, b in zip([source.pose.yaw, *yaws], yaws, strict=False))
    with pytest.raises(ValueError):
        interpolate_landmarks(source, target, 0)
