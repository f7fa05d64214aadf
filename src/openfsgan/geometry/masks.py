"""Face masks from landmarks: the region the swapped face replaces (classic path).

The mask is the convex hull of the jaw line and the eyebrows raised towards the forehead, shrunk
a little (landmark jaws sit on the face's outline, and the outline itself belongs to the target)
and feathered with a Gaussian so that compositing leaves no hard edge. Hair is not masked here;
the neural segmentation model handles it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from openfsgan.config import Config
from openfsgan.geometry.mesh_warp import BROW_INDICES, face_up_direction
from openfsgan.types import NUM_LANDMARKS

JAW_INDICES = np.arange(0, 17)


@dataclass(frozen=True)
class MaskConfig(Config):
    """Shape and softness of the landmark face mask.

    Attributes:
        brow_raise: how far the eyebrows are raised, as a fraction of the nose-bridge-to-chin
            distance (0.25 covers the lower forehead without reaching the hair on most faces).
        erode_fraction: inward shrink of the hull, as a fraction of the face width.
        feather_fraction: Gaussian feather sigma, as a fraction of the face width.
        outline_fraction: width of the outline band an ``outline_gate`` applies to, as a
            fraction of the face width.
        inner_margin_fraction: the inner face (brows, eyes, nose, mouth: :func:`inner_face`)
            grown by this fraction of the face width is never gated away: it carries the
            identity, so it always comes from the source (a target's bushy eyebrows are not
            "skin", but must not be kept).
    """

    brow_raise: float = 0.22
    erode_fraction: float = 0.02
    feather_fraction: float = 0.035
    outline_fraction: float = 0.1
    inner_margin_fraction: float = 0.05

    def __post_init__(self) -> None:
        for name in ("brow_raise", "erode_fraction", "feather_fraction", "outline_fraction",
                     "inner_margin_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")


def face_outline(landmarks: np.ndarray, brow_raise: float = 0.22) -> np.ndarray:
    """Jaw (0..16) and raised eyebrows (26..17): a closed outline, ``[27, 2]`` float32."""
    pts = np.asarray(landmarks, dtype=np.float32)
    if pts.shape != (NUM_LANDMARKS, 2):
        raise ValueError(f"expected [{NUM_LANDMARKS}, 2] landmarks, got {pts.shape}")
    up, length = face_up_direction(pts)
    brows = pts[BROW_INDICES[::-1]] + brow_raise * length * up
    return np.concatenate([pts[JAW_INDICES], brows]).astype(np.float32)


def hard_face_mask(landmarks: np.ndarray, shape: tuple[int, int],
                   brow_raise: float = 0.22) -> np.ndarray:
    """Binary ``[H, W]`` uint8 mask (0/255): convex hull of :func:`face_outline`."""
    hull = cv2.convexHull(np.round(face_outline(landmarks, brow_raise) * 16).astype(np.int32))
    mask = np.zeros(shape, dtype=np.uint8)
    cv2.fillConvexPoly(mask, hull, 255, lineType=cv2.LINE_AA, shift=4)
    return mask


def face_mask(landmarks: np.ndarray, shape: tuple[int, int],
              config: MaskConfig = MaskConfig(),
              forehead_gate: np.ndarray | None = None,
              outline_gate: np.ndarray | None = None) -> np.ndarray:
    """Feathered face mask, float32 ``[H, W]`` in ``[0, 1]``.

    The hull is eroded by ``erode_fraction`` and blurred by ``feather_fraction`` of the face
    width, so the mask reaches 1 well inside the face and 0 at (about) the jaw line.

    Args:
        landmarks: ``[68, 2]`` pixels.
        shape: ``(height, width)`` of the mask.
        config: mask settings.
        forehead_gate: optional ``[H, W]`` weight in ``[0, 1]``; the forehead band above the
            eyebrows is kept only where it is >= 0.5 (e.g. skin on both faces, so a fringe of
            hair is neither pasted nor painted over).
        outline_gate: optional ``[H, W]`` weight; the band along the rest of the outline
            (``outline_fraction`` of the face width) is kept only where it is >= 0.5 (e.g. the
            target's skin, so that background or hair seen inside the jaw line is not replaced
            and never becomes the blending boundary).
    """
    pts = np.asarray(landmarks, dtype=np.float32)
    face_width = float(np.linalg.norm(pts[16] - pts[0]))
    hull = hard_face_mask(pts, shape, config.brow_raise)
    mask = hull
    if forehead_gate is not None:
        mask = _gate_forehead(mask, pts, shape, forehead_gate, face_width)
    if outline_gate is not None:
        mask = _gate_outline(mask, outline_gate, config.outline_fraction * face_width)
    if forehead_gate is not None or outline_gate is not None:
        # the gates trim hair and background off the outline, never the identity's features
        inner = inner_face(pts, shape, config.inner_margin_fraction * face_width)
        mask = np.maximum(mask, np.minimum(inner, hull))
    erode_px = round(config.erode_fraction * face_width)
    if erode_px > 0:
        mask = cv2.erode(mask, disk(erode_px))
    soft: np.ndarray = mask.astype(np.float32) / 255.0
    sigma = config.feather_fraction * face_width
    if sigma > 0.3:
        soft = cv2.GaussianBlur(soft, (0, 0), sigmaX=sigma, sigmaY=sigma)
    return np.clip(soft, 0.0, 1.0, out=soft)


def inner_face(landmarks: np.ndarray, shape: tuple[int, int], margin_px: float = 0.0,
               brow_raise: float = 0.06) -> np.ndarray:
    """``[H, W]`` uint8 (0/255): convex hull of the brows (raised by ``brow_raise`` of the
    nose-bridge-to-chin distance, to take their full thickness), eyes, nose and mouth
    (landmarks 17..67), grown by ``margin_px``."""
    pts = np.asarray(landmarks, dtype=np.float32)
    up, length = face_up_direction(pts)
    features = np.concatenate([pts[17:68], pts[BROW_INDICES] + brow_raise * length * up])
    region: np.ndarray = np.zeros(shape, np.uint8)
    hull = cv2.convexHull(np.round(features * 16).astype(np.int32))
    cv2.fillConvexPoly(region, hull, 255, lineType=cv2.LINE_8, shift=4)
    grow = round(margin_px)
    if grow > 0:
        region = cv2.dilate(region, disk(grow))
    return region


def border_window(size: int, feather_fraction: float = 0.08) -> np.ndarray:
    """``[S, S]`` float32: 1 inside a square crop, falling linearly to 0 at its border.

    Multiplying a crop's mask by it guarantees that pasting the crop back leaves no edge where
    the crop ends, whatever the face's pose.
    """
    ramp = max(1, round(feather_fraction * size))
    profile = np.clip(np.minimum(np.arange(size), np.arange(size)[::-1]) / ramp, 0.0, 1.0)
    return np.outer(profile, profile).astype(np.float32)


def disk(radius_px: int) -> np.ndarray:
    """Elliptical structuring element of radius ``radius_px``: ``[2r+1, 2r+1]`` uint8."""
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius_px + 1,) * 2)


def _keep_gated_band(mask: np.ndarray, core: np.ndarray, gate: np.ndarray,
                     radius_px: int) -> np.ndarray:
    """``core`` plus the rest of ``mask`` where ``gate`` >= 0.5, as one smooth piece: specks
    of the band dropped and pin holes filled at ``radius_px``."""
    kernel = disk(radius_px)
    band = (mask > 127) & (core == 0) & (np.asarray(gate) >= 0.5)
    band_u8 = cv2.morphologyEx(band.astype(np.uint8) * 255, cv2.MORPH_OPEN, kernel)
    return cv2.morphologyEx(np.maximum(core, band_u8), cv2.MORPH_CLOSE, kernel)


def _gate_forehead(mask: np.ndarray, landmarks: np.ndarray, shape: tuple[int, int],
                   gate: np.ndarray, face_width: float) -> np.ndarray:
    # the band above the brows must be one smooth piece
    core = hard_face_mask(landmarks, shape, brow_raise=0.04)
    return _keep_gated_band(mask, core, gate, max(1, round(0.02 * face_width)))


def _gate_outline(mask: np.ndarray, gate: np.ndarray, band_px: float) -> np.ndarray:
    core = cv2.erode(mask, disk(max(1, round(band_px))))
    return _keep_gated_band(mask, core, gate, max(1, round(band_px / 4)))


def skin_region(landmarks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Boolean ``[H, W]``: cheeks, nose and chin (inside the jaw, below the eyes, without the
    eyes and mouth): where a face shows skin, for colour statistics and skin models."""
    pts = np.asarray(landmarks, dtype=np.float32)
    if pts.shape != (NUM_LANDMARKS, 2):
        raise ValueError(f"expected [{NUM_LANDMARKS}, 2] landmarks, got {pts.shape}")
    region = np.zeros(shape, np.uint8)
    outline = np.concatenate([pts[1:16], pts[[28]]])
    cv2.fillConvexPoly(region, np.round(cv2.convexHull(outline) * 16).astype(np.int32), 1,
                       lineType=cv2.LINE_8, shift=4)
    return (region > 0) & ~_feature_holes(pts, shape, (pts[36:42], pts[42:48], pts[48:60]),
                                          0.06)


