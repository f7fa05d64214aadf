"""Overlay drawing: draws on a copy, near the face, with the pose gizmo along the face axes."""

from __future__ import annotations

import numpy as np

from openfsgan.face.draw import draw_frame, pose_axes_2d
from openfsgan.face.pose import fit_landmarks_3d, rotation_matrix
from openfsgan.face.template import FACE_TEMPLATE_68
from openfsgan.types import BoundingBox, EulerAngles, Face, FrameFaces


def synthetic_face(pose: EulerAngles) -> Face:
    landmarks = (FACE_TEMPLATE_68 @ rotation_matrix(pose).T)[:, :2] + [160.0, 120.0]
    points_3d, _ = fit_landmarks_3d(landmarks, rotation_matrix(pose))
    return Face(BoundingBox.around(landmarks), 0.9, landmarks, points_3d, pose, track_id=3)


def test_draw_frame_marks_the_face_region_only() -> None:
    image = np.zeros((240, 320, 3), np.uint8)
    face = synthetic_face(EulerAngles(0, 0, 0))
    out = draw_frame(image, FrameFaces(0, 0.0, (face,)))
    assert out.shape == image.shape and out.dtype == np.uint8
    assert image.max() == 0  # the input is untouched
    changed = np.argwhere(out.any(axis=2))
    assert len(changed) > 500
    box = face.box
    assert changed[:, 1].min() >= box.x0 - 10 and changed[:, 1].max() <= box.x1 + 10


def test_pose_gizmo_follows_yaw() -> None:
    frontal = pose_axes_2d(synthetic_face(EulerAngles(0, 0, 0)), 50.0)
    turned = pose_axes_2d(synthetic_face(EulerAngles(40, 0, 0)), 50.0)
    nose = synthetic_face(EulerAngles(0, 0, 0)).landmarks[30]
    np.testing.assert_allclose(frontal[0] - nose, [50.0, 0.0], atol=1e-4)  # x axis: right
    np.testing.assert_allclose(frontal[1] - nose, [0.0, 50.0], atol=1e-4)  # y axis: down
    # yaw > 0 turns the face to the image's right, so its backward z axis points left
    turned_nose = synthetic_face(EulerAngles(40, 0, 0)).landmarks[30]
    assert (turned[2] - turned_nose)[0] < -20
