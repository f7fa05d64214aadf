from __future__ import annotations

import numpy as np
import pytest

from openfsgan.metrics.identity import (
    FaceDescriptor,
    cosine_similarity,
    cosine_similarity_matrix,
    mean_identity,
    retrieval_top1,
)


def _astronaut_landmarks(rgb: np.ndarray) -> np.ndarray:
    import dlib
    import face_recognition_models

    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(face_recognition_models.pose_predictor_model_location())
    rect = max(detector(rgb, 0), key=lambda r: r.area())
    shape = predictor(rgb, rect)
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


def test_cosine_similarity_known_values() -> None:
    assert cosine_similarity(np.array([1.0, 0.0]), np.array([2.0, 0.0])) == pytest.approx(1.0)
    assert cosine_similarity(np.array([1.0, 0.0]), np.array([0.0, 3.0])) == pytest.approx(0.0)
    assert cosine_similarity(np.array([1.0, 1.0]), np.array([-1.0, -1.0])) == pytest.approx(-1.0)
    assert cosine_similarity(np.zeros(3), np.ones(3)) == 0.0
    with pytest.raises(ValueError):
        cosine_similarity(np.ones(2), np.ones(3))


def test_mean_identity_is_unit_and_ignores_norms() -> None:
    descriptors = np.array([[10.0, 0.0], [0.0, 1.0]])
    mean = mean_identity(descriptors)
    assert np.linalg.norm(mean) == pytest.approx(1.0)
    np.testing.assert_allclose(mean, [np.sqrt(0.5), np.sqrt(0.5)])
    with pytest.raises(ValueError):
        mean_identity(np.zeros((0, 128)))


def test_retrieval_succeeds_for_matching_and_fails_for_swapped_identities() -> None:
    rng = np.random.default_rng(0)
    gallery = rng.normal(size=(3, 128))
    labels = ["ann", "bob", "cat"]
    queries = gallery[[0, 1, 2]] + 0.05 * rng.normal(size=(3, 128))
    assert retrieval_top1(queries, ["ann", "bob", "cat"], gallery, labels).all()
    # Outputs that still show the target: the expected (source) label is never retrieved.
    assert not retrieval_top1(queries, ["bob", "cat", "ann"], gallery, labels).any()
    sims = cosine_similarity_matrix(queries, gallery)
    assert sims.shape == (3, 3)
    assert np.all(np.argmax(sims, axis=1) == [0, 1, 2])


def test_retrieval_validates_labels() -> None:
    gallery = np.eye(2)
    with pytest.raises(ValueError):
        retrieval_top1(np.eye(2), ["a", "b"], gallery, ["a", "a"])
    with pytest.raises(ValueError):
        retrieval_top1(np.eye(2), ["a"], gallery, ["a", "b"])
    assert retrieval_top1(np.zeros((0, 2)), [], gallery, ["a", "b"]).size == 0


def test_descriptor_same_face_is_similar_and_other_image_is_not(astronaut_rgb) -> None:
    rgb = np.ascontiguousarray(astronaut_rgb)
    landmarks = _astronaut_landmarks(rgb)
    descriptor = FaceDescriptor()
    own = descriptor.describe(rgb, landmarks)
    assert own.shape == (128,)
    # The same face, slightly shifted in the frame: nearly the same descriptor.
    shifted = np.ascontiguousarray(np.roll(rgb, (5, 7), axis=(0, 1)))
    again = descriptor.describe(shifted, landmarks + np.array([7, 5], dtype=np.float32))
    assert cosine_similarity(own, again) > 0.999
    # The same landmarks on a face-free noise image describe something else.
    noise = np.random.default_rng(1).integers(0, 256, rgb.shape, dtype=np.uint8)
    assert cosine_similarity(own, descriptor.describe(noise, landmarks)) < 0.95
    with pytest.raises(ValueError):
        descriptor.describe(rgb, landmarks[:5])
