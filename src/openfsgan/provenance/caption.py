"""A visible caption ("AI-generated") burned into frames, on a semi-transparent box.

The text is drawn once per frame size into an overlay and a mask; each frame then only blends
the box region, so the cost is a few hundred microseconds per 720p frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

DEFAULT_CAPTION = "AI-generated"
_FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True)
class CaptionStyle:
    """Look of the caption.

    Attributes:
        height_fraction: text height as a fraction of the frame's shorter side.
        box_opacity: opacity of the dark box behind the text (0 transparent, 1 opaque).
        corner: ``bottom-left``, ``bottom-right``, ``top-left`` or ``top-right``.
    """

    height_fraction: float = 0.045
    box_opacity: float = 0.55
    corner: str = "bottom-left"

    def __post_init__(self) -> None:
        if not 0.01 <= self.height_fraction <= 0.3:
            raise ValueError("height_fraction must be in [0.01, 0.3]")
        if not 0.0 <= self.box_opacity <= 1.0:
            raise ValueError("box_opacity must be in [0, 1]")
        if self.corner not in {"bottom-left", "bottom-right", "top-left", "top-right"}:
            raise ValueError(f"unknown corner {self.corner!r}")


def _printable(text: str) -> str:
    """Hershey fonts draw ASCII only: replace anything else so nothing renders as '?' boxes."""
    cleaned = "".join(ch if 32 <= ord(ch) < 127 else "?" for ch in text.strip())
    return cleaned or DEFAULT_CAPTION


class Caption:
    """Burns ``text`` into RGB frames; the rendering is cached per frame size."""

    def __init__(self, text: str = DEFAULT_CAPTION, style: CaptionStyle | None = None) -> None:
        self.text = _printable(text)
        self.style = style or CaptionStyle()
        self._cache: dict[tuple[int, int], tuple[tuple[int, int, int, int], np.ndarray,
                                                  np.ndarray]] = {}

    def _render(self, height: int, width: int
                ) -> tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]:
        """Box ``(y0, y1, x0, x1)``, its overlay ``[h, w, 3]`` and alpha ``[h, w, 1]``."""
        style = self.style
        text_px = max(8.0, style.height_fraction * min(height, width))
        (_unit_w, unit_h), _unit_base = cv2.getTextSize(self.text, _FONT, 1.0, 1)
        scale = text_px / unit_h
        thickness = max(1, round(scale * 1.6))
        (text_w, text_h), baseline = cv2.getTextSize(self.text, _FONT, scale, thickness)
        pad = max(2, round(0.4 * text_h))
        margin = max(2, round(0.02 * min(height, width)))
        box_w = min(width - 2 * margin, text_w + 2 * pad)
        box_h = min(height - 2 * margin, text_h + baseline + 2 * pad)
        x0 = margin if style.corner.endswith("left") else width - margin - box_w
        y0 = margin if style.corner.startswith("top") else height - margin - box_h
        x0, y0 = max(0, x0), max(0, y0)
        box_w, box_h = max(1, box_w), max(1, box_h)
        overlay = np.zeros((box_h, box_w, 3), dtype=np.uint8)
        text_mask = np.zeros((box_h, box_w), dtype=np.uint8)
        origin = (pad, pad + text_h)
        cv2.putText(text_mask, self.text, origin, _FONT, scale, 255, thickness, cv2.LINE_AA)
        overlay[:] = 255  # white text over the darkened box
        text_alpha = text_mask.astype(np.float32) / 255.0
        alpha = style.box_opacity + (1.0 - style.box_opacity) * text_alpha
        # where there is no text the overlay is black at box_opacity
        overlay = (overlay.astype(np.float32) * (text_alpha / np.maximum(alpha, 1e-6))[..., None])
        return ((y0, y0 + box_h, x0, x0 + box_w), overlay.astype(np.float32),
                alpha[..., None].astype(np.float32))

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """``[H, W, 3]`` uint8 RGB -> a copy with the caption burned in."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"expected [H, W, 3] uint8 RGB, got {rgb.shape} {rgb.dtype}")
        height, width = rgb.shape[:2]
        key = (height, width)
        if key not in self._cache:
            self._cache = {key: self._render(height, width)}
        (y0, y1, x0, x1), overlay, alpha = self._cache[key]
        out = rgb.copy()
        region = out[y0:y1, x0:x1].astype(np.float32)
        out[y0:y1, x0:x1] = np.clip(region * (1.0 - alpha) + overlay * alpha + 0.5, 0, 255
                                    ).astype(np.uint8)
        return out


def burn_caption(rgb: np.ndarray, text: str = DEFAULT_CAPTION,
                 style: CaptionStyle | None = None) -> np.ndarray:
    """One-off :meth:`Caption.apply` (use a :class:`Caption` for video: it caches)."""
    return Caption(text, style).apply(rgb)
