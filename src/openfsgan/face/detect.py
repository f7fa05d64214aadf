"""Face detection with dlib: the HOG frontal detector on a downscaled frame, or the CNN (MMOD) one.

The HOG detector costs ~20 ms on a 640x360 frame and ~160 ms at 1080p on one CPU core, so it
runs on a copy of the frame whose longest side is at most ``max_side_px`` and its boxes are
scaled back to full resolution. The CNN detector is far slower (~1.4 s per 640 px frame) and is
meant for stills.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import cv2
import numpy as np

from openfsgan.errors import ConfigError, ModelError
from openfsgan.types import BoundingBox

log = logging.getLogger(__name__)

DetectorKind = Literal["hog", "cnn"]


@dataclass(frozen=True)
class DetectorConfig:
    """How faces are found on a frame.

    Attributes:
        kind: ``"hog"`` (dlib frontal HOG + linear SVM, fast) or ``"cnn"`` (dlib MMOD CNN, slow).
        max_side_px: the frame is downscaled so that its longest side is at most this before
            detection (0 keeps full resolution).
        upsample: dlib's pyramid upsampling count; each step finds faces half as large at ~4x
            the cost (HOG's smallest face is ~80 px in the detection frame).
        min_score: detections whose mapped confidence (see :func:`score_from_margin`) is below
            this are dropped.
    """

    kind: DetectorKind = "hog"
    max_side_px: int = 640
    upsample: int = 0
    min_score: float = 0.5

    def __post_init__(self) -> None:
        if self.kind not in ("hog", "cnn"):
            raise ConfigError(f"detector kind must be 'hog' or 'cnn', got {self.kind!r}")
        if self.max_side_px < 0 or 0 < self.max_side_px < 64:
            raise ConfigError(f"max_side_px must be 0 or >= 64, got {self.max_side_px}")
        if not 0 <= self.upsample <= 3:
            raise ConfigError(f"upsample must be in 0..3, got {self.upsample}")
        if not 0.0 <= self.min_score <= 1.0:
            raise ConfigError(f"min_score must be in [0, 1], got {self.min_score}")


@dataclass(frozen=True)
class Detection:
    """A detector's box in full-frame pixels and its confidence in [0, 1]."""

    box: BoundingBox
    score: float


def score_from_margin(margin: float) -> float:
    """Map a dlib detector confidence (an SVM margin, 0 at the decision threshold) to [0, 1].

    A logistic with slope 2: margin 0 -> 0.5, margin 1 -> 0.88, margin -1 -> 0.12. The default
    ``min_score = 0.5`` therefore keeps exactly what dlib's own default threshold keeps.
    """
    return 1.0 / (1.0 + math.exp(-2.0 * margin))


def downscale_factor(height: int, width: int, max_side_px: int) -> float:
    """Factor (<= 1) that brings the longest side down to ``max_side_px`` (0: no limit)."""
    longest = max(height, width)
    if max_side_px <= 0 or longest <= max_side_px:
        return 1.0
    return max_side_px / longest


class FaceDetector:
    """dlib face detector on RGB uint8 frames ``[H, W, 3]``; boxes in full-frame pixels."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()

    @cached_property
    def _dlib_detector(self) -> Any:
        import dlib

        if self.config.kind == "hog":
            return dlib.get_frontal_face_detector()
        import face_recognition_models

        path = face_recognition_models.cnn_face_detector_model_location()
        try:
            return dlib.cnn_face_detection_model_v1(path)
        except RuntimeError as error:
            raise ModelError(f"cannot load the dlib CNN face detector {path}: {error}") from error

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Faces on ``rgb`` ``[H, W, 3]`` uint8, highest score first."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected an RGB uint8 [H, W, 3] image, got {rgb.dtype} {rgb.shape}")
        height, width = rgb.shape[:2]
        factor = downscale_factor(height, width, self.config.max_side_px)
        small = rgb
        if factor < 1.0:
            size = (max(1, round(width * factor)), max(1, round(height * factor)))
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        small = np.ascontiguousarray(small)
        if self.config.kind == "hog":
            # adjust_threshold -1 returns weak candidates too; min_score filters them.
            rects, margins, _ = self._dlib_detector.run(small, self.config.upsample, -1.0)
            raw = [(r, m) for r, m in zip(rects, margins, strict=True)]
        else:
            raw = [(d.rect, d.confidence)
                   for d in self._dlib_detector(small, self.config.upsample)]
        detections: list[Detection] = []
        for rect, margin in raw:
            score = score_from_margin(float(margin))
            if score < self.config.min_score:
                continue
            # dlib rectangles are inclusive; +1 makes them half-open like BoundingBox.
            x0 = max(0.0, rect.left() / factor)
            y0 = max(0.0, rect.top() / factor)
            x1 = min(float(width), (rect.right() + 1) / factor)
            y1 = min(float(height), (rect.bottom() + 1) / factor)
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            detections.append(Detection(BoundingBox(x0, y0, x1, y1), score))
        detections.sort(key=lambda d: d.score, reverse=True)
        log.debug("detected %d faces (downscale %.3f)", len(detections), factor)
        return detections
