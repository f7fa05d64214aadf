"""Face tracking in video: detect every K frames, follow landmarks in between.

Design (why: the HOG detector costs ~10x the landmark predictor):

* The detector runs on frame 0, every ``detect_every`` frames, and on the frame after any track's
  confidence dropped below ``min_confidence`` (or every ``detect_every_without_faces`` frames
  while nothing is tracked).
* Between detections a track's box comes from its previous landmarks, moved by its velocity
  (constant-velocity prediction of the landmark centroid and of the face size) and converted to
  a detector-like box with the offset/size ratio learnt at the track's last detection; the
  68-point predictor then runs inside that box.
* Tracking confidence combines how far the new landmarks' box drifted from the seed box, how
  much the mean colour of the central face region changed since the last detection, and how far
  the (similarity-normalised) landmark shape moved from the track's last shape. Low confidence:
  the face is not reported on this frame, the track counts a missed frame and detection runs.
* Detections are assigned to tracks with the Hungarian algorithm
  (``scipy.optimize.linear_sum_assignment``) on a cost of ``1 - IoU`` with the *predicted* box,
  plus the centre distance in face sizes and the appearance (mean colour) difference; motion
  prediction and appearance keep ids when two faces cross, where IoU alone would swap them.
* A track ends after ``max_missed_frames`` consecutive missed frames, or when the detector has not
  confirmed it for ``max_frames_without_detection`` frames (a landmark predictor always returns
  a face-shaped answer, so an unconfirmed track must not live forever).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from openfsgan.errors import ConfigError
from openfsgan.face.detect import Detection, FaceDetector
from openfsgan.face.landmarks import LandmarkPredictor
from openfsgan.types import BoundingBox

log = logging.getLogger(__name__)

_INFEASIBLE = 1e6


@dataclass(frozen=True)
class TrackerConfig:
    """How faces are followed over frames (see the module docstring).

    Attributes:
        detect_every: run the detector every this many frames (1: every frame).
        detect_every_without_faces: detection interval while no face is tracked.
        min_confidence: tracking confidence below which a frame counts as missed.
        max_missed_frames: a track ends after this many consecutive missed frames.
        max_frames_without_detection: a track ends when the detector has not confirmed it for
            this many frames.
        max_match_cost: assignments costlier than this are refused (new track instead).
        appearance_weight: weight of the mean-colour difference (0..1 per channel) in the cost.
        center_weight: weight of the centre distance (in face widths) in the cost.
    """

    detect_every: int = 10
    detect_every_without_faces: int = 2
    min_confidence: float = 0.4
    max_missed_frames: int = 15
    max_frames_without_detection: int = 150
    max_match_cost: float = 1.6
    appearance_weight: float = 4.0
    center_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.detect_every < 1 or self.detect_every_without_faces < 1:
            raise ConfigError("detection intervals must be >= 1 frame")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ConfigError(f"min_confidence must be in [0, 1], got {self.min_confidence}")
        if self.max_missed_frames < 0 or self.max_frames_without_detection < 1:
            raise ConfigError("max_missed_frames must be >= 0, "
                              "max_frames_without_detection >= 1")


@dataclass(frozen=True)
class TrackedFace:
    """One track's observation on one frame: raw (unsmoothed) landmarks ``[68, 2]``."""

    track_id: int
    box: BoundingBox
    score: float
    landmarks: np.ndarray
    detected: bool


def landmark_box(landmarks: np.ndarray) -> BoundingBox:
    return BoundingBox.around(landmarks)


def mean_colour(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """Mean RGB in [0, 1] of the central face region (nose and cheeks) ``-> [3]``."""
    box = landmark_box(landmarks[27:36])  # nose: always inside the face, rarely occluded
    cx, cy = box.center
    half = max(2.0, 0.5 * float(np.linalg.norm(landmarks[45] - landmarks[36])) / 2.0)
    height, width = rgb.shape[:2]
    x0, x1 = int(max(0, cx - half)), int(min(width, cx + half))
    y0, y1 = int(max(0, cy - half)), int(min(height, cy + half))
    if x1 <= x0 or y1 <= y0:
        return np.zeros(3)
    return rgb[y0:y1, x0:x1].reshape(-1, 3).mean(axis=0) / 255.0


def normalised_shape(landmarks: np.ndarray) -> np.ndarray:
    """Landmarks centred and scaled to unit RMS radius (translation/scale removed)."""
    centred = landmarks.astype(np.float64) - landmarks.mean(axis=0)
    return centred / max(float(np.sqrt((centred**2).sum(axis=1).mean())), 1e-9)


@dataclass(frozen=True)
class _Candidate:
    detection: Detection
    landmarks: np.ndarray
    colour: np.ndarray


@dataclass
class _Track:
    track_id: int
    landmarks: np.ndarray
    colour: np.ndarray
    # detector box relative to the landmark box: (dx0, dy0, dx1, dy1) in landmark-box sizes
    box_ratio: np.ndarray
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))
    size_rate: float = 1.0
    missed: int = 0
    since_detection: int = 0
    confidence: float = 1.0
    age: int = 0

    @property
    def center(self) -> np.ndarray:
        return self.landmarks.mean(axis=0).astype(np.float64)

    @property
    def size(self) -> float:
        return float(np.sqrt(((self.landmarks - self.landmarks.mean(axis=0)) ** 2)
                             .sum(axis=1).mean()))

    def predicted_landmarks(self, frames_ahead: int = 1) -> np.ndarray:
        center = self.center
        growth = self.size_rate ** frames_ahead
        moved = (self.landmarks - center) * growth + center + self.velocity * frames_ahead
        return moved.astype(np.float32)

    def detector_box(self, landmarks: np.ndarray) -> BoundingBox:
        box = landmark_box(landmarks)
        w, h = box.width, box.height
        r = self.box_ratio
        return BoundingBox(box.x0 + r[0] * w, box.y0 + r[1] * h,
                           max(box.x0 + r[0] * w + 1, box.x1 + r[2] * w),
                           max(box.y0 + r[1] * h + 1, box.y1 + r[3] * h))


