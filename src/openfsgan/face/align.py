"""Face alignment: similarity transforms to a canonical crop, warping, and paste-back.

Every stage that works on a face (mesh warp, Poisson blending, the neural generators) works on a
square crop in which the face sits at a canonical place: the 68 landmarks are mapped by a
least-squares similarity transform (rotation, uniform scale, translation; Umeyama 1991) onto
:data:`CANONICAL_LANDMARKS_2D` scaled into the crop. The inverse transform pastes results back.

Coordinates follow :mod:`openfsgan.types` (pixel centres at integers, as OpenCV).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from openfsgan.types import NUM_LANDMARKS

CANONICAL_LANDMARKS_2D = np.array([
    (0.0000, 0.2006), (0.0067, 0.3325), (0.0226, 0.4620), (0.0495, 0.5881),
    (0.0998, 0.7057), (0.1785, 0.8070), (0.2754, 0.8899), (0.3813, 0.9555),
    (0.5000, 0.9747), (0.6187, 0.9555), (0.7246, 0.8899), (0.8215, 0.8070),
    (0.9002, 0.7057), (0.9505, 0.5881), (0.9774, 0.4620), (0.9933, 0.3325),
    (1.0000, 0.2006), (0.0861, 0.1063), (0.1471, 0.0458), (0.2366, 0.0253),
    (0.3299, 0.0360), (0.4182, 0.0679), (0.5818, 0.0679), (0.6701, 0.0360),
    (0.7634, 0.0253), (0.8529, 0.0458), (0.9139, 0.1063), (0.5000, 0.1728),
    (0.5000, 0.2579), (0.5000, 0.3414), (0.5000, 0.4275), (0.3954, 0.4882),
    (0.4459, 0.5048), (0.5000, 0.5193), (0.5541, 0.5048), (0.6046, 0.4882),
    (0.1896, 0.1891), (0.2454, 0.1577), (0.3119, 0.1584), (0.3706, 0.2018),
    (0.3083, 0.2120), (0.2415, 0.2111), (0.6294, 0.2018), (0.6881, 0.1584),
    (0.7546, 0.1577), (0.8104, 0.1891), (0.7585, 0.2111), (0.6917, 0.2120),
    (0.3027, 0.6421), (0.3755, 0.6139), (0.4497, 0.5990), (0.5000, 0.6113),
    (0.5503, 0.5990), (0.6245, 0.6139), (0.6973, 0.6421), (0.6268, 0.7122),
    (0.5545, 0.7424), (0.5000, 0.7480), (0.4455, 0.7424), (0.3732, 0.7122),
    (0.3323, 0.6457), (0.4489, 0.6397), (0.5000, 0.6453), (0.5511, 0.6397),
    (0.6677, 0.6457), (0.5520, 0.6796), (0.5000, 0.6858), (0.4480, 0.6796),
], dtype=np.float32)
"""Mean frontal 68-point shape (iBUG order) in the unit square, ``[68, 2]``.

Derived once by generalised Procrustes analysis of the 1,207 annotated 300-W photos (AFW and the
HELEN training set; the 20 % least typical shapes, mostly profiles, dropped), made exactly
left-right symmetric, then scaled by its larger extent into ``[0, 1]`` and centred: x spans
``[0, 1]`` (jaw corners), y spans ``[0.025, 0.975]`` (eyebrow tops to chin).
"""

FLIP_PERMUTATION = np.array(
    [*range(16, -1, -1), *range(26, 16, -1), 27, 28, 29, 30, 35, 34, 33, 32, 31,
     45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
     54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65],
    dtype=np.int64)
"""Index of each landmark's mirror partner (for horizontal flips of images and landmarks)."""

DEFAULT_MARGIN = 0.25
"""Fraction of the crop left around the 68-point template on each side."""

DEFAULT_FOREHEAD_SHIFT = 0.08
"""Fraction of the crop the template is moved down, so the forehead (no landmarks) fits."""


