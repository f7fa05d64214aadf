"""A 68-point 3D morphable face model: fit identity and expression, retarget identity.

Model (Blanz & Vetter's linear shape model, at the 68 landmarks only; Face2Face transfers a
face's geometry through such a model)::

    shape = mean + identity_basis @ a + expression_basis @ b        # [68, 3], template frame

``mean`` is the generic template of :mod:`openfsgan.face.template`; the bases and the standard
deviations of their coefficients are learned by ``scripts/build_morphable_model.py`` from the
landmarks of the shared research faces (held-out people left out) and shipped as
``assets/morphable_model.npz`` (see ``assets/MORPHABLE_MODEL.md``).

Fitting (:func:`fit_face`, :class:`IdentityPool`): a face's pose is the analyzer's
(SQPnP on the template, relative to the viewing ray, the convention of
:func:`openfsgan.face.pose.project_landmarks`), its landmarks are explained by the scaled
orthographic projection of the model, and the coefficients are the MAP estimate under a
Gaussian prior (each coefficient over its learned standard deviation) and Gaussian landmark
noise. Identity is one vector per person, pooled over every face of a track or every source
view, with each face's expression eliminated exactly (Schur complement), so pooling costs one
small solve per face; expression is per face.

Retargeting (:func:`retarget_landmarks`): the target's own landmarks plus the projected change
of identity, ``strength * (a_source - a_target)``, under the target's pose and scale. That is
``target pose o (mean + strength a_s + (1 - strength) a_t + target expression)`` projected,
with the part of the target's landmarks the model does not explain kept as it is: strength 0
gives back the target's landmarks exactly, and the target's expression and pose are untouched
at any strength.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from openfsgan.errors import ConfigError
from openfsgan.face.pose import fit_scale_and_offset, rotation_matrix
from openfsgan.io.atomic import write_bytes_atomic
from openfsgan.types import NUM_LANDMARKS, Face

MODEL_FORMAT = "openfsgan-morphable-68"
MODEL_FORMAT_VERSION = 1
MODEL_ASSET = "morphable_model.npz"


@dataclass(frozen=True, eq=False)
class MorphableModel:
    """Mean shape and the two linear bases.

    Attributes:
        mean: ``[68, 3]`` mean shape, centroid zero, template units (about millimetres).
        identity_basis: ``[68, 3, Ki]`` orthonormal (as ``[204, Ki]``) identity directions.
        identity_std: ``[Ki]`` standard deviation of each identity coefficient.
        expression_basis: ``[68, 3, Ke]`` orthonormal expression directions.
        expression_std: ``[Ke]`` standard deviation of each expression coefficient.
    """

    mean: np.ndarray
    identity_basis: np.ndarray
    identity_std: np.ndarray
    expression_basis: np.ndarray
    expression_std: np.ndarray

    def __post_init__(self) -> None:
        for name, value in (("mean", self.mean), ("identity_basis", self.identity_basis),
                            ("identity_std", self.identity_std),
                            ("expression_basis", self.expression_basis),
                            ("expression_std", self.expression_std)):
            array = np.array(value, dtype=np.float64)
            array.flags.writeable = False
            object.__setattr__(self, name, array)
        if self.mean.shape != (NUM_LANDMARKS, 3):
            raise ValueError(f"mean must be [68, 3], got {self.mean.shape}")
        for basis, std in ((self.identity_basis, self.identity_std),
                           (self.expression_basis, self.expression_std)):
            if basis.ndim != 3 or basis.shape[:2] != (NUM_LANDMARKS, 3) or \
                    std.shape != (basis.shape[2],) or not (std > 0).all():
                raise ValueError(f"a basis must be [68, 3, K] with K positive stds, got "
                                 f"{basis.shape} and {std.shape}")

    @property
    def identity_size(self) -> int:
        return int(self.identity_basis.shape[2])

    @property
    def expression_size(self) -> int:
        return int(self.expression_basis.shape[2])

    def shape(self, identity: np.ndarray | None = None,
              expression: np.ndarray | None = None) -> np.ndarray:
        """``[68, 3]`` shape for coefficient vectors ``[Ki]`` and ``[Ke]`` (None: zeros)."""
        out = self.mean.copy()
        if identity is not None:
            out += self.identity_basis @ np.asarray(identity, np.float64)
        if expression is not None:
            out += self.expression_basis @ np.asarray(expression, np.float64)
        return out


def save_model(model: MorphableModel, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` as a small ``.npz`` (float32 numbers and a format tag), atomically."""
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, format=np.array(MODEL_FORMAT),
                        format_version=np.array(MODEL_FORMAT_VERSION),
                        mean=model.mean.astype(np.float32),
                        identity_basis=model.identity_basis.astype(np.float32),
                        identity_std=model.identity_std.astype(np.float32),
                        expression_basis=model.expression_basis.astype(np.float32),
                        expression_std=model.expression_std.astype(np.float32))
    target = Path(path)
    write_bytes_atomic(target, buffer.getvalue())
    return target


