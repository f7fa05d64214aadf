"""Inpainting generator G_c: fill the parts of the target face the source does not cover.

After reenactment, parts of the target's face region have no source pixels (the source shows
less of the face, or its hair covers it). G_c fills the masked region from its context; what
lies outside the mask is passed through untouched::

    image = input * (1 - mask) + tanh(G(input * (1 - mask), mask)) * mask
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from openfsgan.models.common import GeneratorConfig, check_image_batch
from openfsgan.nn.blocks import DepthToSpaceHead, assert_shape
from openfsgan.nn.unet import UNet


@dataclass(frozen=True)
class InpaintingConfig(GeneratorConfig):
    """Options of :class:`InpaintingGenerator` (all in :class:`GeneratorConfig`)."""


class InpaintingGenerator(nn.Module):
    """G_c: ``[B,3,H,W]`` image + ``[B,1,H,W]`` mask (1 = fill) -> ``[B,3,H,W]`` image."""

    def __init__(self, config: InpaintingConfig | Mapping[str, Any] | None = None,
                 **overrides: Any) -> None:
        super().__init__()
        self.config = InpaintingConfig.resolve(config, **overrides)
        cfg = self.config
        self.backbone = UNet((3, 1), **cfg.backbone_kwargs())
        self.head = DepthToSpaceHead(self.backbone.out_channels, 3, cfg.stem_factor)

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Fill the masked region of ``image``.

        Args:
            image: ``[B,3,H,W]`` in ``[-1, 1]``; its masked pixels are ignored.
            mask: ``[B,1,H,W]`` in ``[0, 1]``, 1 where pixels must be generated.

        Returns:
            ``[B,3,H,W]`` in ``[-1, 1]``: ``image`` outside the mask, generated inside.
        """
        batch, height, width = check_image_batch(image, 3, self.config.size_multiple)
        assert_shape(mask, (batch, 1, height, width), "mask")
        known = image * (1.0 - mask)
        generated = torch.tanh(self.head(self.backbone(known, mask)))
        return known + generated * mask
