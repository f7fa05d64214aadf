"""Seam visibility: is the border of the pasted face sharper than the face itself?

A hard-edged paste leaves a step along the mask boundary, so the image gradient is much
stronger on a thin band around the boundary than inside the face; Poisson or feathered
blending spreads the step out. The score is the ratio of the mean squared gradient magnitude
on the boundary band to that inside the mask (1 ≈ nothing special at the border).
"""

from __future__ import annotations

import numpy as np


def _gray(image: np.ndarray) -> np.ndarray:
    pixels = np.asarray(image, dtype=np.float64)
    if pixels.ndim == 3:
        pixels = pixels @ np.array([0.299, 0.587, 0.114])
    scale = 255.0 if np.asarray(image).dtype == np.uint8 else 1.0
    return pixels / scale


def gradient_energy(image: np.ndarray) -> np.ndarray:
    """Squared Sobel gradient magnitude of the luma, intensities in [0, 1]: ``[H, W(, 3)] ->
    [H, W]``."""
    from scipy import ndimage

    gray = _gray(image)
    gx = ndimage.sobel(gray, axis=1, mode="nearest") / 8.0
    gy = ndimage.sobel(gray, axis=0, mode="nearest") / 8.0
    return np.asarray(gx**2 + gy**2)


def boundary_and_interior(mask: np.ndarray, band_px: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Split around a mask's border: pixels within ``band_px`` of the boundary (both sides),
    and mask pixels farther than ``2 * band_px`` inside it. ``bool [H, W] -> 2 x bool [H, W]``."""
    from scipy import ndimage

    region = np.asarray(mask, dtype=bool)
    structure = ndimage.generate_binary_structure(2, 1)
    grown = ndimage.binary_dilation(region, structure, iterations=band_px)
    shrunk = ndimage.binary_erosion(region, structure, iterations=band_px, border_value=1)
    interior = ndimage.binary_erosion(region, structure, iterations=2 * band_px, border_value=1)
    return grown & ~shrunk, interior


def seam_visibility(image: np.ndarray, mask: np.ndarray, band_px: int = 3,
                    eps: float = 1e-6) -> float:
    """Mean gradient energy on the mask's boundary band over that inside the mask.

    Args:
        image: ``[H, W, 3]`` uint8 (or float in [0, 1]) output frame.
        mask: ``bool [H, W]`` region that was pasted.
        band_px: half-width of the boundary band.
        eps: added to both means so that flat regions give a finite ratio.

    Returns:
        The ratio (≥ 0), NaN when the mask is too small to have an interior.
    """
    if np.asarray(mask).shape != np.asarray(image).shape[:2]:
        raise ValueError(f"mask {np.asarray(mask).shape} does not match image "
                         f"{np.asarray(image).shape[:2]}")
    boundary, interior = boundary_and_interior(mask, band_px)
    if not boundary.any() or not interior.any():
        return float("nan")
    energy = gradient_energy(image)
    return float((energy[boundary].mean() + eps) / (energy[interior].mean() + eps))


def changed_region_mask(output_rgb: np.ndarray, reference_rgb: np.ndarray,
                        threshold: float = 10.0, filter_px: int = 5) -> np.ndarray:
    """Where a swap changed the frame: the largest filled region whose median-filtered
    per-pixel difference to the input frame exceeds ``threshold`` grey levels.

    ``uint8 [H, W, 3] x 2 -> bool [H, W]`` (all False when nothing changed). Used to find the
    paste mask of any swap method without access to its internals; the median filter (which,
    unlike a blur, does not move edges) and the threshold keep video-codec noise out of it.
    """
    from scipy import ndimage

    if output_rgb.shape != reference_rgb.shape:
        raise ValueError(f"images differ in shape: {output_rgb.shape} vs {reference_rgb.shape}")
    diff = np.abs(output_rgb.astype(np.float64) - reference_rgb.astype(np.float64)).max(axis=2)
    changed = ndimage.median_filter(diff, size=filter_px) > threshold
    changed = ndimage.binary_closing(changed, iterations=2)
    labels, count = ndimage.label(changed)
    if count == 0:
        return np.zeros(diff.shape, dtype=bool)
    sizes = ndimage.sum_labels(changed, labels, index=np.arange(1, count + 1))
    largest = labels == (int(np.argmax(sizes)) + 1)
    return np.asarray(ndimage.binary_fill_holes(largest), dtype=bool)
