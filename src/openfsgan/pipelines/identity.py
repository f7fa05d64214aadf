"""Identity transfer of the face's shape: the target geometry the reenactment is driven to.

Without it every source view is warped onto the *target's* 68 landmarks, so the output keeps
the target's eye spacing, nose length, mouth position and jaw line. With it, the landmarks are
retargeted through the 3D morphable model (:mod:`openfsgan.face.morphable`): the source's
identity coefficients (pooled over its views) replace the target's (pooled over the target's
track) by ``strength``, under the target's pose and expression.

Shared by the classic and the neural path; no file I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from openfsgan.face.morphable import (
    FitConfig,
    IdentityPool,
    MorphableModel,
    default_model,
    fit_landmarks,
    shape_offset,
)
from openfsgan.face.pose import solve_pose
from openfsgan.geometry.mesh_warp import (
    MeshWarpConfig,
    TriangleMesh,
    border_points,
    forehead_points,
)

DEFAULT_IDENTITY_STRENGTH = 1.0
"""Default share of the source's face shape (0: the target's geometry, 1: the source's);
measured on the held-out pairs, see the README's "Identity transfer" section."""

TRANSFER_RESIDUAL = True
"""Transfer, with the identity coefficients, the pooled part of each person's shape the model
leaves unexplained (the identity basis's 16 directions hold ~70 % of the between-person
variance; the rest would stay the target's)."""


@dataclass(frozen=True, eq=False)
class PersonShape:
    """One person's face shape: morphable-model identity and the pooled residual.

    Attributes:
        identity: ``[Ki]`` identity coefficients.
        residual: ``[68, 3]`` mean unexplained shape (face frame, template units).
    """

    identity: np.ndarray
    residual: np.ndarray

    @staticmethod
    def of(pool: IdentityPool) -> PersonShape:
        return PersonShape(pool.identity(), pool.residual())


def views_identity(landmarks: Sequence[np.ndarray], crop_size: int,
                   model: MorphableModel | None = None,
                   config: FitConfig | None = None) -> PersonShape:
    """One person's shape from aligned views (landmarks in crop pixels).

    The pose of each view is solved in its crop: the alignment removed the roll of the frame,
    and the shape (what identity is) does not change under that similarity.
    """
    pool = IdentityPool(model or default_model(), config)
    for points in landmarks:
        points64 = np.asarray(points, np.float64)
        pool.add_landmarks(points64, solve_pose(points64, crop_size, crop_size).rotation)
    return PersonShape.of(pool)


class TrackIdentity:
    """The running shape of the target face of a video (one pool, reset per track)."""

    def __init__(self, model: MorphableModel | None = None,
                 config: FitConfig | None = None) -> None:
        self.model = model or default_model()
        self.config = config
        self.track_id: int | None = None
        self.pool = IdentityPool(self.model, config)

    def update(self, points: np.ndarray, rotation: np.ndarray, track_id: int) -> PersonShape:
        """Pool a face (``[68, 2]`` landmarks and its ``[3, 3]`` pose; a new ``track_id``
        starts a new pool); the shape so far."""
        if track_id != self.track_id:
            self.pool = IdentityPool(self.model, self.config)
            self.track_id = track_id
        self.pool.add_landmarks(points, rotation)
        return PersonShape.of(self.pool)


