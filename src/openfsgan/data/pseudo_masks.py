"""Pseudo-labels for face/hair segmentation, made from landmarks and colour alone.

No face-parsing annotations are available to openfsgan, so the segmentation targets of G_r and
G_s are made here, once per crop, at data preparation:

* **face** (label 1): the convex hull of the jaw line and the eyebrows, extended upwards over the
  forehead (the eyebrows raised along the face's vertical axis by a fraction of the
  brow-to-chin height, since the 68 points stop at the brows).
* **hair** (label 2): pixels of a head-shaped region around the face (above it and down its
  sides) that (a) GrabCut assigns to the foreground when seeded with the face as sure
  foreground and the crop's top and side borders (outside the head region) as sure background,
  (b) do not look like skin (Mahalanobis distance in Lab to the colour statistics of the face's
  cheeks and nose), and (c) form a blob attached to the face. Skin-coloured neck and ears
  therefore stay background, as does a bald head; long hair below the chin is cut at the chin
  line. Over the forehead, non-skin foreground pixels are hair too (a fringe).
* **background** (label 0): everything else.

The result is noisy (a cap counts as hair, a skin-coloured wall touching the face may be missed),
which is why segmentation training treats it as a pseudo-label.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from openfsgan.config import Config
from openfsgan.face.landmarks import JAW, LEFT_BROW, RIGHT_BROW
from openfsgan.types import NUM_LANDMARKS

BACKGROUND = 0
FACE = 1
HAIR = 2
CLASS_NAMES = ("background", "face", "hair")

_CHIN = 8
_NOSE_TIP = 30
# cheeks, nose and the area between the eyes: skin with few eyebrows, eyes or lips in it
_SKIN_SAMPLE_POINTS = (1, 2, 3, 13, 14, 15, 27, 28, 29, 30, 31, 35)


@dataclass(frozen=True)
class PseudoMaskConfig(Config):
    """Parameters of the face/hair pseudo-labels (fractions refer to the brow-to-chin height).

    Attributes:
        forehead_height: how far the eyebrows are raised to close the face over the forehead.
        hair_above: how far above the raised brows the hair region reaches.
        hair_side: how far left and right of the face the hair region reaches.
        skin_distance: Mahalanobis distance (Lab) above which a pixel is "not skin".
        grabcut_iterations: GrabCut iterations (0 disables GrabCut; colour cues alone decide).
        min_hair_fraction: hair blobs smaller than this fraction of the face area are dropped.
    """

    forehead_height: float = 0.45
    hair_above: float = 0.6
    hair_side: float = 0.35
    skin_distance: float = 3.0
    grabcut_iterations: int = 3
    min_hair_fraction: float = 0.02

    def __post_init__(self) -> None:
        for name in ("forehead_height", "hair_above", "hair_side", "skin_distance",
                     "min_hair_fraction"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.grabcut_iterations < 0:
            raise ValueError("grabcut_iterations must be >= 0")


def _check_landmarks(landmarks: np.ndarray) -> np.ndarray:
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (NUM_LANDMARKS, 2):
        raise ValueError(f"expected [{NUM_LANDMARKS}, 2] landmarks, got {points.shape}")
    return points


def face_axes(landmarks: np.ndarray) -> tuple[np.ndarray, float]:
    """The face's upward unit vector and its brow-to-chin height in pixels."""
    points = _check_landmarks(landmarks)
    brows = points[[*RIGHT_BROW, *LEFT_BROW]].mean(axis=0)
    up = brows - points[_CHIN]
    height = float(np.linalg.norm(up))
    if height < 1e-6:
        raise ValueError("degenerate landmarks: brows and chin coincide")
    return up / height, height


def forehead_points(landmarks: np.ndarray, height: float = 0.45) -> np.ndarray:
    """The 10 eyebrow points raised by ``height`` brow-to-chin heights: ``[10, 2]``.

    The outer brow points are raised less (70 %) than the inner ones so the top of the face is
    rounded like a forehead rather than flat.
    """
    points = _check_landmarks(landmarks)
    up, face_height = face_axes(points)
    brows = points[[*RIGHT_BROW, *LEFT_BROW]]
    profile = np.array([0.7, 0.85, 0.95, 1.0, 1.0, 1.0, 1.0, 0.95, 0.85, 0.7])
    return brows + (height * face_height * profile)[:, None] * up[None, :]