def load_model(path: str | os.PathLike[str]) -> MorphableModel:
    """Read a model written by :func:`save_model` (no pickles are loaded).

    Raises:
        ConfigError: not a morphable model file of this format version.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            if str(data["format"]) != MODEL_FORMAT or \
                    int(data["format_version"]) != MODEL_FORMAT_VERSION:
                raise ValueError("unknown format")
            return MorphableModel(data["mean"], data["identity_basis"], data["identity_std"],
                                  data["expression_basis"], data["expression_std"])
    except (OSError, KeyError, ValueError) as error:
        raise ConfigError(f"not a morphable model file: {path} ({error})") from error


@lru_cache(maxsize=1)
def default_model() -> MorphableModel:
    """The shipped model (``openfsgan/assets/morphable_model.npz``), loaded once."""
    with resources.as_file(resources.files("openfsgan") / "assets" / MODEL_ASSET) as path:
        return load_model(path)


@dataclass(frozen=True)
class FitConfig:
    """Settings of the MAP fit.

    Attributes:
        landmark_noise: standard deviation of a landmark's position, in template units (the
            template's eye corners are 90 apart): how far the fit trusts the landmarks
            against the prior.
        expression_prior: multiplier of the expression prior's precision (larger: smaller
            coefficients). Above 1, with ``identity_prior`` below 1: where the two bases
            overlap (one photo cannot tell a wide mouth from a smile) the shape is read as
            identity, which is what a swap transfers.
        identity_prior: multiplier of the identity prior's precision.
        max_pooled_faces: a pool counts at most this many faces' evidence (frames of one video
            are not independent: the same landmark detector's bias repeats on every frame).
        scale_iterations: alternations of the (pose, scale, offset) and coefficient fits.
        refine_pose: re-fit the rotation to the fitted shape on each alternation (the
            analyzer's pose is solved on the generic template, which a person's shape and
            expression bias by a few degrees).
    """

    landmark_noise: float = 2.0
    expression_prior: float = 2.0
    identity_prior: float = 0.5
    max_pooled_faces: float = 12.0
    scale_iterations: int = 2
    refine_pose: bool = True

    def __post_init__(self) -> None:
        if self.landmark_noise <= 0 or self.expression_prior <= 0 or self.identity_prior <= 0:
            raise ConfigError("landmark_noise and the priors must be positive")
        if self.max_pooled_faces < 1:
            raise ConfigError("max_pooled_faces must be >= 1")
        if self.scale_iterations < 1:
            raise ConfigError("scale_iterations must be >= 1")


@dataclass(frozen=True, eq=False)
class FaceFit:
    """One face explained by the model.

    Attributes:
        rotation: ``[3, 3]`` face frame -> view frame (the face's pose).
        scale: pixels per template unit.
        offset: ``[2]`` pixel offset of the projected (centred) shape.
        identity: ``[Ki]`` identity coefficients used (the face's own, or its pool's).
        expression: ``[Ke]`` expression coefficients of this face.
        residual_px: RMS distance between the landmarks and the fitted model's projection.
    """

    rotation: np.ndarray
    scale: float
    offset: np.ndarray
    identity: np.ndarray
    expression: np.ndarray
    residual_px: float


def _projected_bases(model: MorphableModel, rotation: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rotated mean ``[68, 3]`` and the 2D projections ``[136, Ki]``, ``[136, Ke]``."""
    mean = model.mean @ rotation.T
    identity = np.einsum("ij,pjk->pik", rotation[:2], model.identity_basis)
    expression = np.einsum("ij,pjk->pik", rotation[:2], model.expression_basis)
    return (mean, identity.reshape(2 * NUM_LANDMARKS, -1),
            expression.reshape(2 * NUM_LANDMARKS, -1))


@dataclass(frozen=True, eq=False)
class _Normal:
    """A face's normal equations, in units of the landmark noise."""

    rotation: np.ndarray
    scale: float
    offset: np.ndarray
    identity_jacobian: np.ndarray  # [136, Ki]
    expression_jacobian: np.ndarray  # [136, Ke]
    residual: np.ndarray  # [136] landmarks minus the projected mean, template units
    expression_hessian_inv: np.ndarray  # [Ke, Ke]


def _normal(model: MorphableModel, landmarks: np.ndarray, rotation: np.ndarray,
            shape: np.ndarray, config: FitConfig) -> _Normal:
    """Scale/offset of ``shape`` fitted to ``landmarks``, then the linear system in (a, b)."""
    mean, jac_id, jac_exp = _projected_bases(model, rotation)
    scale, offset = fit_scale_and_offset(landmarks, shape @ rotation.T)
    # offset of the projected mean: the bases are centred, so any shape's centroid is the mean's
    residual = ((landmarks - offset) / scale - mean[:, :2]).reshape(-1)
    precision = 1.0 / config.landmark_noise**2
    prior = config.expression_prior / model.expression_std**2
    hessian = precision * jac_exp.T @ jac_exp + np.diag(prior)
    return _Normal(rotation, scale, offset, jac_id, jac_exp, residual, np.linalg.inv(hessian))


def _expression_given(normal: _Normal, identity: np.ndarray, config: FitConfig) -> np.ndarray:
    """MAP expression of one face for a fixed identity."""
    precision = 1.0 / config.landmark_noise**2
    rest = normal.residual - normal.identity_jacobian @ identity
    return normal.expression_hessian_inv @ (precision * normal.expression_jacobian.T @ rest)


def _identity_evidence(normal: _Normal, config: FitConfig) -> tuple[np.ndarray, np.ndarray]:
    """This face's information about identity with its expression eliminated (Schur)."""
    precision = 1.0 / config.landmark_noise**2
    a, e = normal.identity_jacobian, normal.expression_jacobian
    cross = precision * a.T @ e  # [Ki, Ke]
    hessian = precision * a.T @ a - cross @ normal.expression_hessian_inv @ cross.T
    gradient = (precision * a.T @ normal.residual
                - cross @ normal.expression_hessian_inv @ (precision * e.T @ normal.residual))
    return hessian, gradient


def _face_rotation(face: Face) -> np.ndarray:
    return rotation_matrix(face.pose)


def refine_rotation(landmarks: np.ndarray, shape: np.ndarray) -> np.ndarray:
    """``[3, 3]`` rotation of the scaled-orthographic camera that best maps ``shape`` ``[68, 3]``
    onto ``landmarks`` ``[68, 2]``: the least-squares affine camera, made a scaled rotation
    (its two rows orthonormalised by SVD, the third their cross product)."""
    points = landmarks - landmarks.mean(axis=0)
    centred = shape - shape.mean(axis=0)
    affine = np.linalg.lstsq(centred, points, rcond=None)[0].T  # [2, 3]
    u, _, vt = np.linalg.svd(affine, full_matrices=False)
    rows = u @ vt
    return np.vstack([rows, np.cross(rows[0], rows[1])])


def _result(model: MorphableModel, landmarks: np.ndarray, normal: _Normal,
            identity: np.ndarray, expression: np.ndarray) -> FaceFit:
    shape = model.shape(identity, expression)
    projected = normal.scale * (shape @ normal.rotation.T)[:, :2] + normal.offset
    residual = float(np.sqrt(((projected - landmarks) ** 2).sum(axis=1).mean()))
    return FaceFit(normal.rotation, normal.scale, normal.offset, identity, expression, residual)


class IdentityPool:
    """One person's identity, pooled over faces (a target track, or all source views).

    Each added face contributes its identity evidence with its own expression eliminated; the
    pooled identity is the MAP estimate under the identity prior. Adding faces one at a time
    (a streaming video) gives the running estimate, which settles within a few frames.
    """

    def __init__(self, model: MorphableModel | None = None, config: FitConfig | None = None):
        self.model = model or default_model()
        self.config = config or FitConfig()
        size = self.model.identity_size
        self._hessian = np.zeros((size, size))
        self._gradient = np.zeros(size)
        self._residual = np.zeros((NUM_LANDMARKS, 3))
        self.count = 0

    def add(self, face: Face) -> None:
        """Pool the evidence of ``face`` (its landmarks under its pose)."""
        self.add_landmarks(face.landmarks, _face_rotation(face))

    def add_landmarks(self, landmarks: np.ndarray, rotation: np.ndarray) -> None:
        points = np.asarray(landmarks, np.float64)
        # this face's own fit gives its pose and scale; its evidence is taken at that pose
        own = fit_landmarks(points, rotation, None, self.model, self.config)
        shape = self.model.shape(own.identity, own.expression)
        normal = _normal(self.model, points, own.rotation, shape, self.config)
        hessian, gradient = _identity_evidence(normal, self.config)
        self._hessian += hessian
        self._gradient += gradient
        # what the model leaves unexplained, in the face frame (observed in the image plane;
        # zero along the viewing ray)
        projected = own.scale * (shape @ own.rotation.T)[:, :2] + own.offset
        in_view = np.zeros((NUM_LANDMARKS, 3))
        in_view[:, :2] = (points - projected) / own.scale
        self._residual += in_view @ own.rotation
        self.count += 1

    def residual(self) -> np.ndarray:
        """``[68, 3]`` mean of what the fitted model left unexplained (face frame, template
        units): the person's shape beyond the identity basis, plus what expression the
        expression basis missed, averaged over the faces added."""
        if self.count == 0:
            return np.zeros((NUM_LANDMARKS, 3))
        return self._residual / self.count

    def identity(self) -> np.ndarray:
        """``[Ki]`` MAP identity of the faces added so far (zeros before any)."""
        if self.count == 0:
            return np.zeros(self.model.identity_size)
        # frames of one video are not independent observations: cap the evidence
        weight = min(1.0, self.config.max_pooled_faces / self.count)
        prior = self.config.identity_prior / self.model.identity_std**2
        return np.linalg.solve(weight * self._hessian + np.diag(prior), weight * self._gradient)


def fit_face(face: Face, identity: np.ndarray | None = None,
             model: MorphableModel | None = None, config: FitConfig | None = None) -> FaceFit:
    """Fit one face: its expression, and its identity unless a pooled ``identity`` is given."""
    return fit_landmarks(face.landmarks, _face_rotation(face), identity, model, config)


def fit_landmarks(landmarks: np.ndarray, rotation: np.ndarray,
                  identity: np.ndarray | None = None, model: MorphableModel | None = None,
                  config: FitConfig | None = None) -> FaceFit:
    """:func:`fit_face` on raw ``[68, 2]`` landmarks and a ``[3, 3]`` pose rotation."""
    model = model or default_model()
    config = config or FitConfig()
    points = np.asarray(landmarks, np.float64)
    normal = _normal(model, points, rotation, model.mean, config)
    # alternate: coefficients for the current pose and scale, then those for the new shape
    for _ in range(config.scale_iterations):
        own = _own_identity(normal, model, config) if identity is None \
            else np.asarray(identity, np.float64)
        expression = _expression_given(normal, own, config)
        shape = model.shape(own, expression)
        if config.refine_pose:
            rotation = refine_rotation(points, shape)
        normal = _normal(model, points, rotation, shape, config)
    own = _own_identity(normal, model, config) if identity is None \
        else np.asarray(identity, np.float64)
    expression = _expression_given(normal, own, config)
    return _result(model, points, normal, own, expression)


def _own_identity(normal: _Normal, model: MorphableModel, config: FitConfig) -> np.ndarray:
    """MAP identity from this one face alone."""
    hessian, gradient = _identity_evidence(normal, config)
    prior = config.identity_prior / model.identity_std**2
    return np.linalg.solve(hessian + np.diag(prior), gradient)


def pooled_identity(faces: list[Face], model: MorphableModel | None = None,
                    config: FitConfig | None = None) -> np.ndarray:
    """``[Ki]`` identity of one person seen in ``faces`` (all views of a source, a track)."""
    pool = IdentityPool(model, config)
    for face in faces:
        pool.add(face)
    return pool.identity()


def shape_offset(points: np.ndarray, rotation: np.ndarray, delta: np.ndarray,
                 model: MorphableModel | None = None) -> np.ndarray:
    """``[68, 2]`` pixel displacement of a shape change ``delta`` ``[68, 3]`` (face frame,
    template units) on a face with landmarks ``points`` and pose ``rotation``: rotated,
    scaled to the face's size and projected (orthographically, like
    :func:`openfsgan.face.pose.project_landmarks`); centred, so the face does not move."""
    model = model or default_model()
    scale, _ = fit_scale_and_offset(np.asarray(points, np.float64), model.mean @ rotation.T)
    moved = scale * (np.asarray(delta, np.float64) @ rotation.T)[:, :2]
    return moved - moved.mean(axis=0)


def identity_offset(target: Face, target_identity: np.ndarray, source_identity: np.ndarray,
                    strength: float, model: MorphableModel | None = None,
                    detail: np.ndarray | None = None) -> np.ndarray:
    """``[68, 2]`` pixel displacement that gives ``target`` the source's face shape.

    The 3D change ``identity_basis @ (strength * (source - target))`` under the target's
    rotation and scale (:func:`shape_offset`). ``detail`` ``[68, 3]``: a further shape
    difference (face frame, template units) moved by the same ``strength``.
    """
    model = model or default_model()
    delta = model.identity_basis @ (float(strength) * (np.asarray(source_identity, np.float64)
                                                       - np.asarray(target_identity, np.float64)))
    if detail is not None:
        delta = delta + float(strength) * np.asarray(detail, np.float64)
    return shape_offset(target.landmarks, _face_rotation(target), delta, model)


def retarget_landmarks(target: Face, target_identity: np.ndarray, source_identity: np.ndarray,
                       strength: float, model: MorphableModel | None = None,
                       detail: np.ndarray | None = None) -> np.ndarray:
    """The target's landmarks ``[68, 2]`` (pixels) with the source's face shape.

    ``strength`` 0 returns the target's landmarks unchanged, 1 the source's identity under the
    target's pose and expression (see the module docstring).
    """
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    points = target.landmarks.astype(np.float64)
    if strength == 0.0:
        return target.landmarks.astype(np.float32)
    offset = identity_offset(target, target_identity, source_identity, strength, model, detail)
    return (points + offset).astype(np.float32)