def target_geometry(points: np.ndarray, image_size: tuple[int, int],
                    source: PersonShape | None, strength: float,
                    track: TrackIdentity | None = None, track_id: int = 0) -> np.ndarray:
    """The landmarks ``[68, 2]`` the source views are brought to.

    The target's landmarks plus the change of face shape from the target's pooled shape to the
    source's, by ``strength``, under the target's pose (:mod:`openfsgan.face.morphable`). The
    target is measured exactly as the source's views are (pose solved on its own landmarks in
    its own image), so a face swapped with itself does not move.

    Args:
        points: ``[68, 2]`` the target's landmarks (pixels of an image of ``image_size``).
        image_size: ``(width, height)`` of that image (the camera of the pose solve).
        source: the source's pooled shape (None: no transfer).
        strength: share of the source's face shape in ``[0, 1]``; 0 returns ``points``.
        track: the target track's running shape on video (None: this face alone).
        track_id: the target's track (a new one resets ``track``).
    """
    if source is None or strength == 0.0:
        return points
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    model = track.model if track is not None else default_model()
    points64 = np.asarray(points, np.float64)
    rotation = solve_pose(points64, *image_size).rotation
    if track is not None:
        own = track.update(points64, rotation, track_id)
    else:
        pool = IdentityPool(model)
        pool.add_landmarks(points64, rotation)
        own = PersonShape.of(pool)
    fit = fit_landmarks(points64, rotation, own.identity, model)
    delta = model.identity_basis @ (strength * (source.identity - own.identity))
    if TRANSFER_RESIDUAL:
        delta = delta + strength * (source.residual - own.residual)
    moved = points64 + shape_offset(points64, fit.rotation, delta, model)
    return moved.astype(np.float32)


def move_target_face(frame: np.ndarray, target_points: np.ndarray, geometry: np.ndarray,
                     mesh: MeshWarpConfig | None = None, margin: float = 0.25) -> np.ndarray:
    """The frame with the target's face moved onto the retargeted landmarks (the face outline).

    Where the source's face is narrower than the target's, the target's jaw line, cheeks and
    the background beside them are carried in to the new outline (nothing of the target's
    face is left outside the swapped region); where it is wider, they are pushed out and the
    swapped region grows with the outline (the source's own background is never pasted). An
    open target mouth's interior moves with the retargeted lips the same way. A smooth
    displacement: the piecewise-affine mesh of the landmarks, the forehead points and a box
    around the face whose border stays put, applied at the frame's resolution.

    Args:
        frame: ``[H, W, 3]`` uint8 target frame (not modified).
        target_points: ``[68, 2]`` the target's landmarks (frame pixels).
        geometry: ``[68, 2]`` where they go (:func:`target_geometry`).
        mesh: forehead height of the mesh.
        margin: the box's margin around the face, as a fraction of the face's size.

    Returns:
        ``[H, W, 3]`` uint8; ``frame`` itself when nothing moves.
    """
    source = np.asarray(target_points, np.float64)
    destination = np.asarray(geometry, np.float64)
    if np.abs(destination - source).max() < 0.05:
        return frame
    mesh = mesh or MeshWarpConfig()
    face_src = np.concatenate([source, forehead_points(source, mesh.forehead_height)])
    face_dst = np.concatenate([destination, forehead_points(destination, mesh.forehead_height)])
    both = np.concatenate([face_src, face_dst])
    size = float(np.ptp(both, axis=0).max())
    height, width = frame.shape[:2]
    x0, y0 = np.floor(both.min(axis=0) - margin * size).astype(int)
    x1, y1 = np.ceil(both.max(axis=0) + margin * size).astype(int)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return frame
    offset = np.array([x0, y0], np.float64)
    pins = border_points(x1 - x0, y1 - y0, mesh.border_points_per_side)
    triangle_mesh = TriangleMesh.build(np.concatenate([face_dst - offset, pins]),
                                       (y1 - y0, x1 - x0))
    box = np.ascontiguousarray(frame[y0:y1, x0:x1])
    map_x, map_y = triangle_mesh.maps_from(np.concatenate([face_src - offset, pins]))
    moved = cv2.remap(box, map_x, map_y, interpolation=cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    # only what moved is resampled: where the displacement fades out (towards the box's
    # border) the frame keeps its own pixels, unblurred
    shift = cv2.magnitude(map_x - np.arange(x1 - x0, dtype=np.float32)[None, :],
                          map_y - np.arange(y1 - y0, dtype=np.float32)[:, None])
    weight = np.clip((shift - 0.1) / 0.4, 0.0, 1.0, out=shift)
    out = frame.copy()
    # box + weight * (moved - box), rounded to uint8, in one pass over the box
    out[y0:y1, x0:x1] = cv2.blendLinear(moved, box, weight, 1.0 - weight)
    return out