def face_polygon(landmarks: np.ndarray, forehead_height: float = 0.45) -> np.ndarray:
    """Convex polygon of the face including the forehead: ``[K, 2]`` float32."""
    points = _check_landmarks(landmarks)
    outline = np.concatenate([points[list(JAW)], points[[*RIGHT_BROW, *LEFT_BROW]],
                              forehead_points(points, forehead_height)])
    return cv2.convexHull(outline.astype(np.float32))[:, 0, :]


def _fill_polygon(polygon: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    # 4 fractional bits keep sub-pixel landmark positions
    cv2.fillPoly(mask, [np.round(polygon * 16).astype(np.int32)], 1, lineType=cv2.LINE_8,
                 shift=4)
    return mask.astype(bool)


def face_mask(landmarks: np.ndarray, shape: tuple[int, int],
              forehead_height: float = 0.45) -> np.ndarray:
    """Boolean ``[H, W]`` mask of the face (landmark hull extended over the forehead)."""
    return _fill_polygon(face_polygon(landmarks, forehead_height), shape)


def hair_region(landmarks: np.ndarray, shape: tuple[int, int],
                config: PseudoMaskConfig = PseudoMaskConfig()) -> np.ndarray:
    """Boolean ``[H, W]`` region where hair may be: an ellipse around the upper head, down the
    sides of the face to the chin line (the face itself included)."""
    points = _check_landmarks(landmarks)
    up, height = face_axes(points)
    right = np.array([-up[1], up[0]])  # perpendicular, pointing to the image's right when upright
    jaw = points[list(JAW)]
    centre = jaw.mean(axis=0)
    half_width = 0.5 * float(np.ptp(jaw @ right)) + config.hair_side * height
    top = (config.forehead_height + config.hair_above) * height
    # head ellipse: from the chin line to `top` above the brows, `half_width` across
    chin_offset = float((points[_CHIN] - centre) @ up)
    brow_offset = float((points[[*RIGHT_BROW, *LEFT_BROW]].mean(axis=0) - centre) @ up)
    upper = brow_offset + top
    mid = 0.5 * (upper + chin_offset)
    semi_up = 0.5 * (upper - chin_offset)
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    rel = np.stack([xs - centre[0], ys - centre[1]], axis=-1)
    along = rel @ up - mid
    across = rel @ right
    inside = (along / semi_up) ** 2 + (across / half_width) ** 2 <= 1.0
    return inside & (rel @ up >= chin_offset)


def _skin_distance(lab: np.ndarray, landmarks: np.ndarray, face: np.ndarray) -> np.ndarray:
    """Mahalanobis distance of every pixel's Lab colour to the face's skin colour."""
    points = landmarks[list(_SKIN_SAMPLE_POINTS)]
    radius = max(2, int(0.06 * face_axes(landmarks)[1]))
    sample = np.zeros(face.shape, dtype=np.uint8)
    for x, y in np.round(points).astype(int):
        cv2.circle(sample, (int(x), int(y)), radius, 1, -1)
    sample = sample.astype(bool) & face
    if sample.sum() < 10:
        sample = face
    colours = lab[sample].reshape(-1, 3)
    mean = colours.mean(axis=0)
    covariance = np.cov(colours, rowvar=False) + np.eye(3) * 4.0  # floor: flat synthetic skin
    inverse = np.linalg.inv(covariance)
    diff = lab.reshape(-1, 3) - mean
    distance = np.sqrt(np.einsum("ij,jk,ik->i", diff, inverse, diff))
    return distance.reshape(face.shape)


def _grabcut_foreground(rgb: np.ndarray, face: np.ndarray, region: np.ndarray,
                        far_background: np.ndarray, iterations: int) -> np.ndarray:
    mask = np.full(face.shape, cv2.GC_PR_BGD, dtype=np.uint8)
    mask[region] = cv2.GC_PR_FGD
    mask[far_background] = cv2.GC_BGD
    mask[face] = cv2.GC_FGD
    if not (mask == cv2.GC_BGD).any():
        return region
    # GrabCut initialises its colour models with k-means; a fixed seed keeps labels reproducible
    cv2.setRNGSeed(0)
    background_model = np.zeros((1, 65), np.float64)
    foreground_model = np.zeros((1, 65), np.float64)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    try:
        cv2.grabCut(bgr, mask, (0, 0, 0, 0), background_model, foreground_model, iterations,
                    cv2.GC_INIT_WITH_MASK)  # the rectangle is unused with a mask
    except cv2.error:  # a colour model without samples (e.g. a flat image): no evidence
        return region
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


def _above_line(points: np.ndarray, shape: tuple[int, int], index: int) -> np.ndarray:
    """Pixels above the line through landmark ``index`` perpendicular to the face's axis."""
    up, _ = face_axes(points)
    ys, xs = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float64)
    return (xs - points[index, 0]) * up[0] + (ys - points[index, 1]) * up[1] > 0


