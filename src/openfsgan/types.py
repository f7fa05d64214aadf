"""Domain types shared by every stage: frozen dataclasses, never dict-faces.

Coordinate conventions (used everywhere in openfsgan):

* Image coordinates are pixels, ``x`` to the right, ``y`` down, origin at the top-left corner
  of the top-left pixel's centre (OpenCV convention).
* ``Face.landmarks`` is ``[68, 2]`` float32 in the iBUG 300-W 68-point order.
* ``Face.landmarks_3d`` is ``[68, 3]`` float32: the generic 3D face template posed and fitted to
  the 2D landmarks, expressed in image space: ``x, y`` in pixels (so dropping ``z`` is the
  orthographic projection onto the image), ``z`` in pixels along the camera axis, positive away
  from the camera, zero at the landmarks' centroid.
* ``EulerAngles`` are degrees in a right-handed camera frame (x right, y down, z forward).
  ``(0, 0, 0)`` is a face looking straight into the camera, upright. ``yaw`` is the rotation about
  the vertical axis (positive: the face turns towards the image's right side, i.e. the subject's
  left), ``pitch`` about the horizontal axis (positive: chin up), ``roll`` about the viewing axis
  (positive: the head tilts clockwise in the image). Composition order is R = Rz(roll) Ry(yaw)
  Rx(pitch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

NUM_LANDMARKS = 68


@dataclass(frozen=True)
class BoundingBox:
    """Axis-aligned box in pixels, ``[x0, x1) x [y0, y1)``."""

    x0: float
    y0: float
    x1: float
    y1: float

    def __post_init__(self) -> None:
        if not (self.x1 >= self.x0 and self.y1 >= self.y0):
            raise ValueError(f"degenerate box {self}")

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)

    def iou(self, other: BoundingBox) -> float:
        """Intersection over union with ``other`` (0 when disjoint)."""
        ix = max(0.0, min(self.x1, other.x1) - max(self.x0, other.x0))
        iy = max(0.0, min(self.y1, other.y1) - max(self.y0, other.y0))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def scaled(self, factor: float) -> BoundingBox:
        """The box with every coordinate multiplied by ``factor`` (e.g. back to full resolution)."""
        return BoundingBox(self.x0 * factor, self.y0 * factor, self.x1 * factor, self.y1 * factor)

    @staticmethod
    def around(points: np.ndarray) -> BoundingBox:
        """Tight box around ``[N, 2]`` points."""
        lo = points.min(axis=0)
        hi = points.max(axis=0)
        return BoundingBox(float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1]))

    def to_list(self) -> list[float]:
        return [self.x0, self.y0, self.x1, self.y1]


@dataclass(frozen=True)
class EulerAngles:
    """Head pose in degrees; see the module docstring for the convention."""

    yaw: float
    pitch: float
    roll: float

    def as_array(self) -> np.ndarray:
        return np.array([self.yaw, self.pitch, self.roll], dtype=np.float64)

    @staticmethod
    def from_array(values: np.ndarray | list[float]) -> EulerAngles:
        yaw, pitch, roll = (float(v) for v in values)
        return EulerAngles(yaw, pitch, roll)


def _as_points(value: Any, dims: int) -> np.ndarray:
    points = np.asarray(value, dtype=np.float32)
    if points.shape != (NUM_LANDMARKS, dims):
        raise ValueError(f"expected [{NUM_LANDMARKS}, {dims}] landmarks, got {points.shape}")
    return points


@dataclass(frozen=True, eq=False)
class Face:
    """One detected face on one frame.

    Attributes:
        box: detection/tracking box in full-frame pixels.
        score: detector or tracker confidence in [0, 1].
        landmarks: ``[68, 2]`` 2D landmarks in full-frame pixels.
        landmarks_3d: ``[68, 3]`` fitted 3D landmarks (see module docstring).
        pose: head pose as Euler angles in degrees.
        track_id: stable id of the face across the frames of a video (0, 1, ...).
    """

    box: BoundingBox
    score: float
    landmarks: np.ndarray
    landmarks_3d: np.ndarray
    pose: EulerAngles
    track_id: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "landmarks", _as_points(self.landmarks, 2))
        object.__setattr__(self, "landmarks_3d", _as_points(self.landmarks_3d, 3))
        self.landmarks.flags.writeable = False
        self.landmarks_3d.flags.writeable = False

    @property
    def inter_ocular(self) -> float:
        """Distance between the outer eye corners (landmarks 36 and 45), in pixels."""
        return float(np.linalg.norm(self.landmarks[45] - self.landmarks[36]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "box": [round(v, 2) for v in self.box.to_list()],
            "score": round(float(self.score), 4),
            "landmarks": np.round(self.landmarks, 2).tolist(),
            "landmarks_3d": np.round(self.landmarks_3d, 2).tolist(),
            "pose": {
                "yaw": round(self.pose.yaw, 3),
                "pitch": round(self.pose.pitch, 3),
                "roll": round(self.pose.roll, 3),
            },
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Face:
        pose = data["pose"]
        return Face(
            box=BoundingBox(*data["box"]),
            score=float(data["score"]),
            landmarks=np.asarray(data["landmarks"], dtype=np.float32),
            landmarks_3d=np.asarray(data["landmarks_3d"], dtype=np.float32),
            pose=EulerAngles(pose["yaw"], pose["pitch"], pose["roll"]),
            track_id=int(data["track_id"]),
        )


@dataclass(frozen=True)
class FrameFaces:
    """Every face found on one frame (``index`` counts from 0; images are frame 0)."""

    index: int
    time_s: float
    faces: tuple[Face, ...] = field(default_factory=tuple)

    def largest(self) -> Face | None:
        """The face with the largest box, or None on a faceless frame."""
        return max(self.faces, key=lambda f: f.box.area, default=None)

    def by_track(self, track_id: int) -> Face | None:
        return next((f for f in self.faces if f.track_id == track_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "time_s": round(self.time_s, 6),
            "faces": [f.to_dict() for f in self.faces],
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> FrameFaces:
        return FrameFaces(
            index=int(data["index"]),
            time_s=float(data["time_s"]),
            faces=tuple(Face.from_dict(f) for f in data["faces"]),
        )


@dataclass(frozen=True)
class MediaInfo:
    """What a media file is: an image (``frame_count == 1``, ``fps == 0``) or a video."""

    path: str
    is_video: bool
    width: int
    height: int
    frame_count: int
    fps: Fraction
    has_audio: bool = False

    @property
    def duration_s(self) -> float:
        return float(self.frame_count / self.fps) if self.fps else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "is_video": self.is_video,
            "width": self.width,
            "height": self.height,
            "frame_count": self.frame_count,
            "fps": str(self.fps),
            "has_audio": self.has_audio,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> MediaInfo:
        return MediaInfo(
            path=data["path"],
            is_video=bool(data["is_video"]),
            width=int(data["width"]),
            height=int(data["height"]),
            frame_count=int(data["frame_count"]),
            fps=Fraction(data["fps"]),
            has_audio=bool(data.get("has_audio", False)),
        )


@dataclass(frozen=True)
class FaceTrack:
    """One person's faces over a video: parallel tuples of frame indices and faces."""

    track_id: int
    frame_indices: tuple[int, ...]
    faces: tuple[Face, ...]

    def __post_init__(self) -> None:
        if len(self.frame_indices) != len(self.faces):
            raise ValueError("frame_indices and faces differ in length")


def tracks_from_frames(frames: list[FrameFaces]) -> list[FaceTrack]:
    """Group per-frame faces into tracks, ordered by track id."""
    grouped: dict[int, tuple[list[int], list[Face]]] = {}
    for frame in frames:
        for face in frame.faces:
            indices, faces = grouped.setdefault(face.track_id, ([], []))
            indices.append(frame.index)
            faces.append(face)
    return [
        FaceTrack(track_id, tuple(indices), tuple(faces))
        for track_id, (indices, faces) in sorted(grouped.items())
    ]
