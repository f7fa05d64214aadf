"""Overlays for inspecting an analysis: landmarks, box, track id and a head-pose gizmo (RGB)."""

from __future__ import annotations

import cv2
import numpy as np

from openfsgan.face.landmarks import CONTOURS
from openfsgan.face.pose import rotation_matrix
from openfsgan.types import Face, FrameFaces

# gizmo colours (RGB): the face's x axis (towards its left) red, y (down) green, z (back) blue
AXIS_COLOURS = ((230, 40, 40), (40, 200, 40), (60, 90, 255))
TRACK_COLOURS = ((255, 200, 0), (0, 220, 255), (255, 90, 200), (150, 255, 90), (255, 140, 60))


def pose_axes_2d(face: Face, length_px: float) -> np.ndarray:
    """End points ``[3, 2]`` of the face's x, y, z axes drawn from the nose tip (orthographic)."""
    axes = rotation_matrix(face.pose).T * length_px  # rows: the face axes in camera coordinates
    return face.landmarks[30].astype(np.float64) + axes[:, :2]


def draw_face(rgb: np.ndarray, face: Face) -> None:
    """Draw one face onto ``rgb`` ``[H, W, 3]`` uint8 in place."""
    colour = TRACK_COLOURS[face.track_id % len(TRACK_COLOURS)]
    scale = max(1, round(max(face.box.width, face.box.height) / 150))
    box = face.box
    cv2.rectangle(rgb, (round(box.x0), round(box.y0)), (round(box.x1), round(box.y1)),
                  colour, scale, cv2.LINE_AA)
    points = np.round(face.landmarks).astype(np.int32)
    for indices, closed in CONTOURS:
        cv2.polylines(rgb, [points[list(indices)]], closed, colour, 1, cv2.LINE_AA)
    for x, y in points:
        cv2.circle(rgb, (int(x), int(y)), scale, (255, 255, 255), -1, cv2.LINE_AA)
    origin = tuple(int(v) for v in np.round(face.landmarks[30]))
    ends = pose_axes_2d(face, 0.5 * box.width)
    for end, axis_colour in zip(ends, AXIS_COLOURS, strict=True):
        cv2.line(rgb, origin, (round(end[0]), round(end[1])), axis_colour, 2 * scale,
                 cv2.LINE_AA)
    label = (f"#{face.track_id} y{face.pose.yaw:+.0f} p{face.pose.pitch:+.0f} "
             f"r{face.pose.roll:+.0f}")
    cv2.putText(rgb, label, (round(box.x0), max(12, round(box.y0) - 5)),
                cv2.FONT_HERSHEY_SIMPLEX, 0.45 * scale, colour, scale, cv2.LINE_AA)


def draw_frame(rgb: np.ndarray, frame_faces: FrameFaces) -> np.ndarray:
    """A copy of ``rgb`` with every face of ``frame_faces`` drawn on it."""
    out = np.ascontiguousarray(rgb).copy()
    for face in frame_faces.faces:
        draw_face(out, face)
    return out
