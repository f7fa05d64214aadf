"""Target glasses: removed cleanly before the swap, never left half faded.

A swap pastes the source's eyes over the target's; the target's glasses, partly inside the
swapped region and partly outside it (the hinges by the temples, the rims along the edge), were
half replaced and half kept, a ghost frame. Here the frame is found and painted out of the
target frame (at its own resolution) before any stage runs, so the blending boundary, the
colour statistics and the pixels outside the swapped region no longer carry it.

Found, in the aligned target crop, as what is not skin (a Lab model of the cheeks, tolerant of
shading) in the band of the eyes, from brow to cheekbone and across the face's width, minus
the eyes themselves; the target counts as wearing glasses only when such pixels cross the nose
bridge between the eyes (a bare bridge is skin). Painted out by OpenCV's Telea inpainting.
No file I/O.
"""

from __future__ import annotations

import cv2
import numpy as np

from openfsgan.face.align import AlignTransform
from openfsgan.geometry.color import rgb_to_lab
from openfsgan.geometry.masks import disk, skin_likelihood, skin_region

SHADING_TOLERANT_STD = (12.0, 3.0, 3.0)
"""Floors of the skin model's Lab deviations: shade beside the nose is skin, a frame is not."""
BRIDGE_FRAME_FRACTION = 0.6
"""Share of the nose bridge's columns that a non-skin pixel must cross for the target to wear
glasses (a frame's bridge runs across the nose; a shadow or a brow hair does not)."""


def _eye_distance(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[45] - points[36]))


def _bridge_box(points: np.ndarray, shape: tuple[int, int]) -> tuple[slice, slice]:
    """The nose bridge between the inner eye corners, where a glasses bridge sits."""
    eye = _eye_distance(points)
    left, right = float(points[39, 0]), float(points[42, 0])
    middle, half = (left + right) / 2.0, 0.3 * (right - left)
    # from the inner brow ends (browline frames sit that high) down to the nose's upper third
    top = min(float(points[21, 1]), float(points[22, 1])) - 0.02 * eye
    bottom = float(points[28, 1])
    ys = slice(max(int(top), 0), min(int(np.ceil(bottom)), shape[0]))
    xs = slice(max(int(middle - half), 0), min(int(np.ceil(middle + half)), shape[1]))
    return ys, xs


def glasses_mask(crop: np.ndarray, points: np.ndarray) -> np.ndarray | None:
    """Boolean ``[S, S]`` of a glasses frame on an aligned target crop, or None without one.

    Args:
        crop: ``[S, S, 3]`` uint8 aligned target crop (face upright).
        points: ``[68, 2]`` the target's landmarks in crop pixels.
    """
    shape = crop.shape[:2]
    eye = _eye_distance(points)
    skin = skin_region(points, shape)
    if not skin.any():
        return None
    not_skin = skin_likelihood(rgb_to_lab(crop), skin, min_std=SHADING_TOLERANT_STD) < 0.5
    ys, xs = _bridge_box(points, shape)
    bridge = not_skin[ys, xs]
    if bridge.size == 0 or float(bridge.any(axis=0).mean()) < BRIDGE_FRAME_FRACTION:
        return None
    # the band of the eyes: brow to cheekbone, across the face (the hinges sit at its edge)
    band = np.zeros(shape, np.uint8)
    top = float(points[17:27, 1].min()) - 0.12 * eye
    bottom = float(points[29, 1]) + 0.05 * eye
    # to just beyond the outline: the hinges sit there (the temple arms further out stay)
    x0, x1 = float(points[0, 0]) - 0.1 * eye, float(points[16, 0]) + 0.1 * eye
    cv2.rectangle(band, (int(x0), int(top)), (int(np.ceil(x1)), int(np.ceil(bottom))), 1, -1)
    eye_polygons: np.ndarray = np.zeros(shape, np.uint8)
    for part in (points[36:42], points[42:48]):
        cv2.fillConvexPoly(eye_polygons, np.round(cv2.convexHull(part.astype(np.float32)) * 16)
                           .astype(np.int32), 1, lineType=cv2.LINE_8, shift=4)
    eyes = cv2.dilate(eye_polygons, disk(max(1, round(0.04 * eye))))
    frame_pixels = not_skin & (band > 0) & (eyes == 0)
    # a frame is a thin structure; grow it over its antialiased edge
    grown = cv2.dilate(frame_pixels.astype(np.uint8), disk(max(1, round(0.02 * eye))))
    return grown > 0


def remove_glasses(frame: np.ndarray, crop: np.ndarray, points: np.ndarray,
                   transform: AlignTransform) -> np.ndarray:
    """``frame`` with the target's glasses painted out (itself when it wears none).

    Args:
        frame: ``[H, W, 3]`` uint8 target frame (not modified).
        crop: its aligned crop through ``transform``; ``points`` the landmarks there.
    """
    found = glasses_mask(crop, points)
    if found is None:
        return frame
    height, width = frame.shape[:2]
    inverse = transform.inverse
    in_frame = cv2.warpAffine(found.astype(np.uint8) * 255, inverse, (width, height),
                              flags=cv2.INTER_LINEAR) > 64
    ys, xs = np.nonzero(in_frame)
    if len(ys) == 0:
        return frame
    pad = 8 + int(0.02 * max(height, width))
    y0, y1 = max(int(ys.min()) - pad, 0), min(int(ys.max()) + pad + 1, height)
    x0, x1 = max(int(xs.min()) - pad, 0), min(int(xs.max()) + pad + 1, width)
    box = np.ascontiguousarray(frame[y0:y1, x0:x1])
    hole = in_frame[y0:y1, x0:x1].astype(np.uint8)
    radius = max(3.0, 0.01 * transform.crop_size / max(transform.scale, 1e-6))
    painted = cv2.inpaint(box, hole, radius, cv2.INPAINT_TELEA)
    out = frame.copy()
    out[y0:y1, x0:x1] = painted
    return out