@dataclass(frozen=True, eq=False)
class AlignTransform:
    """A similarity transform from frame pixels to a square crop, and back.

    Attributes:
        matrix: ``[2, 3]`` float64, frame -> crop (``cv2.warpAffine`` convention).
        inverse: ``[2, 3]`` float64, crop -> frame.
        crop_size: side of the square crop in pixels.
    """

    matrix: np.ndarray
    inverse: np.ndarray
    crop_size: int

    def __post_init__(self) -> None:
        for name in ("matrix", "inverse"):
            value = np.array(getattr(self, name), dtype=np.float64)
            if value.shape != (2, 3):
                raise ValueError(f"{name} must be [2, 3], got {value.shape}")
            value.flags.writeable = False
            object.__setattr__(self, name, value)
        if self.crop_size <= 0:
            raise ValueError(f"crop_size must be positive, got {self.crop_size}")

    @property
    def scale(self) -> float:
        """Crop pixels per frame pixel."""
        return float(np.sqrt(abs(np.linalg.det(self.matrix[:, :2]))))

    @staticmethod
    def from_matrix(matrix: np.ndarray, crop_size: int) -> AlignTransform:
        """Build from the frame -> crop matrix; the inverse is computed."""
        return AlignTransform(matrix, cv2.invertAffineTransform(np.asarray(matrix, np.float64)),
                              crop_size)


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a ``[2, 3]`` affine matrix to ``[..., 2]`` points (same shape and float dtype)."""
    pts = np.asarray(points)
    out_dtype = pts.dtype if np.issubdtype(pts.dtype, np.floating) else np.float64
    m = np.asarray(matrix, dtype=np.float64)
    result = pts.astype(np.float64) @ m[:, :2].T + m[:, 2]
    return result.astype(out_dtype, copy=False)


def rescale_points(points: np.ndarray, from_size: float, to_size: float) -> np.ndarray:
    """Pixel coordinates in an image of side ``from_size`` -> the same places in that image
    resized to side ``to_size`` (pixel centres at integers: ``x' + 0.5 = (x + 0.5) * to /
    from``). Same shape; a float dtype is kept, integers become float64."""
    pts = np.asarray(points)
    if not np.issubdtype(pts.dtype, np.floating):
        pts = pts.astype(np.float64)
    return (pts + 0.5) * (to_size / from_size) - 0.5


def similarity_transform(source: np.ndarray, destination: np.ndarray) -> np.ndarray:
    """Least-squares similarity (no reflection) mapping ``source`` onto ``destination``.

    Umeyama's closed form. Args are ``[N, 2]`` with ``N >= 2``; returns ``[2, 3]`` float64.
    """
    src = np.asarray(source, dtype=np.float64)
    dst = np.asarray(destination, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2 or len(src) < 2:
        raise ValueError(f"expected two [N>=2, 2] point sets, got {src.shape} and {dst.shape}")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = (src_c ** 2).sum() / len(src)
    if src_var <= 1e-12:
        raise ValueError("source points are all identical; no similarity transform exists")
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    scale = (singular * sign).sum() / src_var
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - matrix[:, :2] @ src_mean
    return matrix


def canonical_landmarks(crop_size: int, margin: float = DEFAULT_MARGIN,
                        forehead_shift: float = DEFAULT_FOREHEAD_SHIFT) -> np.ndarray:
    """The template placed in a ``crop_size`` crop: ``[68, 2]`` float32 pixels."""
    if not 0.0 <= margin < 0.5:
        raise ValueError(f"margin must be in [0, 0.5), got {margin}")
    unit = CANONICAL_LANDMARKS_2D * (1.0 - 2.0 * margin) + margin
    unit = unit + np.array([0.0, forehead_shift], dtype=np.float32)
    # unit square [0, 1] covers the crop from the first pixel's outer edge to the last's
    return (unit * crop_size - 0.5).astype(np.float32)


def estimate_alignment(landmarks: np.ndarray, crop_size: int = 256,
                       margin: float = DEFAULT_MARGIN,
                       forehead_shift: float = DEFAULT_FOREHEAD_SHIFT) -> AlignTransform:
    """Similarity transform taking a face's 68 landmarks onto the canonical crop.

    Args:
        landmarks: ``[68, 2]`` frame pixels.
        crop_size: side of the square crop.
        margin: fraction of the crop around the template on each side (context for blending).
        forehead_shift: fraction of the crop the template moves down to make room for the
            forehead.
    """
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (NUM_LANDMARKS, 2):
        raise ValueError(f"expected [{NUM_LANDMARKS}, 2] landmarks, got {points.shape}")
    target = canonical_landmarks(crop_size, margin, forehead_shift)
    return AlignTransform.from_matrix(similarity_transform(points, target), crop_size)


def warp_to_crop(rgb: np.ndarray, transform: AlignTransform,
                 interpolation: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Cut the aligned face crop out of a frame: ``[H, W, C] -> [S, S, C]`` (same dtype).

    Pixels outside the frame repeat the border (no black wedges for the blending to see).
    """
    size = transform.crop_size
    return cv2.warpAffine(rgb, transform.matrix, (size, size), flags=interpolation,
                          borderMode=cv2.BORDER_REPLICATE)