def hair_mask(rgb: np.ndarray, landmarks: np.ndarray, face: np.ndarray | None = None,
              config: PseudoMaskConfig = PseudoMaskConfig()) -> np.ndarray:
    """Boolean ``[H, W]`` hair pseudo-label of an aligned face crop (see the module docstring).

    Hair may also cover the forehead part of ``face`` (a fringe): there, non-skin pixels that
    GrabCut puts in the foreground count as hair too.
    """
    points = _check_landmarks(landmarks)
    shape = rgb.shape[:2]
    if face is None:
        face = face_mask(points, shape, config.forehead_height)
    _, height = face_axes(points)
    head = hair_region(points, shape, config)
    region = head & ~face
    if not region.any() or not face.any():
        return np.zeros(shape, dtype=bool)
    forehead = face & _above_line(points, shape, 19) & _above_line(points, shape, 24)
    lab = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2LAB).astype(np.float64)
    not_skin = _skin_distance(lab, points, face) > config.skin_distance
    candidate = (region | forehead) & not_skin
    if config.grabcut_iterations > 0:
        # sure background: away from the head, above the chin (below it: neck and clothes)
        margin = max(3, int(0.1 * height)) | 1
        grown = cv2.dilate(head.astype(np.uint8), np.ones((margin, margin), np.uint8))
        far_background = ~grown.astype(bool) & _above_line(points, shape, _CHIN)
        sure_face = face & ~forehead
        candidate &= _grabcut_foreground(rgb, sure_face, region | forehead, far_background,
                                         config.grabcut_iterations)
    size = max(3, int(0.05 * height)) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    candidate_u8 = cv2.morphologyEx(candidate.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    candidate_u8 = cv2.morphologyEx(candidate_u8, cv2.MORPH_OPEN, kernel)
    # keep blobs attached to the head: they touch a slightly grown face mask
    grown_face = cv2.dilate(face.astype(np.uint8), kernel).astype(bool)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(candidate_u8, connectivity=8)
    min_area = config.min_hair_fraction * float(face.sum())
    keep = np.zeros(count, dtype=bool)
    for label in range(1, count):
        if stats[label, cv2.CC_STAT_AREA] >= min_area and grown_face[labels == label].any():
            keep[label] = True
    return keep[labels] & (region | forehead)


def pseudo_segmentation(rgb: np.ndarray, landmarks: np.ndarray,
                        config: PseudoMaskConfig = PseudoMaskConfig()) -> np.ndarray:
    """Face/hair/background labels of an aligned crop.

    Args:
        rgb: ``[H, W, 3]`` uint8 face crop.
        landmarks: ``[68, 2]`` landmarks in the crop's pixels.
        config: pseudo-label parameters.

    Returns:
        uint8 ``[H, W]`` with :data:`BACKGROUND` (0), :data:`FACE` (1), :data:`HAIR` (2).
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected [H, W, 3] uint8, got {rgb.shape} {rgb.dtype}")
    points = _check_landmarks(landmarks)
    face = face_mask(points, rgb.shape[:2], config.forehead_height)
    labels = np.full(rgb.shape[:2], BACKGROUND, dtype=np.uint8)
    labels[face] = FACE
    labels[hair_mask(rgb, points, face, config)] = HAIR
    return labels
