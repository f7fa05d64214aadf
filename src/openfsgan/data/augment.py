"""Augmentations of aligned face crops, each a pure function of its inputs and a generator.

Flips keep landmarks and labels consistent (the 68 points swap left and right partners). The
recolour/relight transform makes the self-supervised blending samples: the face inside a mask
gets another colour and light, and G_b learns to blend it back into the untouched surroundings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from openfsgan.config import Config
from openfsgan.face.align import FLIP_PERMUTATION


def hflip(rgb: np.ndarray, landmarks: np.ndarray | None = None,
          labels: np.ndarray | None = None
          ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Mirror a crop left-right; landmarks move to ``W - 1 - x`` and swap mirror partners."""
    width = rgb.shape[1]
    flipped = np.ascontiguousarray(rgb[:, ::-1])
    points = None
    if landmarks is not None:
        points = np.asarray(landmarks)[FLIP_PERMUTATION].copy()
        points[..., 0] = width - 1 - points[..., 0]
    flipped_labels = None if labels is None else np.ascontiguousarray(labels[:, ::-1])
    return flipped, points, flipped_labels


def colour_jitter(rgb: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Random brightness, contrast and saturation, each scaled by ``1 ± strength``."""
    if strength <= 0:
        return rgb
    image = rgb.astype(np.float32)
    brightness, contrast, saturation = rng.uniform(1 - strength, 1 + strength, size=3)
    image = image * brightness
    mean = image.mean()
    image = (image - mean) * contrast + mean
    grey = image.mean(axis=2, keepdims=True)
    image = (image - grey) * saturation + grey
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


@dataclass(frozen=True)
class RecolourConfig(Config):
    """Ranges of the face recolouring of blending samples.

    Attributes:
        gain: per-channel multiplicative gain range ``1 ± gain``.
        bias: per-channel offset range ``± bias`` (0..255 scale).
        gamma: gamma range ``[1 / (1 + gamma), 1 + gamma]``.
        light: strength of a linear light gradient across the face, ``1 ± light`` at its ends.
    """

    gain: float = 0.2
    bias: float = 20.0
    gamma: float = 0.25
    light: float = 0.25

    def __post_init__(self) -> None:
        for name in ("gain", "bias", "gamma", "light"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.gain >= 1 or self.light >= 1:
            raise ValueError("gain and light must be < 1")


def recolour_relight(rgb: np.ndarray, mask: np.ndarray, rng: np.random.Generator,
                     config: RecolourConfig = RecolourConfig()) -> np.ndarray:
    """Change the colour and lighting of ``rgb`` inside ``mask`` (what a swapped face looks like
    before blending: right shape, wrong skin tone and light).

    Args:
        rgb: ``[H, W, 3]`` uint8.
        mask: ``[H, W]`` weights in ``[0, 1]``: 1 recoloured, 0 untouched.
        rng: generator of the random colour change.
        config: ranges of the change.

    Returns:
        ``[H, W, 3]`` uint8.
    """
    height, width = rgb.shape[:2]
    image = rgb.astype(np.float32) / 255.0
    gamma = np.exp(rng.uniform(-np.log1p(config.gamma), np.log1p(config.gamma)))
    gain = rng.uniform(1 - config.gain, 1 + config.gain, size=3).astype(np.float32)
    bias = rng.uniform(-config.bias, config.bias, size=3).astype(np.float32) / 255.0
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = ((xs / max(width - 1, 1) - 0.5) * np.cos(angle)
            + (ys / max(height - 1, 1) - 0.5) * np.sin(angle))
    light = 1.0 + 2.0 * config.light * ramp
    changed = (image ** gamma) * gain * light[..., None] + bias
    weight = np.clip(np.asarray(mask, dtype=np.float32), 0, 1)[..., None]
    result = image + weight * (changed - image)
    return np.clip(result * 255.0 + 0.5, 0, 255).astype(np.uint8)
