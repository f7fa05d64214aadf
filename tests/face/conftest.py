"""Synthetic clips for the face-analysis tests, made from scikit-image's astronaut.

The astronaut's face lies at about x 175..266, y 76..167 in the 512x512 photo; the clips paste a
crop around it onto a plain background and move it, so where each face is on each frame is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

HEAD_CROP = (slice(40, 210), slice(140, 300))  # rows, cols of the astronaut photo
FACE_IN_CROP = (35.0, 36.0, 126.0, 127.0)  # x0, y0, x1, y1 of the face inside the crop


@dataclass(frozen=True)
class ClipFrame:
    index: int
    time_s: float
    rgb: np.ndarray


@dataclass(frozen=True)
class SyntheticClip:
    frames: list[ClipFrame]
    face_centres: list[list[tuple[float, float]]]  # per frame, per pasted copy: true centre
    visible: list[list[bool]]  # per frame, per copy: face not covered by another copy


def _paste(canvas: np.ndarray, patch: np.ndarray, x: int, y: int) -> None:
    h, w = patch.shape[:2]
    canvas[y:y + h, x:x + w] = patch


def make_clip(astronaut: np.ndarray, tracks: list[tuple[tuple[int, int], tuple[int, int]]],
              frames: int, size: tuple[int, int] = (420, 300), fps: float = 25.0,
              tints: list[tuple[int, int, int]] | None = None,
              scales: list[tuple[float, float]] | None = None) -> SyntheticClip:
    """Copies of the astronaut's head moving linearly from ``start`` to ``end`` (crop top-left)
    and zooming from ``scales[k][0]`` to ``scales[k][1]``, later copies drawn over earlier ones;
    ``tints`` permutes each copy's colour channels."""
    import cv2

    head = np.ascontiguousarray(astronaut[HEAD_CROP])
    tints = tints or [(0, 1, 2)] * len(tracks)
    scales = scales or [(1.0, 1.0)] * len(tracks)
    tinted = [np.ascontiguousarray(head[:, :, list(t)]) for t in tints]
    width, height = size
    out, centres, visible = [], [], []
    for i in range(frames):
        t = i / max(frames - 1, 1)
        canvas = np.full((height, width, 3), 90, dtype=np.uint8)
        positions, zooms, patches = [], [], []
        for ((x0, y0), (x1, y1)), (s0, s1), patch in zip(tracks, scales, tinted, strict=True):
            positions.append((round(x0 + t * (x1 - x0)), round(y0 + t * (y1 - y0))))
            zoom = s0 + t * (s1 - s0)
            zooms.append(zoom)
            patches.append(patch if zoom == 1.0 else cv2.resize(
                patch, (round(patch.shape[1] * zoom), round(patch.shape[0] * zoom)),
                interpolation=cv2.INTER_AREA if zoom < 1 else cv2.INTER_LINEAR))
        for patch, (x, y) in zip(patches, positions, strict=True):
            _paste(canvas, patch, x, y)
        frame_centres, frame_visible = [], []
        for k, (x, y) in enumerate(positions):
            cx = x + zooms[k] * (FACE_IN_CROP[0] + FACE_IN_CROP[2]) / 2
            cy = y + zooms[k] * (FACE_IN_CROP[1] + FACE_IN_CROP[3]) / 2
            frame_centres.append((cx, cy))
            covered = any(abs(cx - (ox + p.shape[1] / 2)) < p.shape[1] / 2 + 5
                          and abs(cy - (oy + p.shape[0] / 2)) < p.shape[0] / 2 + 5
                          for (ox, oy), p in zip(positions[k + 1:], patches[k + 1:],
                                                 strict=True))
            frame_visible.append(not covered)
        out.append(ClipFrame(i, i / fps, canvas))
        centres.append(frame_centres)
        visible.append(frame_visible)
    return SyntheticClip(out, centres, visible)


@pytest.fixture(scope="session")
def moving_face_clip(astronaut_rgb: np.ndarray) -> SyntheticClip:
    """One face sliding right and down over 20 frames while growing by 25 %."""
    return make_clip(astronaut_rgb, [((20, 20), (200, 70))], frames=20, scales=[(1.0, 1.25)])


@pytest.fixture(scope="session")
def crossing_faces_clip(astronaut_rgb: np.ndarray) -> SyntheticClip:
    """Two faces (the second with its colour channels rotated) crossing paths; the second is
    drawn over the first, which disappears behind it for a few frames."""
    return make_clip(astronaut_rgb, [((0, 30), (260, 80)), ((260, 100), (0, 40))], frames=30,
                     tints=[(0, 1, 2), (1, 2, 0)])