def crop_footprint(transform: AlignTransform, frame_shape: tuple[int, ...],
                   pad: int = 2) -> tuple[int, int, int, int] | None:
    """The crop's bounding rectangle in the frame, ``(x0, y0, x1, y1)``, clipped; None if off."""
    size = transform.crop_size
    corners = np.array([[-0.5, -0.5], [size - 0.5, -0.5], [size - 0.5, size - 0.5],
                        [-0.5, size - 0.5]])
    frame_corners = transform_points(corners, transform.inverse)
    height, width = frame_shape[:2]
    x0 = max(int(np.floor(frame_corners[:, 0].min())) - pad, 0)
    y0 = max(int(np.floor(frame_corners[:, 1].min())) - pad, 0)
    x1 = min(int(np.ceil(frame_corners[:, 0].max())) + pad + 1, width)
    y1 = min(int(np.ceil(frame_corners[:, 1].max())) + pad + 1, height)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _footprint_inverse(transform: AlignTransform,
                       rect: tuple[int, int, int, int]) -> np.ndarray:
    """The crop -> frame map expressed in the footprint's own coordinates."""
    inverse = transform.inverse.copy()
    inverse[:, 2] -= rect[:2]
    return inverse


def _footprint_alpha(mask: np.ndarray, transform: AlignTransform,
                     rect: tuple[int, int, int, int]) -> np.ndarray:
    """The crop-space ``mask`` warped onto the footprint ``rect``: ``[h, w]`` float32."""
    x0, y0, x1, y1 = rect
    alpha_src = mask.astype(np.float32)
    if mask.dtype == np.uint8:
        alpha_src /= 255.0
    return cv2.warpAffine(alpha_src, _footprint_inverse(transform, rect), (x1 - x0, y1 - y0),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def paste_back(frame: np.ndarray, crop: np.ndarray, mask: np.ndarray,
               transform: AlignTransform) -> np.ndarray:
    """Composite a processed crop back into the frame: ``frame * (1 - m) + crop * m``.

    Only the crop's footprint in the frame is warped (a few milliseconds even at 1080p).

    Args:
        frame: ``[H, W, 3]`` uint8 frame (not modified).
        crop: ``[S, S, 3]`` uint8 crop in the transform's crop space.
        mask: ``[S, S]`` float in ``[0, 1]`` (or uint8 0..255): where the crop replaces the frame.
        transform: the frame -> crop alignment the crop was made with.

    Returns:
        A new ``[H, W, 3]`` uint8 frame.
    """
    size = transform.crop_size
    if crop.shape[:2] != (size, size) or mask.shape[:2] != (size, size):
        raise ValueError(f"crop {crop.shape} and mask {mask.shape} must be {size}x{size}")
    result = frame.copy()
    rect = crop_footprint(transform, frame.shape)
    if rect is None:
        return result
    x0, y0, x1, y1 = rect
    alpha = _footprint_alpha(mask, transform, rect)
    pasted = cv2.warpAffine(crop, _footprint_inverse(transform, rect), (x1 - x0, y1 - y0),
                            flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # where alpha is 0 the blend gives the frame's own pixel back exactly: only the bounding
    # box of alpha > 0 (about a third of a rotated crop's footprint) is computed
    bx, by, bw, bh = cv2.boundingRect((alpha > 0).astype(np.uint8))
    if bw == 0 or bh == 0:
        return result
    inner = (slice(by, by + bh), slice(bx, bx + bw))
    roi = result[y0 + by:y0 + by + bh, x0 + bx:x0 + bx + bw]
    # roi + alpha * (pasted - roi), rounded: the same float32 operations, in one buffer
    blended = pasted[inner].astype(np.float32)
    blended -= roi
    blended *= alpha[inner][..., None]
    blended += roi
    blended += 0.5
    roi[...] = np.clip(blended, 0, 255, out=blended)  # truncated towards zero, as astype
    return result


def paste_alpha(mask: np.ndarray, transform: AlignTransform,
                frame_shape: tuple[int, ...]) -> np.ndarray:
    """The frame-space alpha :func:`paste_back` composites with: ``[H, W]`` float32 in
    ``[0, 1]`` (0 outside the crop's footprint), for callers that record where a frame was
    changed (e.g. ground-truth masks of a dataset)."""
    alpha = np.zeros(frame_shape[:2], np.float32)
    rect = crop_footprint(transform, frame_shape)
    if rect is not None:
        x0, y0, x1, y1 = rect
        alpha[y0:y1, x0:x1] = _footprint_alpha(mask, transform, rect)
    return alpha
