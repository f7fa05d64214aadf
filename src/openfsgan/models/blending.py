"""Blending generator G_b: the reenacted face blended into the target, as Poisson would.

FSGAN trains G_b to reproduce the Poisson blending of the reenacted face into the target
(gradients of the face inside the mask, the target outside), plus reconstruction and adversarial
terms. The Poisson solution equals the naive paste plus a smooth correction inside the mask, so
the network predicts exactly that correction and starts (zero-initialised) as the naive paste::

    naive = reenacted * mask + target * (1 - mask)
    image = clamp(naive + mask * 2 tanh(G(naive, target * (1 - mask), mask)), -1, 1)
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
class BlendingConfig(GeneratorConfig):
    """Options of :class:`BlendingGenerator` (all in :class:`GeneratorConfig`)."""


class BlendingGenerator(nn.Module):
    """G_b: reenacted ``[B,3,H,W]``, target ``[B,3,H,W]``, mask ``[B,1,H,W]`` -> ``[B,3,H,W]``."""

    def __init__(self, config: BlendingConfig | Mapping[str, Any] | None = None,
                 **overrides: Any) -> None:
        super().__init__()
        self.config = BlendingConfig.resolve(config, **overrides)
        cfg = self.config
        self.backbone = UNet((3, 3, 1), **cfg.backbone_kwargs())
        self.head = DepthToSpaceHead(self.backbone.out_channels, 3, cfg.stem_factor,
                                     zero_init=True)

    def forward(self, reenacted: torch.Tensor, target: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        """Blend ``reenacted`` into ``target`` inside ``mask``.

        Args:
            reenacted: ``[B,3,H,W]`` in ``[-1, 1]``, the face to insert (used inside the mask).
            target: ``[B,3,H,W]`` in ``[-1, 1]``, the frame it goes into.
            mask: ``[B,1,H,W]`` in ``[0, 1]``, 1 on the face to insert.

        Returns:
            ``[B,3,H,W]`` in ``[-1, 1]``; equals ``target`` wherever ``mask`` is 0.
        """
        batch, height, width = check_image_batch(reenacted, 3, self.config.size_multiple,
                                                 "reenacted")
        assert_shape(target, (batch, 3, height, width), "target")
        assert_shape(mask, (batch, 1, height, width), "mask")
        # The network never sees the target's own pixels under the mask: in training the face
        # there is the ground truth of the recoloured face it must blend back, and copying it
        # would be a shortcut that does not exist at swap time.
        surroundings = target * (1.0 - mask)
        naive = reenacted * mask + surroundings
        correction = 2.0 * torch.tanh(self.head(self.backbone(naive, surroundings, mask)))
        return torch.clamp(naive + mask * correction, -1.0, 1.0)
