"""Colour correction of the swapped face to the target's skin and light (classic path).

Per-channel mean/std transfer in CIE Lab (Reinhard et al. 2001) measured inside the face mask:
``out = (src - mean_src) * std_tgt / std_src + mean_tgt``. On video the four statistics are
smoothed over time (:class:`ColorStatsSmoother`), so the correction does not flicker with
expression or small landmark jitter.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_STD = 1e-3


@dataclass(frozen=True)
class ColorStats:
    """Per-channel Lab mean and standard deviation of a masked region (``[3]`` float64 each)."""

    mean: np.ndarray
    std: np.ndarray

    def blend(self, other: ColorStats, weight_other: float) -> ColorStats:
        keep = 1.0 - weight_other
        return ColorStats(keep * self.mean + weight_other * other.mean,
                          keep * self.std + weight_other * other.std)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB ``[H, W, 3]`` -> float32 Lab (L in 0..100)."""
    return cv2.cvtColor(rgb.astype(np.float32) * np.float32(1.0 / 255.0), cv2.COLOR_RGB2Lab)


def lab_to_rgb(lab: np.ndarray) -> np.ndarray:
    """float32 Lab -> uint8 RGB, clipped."""
    rgb = cv2.cvtColor(lab.astype(np.float32, copy=False), cv2.COLOR_Lab2RGB)
    return np.clip(rgb * 255.0 + 0.5, 0, 255).astype(np.uint8)


def masked_stats(lab: np.ndarray, mask: np.ndarray) -> ColorStats:
    """Mean/std of ``[H, W, 3]`` Lab pixels where the boolean ``[H, W]`` mask is set.

    Raises:
        ValueError: when the mask is empty.
    """
    region = np.asarray(mask, dtype=np.uint8)
    if cv2.countNonZero(region) == 0:
        raise ValueError("colour statistics of an empty mask")
    mean, std = cv2.meanStdDev(lab, mask=region)
    return ColorStats(mean.ravel(), np.maximum(std.ravel(), MIN_STD))


def transfer_stats(lab: np.ndarray, source: ColorStats, target: ColorStats,
                   max_gain: float = 2.0) -> np.ndarray:
    """Map Lab pixels with ``source`` statistics onto ``target``'s (gain clipped to
    ``[1 / max_gain, max_gain]`` so a flat region never explodes)."""
    gain = np.clip(target.std / source.std, 1.0 / max_gain, max_gain)
    offset = target.mean - source.mean * gain
    return (lab * gain.astype(np.float32) + offset.astype(np.float32)).astype(np.float32)


def match_color(source_rgb: np.ndarray, target_rgb: np.ndarray, mask: np.ndarray,
                smoother: ColorStatsSmoother | None = None, max_gain: float = 1.5
                ) -> np.ndarray:
    """Recolour ``source_rgb`` so that, inside ``mask``, it has the target's Lab statistics.

    Args:
        source_rgb: ``[H, W, 3]`` uint8 (e.g. the warped source face crop).
        target_rgb: ``[H, W, 3]`` uint8 (the target face crop, same frame).
        mask: ``[H, W]`` boolean or soft mask (> 0.5 counts) of the face region.
        smoother: temporal smoother of the statistics (video); ``None`` for a single image.
        max_gain: bound of the contrast change (a face lit harder than the other must not
            have its shadows doubled).

    Returns:
        ``[H, W, 3]`` uint8 recoloured source (the whole crop, so blending sees a consistent
        image beyond the mask too).
    """
    region = np.asarray(mask) > 0.5 if mask.dtype != bool else mask
    if not region.any():
        return source_rgb.copy()
    return match_color_lab(rgb_to_lab(source_rgb), rgb_to_lab(target_rgb), region, smoother,
                           max_gain)


def match_color_lab(source_lab: np.ndarray, target_lab: np.ndarray, region: np.ndarray,
                    smoother: ColorStatsSmoother | None = None,
                    max_gain: float = 1.5) -> np.ndarray:
    """:func:`match_color` on images already in Lab (``region`` boolean, non-empty);
    returns uint8 RGB."""
    source_stats = masked_stats(source_lab, region)
    target_stats = masked_stats(target_lab, region)
    if smoother is not None:
        source_stats, target_stats = smoother(source_stats, target_stats)
    return lab_to_rgb(transfer_stats(source_lab, source_stats, target_stats, max_gain))


