"""Landmark heatmaps H(p): one Gaussian channel per landmark (FSGAN's geometry input).

The reenactment generator G_r is conditioned on the target geometry as ``68`` heatmap channels,
each a 2D Gaussian centred on one landmark. Two equivalent implementations live here: a NumPy one
(inference, data preparation) and a torch one (training; differentiable in the points, runs on
whatever device the points are on).

Coordinates follow :mod:`openfsgan.types`: pixel centres sit at integer coordinates. Points are
given in the pixel frame of an image of ``source_size`` pixels (default: the heatmap's own
``size``) and are rescaled to the heatmap grid, so landmarks of a 256-pixel crop can be rendered
directly as 64x64 heatmaps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from openfsgan.face.align import rescale_points
from openfsgan.types import NUM_LANDMARKS

if TYPE_CHECKING:
    import torch

DEFAULT_SIGMA = 2.0
"""Gaussian standard deviation in heatmap pixels (a 64x64 map with sigma 2 is the usual choice)."""


def _check_points(shape: tuple[int, ...]) -> None:
    if len(shape) < 2 or shape[-2:] != (NUM_LANDMARKS, 2):
        raise ValueError(f"expected points [..., {NUM_LANDMARKS}, 2], got {tuple(shape)}")


def _check_size_sigma(size: int, sigma: float) -> None:
    if size <= 0:
        raise ValueError(f"heatmap size must be positive, got {size}")
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")


def _to_heatmap_grid(points: np.ndarray, size: int, source_size: float | None) -> np.ndarray:
    if source_size is None or source_size == size:
        return points
    return rescale_points(points, float(source_size), size)


def landmark_heatmaps(points: np.ndarray, size: int, sigma: float = DEFAULT_SIGMA,
                      source_size: float | None = None,
                      out: np.ndarray | None = None) -> np.ndarray:
    """Render one Gaussian per landmark.

    Args:
        points: ``[68, 2]`` or ``[N, 68, 2]`` landmark ``(x, y)`` in pixels of an image of
            ``source_size`` pixels (square).
        size: heatmap side in pixels.
        sigma: Gaussian standard deviation in heatmap pixels.
        source_size: side of the image the points are expressed in; ``None`` means ``size``.
        out: a float32 array of the result's shape to render into (e.g. the previous call's
            result, no longer needed: a batch of heatmaps is several MB); None for a new one.

    Returns:
        float32 ``[68, size, size]`` or ``[N, 68, size, size]``; each channel peaks at 1 on its
        landmark (exactly 1 when the landmark sits on a pixel centre).
    """
    pts = np.asarray(points, dtype=np.float32)
    _check_points(pts.shape)
    _check_size_sigma(size, sigma)
    pts = _to_heatmap_grid(pts, size, source_size)
    grid = np.arange(size, dtype=np.float32)
    inv = np.float32(-0.5 / (sigma * sigma))
    # separable Gaussian: exp(-(dx^2 + dy^2) / 2 sigma^2) = gx(x) * gy(y)
    gx = np.exp(inv * (grid - pts[..., 0:1]) ** 2)  # [..., 68, size]
    gy = np.exp(inv * (grid - pts[..., 1:2]) ** 2)
    if out is not None:
        if out.shape != (*gx.shape[:-1], size, size) or out.dtype != np.float32:
            raise ValueError(f"out must be float32 {[*gx.shape[:-1], size, size]}, got "
                             f"{out.dtype} {list(out.shape)}")
        return np.multiply(gy[..., :, None], gx[..., None, :], out=out)
    return (gy[..., :, None] * gx[..., None, :]).astype(np.float32, copy=False)


def landmark_heatmaps_torch(points: torch.Tensor, size: int, sigma: float = DEFAULT_SIGMA,
                            source_size: float | None = None) -> torch.Tensor:
    """Torch twin of :func:`landmark_heatmaps` (same arguments, same result, differentiable).

    Args:
        points: ``[68, 2]`` or ``[B, 68, 2]`` tensor; the heatmaps are made on its device and
            in its floating dtype (float32 for integer input).

    Returns:
        ``[68, size, size]`` or ``[B, 68, size, size]``.
    """
    import torch

    _check_points(tuple(points.shape))
    _check_size_sigma(size, sigma)
    pts = points if points.is_floating_point() else points.float()
    if source_size is not None and source_size != size:
        pts = (pts + 0.5) * (size / float(source_size)) - 0.5
    grid = torch.arange(size, device=pts.device, dtype=pts.dtype)
    inv = -0.5 / (sigma * sigma)
    gx = torch.exp(inv * (grid - pts[..., 0:1]) ** 2)
    gy = torch.exp(inv * (grid - pts[..., 1:2]) ** 2)
    return gy.unsqueeze(-1) * gx.unsqueeze(-2)


def heatmap_peaks(heatmaps: np.ndarray) -> np.ndarray:
    """Integer ``(x, y)`` of each channel's maximum: ``[..., C, H, W] -> [..., C, 2]``."""
    maps = np.asarray(heatmaps)
    if maps.ndim < 3:
        raise ValueError(f"expected [..., C, H, W] heatmaps, got {maps.shape}")
    height, width = maps.shape[-2:]
    flat = maps.reshape(*maps.shape[:-2], height * width).argmax(axis=-1)
    return np.stack([flat % width, flat // width], axis=-1)
