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


def pose_change_error_deg(output_euler: np.ndarray, target_euler: np.ndarray,
                          valid: np.ndarray) -> np.ndarray:
    """Error of the head-pose *change*: each video's pose relative to its own first valid
    frame, output vs target, per frame.

    Reenactment keeps the source's starting pose and adds the driver's motion, so absolute
    angles of the output and the driver differ by design; their changes should not.
    ``[T, 3], [T, 3], bool [T] -> [T]`` degrees (NaN where not valid; 0 on the reference frame).
    """
    output = np.asarray(output_euler, dtype=np.float64)
    target = np.asarray(target_euler, dtype=np.float64)
    keep = np.asarray(valid, dtype=bool)
    if output.shape != target.shape or output.ndim != 2 or output.shape[1] != 3:
        raise ValueError(f"expected matching [T, 3] angles, got {output.shape}, {target.shape}")
    if keep.shape != output.shape[:1]:
        raise ValueError(f"expected {output.shape[0]} validity flags, got {keep.shape}")
    errors = np.full(output.shape[0], np.nan)
    if keep.any():
        first = int(np.argmax(keep))
        change_output = wrap_degrees(output[keep] - output[first])
        change_target = wrap_degrees(target[keep] - target[first])
        errors[keep] = np.linalg.norm(wrap_degrees(change_output - change_target), axis=1)
    return errors
