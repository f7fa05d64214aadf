"""Synthetic face crops with known landmarks, face and hair: data for tests and smoke runs.

Each synthetic *identity* has its own skin, hair, eye and background colours and hair shape;
each *frame* of it moves the canonical 68-point face by a small rotation, scale and shift, turns
it a little (yaw: the nose and mouth shift sideways, the far jaw side narrows) and opens the
mouth by a random amount. The drawing is a flat cartoon (no shading model), enough for the
generators to have geometry to follow and colours to reconstruct, and for the pseudo-labels to
be checked against the true face and hair regions.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from openfsgan.data.pseudo_masks import BACKGROUND, FACE, HAIR, face_axes, face_polygon
from openfsgan.face.align import canonical_landmarks
from openfsgan.face.landmarks import (
    INNER_LIP,
    LEFT_BROW,
    LEFT_EYE,
    NOSE_BRIDGE,
    NOSE_LOWER,
    OUTER_LIP,
    RIGHT_BROW,
    RIGHT_EYE,
)


@dataclass(frozen=True)
class SyntheticFace:
    """One rendered crop.

    Attributes:
        rgb: ``[S, S, 3]`` uint8 crop.
        landmarks: ``[68, 2]`` float32 landmarks in crop pixels.
        labels: ``[S, S]`` uint8 true background/face/hair labels.
        yaw_deg: the sideways turn the frame was drawn with (degrees).
        roll_deg: the in-plane rotation the frame was drawn with (degrees).
    """

    rgb: np.ndarray
    landmarks: np.ndarray
    labels: np.ndarray
    yaw_deg: float
    roll_deg: float


@dataclass(frozen=True)
class _Identity:
    skin: np.ndarray
    hair: np.ndarray
    eyes: np.ndarray
    lips: np.ndarray
    background_top: np.ndarray
    background_bottom: np.ndarray
    shirt: np.ndarray
    hair_height: float
    hair_width: float


def _identity(rng: np.random.Generator) -> _Identity:
    red = rng.uniform(170, 245)
    green = red * rng.uniform(0.68, 0.85)
    skin = np.array([red, green, green * rng.uniform(0.75, 0.9)])
    hair = rng.uniform([10, 10, 10], [110, 80, 60])
    if rng.random() < 0.3:  # some blond or grey hair: still unlike the skin in hue or lightness
        hair = rng.uniform([190, 170, 90], [230, 210, 140])
    return _Identity(
        skin=skin, hair=hair, eyes=rng.uniform([20, 20, 20], [90, 90, 120]),
        lips=rng.uniform([150, 40, 50], [210, 90, 100]),
        background_top=rng.uniform(30, 230, size=3), background_bottom=rng.uniform(30, 230, size=3),
        shirt=rng.uniform(20, 235, size=3), hair_height=float(rng.uniform(0.65, 0.85)),
        hair_width=float(rng.uniform(1.15, 1.35)))


def _pose_landmarks(size: int, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
    points = canonical_landmarks(size).astype(np.float64)
    centre = points.mean(axis=0)
    width = float(np.ptp(points[:, 0]))
    yaw = float(rng.uniform(-20.0, 20.0))
    turn = np.sin(np.radians(yaw))
    # a turn moves the central features sideways and squeezes the far side of the face
    depth = 1.0 - np.abs(points[:, 0] - centre[0]) / (0.5 * width)  # 1 at the nose, 0 at ears
    points[:, 0] += turn * 0.25 * width * depth
    far_side = np.sign(points[:, 0] - centre[0]) == np.sign(turn)
    points[far_side, 0] = centre[0] + (points[far_side, 0] - centre[0]) * (1 - 0.3 * abs(turn))
    opening = float(rng.uniform(0.0, 0.06)) * width  # mouth: lower lip points go down
    lower_lip = [*range(55, 60), *range(65, 68)]
    points[lower_lip, 1] = points[lower_lip, 1] + opening
    points[[7, 8, 9], 1] += 0.5 * opening
    roll = float(rng.uniform(-10.0, 10.0))
    scale = float(rng.uniform(0.9, 1.05))
    shift = rng.uniform(-0.03, 0.03, size=2) * size
    matrix = np.asarray(cv2.getRotationMatrix2D((float(centre[0]), float(centre[1])), -roll,
                                                scale), dtype=np.float64)
    matrix[:, 2] += shift
    points = points @ matrix[:, :2].T + matrix[:, 2]
    return points.astype(np.float32), yaw, roll


def _draw(identity: _Identity, points: np.ndarray, size: int,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0.0, 1.0, size)[:, None, None]
    canvas = (1 - t) * identity.background_top + t * identity.background_bottom
    canvas = np.broadcast_to(canvas, (size, size, 3)).copy()
    labels = np.full((size, size), BACKGROUND, dtype=np.uint8)
    up, height = face_axes(points)
    jaw_width = float(np.ptp(points[:17, 0]))
    shift = 16.0  # cv2 drawing with 4 fractional bits

    def ipt(p: np.ndarray) -> tuple[int, int]:
        return round(float(p[0]) * shift), round(float(p[1]) * shift)

    # shirt and neck below the face
    cv2.rectangle(canvas, (0, int(points[8, 1] + 0.2 * height)), (size, size),
                  identity.shirt.tolist(), -1)
    neck = np.array([points[5], points[11], points[11] + [0, height], points[5] + [0, height]])
    cv2.fillPoly(canvas, [np.round(neck * shift).astype(np.int32)], identity.skin.tolist(),
                 cv2.LINE_AA, 4)
    # hair: an ellipse over the top of the head, behind the face
    brows = points[[*RIGHT_BROW, *LEFT_BROW]].mean(axis=0)
    hair_centre = brows + up * 0.1 * height
    axes = (int(identity.hair_width * 0.5 * jaw_width * shift),
            int(identity.hair_height * height * shift))
    angle = float(np.degrees(np.arctan2(up[0], -up[1])))
    hair_layer = np.zeros((size, size), dtype=np.uint8)
    cv2.ellipse(hair_layer, ipt(hair_centre), axes, angle, 0, 360, 1, -1, cv2.LINE_8, 4)
    hair_layer[(np.mgrid[0:size, 0:size][0] > points[8, 1] - 0.3 * height)] = 0
    hair_pixels = hair_layer.astype(bool)
    canvas[hair_pixels] = identity.hair
    labels[hair_pixels] = HAIR
    # face: the same hull the pseudo-labels use, in skin colour
    polygon = face_polygon(points)
    face_layer = np.zeros((size, size), dtype=np.uint8)
    cv2.fillPoly(face_layer, [np.round(polygon * shift).astype(np.int32)], 1, cv2.LINE_8, 4)
    canvas[face_layer.astype(bool)] = identity.skin
    labels[face_layer.astype(bool)] = FACE
    # features
    thickness = max(1, size // 96)
    for group in (RIGHT_BROW, LEFT_BROW):
        cv2.polylines(canvas, [np.round(points[list(group)] * shift).astype(np.int32)], False,
                      (identity.hair * 0.8).tolist(), thickness + 1, cv2.LINE_AA, 4)
    for group in (RIGHT_EYE, LEFT_EYE):
        eye = np.round(points[list(group)] * shift).astype(np.int32)
        cv2.fillPoly(canvas, [eye], (235, 235, 235), cv2.LINE_AA, 4)
        iris = points[list(group)].mean(axis=0)
        cv2.circle(canvas, ipt(iris), int(0.035 * jaw_width * shift), identity.eyes.tolist(), -1,
                   cv2.LINE_AA, 4)
    cv2.polylines(canvas, [np.round(points[[*NOSE_BRIDGE, *NOSE_LOWER]] * shift).astype(np.int32)],
                  False, (identity.skin * 0.7).tolist(), thickness, cv2.LINE_AA, 4)
    cv2.fillPoly(canvas, [np.round(points[list(OUTER_LIP)] * shift).astype(np.int32)],
                 identity.lips.tolist(), cv2.LINE_AA, 4)
    cv2.fillPoly(canvas, [np.round(points[list(INNER_LIP)] * shift).astype(np.int32)],
                 (60, 20, 30), cv2.LINE_AA, 4)
    noise = rng.normal(0.0, 4.0, size=canvas.shape)
    rgb = np.clip(canvas + noise, 0, 255).astype(np.uint8)
    return rgb, labels


def synthetic_video(identity_seed: int, num_frames: int, size: int) -> list[SyntheticFace]:
    """``num_frames`` crops of one synthetic person (deterministic in ``identity_seed``)."""
    if size < 32:
        raise ValueError(f"synthetic crops need size >= 32, got {size}")
    rng = np.random.default_rng(identity_seed)
    identity = _identity(rng)
    frames = []
    for _ in range(num_frames):
        points, yaw, roll = _pose_landmarks(size, rng)
        rgb, labels = _draw(identity, points, size, rng)
        frames.append(SyntheticFace(rgb, points, labels, yaw, roll))
    return frames