def _box_ratio(detector_box: BoundingBox, landmarks: np.ndarray) -> np.ndarray:
    box = landmark_box(landmarks)
    w, h = max(box.width, 1.0), max(box.height, 1.0)
    return np.array([(detector_box.x0 - box.x0) / w, (detector_box.y0 - box.y0) / h,
                     (detector_box.x1 - box.x1) / w, (detector_box.y1 - box.y1) / h])


def _clip_box(box: BoundingBox, width: int, height: int) -> BoundingBox | None:
    x0, y0 = max(0.0, box.x0), max(0.0, box.y0)
    x1, y1 = min(float(width), box.x1), min(float(height), box.y1)
    if x1 - x0 < 8 or y1 - y0 < 8:
        return None
    return BoundingBox(x0, y0, x1, y1)


def _center_distance(a: BoundingBox, b: BoundingBox) -> float:
    (ax, ay), (bx, by) = a.center, b.center
    return float(np.hypot(ax - bx, ay - by)) / max(a.width, b.width, 1.0)


class FaceTracker:
    """Stateful tracker: call :meth:`update` on consecutive frames of one video."""

    def __init__(self, detector: FaceDetector, predictor: LandmarkPredictor,
                 config: TrackerConfig | None = None) -> None:
        self.detector = detector
        self.predictor = predictor
        self.config = config or TrackerConfig()
        self._tracks: list[_Track] = []
        self._next_id = 0
        self._frames_since_detection = 0
        self._force_detection = True
        self.detections_run = 0

    @property
    def active_ids(self) -> list[int]:
        return [t.track_id for t in self._tracks]

    def _should_detect(self) -> bool:
        interval = (self.config.detect_every if self._tracks
                    else self.config.detect_every_without_faces)
        return self._force_detection or self._frames_since_detection >= interval

    def update(self, rgb: np.ndarray) -> list[TrackedFace]:
        """Faces on the next frame ``rgb`` ``[H, W, 3]`` uint8 (C-contiguous), by track id."""
        for track in self._tracks:
            track.age += 1
            track.since_detection += 1
        detections: list[Detection] = []
        if self._should_detect():
            detections = self.detector.detect(rgb)
            self.detections_run += 1
            self._frames_since_detection = 0
        self._frames_since_detection += 1
        self._force_detection = False

        observed: dict[int, TrackedFace] = {}
        # landmarks and colour of every detection first: the assignment compares appearance
        candidates = [_Candidate(d, lm, mean_colour(rgb, lm)) for d in detections
                      for lm in (self._landmarks_in(rgb, d.box),)]
        matched, unmatched = self._assign(candidates)
        for track, candidate in matched:
            observed[track.track_id] = self._update_detected(track, candidate)
        for track in self._tracks:
            if track.track_id not in observed:
                face = self._follow(rgb, track)
                if face is not None:
                    observed[track.track_id] = face
        for candidate in unmatched:
            # a detection on a face already followed by landmarks is not a new person
            box = candidate.detection.box
            if any(box.iou(f.box) > 0.3 or _center_distance(box, f.box) < 0.25
                   for f in observed.values()):
                continue
            face = self._start_track(candidate)
            observed[face.track_id] = face
        self._suppress_duplicates(observed)
        self._end_lost_tracks()
        return [observed[k] for k in sorted(observed) if k in self.active_ids]

    def _assign(self, candidates: list[_Candidate]
                ) -> tuple[list[tuple[_Track, _Candidate]], list[_Candidate]]:
        """Hungarian assignment of detections to tracks (predicted box, centre, colour)."""
        if not candidates or not self._tracks:
            return [], list(candidates)
        cfg = self.config
        cost = np.full((len(self._tracks), len(candidates)), _INFEASIBLE)
        for i, track in enumerate(self._tracks):
            predicted = track.detector_box(track.predicted_landmarks(track.missed + 1))
            for j, candidate in enumerate(candidates):
                box = candidate.detection.box
                iou = predicted.iou(box)
                distance = _center_distance(predicted, box)
                if iou <= 0.0 and distance > 1.0:
                    continue  # gate: too far from where the track should be
                colour = float(np.linalg.norm(candidate.colour - track.colour))
                cost[i, j] = ((1.0 - iou) + cfg.center_weight * distance
                              + cfg.appearance_weight * colour)
        rows, cols = linear_sum_assignment(cost)
        matched = [(i, j) for i, j in zip(rows, cols, strict=True)
                   if cost[i, j] <= cfg.max_match_cost]
        used = {j for _, j in matched}
        return ([(self._tracks[i], candidates[j]) for i, j in matched],
                [c for j, c in enumerate(candidates) if j not in used])

    def _landmarks_in(self, rgb: np.ndarray, box: BoundingBox) -> np.ndarray:
        return self.predictor.predict(rgb, box)

    def _move(self, track: _Track, landmarks: np.ndarray, frames: int) -> None:
        old_center, old_size = track.center, track.size
        track.landmarks = landmarks
        frames = max(frames, 1)
        velocity = (track.center - old_center) / frames
        rate = (track.size / max(old_size, 1e-6)) ** (1.0 / frames)
        # light smoothing of the motion model so one noisy frame does not fling the prediction
        track.velocity = 0.5 * velocity + 0.5 * track.velocity
        track.size_rate = float(np.clip(0.5 * rate + 0.5 * track.size_rate, 0.8, 1.25))

    def _update_detected(self, track: _Track, candidate: _Candidate) -> TrackedFace:
        detection, landmarks, colour = candidate.detection, candidate.landmarks, candidate.colour
        self._move(track, landmarks, track.missed + 1)
        track.colour = 0.7 * colour + 0.3 * track.colour
        track.box_ratio = _box_ratio(detection.box, landmarks)
        track.missed = 0
        track.since_detection = 0
        track.confidence = detection.score
        return TrackedFace(track.track_id, detection.box, detection.score, landmarks, True)

    def _start_track(self, candidate: _Candidate) -> TrackedFace:
        detection, landmarks = candidate.detection, candidate.landmarks
        track = _Track(self._next_id, landmarks, candidate.colour,
                       _box_ratio(detection.box, landmarks), confidence=detection.score)
        self._next_id += 1
        self._tracks.append(track)
        log.debug("track %d starts at %s", track.track_id, detection.box)
        return TrackedFace(track.track_id, detection.box, detection.score, landmarks, True)

    def tracking_confidence(self, seed: BoundingBox, rgb: np.ndarray, track: _Track,
                            landmarks: np.ndarray) -> float:
        """Confidence in [0, 1] that ``landmarks`` (predicted inside ``seed``) are ``track``'s
        face: box drift x colour change x shape change, each a Gaussian-shaped penalty."""
        drift = 1.0 - seed.iou(track.detector_box(landmarks))
        colour_change = float(np.linalg.norm(mean_colour(rgb, landmarks) - track.colour))
        shape_change = float(np.sqrt(((normalised_shape(landmarks)
                                       - normalised_shape(track.landmarks)) ** 2)
                                     .sum(axis=1).mean()))
        return float(np.exp(-(drift / 0.35) ** 2 - (colour_change / 0.12) ** 2
                            - (shape_change / 0.15) ** 2))

    def _follow(self, rgb: np.ndarray, track: _Track) -> TrackedFace | None:
        height, width = rgb.shape[:2]
        seed = _clip_box(track.detector_box(track.predicted_landmarks(track.missed + 1)),
                         width, height)
        if seed is None:  # the predicted face left the frame
            track.missed += 1
            return None
        landmarks = self._landmarks_in(rgb, seed)
        confidence = self.tracking_confidence(seed, rgb, track, landmarks)
        track.confidence = confidence
        if confidence < self.config.min_confidence:
            track.missed += 1
            self._force_detection = True
            return None
        self._move(track, landmarks, track.missed + 1)
        track.missed = 0
        return TrackedFace(track.track_id, track.detector_box(landmarks), confidence,
                           landmarks, False)

    def _suppress_duplicates(self, observed: dict[int, TrackedFace]) -> None:
        """Two tracks on one face (one drifted onto the other): the younger one misses."""
        ids = sorted(observed)
        by_id = {t.track_id: t for t in self._tracks}
        for a_index, a in enumerate(ids):
            for b in ids[a_index + 1:]:
                if a not in observed or b not in observed:
                    continue
                if landmark_box(observed[a].landmarks).iou(
                        landmark_box(observed[b].landmarks)) > 0.5:
                    loser = b if (observed[a].detected or not observed[b].detected) else a
                    del observed[loser]
                    by_id[loser].missed += 1

    def _end_lost_tracks(self) -> None:
        cfg = self.config
        kept = []
        for track in self._tracks:
            if (track.missed > cfg.max_missed_frames
                    or track.since_detection > cfg.max_frames_without_detection):
                log.debug("track %d ends", track.track_id)
                continue
            kept.append(track)
        self._tracks = kept
