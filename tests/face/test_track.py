"""Tracker: ids survive two faces crossing; detection does not run on every frame; lost
tracks end."""

from __future__ import annotations

import numpy as np

from openfsgan.face.detect import FaceDetector
from openfsgan.face.landmarks import LandmarkPredictor
from openfsgan.face.track import FaceTracker, TrackerConfig


def run_tracker(frames, config: TrackerConfig) -> tuple[FaceTracker, list]:  # type: ignore[no-untyped-def]
    tracker = FaceTracker(FaceDetector(), LandmarkPredictor(), config)
    return tracker, [tracker.update(frame.rgb) for frame in frames]


def nearest_copy(landmarks: np.ndarray, centres: list[tuple[float, float]]) -> int:
    return int(np.argmin([np.linalg.norm(landmarks.mean(axis=0) - c) for c in centres]))


def test_ids_survive_crossing(crossing_faces_clip) -> None:  # type: ignore[no-untyped-def]
    clip = crossing_faces_clip
    _, observed = run_tracker(clip.frames, TrackerConfig(detect_every=5))
    ids_of_copy: dict[int, set[int]] = {0: set(), 1: set()}
    for faces, centres, visible in zip(observed, clip.face_centres, clip.visible, strict=True):
        for face in faces:
            copy = nearest_copy(face.landmarks, centres)
            assert np.linalg.norm(face.landmarks.mean(axis=0) - centres[copy]) < 15
            ids_of_copy[copy].add(face.track_id)
        for copy, seen in enumerate(visible):
            if seen:  # an unoccluded face is always reported
                assert any(nearest_copy(f.landmarks, centres) == copy for f in faces)
    assert len(ids_of_copy[0]) == 1 and len(ids_of_copy[1]) == 1
    assert ids_of_copy[0] != ids_of_copy[1]
    # the face behind really was hidden for a while and came back under its old id
    assert not all(v[0] for v in clip.visible) and clip.visible[-1][0]


def test_detector_runs_every_k_frames_only(moving_face_clip) -> None:  # type: ignore[no-untyped-def]
    tracker, observed = run_tracker(moving_face_clip.frames, TrackerConfig(detect_every=10))
    assert all(len(faces) == 1 for faces in observed)
    assert sum(not faces[0].detected for faces in observed) >= len(observed) // 2
    assert tracker.detections_run <= len(observed) // 2


def test_track_ends_after_missed_frames_and_a_new_id_follows(moving_face_clip) -> None:  # type: ignore[no-untyped-def]
    frames = moving_face_clip.frames
    blank = np.full_like(frames[0].rgb, 90)
    sequence = [f.rgb for f in frames[:5]] + [blank] * 6 + [f.rgb for f in frames[:3]]
    tracker = FaceTracker(FaceDetector(), LandmarkPredictor(),
                          TrackerConfig(detect_every=3, max_missed_frames=3))
    observed = [tracker.update(rgb) for rgb in sequence]
    assert all(len(faces) == 1 and faces[0].track_id == 0 for faces in observed[:5])
    assert all(faces == [] for faces in observed[5:11])
    assert tracker.active_ids == [1]
    assert all(faces[0].track_id == 1 for faces in observed[11:])
