"""Temporal jitter: landmark motion the output has and the target does not.

A swap that follows the target's head should move exactly as the target moves; flicker or
shaking shows up as extra frame-to-frame landmark motion. Motions are normalised by the
target's inter-ocular distance so that face size does not matter.
"""

from __future__ import annotations

import numpy as np

from openfsgan.metrics.expression import LEFT_EYE_OUTER, RIGHT_EYE_OUTER


def _check_tracks(output: np.ndarray, target: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    if output.shape != target.shape or output.ndim != 3 or output.shape[2] != 2:
        raise ValueError(f"expected matching [T, N, 2] tracks, got {output.shape}, "
                         f"{target.shape}")
    if valid is None:
        return np.ones(output.shape[0], dtype=bool)
    mask = np.asarray(valid, dtype=bool)
    if mask.shape != (output.shape[0],):
        raise ValueError(f"valid must be [T]={output.shape[0]}, got {mask.shape}")
    return mask


def landmark_motion(track: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Mean landmark displacement between frames ``t`` and ``t+1`` for each valid step.

    ``[T, N, 2], bool [T-1] -> [K]`` pixels, K = number of True steps.
    """
    deltas = np.diff(np.asarray(track, dtype=np.float64), axis=0)
    return np.asarray(np.linalg.norm(deltas, axis=2).mean(axis=1)[steps])


def temporal_jitter_pct(output_landmarks: np.ndarray, target_landmarks: np.ndarray,
                        valid: np.ndarray | None = None) -> dict[str, float]:
    """Frame-to-frame landmark motion of the output minus that of the target.

    Args:
        output_landmarks: ``[T, 68, 2]`` output landmarks per frame.
        target_landmarks: ``[T, 68, 2]`` target landmarks on the same frames.
        valid: ``bool [T]``, frames where both faces were found; steps between two valid
            consecutive frames are used.

    Returns:
        ``excess_motion_pct``: mean output motion minus mean target motion, and
        ``motion_residual_pct``: mean over steps and points of ``|Δoutput - Δtarget|``, both
        in % of the mean target inter-ocular distance; NaN when fewer than one valid step.
    """
    output = np.asarray(output_landmarks, dtype=np.float64)
    target = np.asarray(target_landmarks, dtype=np.float64)
    mask = _check_tracks(output, target, valid)
    steps = mask[:-1] & mask[1:]
    if not steps.any():
        return {"excess_motion_pct": float("nan"), "motion_residual_pct": float("nan")}
    iod = np.linalg.norm(target[mask, RIGHT_EYE_OUTER] - target[mask, LEFT_EYE_OUTER], axis=1)
    scale = 100.0 / max(float(iod.mean()), 1e-9)
    excess = float(landmark_motion(output, steps).mean() - landmark_motion(target, steps).mean())
    residual = np.linalg.norm(np.diff(output, axis=0) - np.diff(target, axis=0), axis=2)
    return {"excess_motion_pct": excess * scale,
            "motion_residual_pct": float(residual[steps].mean()) * scale}
