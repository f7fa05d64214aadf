"""Segmentation network G_s: face and hair as separate classes.

FSGAN segments the face and the hair of both source and target: the face mask decides what is
swapped and inpainted, the hair mask what must be kept in front of the swapped face.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from openfsgan.config import check_positive
from openfsgan.models.common import GeneratorConfig, check_image_batch
from openfsgan.nn.blocks import DepthToSpaceHead
from openfsgan.nn.unet import UNet

SEGMENTATION_CLASSES = ("background", "face", "hair")
"""Class order of every segmentation output in openfsgan (G_s and G_r)."""


@dataclass(frozen=True)
class SegmentationConfig(GeneratorConfig):
    """Options of :class:`SegmentationNet` (backbone options: :class:`GeneratorConfig`).

    Attributes:
        num_classes: output classes, in the order background, face, hair.
    """

    num_classes: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(self, "num_classes")


class SegmentationNet(nn.Module):
    """G_s: ``[B,3,H,W]`` image in ``[-1,1]`` -> ``[B,3,H,W]`` logits (background/face/hair)."""

    def __init__(self, config: SegmentationConfig | Mapping[str, Any] | None = None,
                 **overrides: Any) -> None:
        super().__init__()
        self.config = SegmentationConfig.resolve(config, **overrides)
        cfg = self.config
        self.backbone = UNet(3, **cfg.backbone_kwargs())
        self.head = DepthToSpaceHead(self.backbone.out_channels, cfg.num_classes, cfg.stem_factor)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Per-pixel class logits.

        Args:
            image: ``[B,3,H,W]`` in ``[-1, 1]``; sides multiples of ``config.size_multiple``.

        Returns:
            ``[B,num_classes,H,W]`` logits; ``softmax`` over dim 1 gives class probabilities.
        """
        check_image_batch(image, 3, self.config.size_multiple)
        return self.head(self.backbone(image))