def _feature_holes(pts: np.ndarray, shape: tuple[int, int], parts: tuple[np.ndarray, ...],
                   grow_fraction: float) -> np.ndarray:
    """Boolean ``[H, W]``: the convex hulls of ``parts`` (eyes, mouth, brows), grown by
    ``grow_fraction`` of the eye-corner distance: what a skin region leaves out."""
    holes: np.ndarray = np.zeros(shape, np.uint8)
    for part in parts:
        cv2.fillConvexPoly(holes, np.round(cv2.convexHull(part) * 16).astype(np.int32), 1,
                           lineType=cv2.LINE_8, shift=4)
    grow = max(1, round(grow_fraction * float(np.linalg.norm(pts[45] - pts[36]))))
    return cv2.dilate(holes, disk(grow)) > 0


def face_skin_region(landmarks: np.ndarray, shape: tuple[int, int],
                     brow_raise: float = 0.22) -> np.ndarray:
    """Boolean ``[H, W]``: the whole face hull (:func:`hard_face_mask`: jaw line to the lower
    forehead) without the eyes, eyebrows and mouth: where a face can show skin up to its
    outline (:func:`skin_region` stops at the cheeks)."""
    pts = np.asarray(landmarks, dtype=np.float32)
    hull = hard_face_mask(pts, shape, brow_raise) > 127
    return hull & ~_feature_holes(
        pts, shape, (pts[36:42], pts[42:48], pts[48:60], pts[17:22], pts[22:27]), 0.08)


