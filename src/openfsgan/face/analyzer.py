"""FaceAnalyzer: faces, 68 landmarks, 3D landmarks and head pose for images and videos.

The method's first step (FSGAN, Nirkin et al.): detect and track faces, 2D landmarks ``p``, 3D
landmarks ``v`` and Euler angles ``e``. Stills: detect -> landmarks -> pose on the one frame.
Video: :class:`~openfsgan.face.track.FaceTracker` (detection every K frames, landmark tracking in
between, stable ids), then a 1-euro filter per track on the landmarks and on the pose.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from openfsgan.errors import ConfigError
from openfsgan.face.detect import DetectorConfig, FaceDetector
from openfsgan.face.filters import OneEuroConfig, OneEuroFilter
from openfsgan.face.landmarks import LandmarkPredictor
from openfsgan.face.pose import Landmarks3DMode, fit_landmarks_3d, rotation_matrix, solve_pose
from openfsgan.face.track import FaceTracker, TrackedFace, TrackerConfig
from openfsgan.types import EulerAngles, Face, FrameFaces

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class AnalyzerConfig:
    """Everything that changes what the analysis produces (its hash keys the analysis cache).

    Attributes:
        detector: detector settings for video frames (speed matters: no upsampling).
        image_detector: detector settings for single images (one frame: upsampling once finds
            faces down to ~40 px; ``kind="cnn"`` is slower and finds more turned faces).
        tracker: detection interval, tracking confidence and id assignment for video.
        smooth: apply the 1-euro filters to video tracks (never to stills).
        landmark_filter: 1-euro settings for landmarks; speeds in inter-ocular distances/s.
        pose_filter: 1-euro settings for Euler angles; speeds in degrees/s.
        landmarks_3d_mode: ``"lifted"`` (x, y from the 2D landmarks, template depth) or
            ``"rigid"`` (the posed template); see :func:`openfsgan.face.pose.fit_landmarks_3d`.
    """

    detector: DetectorConfig = field(default_factory=DetectorConfig)
    image_detector: DetectorConfig = field(default_factory=lambda: DetectorConfig(upsample=1))
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    smooth: bool = True
    landmark_filter: OneEuroConfig = field(
        default_factory=lambda: OneEuroConfig(min_cutoff_hz=1.5, beta=5.0))
    pose_filter: OneEuroConfig = field(
        default_factory=lambda: OneEuroConfig(min_cutoff_hz=1.0, beta=0.1))
    landmarks_3d_mode: Landmarks3DMode = "lifted"

    def __post_init__(self) -> None:
        if self.landmarks_3d_mode not in ("lifted", "rigid"):
            raise ConfigError(f"landmarks_3d_mode must be 'lifted' or 'rigid', "
                              f"got {self.landmarks_3d_mode!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> AnalyzerConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (no silent typos)."""
        try:
            nested = {"detector": DetectorConfig, "image_detector": DetectorConfig,
                      "tracker": TrackerConfig,
                      "landmark_filter": OneEuroConfig, "pose_filter": OneEuroConfig}
            values = {key: nested[key](**value) if key in nested else value
                      for key, value in data.items()}
            return AnalyzerConfig(**values)
        except TypeError as error:
            raise ConfigError(f"invalid analyzer config: {error}") from error

    def digest(self) -> str:
        """SHA-256 (hex) of the canonical JSON of this config."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


class _TrackFilters:
    """1-euro filters of one track (landmarks and Euler angles)."""

    def __init__(self, config: AnalyzerConfig) -> None:
        self.landmarks = OneEuroFilter(config.landmark_filter, vector_axis=-1)
        self.pose = OneEuroFilter(config.pose_filter)


class FaceAnalyzer:
    """Analyse images and videos; dlib models load on first use and are reused."""

    def __init__(self, config: AnalyzerConfig | None = None) -> None:
        self.config = config or AnalyzerConfig()

    @cached_property
    def detector(self) -> FaceDetector:
        return FaceDetector(self.config.detector)

    @cached_property
    def image_detector(self) -> FaceDetector:
        if self.config.image_detector == self.config.detector:
            return self.detector
        return FaceDetector(self.config.image_detector)

    @cached_property
    def predictor(self) -> LandmarkPredictor:
        return LandmarkPredictor()

    def make_face(self, landmarks: np.ndarray, box: Any, score: float, track_id: int,
                  width: int, height: int, pose: EulerAngles | None = None) -> Face:
        """A :class:`Face` from 2D landmarks ``[68, 2]``: pose by PnP (unless given) and
        3D landmarks fitted with that pose."""
        if pose is None:
            pose = solve_pose(landmarks, width, height).euler
        landmarks_3d, _ = fit_landmarks_3d(landmarks, rotation_matrix(pose),
                                           self.config.landmarks_3d_mode)
        return Face(box=box, score=float(np.clip(score, 0.0, 1.0)), landmarks=landmarks,
                    landmarks_3d=landmarks_3d, pose=pose, track_id=track_id)

    def analyze_image(self, rgb: np.ndarray, index: int = 0, time_s: float = 0.0) -> FrameFaces:
        """Every face on one RGB uint8 image ``[H, W, 3]``, most confident first (track ids
        0, 1, ...). Weak detections are reported too (e.g. dlib's false box on the astronaut's
        suit, score ~0.56): callers that want one face take the first.

        An image without a face gives an empty :class:`FrameFaces` (callers that need a face
        raise :class:`~openfsgan.errors.NoFaceError`).
        """
        rgb = _check_rgb(rgb)
        height, width = rgb.shape[:2]
        detections = self.image_detector.detect(rgb)  # highest score first
        faces = tuple(
            self.make_face(self.predictor.predict(rgb, d.box), d.box, d.score, track_id,
                           width, height)
            for track_id, d in enumerate(detections))
        return FrameFaces(index, time_s, faces)

    def track_frames(self, frames: Iterable[Any]) -> Iterator[FrameFaces]:
        """Track faces over consecutive frames (objects with ``index``, ``time_s``, ``rgb``,
        e.g. :class:`openfsgan.io.media.VideoFrame`); one :class:`FrameFaces` per frame."""
        tracker = FaceTracker(self.detector, self.predictor, self.config.tracker)
        filters: dict[int, _TrackFilters] = {}
        for frame in frames:
            rgb = _check_rgb(frame.rgb)
            observed = tracker.update(rgb)
            active = set(tracker.active_ids)
            for track_id in list(filters):
                if track_id not in active:
                    del filters[track_id]
            faces = tuple(self._smoothed_face(tracked, frame.time_s, rgb.shape, filters)
                          for tracked in observed)
            yield FrameFaces(int(frame.index), float(frame.time_s), faces)
        log.debug("tracking ran the detector on %d frames", tracker.detections_run)

    def _smoothed_face(self, tracked: TrackedFace, time_s: float, shape: tuple[int, ...],
                       filters: dict[int, _TrackFilters]) -> Face:
        height, width = shape[:2]
        landmarks = tracked.landmarks.astype(np.float64)
        if not self.config.smooth:
            return self.make_face(tracked.landmarks, tracked.box, tracked.score,
                                  tracked.track_id, width, height)
        track_filters = filters.setdefault(tracked.track_id, _TrackFilters(self.config))
        inter_ocular = float(np.linalg.norm(landmarks[45] - landmarks[36]))
        smooth_landmarks = track_filters.landmarks(landmarks, time_s, unit=max(inter_ocular, 1.0))
        pose = solve_pose(smooth_landmarks, width, height).euler
        smooth_pose = EulerAngles.from_array(track_filters.pose(pose.as_array(), time_s))
        return self.make_face(smooth_landmarks.astype(np.float32), tracked.box, tracked.score,
                              tracked.track_id, width, height, pose=smooth_pose)

    def iter_video(self, path: str | os.PathLike[str],
                   progress: Progress | None = None) -> Iterator[FrameFaces]:
        """Stream the analysis of a video (or an image, as one frame), frame by frame.

        Frames are decoded one at a time, so memory stays flat for any length.
        """
        from openfsgan.io.media import iter_frames, probe

        total = probe(path).frame_count
        for done, frame_faces in enumerate(self.track_frames(iter_frames(path)), start=1):
            if progress is not None:
                progress(done, max(total, done))
            yield frame_faces

    def analyze_video(self, path: str | os.PathLike[str],
                      progress: Progress | None = None) -> list[FrameFaces]:
        """Every frame's faces of a video, as a list."""
        return list(self.iter_video(path, progress))

    def analyze_path(self, path: str | os.PathLike[str],
                     progress: Progress | None = None) -> list[FrameFaces]:
        """An image (one :class:`FrameFaces`, still-image detector) or a video (tracked)."""
        from openfsgan.io.media import probe, read_image

        if probe(path).is_video:
            return self.analyze_video(path, progress)
        result = [self.analyze_image(read_image(path))]
        if progress is not None:
            progress(1, 1)
        return result


def _check_rgb(rgb: np.ndarray) -> np.ndarray:
    """``[H, W, 3]`` uint8, C-contiguous (dlib reads the buffer directly)."""
    array = np.asarray(rgb)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 [H, W, 3] image, got {array.dtype} "
                         f"{array.shape}")
    return np.ascontiguousarray(array)
