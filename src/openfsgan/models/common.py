"""What the generators share: the U-Net backbone config, config resolution, input checks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch

from openfsgan.config import Config, check_choice, check_positive
from openfsgan.errors import ConfigError
from openfsgan.nn.blocks import NORM_KINDS, assert_shape

TINY_BACKBONE: Mapping[str, Any] = {
    "base_channels": 8, "num_levels": 3, "max_channels": 32, "bottleneck_blocks": 1,
}
"""Backbone of the ``tiny`` presets (~0.1 M parameters), for CPU smoke tests at 64²."""


@dataclass(frozen=True)
class GeneratorConfig(Config):
    """U-Net backbone options shared by every generator (see :class:`openfsgan.nn.unet.UNet`).

    Attributes:
        base_channels: feature maps at the stem resolution (doubled per level).
        num_levels: stride-2 encoder levels; inputs must be multiples of
            ``stem_factor * 2**num_levels`` pixels.
        max_channels: cap on the deeper levels' channels.
        bottleneck_blocks: residual blocks at the coarsest level.
        stem_factor: patch size and stride of the stem convolution (the body runs at 1/f).
        norm: normalisation layer: ``group`` (batch-size independent, the default),
            ``instance``, ``batch`` or ``none``.
    """

    PRESETS: ClassVar[Mapping[str, Mapping[str, Any]]] = {"tiny": TINY_BACKBONE}

    base_channels: int = 16
    num_levels: int = 4
    max_channels: int = 256
    bottleneck_blocks: int = 1
    stem_factor: int = 2
    norm: Literal["group", "instance", "batch", "none"] = "group"

    def __post_init__(self) -> None:
        check_positive(self, "base_channels", "num_levels", "max_channels", "stem_factor")
        check_positive(self, "bottleneck_blocks", allow_zero=True)
        check_choice(self, "norm", NORM_KINDS)
        if self.max_channels < self.base_channels:
            raise ConfigError(f"{type(self).__name__}.max_channels ({self.max_channels}) must be "
                              f">= base_channels ({self.base_channels})")

    @property
    def size_multiple(self) -> int:
        """Input height and width must be multiples of this many pixels."""
        return self.stem_factor * 2**self.num_levels

    def backbone_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~openfsgan.nn.unet.UNet` (without ``in_channels``)."""
        return {"base_channels": self.base_channels, "num_levels": self.num_levels,
                "max_channels": self.max_channels, "bottleneck_blocks": self.bottleneck_blocks,
                "stem_factor": self.stem_factor, "norm": self.norm}


def check_image_batch(image: torch.Tensor, channels: int, size_multiple: int,
                      name: str = "image") -> tuple[int, int, int]:
    """Check a ``[B,channels,H,W]`` input whose sides are multiples of ``size_multiple``.

    Returns:
        ``(B, H, W)``.
    """
    assert_shape(image, (None, channels, None, None), name)
    batch, _, height, width = image.shape
    if not (torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()) and (
            height % size_multiple or width % size_multiple):
        raise ValueError(f"{name} height and width must be multiples of {size_multiple} "
                         f"for this model, got {height}x{width}")
    return int(batch), int(height), int(width)
