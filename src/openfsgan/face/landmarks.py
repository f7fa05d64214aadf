"""68-point 2D landmarks with dlib's shape predictor (iBUG 300-W order), at full resolution."""

from __future__ import annotations

from functools import cache, cached_property
from typing import Any

import numpy as np

from openfsgan.errors import ModelError
from openfsgan.types import NUM_LANDMARKS, BoundingBox

# Index ranges of the iBUG 68-point scheme (used for drawing and for shape measures).
JAW = range(0, 17)
RIGHT_BROW = range(17, 22)  # the subject's right: the image's left on a frontal face
LEFT_BROW = range(22, 27)
NOSE_BRIDGE = range(27, 31)
NOSE_LOWER = range(31, 36)
RIGHT_EYE = range(36, 42)
LEFT_EYE = range(42, 48)
OUTER_LIP = range(48, 60)
INNER_LIP = range(60, 68)
CONTOURS: tuple[tuple[range, bool], ...] = (
    (JAW, False), (RIGHT_BROW, False), (LEFT_BROW, False), (NOSE_BRIDGE, False),
    (NOSE_LOWER, False), (RIGHT_EYE, True), (LEFT_EYE, True), (OUTER_LIP, True),
    (INNER_LIP, True),
)
"""Polylines of the 68-point scheme: (indices, closed)."""

MIRROR_68 = np.array(
    list(range(16, -1, -1))  # jaw
    + list(range(26, 21, -1)) + list(range(21, 16, -1))  # brows
    + [27, 28, 29, 30] + [35, 34, 33, 32, 31]  # nose
    + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]  # eyes
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]  # outer lip
    + [64, 63, 62, 61, 60, 67, 66, 65],  # inner lip
    dtype=np.int64,
)
"""Index of each landmark's mirror partner (left <-> right) in the 68-point scheme."""


@cache
def _shape_predictor(path: str) -> Any:
    """dlib's model at ``path``, loaded once per process (about 100 MB and half a second: the
    tracker and the neural path's landmark refinement share it; predicting is read-only)."""
    import dlib

    try:
        return dlib.shape_predictor(path)
    except RuntimeError as error:
        raise ModelError(f"cannot load the dlib landmark model {path}: {error}") from error


class LandmarkPredictor:
    """dlib 68-point shape predictor: ``predict(rgb [H,W,3] uint8, box) -> [68, 2]`` float32."""

    def __init__(self, model_path: str | None = None) -> None:
        self._model_path = model_path

    @cached_property
    def _predictor(self) -> Any:
        path = self._model_path
        if path is None:
            import face_recognition_models

            path = face_recognition_models.pose_predictor_model_location()
        return _shape_predictor(str(path))

    def predict(self, rgb: np.ndarray, box: BoundingBox) -> np.ndarray:
        """Landmarks ``[68, 2]`` in full-frame pixels of the face inside ``box``.

        ``rgb`` must be C-contiguous uint8 ``[H, W, 3]`` (dlib reads it without a copy).
        """
        import dlib

        rect = dlib.rectangle(round(box.x0), round(box.y0),
                              round(box.x1) - 1, round(box.y1) - 1)
        shape = self._predictor(rgb, rect)
        points = np.empty((NUM_LANDMARKS, 2), dtype=np.float32)
        for i in range(NUM_LANDMARKS):
            part = shape.part(i)
            points[i, 0] = part.x
            points[i, 1] = part.y
        return points
