"""The neural path on the shipped generators: stage helpers, a swap and a reenactment."""

from __future__ import annotations

import numpy as np
import pytest

from openfsgan.errors import ConfigError
from openfsgan.pipelines.neural import (
    NeuralConfig,
    NeuralReenactSource,
    crop_face,
    face_region,
    from_network,
    reenact_frame,
    softmax,
    swap_crop,
    swap_frame,
    to_network,
)


@pytest.fixture(scope="module")
def models():
    from openfsgan.inference import NeuralModels

    return NeuralModels.load(threads=1)


@pytest.fixture(scope="module")
def astronaut_faces(astronaut_rgb: np.ndarray):
    from openfsgan.face.analyzer import FaceAnalyzer

    analyzer = FaceAnalyzer()
    frame = np.ascontiguousarray(astronaut_rgb)
    mirrored = np.ascontiguousarray(astronaut_rgb[:, ::-1])
    return (frame, analyzer.analyze_image(frame).faces[0],
            mirrored, analyzer.analyze_image(mirrored).faces[0])


def test_conversions_and_helpers() -> None:
    rgb = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert to_network(rgb).shape == (1, 3, 32, 32)
    assert np.array_equal(from_network(to_network(rgb)), rgb)
    probs = softmax(np.random.default_rng(1).normal(size=(2, 3, 4, 4)).astype(np.float32))
    assert np.allclose(probs.sum(axis=1), 1.0)
    with pytest.raises(ConfigError):
        NeuralConfig(reenactment_steps=0)


def test_face_region_covers_the_landmarks_and_forehead() -> None:
    from openfsgan.face.align import canonical_landmarks

    points = canonical_landmarks(128)
    region = face_region(points, 128, 0.04)
    assert region.dtype == np.float32 and set(np.unique(region)) <= {0.0, 1.0}
    inside = np.round(points).astype(int)
    assert region[inside[:, 1], inside[:, 0]].all()
    brow_y = int(points[17:27, 1].min())
    assert region[brow_y - 8, 64] == 1.0  # forehead above the brows
    assert region[2, 2] == 0.0 and region[125, 2] == 0.0


def test_crop_face_refits_pose_in_the_crop(astronaut_faces) -> None:
    from openfsgan.face.align import estimate_alignment, transform_points

    _, face, _, _ = astronaut_faces
    transform = estimate_alignment(face.landmarks, 128)
    local = crop_face(transform_points(face.landmarks, transform.matrix), 128)
    assert local.landmarks.shape == (68, 2) and local.landmarks_3d.shape == (68, 3)
    assert abs(local.pose.yaw - face.pose.yaw) < 10.0


def test_neural_swap_of_the_astronaut(models, astronaut_faces) -> None:
    from openfsgan.pipelines.classic import SourceAppearance, make_source_view

    frame, face, mirrored, mirrored_face = astronaut_faces
    config = NeuralConfig()
    view = make_source_view(mirrored, mirrored_face, config.source_config(models.resolution))
    source = SourceAppearance.from_views([view], 0.0)
    crop = swap_crop(models, frame, face, source, config)
    size = models.resolution
    assert crop.blended.shape == crop.reenacted.shape == (size, size, 3)
    # the segmentation finds a face of plausible size, and G_b keeps the target outside it
    assert 0.1 < crop.mask.mean() < 0.7
    outside = crop.mask == 0
    assert np.abs(crop.blended[outside].astype(int) - crop.target[outside]).max() <= 1
    out = swap_frame(models, frame, face, source, config)
    assert out.shape == frame.shape and out.dtype == np.uint8
    changed = np.abs(out.astype(int) - frame).sum(axis=2) > 0
    ys, xs = np.nonzero(changed)
    box = face.box
    # changes stay around the face and leave the rest of the frame untouched
    assert changed.any()
    assert xs.min() >= box.x0 - 0.5 * box.width and xs.max() <= box.x1 + 0.5 * box.width
    assert ys.min() >= box.y0 - 0.8 * box.height and ys.max() <= box.y1 + 0.5 * box.height


def test_neural_reenactment_keeps_the_source_frame(models, astronaut_faces) -> None:
    frame, face, _, _ = astronaut_faces
    source = NeuralReenactSource.prepare(models, frame, face)
    driven = face.landmarks + np.array([3.0, 0.0], np.float32)
    out = reenact_frame(models, source, driven)
    assert out.shape == frame.shape
    assert np.array_equal(out[:20], frame[:20])  # far from the face
