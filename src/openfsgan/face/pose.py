"""Head pose and 3D landmarks from 68 2D landmarks and the generic face template.

Pose: ``cv2.solvePnP`` with ``SOLVEPNP_SQPNP`` (a global solver: ``ITERATIVE`` without an initial
guess flips the roll by 180 degrees on about a quarter of the frames) on the template of
:mod:`openfsgan.face.template`, with a pinhole camera whose focal length is the image's longest
side and whose principal point is the image centre.

Euler angles follow :mod:`openfsgan.types`: yaw positive when the face turns towards the image's
right, pitch positive chin up, roll positive when the head tilts clockwise in the image. In
terms of right-handed elementary rotations of the camera frame (x right, y down, z forward)::

    R = Rz(roll) @ Ry(-yaw) @ Rx(-pitch)

(``Ry(-yaw)`` is a right-handed turn about the *up* axis, ``Rx(-pitch)`` one about the *left*
axis; ``R`` maps template coordinates to camera coordinates.)

Also the geometry the reenactment stage needs (FSGAN method, step 2): the pose-normalised 3D
shape of a face, its projection under any pose, and the intermediate landmarks obtained by
interpolating Euler angles, centroid and scale between a source and a target face.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from openfsgan.face.template import FACE_TEMPLATE_68
from openfsgan.types import NUM_LANDMARKS, EulerAngles, Face

Landmarks3DMode = Literal["lifted", "rigid"]


def _rx(angle_rad: float) -> np.ndarray:
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _ry(angle_rad: float) -> np.ndarray:
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rz(angle_rad: float) -> np.ndarray:
    c, s = math.cos(angle_rad), math.sin(angle_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_matrix(pose: EulerAngles) -> np.ndarray:
    """``[3, 3]`` rotation from the face frame to the camera frame for ``pose`` (degrees)."""
    return (_rz(math.radians(pose.roll)) @ _ry(-math.radians(pose.yaw))
            @ _rx(-math.radians(pose.pitch)))


def euler_from_rotation(rotation: np.ndarray) -> EulerAngles:
    """Inverse of :func:`rotation_matrix` (yaw in [-90, 90]; pitch and roll in (-180, 180])."""
    r = np.asarray(rotation, dtype=np.float64)
    neg_yaw = -math.asin(float(np.clip(r[2, 0], -1.0, 1.0)))
    neg_pitch = math.atan2(float(r[2, 1]), float(r[2, 2]))
    roll = math.atan2(float(r[1, 0]), float(r[0, 0]))
    return EulerAngles(-math.degrees(neg_yaw), -math.degrees(neg_pitch), math.degrees(roll))


def camera_matrix(width: int, height: int) -> np.ndarray:
    """``[3, 3]`` pinhole intrinsics assumed for any image: focal = longest side, centred."""
    focal = float(max(width, height))
    return np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class PoseFit:
    """A face's pose.

    Attributes:
        rotation: ``[3, 3]`` face -> viewing-ray frame (what :attr:`euler` describes).
        camera_rotation: ``[3, 3]`` face -> camera frame, as solvePnP returns it.
        translation: ``[3]`` face centre in the camera frame, template units.
        euler: ``rotation`` as Euler angles.
    """

    rotation: np.ndarray
    camera_rotation: np.ndarray
    translation: np.ndarray
    euler: EulerAngles


def view_rotation(translation: np.ndarray) -> np.ndarray:
    """``[3, 3]`` smallest rotation taking the optical axis (0, 0, 1) onto the ray to
    ``translation``: a face off the image centre that looks into the camera is turned by it."""
    ray = np.asarray(translation, dtype=np.float64).reshape(3)
    norm = float(np.linalg.norm(ray))
    if norm == 0.0 or ray[2] <= 0.0:
        return np.eye(3)
    ray = ray / norm
    axis = np.cross([0.0, 0.0, 1.0], ray)
    sin_angle, cos_angle = float(np.linalg.norm(axis)), float(ray[2])
    if sin_angle < 1e-12:
        return np.eye(3)
    return cv2.Rodrigues(axis / sin_angle * math.atan2(sin_angle, cos_angle))[0]


def solve_pose(landmarks: np.ndarray, width: int, height: int,
               template: np.ndarray = FACE_TEMPLATE_68) -> PoseFit:
    """Pose of the template that best explains ``landmarks`` ``[68, 2]`` (pixels).

    The Euler angles are measured relative to the viewing ray through the face, not the optical
    axis, so that a face looking into the camera is ``(0, 0, 0)`` anywhere in the frame and the
    angles describe how the face *looks* (what reenactment and the appearance map compare).
    """
    image_points = np.ascontiguousarray(landmarks, dtype=np.float64).reshape(-1, 1, 2)
    object_points = np.ascontiguousarray(template, dtype=np.float64).reshape(-1, 1, 3)
    ok, rvec, tvec = cv2.solvePnP(object_points, image_points, camera_matrix(width, height),
                                  None, flags=cv2.SOLVEPNP_SQPNP)
    camera_rotation: np.ndarray = np.eye(3)
    translation: np.ndarray = np.zeros(3)
    if ok:  # SQPnP succeeds on any non-degenerate 68-point set; else keep the frontal pose
        camera_rotation = np.asarray(cv2.Rodrigues(rvec)[0], dtype=np.float64)
        translation = np.asarray(tvec, dtype=np.float64).reshape(3)
    rotation = view_rotation(translation).T @ camera_rotation
    return PoseFit(rotation, camera_rotation, translation, euler_from_rotation(rotation))


def fit_scale_and_offset(points_2d: np.ndarray, rotated: np.ndarray) -> tuple[float, np.ndarray]:
    """Least-squares ``s, t`` minimising ``|s * rotated[:, :2] + t - points_2d|^2``."""
    centred_model = rotated[:, :2] - rotated[:, :2].mean(axis=0)
    centred_points = points_2d - points_2d.mean(axis=0)
    denom = float((centred_model**2).sum())
    scale = float((centred_model * centred_points).sum()) / denom if denom > 0 else 1.0
    offset = points_2d.mean(axis=0) - scale * rotated[:, :2].mean(axis=0)
    return scale, offset


def fit_landmarks_3d(landmarks: np.ndarray, rotation: np.ndarray,
                     mode: Landmarks3DMode = "lifted",
                     template: np.ndarray = FACE_TEMPLATE_68) -> tuple[np.ndarray, float]:
    """3D landmarks in image space (see :mod:`openfsgan.types`) and the fitted scale.

    The template is rotated by ``rotation`` and scaled/translated (least squares) onto the 2D
    landmarks. ``"rigid"`` keeps the posed template as is; ``"lifted"`` (default) keeps the
    template's depth but takes ``x, y`` from the 2D landmarks, so that the 3D landmarks carry the
    person's shape and expression (what reenactment needs) and project exactly onto the 2D ones.

    Returns:
        ``[68, 3]`` float32 (x, y pixels; z pixels, centroid zero) and the scale in pixels per
        template unit.
    """
    points = np.asarray(landmarks, dtype=np.float64)
    rotated = np.asarray(template, dtype=np.float64) @ rotation.T
    scale, offset = fit_scale_and_offset(points, rotated)
    out = np.empty((NUM_LANDMARKS, 3), dtype=np.float64)
    out[:, :2] = points if mode == "lifted" else scale * rotated[:, :2] + offset
    depth = scale * rotated[:, 2]
    out[:, 2] = depth - depth.mean()
    return out.astype(np.float32), scale


def face_scale(face: Face, template: np.ndarray = FACE_TEMPLATE_68) -> float:
    """Pixels per template unit of ``face`` (its size in the image)."""
    rotated = np.asarray(template, dtype=np.float64) @ rotation_matrix(face.pose).T
    return fit_scale_and_offset(face.landmarks.astype(np.float64), rotated)[0]


def canonical_shape(face: Face, template: np.ndarray = FACE_TEMPLATE_68) -> np.ndarray:
    """Pose-normalised 3D landmarks ``[68, 3]`` of ``face``: frontal, centroid zero, in template
    units (so that shapes of different faces and frames are comparable)."""
    points = face.landmarks_3d.astype(np.float64)
    centred = points - points.mean(axis=0)
    frontal = centred @ rotation_matrix(face.pose)  # R^T applied to each row
    return frontal / face_scale(face, template)


def project_landmarks(shape_3d: np.ndarray, pose: EulerAngles, scale: float,
                      center_xy: np.ndarray | tuple[float, float]) -> np.ndarray:
    """Orthographic projection ``[68, 3] -> [68, 2]`` of a canonical shape posed by ``pose``,
    scaled by ``scale`` (pixels per unit) with its 2D centroid at ``center_xy``."""
    shape = np.asarray(shape_3d, dtype=np.float64)
    rotated = (shape - shape.mean(axis=0)) @ rotation_matrix(pose).T
    projected = scale * rotated[:, :2]
    return (projected - projected.mean(axis=0) + np.asarray(center_xy, dtype=np.float64)
            ).astype(np.float32)


def _lerp_angle(a: float, b: float, t: float) -> float:
    delta = (b - a + 180.0) % 360.0 - 180.0  # the short way round
    return a + t * delta


def interpolate_landmarks(source: Face, target: Face, steps: int) -> list[np.ndarray]:
    """Intermediate landmarks ``p_1 .. p_steps`` (``[68, 2]`` each) from ``source`` to ``target``.

    FSGAN's iterative reenactment (method step 2): for ``t = j / steps`` the Euler angles,
    landmark centroid and (log-)scale are interpolated between source and target, and the
    source's pose-normalised 3D landmarks are rotated by the interpolated angles and projected.
    The last element has the target's pose, position and size but the source's shape; the
    caller appends the target's own landmarks when it wants to end on them.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    shape = canonical_shape(source)
    src_angles, dst_angles = source.pose.as_array(), target.pose.as_array()
    src_center = source.landmarks.mean(axis=0).astype(np.float64)
    dst_center = target.landmarks.mean(axis=0).astype(np.float64)
    src_scale, dst_scale = math.log(face_scale(source)), math.log(face_scale(target))
    out = []
    for j in range(1, steps + 1):
        t = j / steps
        pose = EulerAngles.from_array([_lerp_angle(a, b, t)
                                       for a, b in zip(src_angles, dst_angles, strict=True)])
        center = (1.0 - t) * src_center + t * dst_center
        scale = math.exp((1.0 - t) * src_scale + t * dst_scale)
        out.append(project_landmarks(shape, pose, scale, center))
    return out