def skin_likelihood(lab: np.ndarray, skin: np.ndarray, max_distance: float = 2.5,
                    min_std: tuple[float, float, float] = (4.0, 2.0, 2.0)) -> np.ndarray:
    """How skin-like each pixel is, float32 ``[H, W]`` in ``[0, 1]``.

    A diagonal Gaussian of the Lab values inside ``skin`` (see :func:`skin_region`); 1 within
    ``max_distance`` standard deviations, falling to 0 one deviation further. Hair, glasses and
    eyebrows on a forehead fall outside it. ``min_std`` floors the (L, a, b) deviations: a
    large L floor tolerates shading (a forehead lit brighter than the cheeks is still skin)
    while hair, background and teeth still differ in colour or by far in lightness.
    """
    skin_u8 = np.asarray(skin, dtype=np.uint8)
    if cv2.countNonZero(skin_u8) < 16:
        return np.ones(lab.shape[:2], np.float32)
    mean, std = cv2.meanStdDev(lab, mask=skin_u8)
    std = np.maximum(std.ravel(), np.asarray(min_std, dtype=np.float64))
    # squared normalised distance, per pixel: sum_c ((lab_c - mean_c) / std_c)^2
    scaled = (lab - mean.ravel().astype(np.float32)) * (1.0 / std).astype(np.float32)
    distance = np.sqrt(cv2.transform(scaled * scaled, np.ones((1, 3), np.float32)))
    return np.clip(np.float32(max_distance + 1.0) - distance, 0.0, 1.0).reshape(lab.shape[:2])


def inner_feather(region: np.ndarray, sigma_px: float) -> np.ndarray:
    """Soft alpha that is 1 deep inside a boolean ``region`` and exactly 0 outside it.

    For pasting a Poisson-blended crop: the blend already matches the target on the region's
    boundary, so only a thin feather *inside* it is needed (against aliasing), and the target's
    own pixels outside the region are never resampled.
    """
    alpha = np.asarray(region, dtype=np.float32)
    if sigma_px <= 0.3:
        return alpha
    erode_px = int(np.ceil(2.0 * sigma_px))
    core = cv2.erode(alpha, disk(erode_px))
    soft = cv2.GaussianBlur(core, (0, 0), sigmaX=sigma_px, sigmaY=sigma_px)
    return np.minimum(soft, alpha)


def binary_core(mask: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Boolean ``[H, W]``: where a soft mask is at least ``threshold``."""
    return np.asarray(mask) >= threshold


class MaskSmoother:
    """Exponential moving average of crop-space masks over video frames (less edge flicker).

    The crop follows the (tracked, smoothed) face, so averaging in crop space keeps the mask
    attached to the face while damping landmark jitter along its edge.
    """

    def __init__(self, momentum: float = 0.6) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = momentum
        self._state: np.ndarray | None = None

    def reset(self) -> None:
        self._state = None

    def __call__(self, mask: np.ndarray) -> np.ndarray:
        current = np.asarray(mask, dtype=np.float32)
        if self._state is None or self._state.shape != current.shape:
            self._state = current.copy()
        else:
            self._state = self.momentum * self._state + (1.0 - self.momentum) * current
        return self._state.copy()
