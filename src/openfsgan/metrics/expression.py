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


def eye_distance_normalised(shapes: np.ndarray) -> np.ndarray:
    """Each frame's ``[68, 2]`` shape centred and divided by its own inter-ocular distance.

    ``[T, 68, 2] -> [T, 68, 2]``; a frame with zero eye distance becomes NaN. After this, a
    distance of 0.01 is 1 % of the eye distance, whatever the face's size in pixels.
    """
    points = np.asarray(shapes, dtype=np.float64)
    if points.ndim != 3 or points.shape[1:] != (NUM_LANDMARKS, 2):
        raise ValueError(f"expected [T, 68, 2] shapes, got {list(points.shape)}")
    iod = np.linalg.norm(points[:, RIGHT_EYE_OUTER] - points[:, LEFT_EYE_OUTER], axis=1)
    centred = points - points.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(iod[:, None, None] > 0, centred / iod[:, None, None], np.nan)


def expression_deltas(shapes: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each valid frame's eye-distance-normalised shape minus the mean over the valid frames.

    ``[T, 68, 2], bool [T] -> [T, 68, 2]`` (NaN on invalid frames). Subtracting the video's
    own mean shape removes the person's face shape, which is constant over a video; what is
    left is how the face moves: expression (and what pose normalisation left behind).
    """
    normalised = eye_distance_normalised(shapes)
    keep = np.asarray(valid, dtype=bool) & np.isfinite(normalised).all(axis=(1, 2))
    deltas = np.full_like(normalised, np.nan)
    if keep.any():
        deltas[keep] = normalised[keep] - normalised[keep].mean(axis=0)
    return deltas


def invariant_expression_error_pct(output_shapes: np.ndarray, target_shapes: np.ndarray,
                                   valid: np.ndarray) -> np.ndarray:
    """Identity-invariant expression error per frame, % of the eye distance.

    ``output_shapes``/``target_shapes`` are the pose-normalised (frontalised) ``[T, 68, 2]``
    landmarks of the output video and of the video it should follow, frame by frame. Each
    video's shapes are taken relative to that video's own mean over the frames valid in both
    (``expression_deltas``), and the two deltas are compared point by point: the mean distance,
    x100. A face-shape difference between the two people (wider jaw, closer eyes) is constant
    over the video and cancels; a mouth that opens in one and not the other does not. The role
    is that of the 3DMM expression coefficients in the FaceForensics++ protocol, without a 3DMM.

    Returns:
        ``float [T]``, NaN where a frame is not valid.
    """
    output = np.asarray(output_shapes, dtype=np.float64)
    target = np.asarray(target_shapes, dtype=np.float64)
    if output.shape != target.shape:
        raise ValueError(f"shape sequences differ: {output.shape} vs {target.shape}")
    both = np.asarray(valid, dtype=bool)
    if both.shape != output.shape[:1]:
        raise ValueError(f"expected {output.shape[0]} validity flags, got {both.shape}")
    difference = expression_deltas(output, both) - expression_deltas(target, both)
    return np.asarray(100.0 * np.linalg.norm(difference, axis=2).mean(axis=1))
