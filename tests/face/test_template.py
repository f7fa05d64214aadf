"""The generic 3D template: shape, frame and plausibility."""

from __future__ import annotations

import numpy as np

from openfsgan.face.landmarks import MIRROR_68
from openfsgan.face.template import FACE_TEMPLATE_68


def test_template_is_centred_symmetric_and_read_only() -> None:
    t = FACE_TEMPLATE_68
    assert t.shape == (68, 3)
    assert not t.flags.writeable
    np.testing.assert_allclose(t.mean(axis=0), 0.0, atol=0.05)
    np.testing.assert_allclose(t[MIRROR_68] * [-1, 1, 1], t, atol=0.02)


def test_template_frame_x_right_y_down_z_away() -> None:
    t = FACE_TEMPLATE_68
    assert 85 < np.linalg.norm(t[45] - t[36]) < 95  # outer eye corners ~90 units apart
    assert t[45, 0] > t[36, 0]  # the subject's left eye is on the image's right
    assert t[8, 1] > t[30, 1] > t[27, 1]  # chin below nose tip below nose bridge
    assert t[30, 2] < t[27, 2] < t[[0, 16], 2].mean()  # the nose points at the camera
