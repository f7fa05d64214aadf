"""dlib detection on scikit-image's astronaut; score mapping; downscaling."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from openfsgan.errors import ConfigError
from openfsgan.face.detect import (
    DetectorConfig,
    FaceDetector,
    downscale_factor,
    score_from_margin,
)
from openfsgan.face.landmarks import LandmarkPredictor
from openfsgan.types import BoundingBox

ASTRONAUT_FACE = BoundingBox(175, 76, 266, 167)


def test_score_mapping_is_monotonic_in_unit_interval() -> None:
    margins = np.linspace(-5, 5, 41)
    scores = [score_from_margin(m) for m in margins]
    assert all(0.0 < s < 1.0 for s in scores)
    assert all(b > a for a, b in itertools.pairwise(scores))
    assert score_from_margin(0.0) == pytest.approx(0.5)


def test_downscale_factor() -> None:
    assert downscale_factor(720, 1280, 640) == pytest.approx(0.5)
    assert downscale_factor(300, 400, 640) == 1.0
    assert downscale_factor(4000, 3000, 0) == 1.0


def test_hog_finds_the_astronaut_face(astronaut_rgb: np.ndarray) -> None:
    detections = FaceDetector().detect(np.ascontiguousarray(astronaut_rgb))
    assert len(detections) == 1  # the small false box lower down needs upsampling
    assert detections[0].box.iou(ASTRONAUT_FACE) > 0.7
    assert detections[0].score > 0.8


def test_upsampling_also_reports_the_false_box_honestly(astronaut_rgb: np.ndarray) -> None:
    detections = FaceDetector(DetectorConfig(upsample=1)).detect(astronaut_rgb)
    assert len(detections) == 2
    best, other = detections
    assert best.box.iou(ASTRONAUT_FACE) > 0.7 and best.score > other.score
    assert other.box.center[1] > 300  # dlib's known false positive on the suit, near (126, 335)


def test_boxes_are_scaled_back_from_the_downscaled_frame(astronaut_rgb: np.ndarray) -> None:
    big = np.ascontiguousarray(np.repeat(np.repeat(astronaut_rgb, 2, axis=0), 2, axis=1))
    detections = FaceDetector(DetectorConfig(max_side_px=512)).detect(big)
    assert len(detections) == 1
    assert detections[0].box.iou(ASTRONAUT_FACE.scaled(2.0)) > 0.7


def test_blank_image_has_no_face() -> None:
    assert FaceDetector().detect(np.full((200, 300, 3), 128, np.uint8)) == []


def test_landmarks_fall_inside_the_face(astronaut_rgb: np.ndarray) -> None:
    landmarks = LandmarkPredictor().predict(np.ascontiguousarray(astronaut_rgb), ASTRONAUT_FACE)
    assert landmarks.shape == (68, 2) and landmarks.dtype == np.float32
    assert BoundingBox.around(landmarks).iou(ASTRONAUT_FACE) > 0.5
    assert landmarks[45, 0] > landmarks[36, 0]  # image-right eye corner is the subject's left


def test_invalid_config_and_input() -> None:
    with pytest.raises(ConfigError):
        DetectorConfig(kind="yolo")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        DetectorConfig(max_side_px=10)
    with pytest.raises(ValueError):
        FaceDetector().detect(np.zeros((10, 10), np.uint8))
