"""Self-reenactment fidelity: output vs the real frame when source and target are one person.

When the source is the target person (other frames of the same video), a perfect swap
reproduces the real target frame, so pixel metrics against it are meaningful. They are computed
on the face region (box around the target's landmarks, with a margin), because outside it the
swap returns the target frame unchanged and would inflate the scores.
"""

from __future__ import annotations

import numpy as np


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected [H, W, 3] images, got {list(a.shape)}")


def ssim(output_rgb: np.ndarray, real_rgb: np.ndarray) -> float:
    """Structural similarity (Wang et al. 2004, scikit-image), mean over RGB; 1 for equal images.

    ``uint8 [H, W, 3], uint8 [H, W, 3] -> float`` in [-1, 1]. Images smaller than the 7-pixel
    window use the largest odd window that fits (at least 3 pixels).
    """
    from skimage.metrics import structural_similarity

    _check_pair(output_rgb, real_rgb)
    side = min(output_rgb.shape[:2])
    if side < 3:
        raise ValueError(f"images too small for SSIM: {list(output_rgb.shape)}")
    win_size = min(7, side if side % 2 == 1 else side - 1)
    return float(structural_similarity(output_rgb, real_rgb, channel_axis=2, data_range=255,
                                       win_size=win_size))


def l1_error(output_rgb: np.ndarray, real_rgb: np.ndarray) -> float:
    """Mean absolute difference on a [0, 1] intensity scale; 0 for equal images."""
    _check_pair(output_rgb, real_rgb)
    diff = np.abs(output_rgb.astype(np.float64) - real_rgb.astype(np.float64))
    return float(diff.mean()) / 255.0


def face_region(landmarks: np.ndarray, frame_shape: tuple[int, ...],
                margin: float = 0.15) -> tuple[int, int, int, int]:
    """``(x0, y0, x1, y1)`` integer box around ``[68, 2]`` landmarks, grown by ``margin`` of its
    size on each side and clipped to the frame (``[y0:y1, x0:x1]`` slices it)."""
    points = np.asarray(landmarks, dtype=np.float64)
    height, width = int(frame_shape[0]), int(frame_shape[1])
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = margin * (hi - lo)
    x0 = int(np.clip(np.floor(lo[0] - pad[0]), 0, width - 1))
    y0 = int(np.clip(np.floor(lo[1] - pad[1]), 0, height - 1))
    x1 = int(np.clip(np.ceil(hi[0] + pad[0]) + 1, x0 + 1, width))
    y1 = int(np.clip(np.ceil(hi[1] + pad[1]) + 1, y0 + 1, height))
    return x0, y0, x1, y1


def psnr(output_rgb: np.ndarray, real_rgb: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB for 8-bit images, ``10 log10(255² / MSE)``; inf for
    equal images."""
    _check_pair(output_rgb, real_rgb)
    mse = float(np.mean((output_rgb.astype(np.float64) - real_rgb.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def keypoint_distance_pct(output_landmarks: np.ndarray, real_landmarks: np.ndarray) -> float:
    """Mean distance of the output's 68 landmarks from the real frame's, in the frame's
    pixels (no alignment: a self-reenactment must put them where they are), % of the real
    frame's inter-ocular distance (outer eye corners)."""
    output = np.asarray(output_landmarks, dtype=np.float64)
    real = np.asarray(real_landmarks, dtype=np.float64)
    if output.shape != (68, 2) or real.shape != (68, 2):
        raise ValueError(f"expected [68, 2] landmarks, got {output.shape}, {real.shape}")
    iod = float(np.linalg.norm(real[45] - real[36]))
    if iod <= 0:
        raise ValueError("real landmarks have zero inter-ocular distance")
    return 100.0 * float(np.linalg.norm(output - real, axis=1).mean()) / iod
