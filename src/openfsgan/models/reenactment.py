"""Reenactment generator G_r: the source face moved to the geometry of target landmarks.

FSGAN's G_r maps (image, landmark heatmaps H(p)) to the image with that geometry plus its
face/hair segmentation, and is applied iteratively along interpolated poses:
``I_{r_j} = G_r(I_{r_{j-1}}; H(p_j))``, ``I_{r_0} = I_s``.

Our training data is scarce (~30 videos), so instead of synthesising every pixel the network
predicts *motion*: a dense flow field that resamples the source (``grid_sample``), an occlusion
mask, and a synthesised image used only where the mask says the warped source is unusable
(disoccluded regions, the inside of an opening mouth, eyes that close)::

    image = m * warp(source, flow) + (1 - m) * synthesized

The flow and mask heads start at zero motion and ``m ≈ 0.95``, so an untrained generator already
returns (almost) its input: training only has to learn the change of geometry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn
from torch.nn import functional as F

from openfsgan.config import check_positive
from openfsgan.models.common import GeneratorConfig, check_image_batch
from openfsgan.nn.blocks import DepthToSpaceHead, assert_shape
from openfsgan.nn.unet import UNet

_INITIAL_MASK_LOGIT = 3.0  # sigmoid(3) ≈ 0.95: start by trusting the warped source


@dataclass(frozen=True)
class ReenactmentConfig(GeneratorConfig):
    """Options of :class:`ReenactmentGenerator` (backbone options: :class:`GeneratorConfig`).

    Attributes:
        num_landmarks: heatmap channels (68 for the iBUG 300-W layout).
        num_segmentation_classes: classes of the segmentation output (background, face, hair).
        max_flow: bound on the flow in normalised image units (1.0 = half the image width).
    """

    num_landmarks: int = 68
    num_segmentation_classes: int = 3
    max_flow: float = 0.5

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive(self, "num_landmarks", "num_segmentation_classes", "max_flow")


class ReenactmentOutput(NamedTuple):
    """What :meth:`ReenactmentGenerator.forward` returns.

    Attributes:
        image: ``[B,3,H,W]`` in ``[-1, 1]``, the source with the target landmarks' geometry.
        segmentation_logits: ``[B,C,H,W]`` logits of ``SEGMENTATION_CLASSES`` for ``image``.
    """

    image: torch.Tensor
    segmentation_logits: torch.Tensor


class ReenactmentComponents(NamedTuple):
    """Every intermediate of one reenactment step (for losses, regularisers and debugging).

    Attributes:
        image: ``[B,3,H,W]`` the output, ``mask * warped + (1 - mask) * synthesized``.
        segmentation_logits: ``[B,C,H,W]``.
        flow: ``[B,2,H,W]`` (x, y) offsets in normalised ``grid_sample`` units.
        occlusion_mask: ``[B,1,H,W]`` in ``(0, 1)``: 1 where the warped source is used.
        warped: ``[B,3,H,W]`` the source resampled by ``flow``.
        synthesized: ``[B,3,H,W]`` in ``[-1, 1]``, used where the mask is low.
    """

    image: torch.Tensor
    segmentation_logits: torch.Tensor
    flow: torch.Tensor
    occlusion_mask: torch.Tensor
    warped: torch.Tensor
    synthesized: torch.Tensor


def identity_grid(height: int, width: int, like: torch.Tensor) -> torch.Tensor:
    """``[1,H,W,2]`` sampling grid of pixel centres for ``grid_sample(align_corners=False)``."""
    ys = torch.linspace(-1.0 + 1.0 / height, 1.0 - 1.0 / height, height,
                        dtype=like.dtype, device=like.device)
    xs = torch.linspace(-1.0 + 1.0 / width, 1.0 - 1.0 / width, width,
                        dtype=like.dtype, device=like.device)
    grid_y = ys.view(height, 1).expand(height, width)
    grid_x = xs.view(1, width).expand(height, width)
    return torch.stack([grid_x, grid_y], dim=-1).unsqueeze(0)


def warp_image(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``[B,C,H,W]``, ``[B,2,H,W]`` -> ``[B,C,H,W]``: bilinear resampling at grid + flow.

    Outside the image the border pixels are repeated, which is what a face crop looks like
    when its content moves inwards.
    """
    _, _, height, width = image.shape
    grid = identity_grid(int(height), int(width), image) + flow.permute(0, 2, 3, 1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border",
                         align_corners=False)


class ReenactmentGenerator(nn.Module):
    """G_r: ``[B,3,H,W]`` image in ``[-1,1]`` + ``[B,68,H,W]`` heatmaps -> ReenactmentOutput."""

    def __init__(self, config: ReenactmentConfig | Mapping[str, Any] | None = None,
                 **overrides: Any) -> None:
        super().__init__()
        self.config = ReenactmentConfig.resolve(config, **overrides)
        cfg = self.config
        self.backbone = UNet((3, cfg.num_landmarks), **cfg.backbone_kwargs())
        features = self.backbone.out_channels
        # flow (2) + occlusion-mask logit (1) at the backbone's resolution; upsampled bilinearly
        # because motion is smooth.
        self.motion_head = nn.Conv2d(features, 3, 3, padding=1)
        nn.init.zeros_(self.motion_head.weight)
        assert self.motion_head.bias is not None
        with torch.no_grad():
            self.motion_head.bias.copy_(torch.tensor([0.0, 0.0, _INITIAL_MASK_LOGIT]))
        self.synthesis_head = DepthToSpaceHead(features, 3, cfg.stem_factor)
        self.segmentation_head = DepthToSpaceHead(features, cfg.num_segmentation_classes,
                                                  cfg.stem_factor)

    def components(self, image: torch.Tensor, heatmaps: torch.Tensor) -> ReenactmentComponents:
        """``[B,3,H,W]``, ``[B,N,H,W]`` -> all intermediates (:class:`ReenactmentComponents`)."""
        cfg = self.config
        batch, height, width = check_image_batch(image, 3, cfg.size_multiple)
        assert_shape(heatmaps, (batch, cfg.num_landmarks, height, width), "heatmaps")
        features = self.backbone(image, heatmaps)
        motion = self.motion_head(features)
        if cfg.stem_factor > 1:
            motion = F.interpolate(motion, scale_factor=float(cfg.stem_factor), mode="bilinear",
                                   align_corners=False)
        flow = cfg.max_flow * torch.tanh(motion[:, :2])
        occlusion_mask = torch.sigmoid(motion[:, 2:3])
        warped = warp_image(image, flow)
        synthesized = torch.tanh(self.synthesis_head(features))
        output = occlusion_mask * warped + (1.0 - occlusion_mask) * synthesized
        return ReenactmentComponents(output, self.segmentation_head(features), flow,
                                     occlusion_mask, warped, synthesized)

    def forward(self, image: torch.Tensor, heatmaps: torch.Tensor) -> ReenactmentOutput:
        """Reenact ``image`` to the landmarks drawn in ``heatmaps``.

        Args:
            image: ``[B,3,H,W]`` in ``[-1, 1]``; ``H``, ``W`` multiples of
                ``config.size_multiple``.
            heatmaps: ``[B,68,H,W]`` landmark heatmaps of the wanted geometry.

        Returns:
            ``ReenactmentOutput(image [B,3,H,W] in [-1,1], segmentation_logits [B,3,H,W])``.
        """
        parts = self.components(image, heatmaps)
        return ReenactmentOutput(parts.image, parts.segmentation_logits)
