"""Pose error: how far the output head pose is from the target's, in degrees."""

from __future__ import annotations

import numpy as np


def wrap_degrees(angles: np.ndarray) -> np.ndarray:
    """Angles mapped to [-180, 180) so that 179° and -179° are 2° apart."""
    return (np.asarray(angles, dtype=np.float64) + 180.0) % 360.0 - 180.0


def pose_error_deg(output_euler: np.ndarray, target_euler: np.ndarray) -> np.ndarray:
    """Euclidean distance of (yaw, pitch, roll) output vs target, per frame.

    ``[..., 3], [..., 3] -> [...]`` degrees; each angle difference is wrapped to [-180, 180)
    before the norm.
    """
    output = np.asarray(output_euler, dtype=np.float64)
    target = np.asarray(target_euler, dtype=np.float64)
    if output.shape != target.shape or output.shape[-1:] != (3,):
        raise ValueError(f"expected matching [..., 3] angles, got {output.shape}, {target.shape}")
    return np.asarray(np.linalg.norm(wrap_degrees(output - target), axis=-1))