def _shading(lab: np.ndarray, weight: np.ndarray, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Normalised convolution: the ``weight``-weighted Gaussian mean of ``lab`` at every pixel
    (``[h, w, 3]``) and the blurred weight (``[h, w]``, how much evidence stands behind it)."""
    blurred_weight = cv2.GaussianBlur(weight, (0, 0), sigma)
    blurred = cv2.GaussianBlur(lab * weight[..., None], (0, 0), sigma)
    return blurred / np.maximum(blurred_weight, 1e-6)[..., None], blurred_weight


def relight_lab(source_lab: np.ndarray, target_lab: np.ndarray, region: np.ndarray,
                sigma: float, max_shift: tuple[float, float, float] = (25.0, 10.0, 10.0)
                ) -> np.ndarray:
    """The source's low-frequency light replaced by the target's, in Lab.

    A global statistics transfer leaves the source's own shading: a source lit from one side
    keeps a dark cheek, which Poisson blending (it keeps the source's gradients) carries into
    a target lit from the front as a dark, tinted band. Here the difference of the two faces'
    local means (Gaussian of ``sigma`` pixels, each a normalised convolution over ``region``,
    so neither background, hair nor eyes enter it) is added to the source: the target's
    shading and tint at that scale, the source's detail, features and shape below it. The
    correction fades out where ``region`` gives no evidence (far outside the face).

    The means are smooth at that scale, so they are taken on a grid ``sigma / 4`` pixels
    apart (area-averaged) and the correction is interpolated back: a few milliseconds a
    256-pixel crop instead of some twenty for full-resolution blurs.

    Args:
        source_lab, target_lab: ``[H, W, 3]`` float32 Lab of the same geometry.
        region: ``[H, W]`` boolean where both show skin.
        sigma: scale of the light in pixels (well above the features' size).
        max_shift: bound of the correction per channel (L, a, b).

    Returns:
        ``[H, W, 3]`` float32 Lab.
    """
    weight = np.asarray(region, dtype=np.float32)
    if not weight.any():
        return source_lab
    height, width = weight.shape
    factor = max(1, int(sigma // 4))
    size = (max(1, round(width / factor)), max(1, round(height / factor)))

    def small(image: np.ndarray) -> np.ndarray:
        return cv2.resize(image, size, interpolation=cv2.INTER_AREA) if factor > 1 else image

    small_weight = small(weight)
    source_light, evidence = _shading(small(source_lab), small_weight, sigma / factor)
    target_light, _ = _shading(small(target_lab), small_weight, sigma / factor)
    bound = np.asarray(max_shift, np.float32)
    delta = np.clip(target_light - source_light, -bound, bound)
    confidence = np.clip(evidence / (0.5 * float(evidence.max())), 0.0, 1.0)
    correction = delta * confidence[..., None]
    if factor > 1:
        correction = cv2.resize(correction, (width, height), interpolation=cv2.INTER_LINEAR)
    return (source_lab + correction).astype(np.float32)


class ColorStatsSmoother:
    """Exponential moving average of the source and target colour statistics over frames."""

    def __init__(self, momentum: float = 0.8) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.momentum = momentum
        self._state: tuple[ColorStats, ColorStats] | None = None

    def reset(self) -> None:
        self._state = None

    @property
    def state(self) -> tuple[ColorStats, ColorStats] | None:
        """The smoothed (source, target) statistics so far (None before the first frame)."""
        return self._state

    @state.setter
    def state(self, value: tuple[ColorStats, ColorStats] | None) -> None:
        self._state = value

    def __call__(self, source: ColorStats, target: ColorStats) -> tuple[ColorStats, ColorStats]:
        if self._state is None:
            self._state = (source, target)
        else:
            weight = 1.0 - self.momentum
            self._state = (self._state[0].blend(source, weight),
                           self._state[1].blend(target, weight))
        return self._state
