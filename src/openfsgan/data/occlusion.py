"""Random occlusion masks: the holes the inpainting generator G_c learns to fill.

At swap time G_c fills the parts of the target's face region that the reenacted source does not
cover (a turned head leaves a side uncovered, hair or a hand hides a patch). Training is
self-supervised: a face crop gets holes of those kinds and G_c must restore the original. The
holes are drawn inside the face (grown a little, so edges of the face are learnt too).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from openfsgan.config import Config


@dataclass(frozen=True)
class OcclusionConfig(Config):
    """Shape and amount of the random holes.

    Attributes:
        min_coverage: smallest fraction of the face area a mask covers.
        max_coverage: largest fraction of the face area a mask covers.
        max_shapes: most shapes drawn in one mask (ellipses, polygons, strokes, side cuts).
        face_growth: how far outside the face holes may reach, as a fraction of the face width.
    """

    min_coverage: float = 0.05
    max_coverage: float = 0.5
    max_shapes: int = 4
    face_growth: float = 0.1

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_coverage <= self.max_coverage <= 1.0:
            raise ValueError("need 0 <= min_coverage <= max_coverage <= 1")
        if self.max_shapes < 1:
            raise ValueError("max_shapes must be >= 1")
        if self.face_growth < 0:
            raise ValueError("face_growth must be >= 0")


def _draw_shape(canvas: np.ndarray, box: tuple[int, int, int, int],
                rng: np.random.Generator) -> None:
    x0, y0, x1, y1 = box
    width, height = max(x1 - x0, 2), max(y1 - y0, 2)
    kind = rng.integers(4)
    centre = (int(rng.integers(x0, x0 + width)), int(rng.integers(y0, y0 + height)))
    if kind == 0:  # ellipse (a hand, a microphone, a patch)
        axes = (int(rng.uniform(0.1, 0.4) * width), int(rng.uniform(0.1, 0.4) * height))
        cv2.ellipse(canvas, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    elif kind == 1:  # random convex polygon
        count = int(rng.integers(3, 7))
        angles = np.sort(rng.uniform(0, 2 * np.pi, count))
        radius = rng.uniform(0.1, 0.35, count) * min(width, height)
        points = np.stack([centre[0] + radius * np.cos(angles),
                           centre[1] + radius * np.sin(angles)], axis=1)
        cv2.fillConvexPoly(canvas, np.round(points).astype(np.int32), 1)
    elif kind == 2:  # thick stroke (hair strands, glasses arms)
        steps = int(rng.integers(2, 5))
        stroke = [centre]
        for _ in range(steps):
            angle = rng.uniform(0, 2 * np.pi)
            length = rng.uniform(0.1, 0.4) * min(width, height)
            last = stroke[-1]
            stroke.append((int(last[0] + length * np.cos(angle)),
                           int(last[1] + length * np.sin(angle))))
        thickness = max(2, int(rng.uniform(0.04, 0.12) * min(width, height)))
        cv2.polylines(canvas, [np.asarray(stroke, np.int32)], False, 1, thickness)
    else:  # a side of the face cut by a line (what a turned source does not cover)
        angle = rng.uniform(0, 2 * np.pi)
        normal = np.array([np.cos(angle), np.sin(angle)])
        ys, xs = np.mgrid[0:canvas.shape[0], 0:canvas.shape[1]]
        offset = rng.uniform(0.15, 0.45) * min(width, height)
        centre_xy = np.array([x0 + width / 2.0, y0 + height / 2.0])
        side = (xs - centre_xy[0]) * normal[0] + (ys - centre_xy[1]) * normal[1] > offset
        canvas[side] = 1


def random_occlusion_mask(face: np.ndarray, rng: np.random.Generator,
                          config: OcclusionConfig = OcclusionConfig()) -> np.ndarray:
    """A random hole mask over a face.

    Args:
        face: ``[H, W]`` boolean (or 0/1) face region.
        rng: the generator drawing the shapes (seed it per sample for reproducible data).
        config: amount and kinds of holes.

    Returns:
        float32 ``[H, W]`` mask, 1 where pixels are to be filled.
    """
    face_u8 = np.asarray(face).astype(np.uint8)
    shape = face_u8.shape
    area = int(face_u8.sum())
    if area == 0:
        return np.zeros(shape, dtype=np.float32)
    ys, xs = np.nonzero(face_u8)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    grow = int(config.face_growth * (box[2] - box[0])) * 2 + 1
    allowed = np.asarray(cv2.dilate(face_u8, cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                                       (grow, grow))), np.uint8)
    target = rng.uniform(config.min_coverage, config.max_coverage)
    canvas = np.zeros(shape, dtype=np.uint8)
    mask = canvas
    # add shapes until the wanted coverage is reached; remove the last if it overshoots a lot
    for _ in range(config.max_shapes):
        before = canvas.copy()
        _draw_shape(canvas, box, rng)
        mask = canvas & allowed
        coverage = (mask & face_u8).sum() / area
        if coverage > config.max_coverage and before.any():
            canvas = before
            mask = canvas & allowed
            break
        if coverage >= target:
            break
    return mask.astype(np.float32)
