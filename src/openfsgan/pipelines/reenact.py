"""Face reenactment on the classic path: the source face driven by a driver's pose and expression.

For each driver frame the driver's *changes* relative to its reference frame (the first frame
with the face) are transferred onto the source face, so the source keeps its own face shape:

* expression: the change of the driver's pose-normalised 3D landmarks (FSGAN's 3D landmarks
  ``v`` rotated to frontal, in template units) is added to the source's;
* pose: the driver's rotation relative to its reference is applied on top of the source's pose;
* position and size: the driver's centroid motion and scale change, in units of its face size.

The retargeted landmarks are projected to 2D and the source crop is mesh-warped onto them (the
crop border stays pinned) and pasted back into the source frame. No file I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from openfsgan.errors import ConfigError
from openfsgan.face.align import (
    AlignTransform,
    estimate_alignment,
    paste_back,
    similarity_transform,
    transform_points,
    warp_to_crop,
)
from openfsgan.face.pose import (
    canonical_shape,
    euler_from_rotation,
    face_scale,
    project_landmarks,
    rotation_matrix,
)
from openfsgan.geometry.masks import border_window
from openfsgan.geometry.mesh_warp import MeshWarpConfig, extend_landmarks, face_mesh
from openfsgan.pipelines.swap import INNER_MOUTH, mouth_opening
from openfsgan.types import Face


@dataclass(frozen=True)
class ReenactConfig:
    """Settings of the classic reenactment.

    Attributes:
        max_crop_size: largest side of the aligned crop the warp works on; the crop is made at
            the face's own resolution up to this size (no detail lost to resampling).
        margin: room around the face in the crop (the head may move and turn within it).
        forehead_shift: fraction of the crop the face is moved down to fit the forehead.
        expression_gain: scale of the transferred expression change (1: as the driver).
        fill_mouth: fill the mouth where the driven mouth opens wider than the source's (a
            closed source mouth has no teeth to warp): with the driver's mouth interior when
            its frame is given, else a dark lip-tinted red.
        mesh: mesh-warp settings.
    """

    max_crop_size: int = 640
    margin: float = 0.3
    forehead_shift: float = 0.04
    expression_gain: float = 1.0
    fill_mouth: bool = True
    mesh: MeshWarpConfig = field(default_factory=MeshWarpConfig)

    def __post_init__(self) -> None:
        if not 64 <= self.max_crop_size <= 2048:
            raise ConfigError(f"max_crop_size must be in [64, 2048], got {self.max_crop_size}")
        if not 0.0 <= self.margin < 0.45:
            raise ConfigError(f"margin must be in [0, 0.45), got {self.margin}")
        if not 0.0 <= self.expression_gain <= 2.0:
            raise ConfigError("expression_gain must be in [0, 2]")


def retarget_landmarks(source: Face, driver: Face, driver_reference: Face,
                       expression_gain: float = 1.0) -> np.ndarray:
    """The source's landmarks with the driver's pose and expression change: ``[68, 2]``.

    Args:
        source: the face to animate (on the source photo).
        driver: the driver's face on the current frame.
        driver_reference: the driver's face on its reference frame; the driver's motion and
            expression are measured relative to it.
        expression_gain: scale of the expression change.

    With ``driver is driver_reference`` the result is the source's own landmarks.
    """
    # expression: change of the pose-normalised 3D shape (template units)
    expression = canonical_shape(driver) - canonical_shape(driver_reference)
    shape = canonical_shape(source) + expression_gain * expression
    # pose: the driver's rotation since its reference, applied to the source's pose
    relative = rotation_matrix(driver.pose) @ rotation_matrix(driver_reference.pose).T
    pose = euler_from_rotation(relative @ rotation_matrix(source.pose))
    # position and size, in units of each face's size
    source_scale = face_scale(source)
    reference_scale = face_scale(driver_reference)
    scale = source_scale * face_scale(driver) / reference_scale
    motion = driver.landmarks.mean(axis=0) - driver_reference.landmarks.mean(axis=0)
    centre = source.landmarks.mean(axis=0) + motion * (source_scale / reference_scale)
    return project_landmarks(shape, pose, scale, centre)


def _cavity_alpha(crop_shape: tuple[int, ...], source_points: np.ndarray,
                  driven_points: np.ndarray) -> np.ndarray | None:
    """``[S, S, 1]`` weight of the new mouth opening (None when the mouth opens no wider)."""
    extra = mouth_opening(driven_points) - mouth_opening(source_points)
    if extra <= 0.04:
        return None
    size = crop_shape[0]
    cavity: np.ndarray = np.zeros(crop_shape[:2], np.float32)
    cv2.fillPoly(cavity, [np.round(driven_points[INNER_MOUTH] * 16).astype(np.int32)], 1.0,
                 lineType=cv2.LINE_AA, shift=4)
    cavity = cv2.GaussianBlur(cavity, (0, 0), 0.006 * size)
    return np.float32(min(1.0, extra / 0.12)) * cavity[..., None]


def _lip_colour(image: np.ndarray, points: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    xs = np.clip(np.round(points[48:60, 0]).astype(int), 0, width - 1)
    ys = np.clip(np.round(points[48:60, 1]).astype(int), 0, height - 1)
    return image[ys, xs].reshape(-1, 3).astype(np.float32).mean(axis=0)


def fill_mouth_cavity(crop: np.ndarray, source_points: np.ndarray, driven_points: np.ndarray,
                      driver_rgb: np.ndarray | None = None,
                      driver_points: np.ndarray | None = None) -> np.ndarray:
    """Fill the mouth where the driven mouth opens wider than the source's.

    With the driver's frame and landmarks, the driver's own mouth interior (teeth, tongue) is
    moved onto the driven inner-lip polygon by a similarity transform of the lips and relit by
    the ratio of the two faces' lip brightness; otherwise the opening is painted a dark,
    lip-tinted red.
    """
    alpha = _cavity_alpha(crop.shape, source_points, driven_points)
    if alpha is None:
        return crop
    lips = _lip_colour(crop, driven_points)
    if driver_rgb is not None and driver_points is not None:
        size = crop.shape[0]
        matrix = similarity_transform(driver_points[48:68], driven_points[48:68])
        interior = cv2.warpAffine(driver_rgb, matrix, (size, size), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        # relit by brightness only (lipstick must not tint the teeth)
        gain = float(lips.mean()) / max(float(_lip_colour(driver_rgb, driver_points).mean()), 1.0)
        interior *= np.float32(np.clip(gain, 0.5, 2.0))
    else:
        interior = np.broadcast_to(0.3 * lips, crop.shape)
    out = crop.astype(np.float32) * (1.0 - alpha) + interior * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True, eq=False)
class ReenactSource:
    """The source photo prepared once: its aligned crop and landmarks in crop pixels."""

    frame: np.ndarray
    face: Face
    transform: AlignTransform
    crop: np.ndarray
    points: np.ndarray
    window: np.ndarray

    @staticmethod
    def prepare(frame: np.ndarray, face: Face,
                config: ReenactConfig | None = None) -> ReenactSource:
        config = config or ReenactConfig()
        # the crop size at which the face keeps its resolution (alignment scale 1)
        probe = estimate_alignment(face.landmarks, 1000, config.margin, config.forehead_shift)
        native = 1000.0 / max(probe.scale, 1e-6)
        size = int(np.clip(8 * round(native / 8), 64, config.max_crop_size))
        transform = estimate_alignment(face.landmarks, size, config.margin,
                                       config.forehead_shift)
        return ReenactSource(frame, face, transform, warp_to_crop(frame, transform),
                             transform_points(face.landmarks, transform.matrix),
                             border_window(size))


def reenact_frame(source: ReenactSource, driven_landmarks: np.ndarray,
                  config: ReenactConfig | None = None, driver_rgb: np.ndarray | None = None,
                  driver_landmarks: np.ndarray | None = None) -> np.ndarray:
    """The source frame with its face moved to ``driven_landmarks`` (frame pixels, ``[68, 2]``).

    ``driver_rgb`` and ``driver_landmarks`` (the driver's frame and its landmarks) let a mouth
    that opens wider than the source's show the driver's mouth interior.

    Returns:
        ``[H, W, 3]`` uint8, the size of the source frame.
    """
    config = config or ReenactConfig()
    size = source.transform.crop_size
    driven = transform_points(np.asarray(driven_landmarks, np.float64), source.transform.matrix)
    mesh = face_mesh(driven, (size, size), config.mesh)
    warped = mesh.warp(source.crop, extend_landmarks(source.points, size, size, config.mesh))
    if config.fill_mouth:
        warped = fill_mouth_cavity(warped, source.points, driven, driver_rgb,
                                   None if driver_landmarks is None
                                   else np.asarray(driver_landmarks, np.float64))
    return paste_back(source.frame, warped, source.window, source.transform)


def reenact_face(source: ReenactSource, driver: Face, driver_reference: Face,
                 config: ReenactConfig | None = None,
                 driver_rgb: np.ndarray | None = None) -> np.ndarray:
    """Drive the source face with one driver frame: retarget the landmarks, then warp.

    ``driver_rgb`` (the driver's frame) supplies the mouth interior when the mouth opens.
    """
    config = config or ReenactConfig()
    driven = retarget_landmarks(source.face, driver, driver_reference, config.expression_gain)
    return reenact_frame(source, driven, config, driver_rgb,
                         driver.landmarks if driver_rgb is not None else None)
