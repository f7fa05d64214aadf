"""Expression error: landmark shape difference once pose, position and scale are removed.

The output's 68 landmarks are mapped onto the target's by the least-squares similarity
transform (rotation, uniform scale, translation: Umeyama 1991, i.e. Procrustes analysis); what
remains is the difference of facial expression (mouth, eyes, brows, jaw). It is reported as the
mean point-to-point distance in percent of the target's inter-ocular distance (outer eye
corners, landmarks 36 and 45), like the normalised mean error of 300-W.
"""

from __future__ import annotations

import numpy as np

from openfsgan.types import NUM_LANDMARKS

LEFT_EYE_OUTER, RIGHT_EYE_OUTER = 36, 45


def similarity_align(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``points`` moved by the similarity transform that best fits them onto ``reference``.

    ``[N, 2], [N, 2] -> [N, 2]``. Least squares over rotation (no reflection), uniform scale and
    translation (Umeyama's closed form).
    """
    src = np.asarray(points, dtype=np.float64)
    dst = np.asarray(reference, dtype=np.float64)
    if src.shape != dst.shape or src.ndim != 2 or src.shape[1] != 2:
        raise ValueError(f"expected matching [N, 2] points, got {src.shape}, {dst.shape}")
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    src_var = float((src_c**2).sum()) / len(src)
    if src_var <= 0:
        return np.broadcast_to(dst_mean, dst.shape).copy()
    covariance = dst_c.T @ src_c / len(src)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0  # forbid a reflection
    rotation = u @ np.diag(sign) @ vt
    scale = float((singular * sign).sum()) / src_var
    return np.asarray(scale * src_c @ rotation.T + dst_mean)


def inter_ocular_distance(landmarks: np.ndarray) -> float:
    """Distance between the outer eye corners of ``[68, 2]`` landmarks, pixels."""
    points = np.asarray(landmarks, dtype=np.float64)
    return float(np.linalg.norm(points[RIGHT_EYE_OUTER] - points[LEFT_EYE_OUTER]))


def expression_error_pct(output_landmarks: np.ndarray, target_landmarks: np.ndarray) -> float:
    """Mean landmark distance after similarity alignment, % of the target inter-ocular distance.

    ``[68, 2], [68, 2] -> float``; 0 when the output is a rotated/scaled/shifted copy of the
    target's landmarks.
    """
    output = np.asarray(output_landmarks, dtype=np.float64)
    target = np.asarray(target_landmarks, dtype=np.float64)
    if output.shape != (NUM_LANDMARKS, 2) or target.shape != (NUM_LANDMARKS, 2):
        raise ValueError(f"expected [68, 2] landmarks, got {output.shape}, {target.shape}")
    iod = inter_ocular_distance(target)
    if iod <= 0:
        raise ValueError("target landmarks have zero inter-ocular distance")
    aligned = similarity_align(output, target)
    return 100.0 * float(np.linalg.norm(aligned - target, axis=1).mean()) / iod
