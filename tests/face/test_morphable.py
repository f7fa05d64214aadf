"""The 3D morphable model: fitting recovers what made synthetic landmarks; retargeting keeps
the target's pose and expression and brings the source's face shape."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openfsgan.errors import ConfigError
from openfsgan.face.morphable import (
    FitConfig,
    IdentityPool,
    default_model,
    fit_face,
    load_model,
    pooled_identity,
    retarget_landmarks,
    save_model,
)
from openfsgan.face.pose import fit_landmarks_3d, rotation_matrix, solve_pose
from openfsgan.face.template import FACE_TEMPLATE_68
from openfsgan.types import BoundingBox, EulerAngles, Face

WIDTH = HEIGHT = 640
POSES = [EulerAngles(0.0, 0.0, 0.0), EulerAngles(25.0, -8.0, 4.0), EulerAngles(-18.0, 10.0, -6.0),
         EulerAngles(10.0, 15.0, 2.0), EulerAngles(-30.0, -5.0, 0.0), EulerAngles(5.0, -12.0, 9.0)]


def posed(shape: np.ndarray, pose: EulerAngles, scale: float = 2.5,
          centre: tuple[float, float] = (320.0, 300.0)) -> np.ndarray:
    """Scaled-orthographic projection ``[68, 2]`` of a model shape (the fit's camera)."""
    rotated = (shape - shape.mean(axis=0)) @ rotation_matrix(pose).T
    return (scale * rotated[:, :2] + np.asarray(centre)).astype(np.float32)


def make_face(points: np.ndarray, track_id: int = 0) -> Face:
    """A Face as the analyzer makes it: pose by SQPnP on the template, 3D landmarks lifted."""
    pose = solve_pose(points, WIDTH, HEIGHT).euler
    landmarks_3d, _ = fit_landmarks_3d(points, rotation_matrix(pose))
    return Face(BoundingBox.around(points), 1.0, points, landmarks_3d, pose, track_id)


def shape_rms(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sqrt(((a - b) ** 2).sum(axis=1).mean()))


@pytest.fixture(scope="module")
def model():
    return default_model()


def random_coefficients(model, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return (rng.normal(size=model.identity_size) * model.identity_std,
            rng.normal(size=model.expression_size) * model.expression_std)


def test_the_shipped_model_is_small_and_has_the_template_as_mean(model):
    assert np.allclose(model.mean, FACE_TEMPLATE_68 - FACE_TEMPLATE_68.mean(axis=0), atol=1e-3)
    basis = model.identity_basis.reshape(-1, model.identity_size)
    assert np.allclose(basis.T @ basis, np.eye(model.identity_size), atol=1e-4)
    assert 4 <= model.expression_size <= 20 and 8 <= model.identity_size <= 30
    # real shapes: a person differs from the template by millimetres, not by centimetres
    assert 1.0 < float(model.identity_std[0]) < 20.0


def test_save_and_load_round_trip_and_reject_other_files(model, tmp_path: Path):
    path = save_model(model, tmp_path / "model.npz")
    loaded = load_model(path)
    assert np.allclose(loaded.identity_basis, model.identity_basis, atol=1e-6)
    other = tmp_path / "other.npz"
    np.savez(other, weights=np.zeros(3))
    with pytest.raises(ConfigError, match="not a morphable model"):
        load_model(other)


def test_fit_recovers_synthetic_identity_expression_and_pose(model):
    identity, _ = random_coefficients(model, 1)
    faces, expressions = [], []
    for index, pose in enumerate(POSES):
        _, expression = random_coefficients(model, 100 + index)
        expressions.append(expression)
        faces.append(make_face(posed(model.shape(identity, expression), pose)))
    # pose: the analyzer's template pose is close to the true one for the model's shapes
    for face, pose in zip(faces, POSES, strict=True):
        assert np.abs(face.pose.as_array() - pose.as_array()).max() < 6.0
    pooled = pooled_identity(faces, model)
    truth = model.identity_basis @ identity
    # identity recovered as a shape: much nearer the truth than the mean (no identity) is
    assert shape_rms(model.identity_basis @ pooled, truth) < 0.35 * shape_rms(0 * truth, truth)
    for face, expression in zip(faces, expressions, strict=True):
        fit = fit_face(face, pooled, model)
        wanted = model.expression_basis @ expression
        got = model.expression_basis @ fit.expression
        assert shape_rms(got, wanted) < 0.5 * shape_rms(0 * wanted, wanted)
        assert fit.residual_px < 2.5  # one template unit (~1 mm): what the pose misses


def test_a_still_neutral_head_has_expression_near_zero(model):
    identity, _ = random_coefficients(model, 2)
    neutral = model.shape(identity)
    faces = [make_face(posed(neutral, pose)) for pose in POSES]
    pooled = pooled_identity(faces, model)
    _, expression = random_coefficients(model, 3)
    expressive = make_face(posed(model.shape(identity, expression), POSES[1]))
    # the same fit sees a real expression (a random one, in prior units, has norm ~2.8)
    moved = np.linalg.norm(fit_face(expressive, pooled, model).expression / model.expression_std)
    assert moved > 1.0
    for face in faces:
        coefficients = fit_face(face, pooled, model).expression / model.expression_std
        assert np.linalg.norm(coefficients) < 0.3 * moved


def test_strength_zero_gives_back_the_target_landmarks(model):
    target_id, target_exp = random_coefficients(model, 4)
    source_id, _ = random_coefficients(model, 5)
    target = make_face(posed(model.shape(target_id, target_exp), POSES[2]))
    got = retarget_landmarks(target, target_id, source_id, 0.0, model)
    assert np.array_equal(got, target.landmarks)
    moved = retarget_landmarks(target, target_id, source_id, 1.0, model)
    assert np.abs(moved - target.landmarks).max() > 1.0


def test_strength_one_is_the_source_shape_under_the_target_pose_and_expression(model):
    target_id, target_exp = random_coefficients(model, 6)
    source_id, _ = random_coefficients(model, 7)
    target_faces = [make_face(posed(model.shape(target_id, random_coefficients(model, 50 + i)[1]),
                                    pose)) for i, pose in enumerate(POSES)]
    source_faces = [make_face(posed(model.shape(source_id, random_coefficients(model, 70 + i)[1]),
                                    pose, scale=1.7)) for i, pose in enumerate(POSES)]
    pose = EulerAngles(20.0, -6.0, 3.0)
    target = make_face(posed(model.shape(target_id, target_exp), pose))
    wanted = posed(model.shape(source_id, target_exp), pose)
    got = retarget_landmarks(target, pooled_identity(target_faces, model),
                             pooled_identity(source_faces, model), 1.0, model)
    before = shape_rms(target.landmarks, wanted)
    assert shape_rms(got, wanted) < 0.4 * before
    half = retarget_landmarks(target, pooled_identity(target_faces, model),
                              pooled_identity(source_faces, model), 0.5, model)
    assert shape_rms(half, wanted) == pytest.approx(0.5 * before, rel=0.35)


def test_strength_outside_zero_to_one_is_refused(model):
    face = make_face(posed(model.mean, POSES[0]))
    with pytest.raises(ValueError, match="strength"):
        retarget_landmarks(face, np.zeros(model.identity_size), np.zeros(model.identity_size),
                           1.5, model)
    with pytest.raises(ConfigError):
        FitConfig(landmark_noise=0.0)


def test_identity_is_stable_over_a_talking_head_video(shared_faces: Path, model):
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.io.media import iter_frames

    analyzer = FaceAnalyzer()

    def halves(path: Path, frames: int = 120) -> tuple[np.ndarray, np.ndarray]:
        faces = [f.faces[0] for f in analyzer.track_frames(
            frame for frame, _ in zip(iter_frames(path), range(frames), strict=False))
            if f.faces]
        middle = len(faces) // 2
        return (model.identity_basis @ pooled_identity(faces[:middle], model),
                model.identity_basis @ pooled_identity(faces[middle:], model))

    first, second = halves(shared_faces / "LivePortrait/assets/examples/driving/d6.mp4")
    other, _ = halves(shared_faces / "LIA/data/vox/driving2.mp4", 60)
    within = shape_rms(first, second)
    between = shape_rms(first, other)
    assert within < 0.4 * between, (within, between)


def test_pool_caps_the_evidence_of_many_frames(model):
    identity, _ = random_coefficients(model, 8)
    face = make_face(posed(model.shape(identity), POSES[0]))
    few, many = IdentityPool(model, FitConfig(max_pooled_faces=3)), IdentityPool(model)
    for _ in range(3):
        few.add(face)
    for _ in range(30):
        many.add(face)
    capped = IdentityPool(model, FitConfig(max_pooled_faces=3))
    for _ in range(30):
        capped.add(face)
    assert np.allclose(capped.identity(), few.identity())
    assert not np.allclose(many.identity(), few.identity())


def test_the_pool_keeps_what_the_model_cannot_explain(model):
    identity, _ = random_coefficients(model, 9)
    plain = model.shape(identity)
    # a deformation outside both bases: the nose tip and the chin pulled apart vertically
    extra = np.zeros((68, 3))
    extra[30, 1], extra[8, 1] = -4.0, 4.0
    basis = np.concatenate([model.identity_basis, model.expression_basis], axis=2)
    flat = basis.reshape(-1, basis.shape[2])
    extra = (extra.reshape(-1) - flat @ (flat.T @ extra.reshape(-1))).reshape(68, 3)
    for shape, expected in ((plain, np.zeros((68, 3))), (plain + extra, extra)):
        pool = IdentityPool(model)
        for pose in POSES[:3]:
            pool.add(make_face(posed(shape, pose)))
        residual = pool.residual()
        if not expected.any():
            assert shape_rms(residual, expected) < 0.5
        else:  # observed in the image plane: most of it, in the right direction
            assert float((residual * expected).sum()) > 0.5 * float((expected**2).sum())
