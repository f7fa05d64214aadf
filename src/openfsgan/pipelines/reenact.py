"""Face reenactment: the source face driven by a driver's pose and expression.

For each driver frame the driver's *changes* relative to its reference frame (the first frame
with the face) are transferred onto the source face, so the source keeps its own face shape:

* expression: the change of the driver's pose-normalised 3D landmarks (FSGAN's 3D landmarks
  ``v`` rotated to frontal, in template units) is added to the source's;
* pose: the driver's rotation relative to its reference is applied on top of the source's pose;
* position and size: the driver's centroid motion and scale change, in units of its face size.

The pipeline (:func:`reenact_face`) reads like the method:

    retarget the landmarks -> the reenactment stage drives the source crop onto them (mesh warp
    or G_r, :class:`openfsgan.pipelines.stages.Reenactor`) -> paste back into the source frame

No file I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from openfsgan.config import Config
from openfsgan.errors import ConfigError
from openfsgan.face.align import paste_back
from openfsgan.face.pose import (
    canonical_shape,
    euler_from_rotation,
    face_scale,
    project_landmarks,
    rotation_matrix,
)
from openfsgan.geometry.mesh_warp import MeshWarpConfig
from openfsgan.pipelines.stages import Reenactor, ReenactSource
from openfsgan.types import Face


@dataclass(frozen=True)
class ReenactConfig(Config):
    """Settings of the reenactment mode.

    Attributes:
        expression_gain: scale of the transferred expression change (1: as the driver); both
            reenactment stages.
        max_crop_size: largest side of the aligned crop the mesh warp works on; the crop is
            made at the face's own resolution up to this size (no detail lost to resampling).
        margin: room around the face in the mesh warp's crop (the head may move and turn
            within it).
        forehead_shift: fraction of the crop the face is moved down to fit the forehead.
        fill_mouth: fill the mouth where the driven mouth opens wider than the source's (a
            closed source mouth has no teeth to warp): with the driver's mouth interior when
            its frame is given, else a dark lip-tinted red (mesh warp only; G_r paints its own).
        mesh: mesh-warp settings.
    """

    expression_gain: float = 1.0
    max_crop_size: int = 640
    margin: float = 0.3
    forehead_shift: float = 0.04
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


def reenact_frame(reenactor: Reenactor, source: ReenactSource, driven_landmarks: np.ndarray,
                  driver_rgb: np.ndarray | None = None,
                  driver_landmarks: np.ndarray | None = None) -> np.ndarray:
    """The source frame with its face moved to ``driven_landmarks`` (frame pixels, ``[68, 2]``).

    Args:
        reenactor: the reenactment stage (mesh warp or G_r).
        source: the face to animate, from ``reenactor.prepare``.
        driver_rgb, driver_landmarks: the driver's frame and landmarks: a mouth that opens
            wider than the source's may show the driver's mouth interior.

    Returns:
        ``[H, W, 3]`` uint8, the size of the source frame.
    """
    crop = reenactor.drive(source, driven_landmarks, driver_rgb, driver_landmarks)
    return paste_back(source.frame, crop, source.window, source.transform)


def reenact_face(reenactor: Reenactor, source: ReenactSource, driver: Face,
                 driver_reference: Face, config: ReenactConfig | None = None,
                 driver_rgb: np.ndarray | None = None) -> np.ndarray:
    """Drive the source face with one driver frame: retarget the landmarks, then reenact.

    ``driver_rgb`` (the driver's frame) supplies the mouth interior when the mouth opens.
    """
    config = config or ReenactConfig()
    driven = retarget_landmarks(source.face, driver, driver_reference, config.expression_gain)
    return reenact_frame(reenactor, source, driven, driver_rgb,
                         driver.landmarks if driver_rgb is not None else None)


__all__ = ["ReenactConfig", "ReenactSource", "reenact_face", "reenact_frame",
           "retarget_landmarks"]
