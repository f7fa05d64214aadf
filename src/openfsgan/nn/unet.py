"""The U-Net body shared by the four generators (reenactment, segmentation, inpainting, blending).

Layout for a 256² input with the default config (base 16 channels, 4 levels, stem factor 2)::

    stem      2x2 stride-2 conv, 3x3                  -> 16 ch @ 128²
    encoder   4 x (3x3 stride 2, 3x3)                 -> 32 @ 64², 64 @ 32², 128 @ 16², 256 @ 8²
    bottleneck residual blocks                        -> 256 @ 8²
    decoder   4 x (nearest x2, concat skip, 3x3, 3x3) -> back to 16 ch @ 128²

The body stops at the stem resolution; each model adds its own heads (pixel-shuffle back to full
resolution, flow fields, masks). About 1 GMAC at 256², most of it in the decoder.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from openfsgan.nn.blocks import ConvBlock, PatchStem, ResidualBlock, upsample2x


class UNet(nn.Module):
    """``[B,c_1,H,W], ... -> [B,base,H/stem,W/stem]``; ``H``, ``W`` multiples of ``size_multiple``.

    Args:
        in_channels: channels of each input (several inputs act as their concatenation).
        base_channels: channels at the stem resolution; doubled per level up to ``max_channels``.
        num_levels: stride-2 encoder levels (and matching decoder levels).
        max_channels: cap on the channel count of the deeper levels.
        bottleneck_blocks: residual blocks at the coarsest level.
        stem_factor: patch size and stride of the stem convolution (1 = full resolution).
        norm: ``"group"``, ``"instance"``, ``"batch"`` or ``"none"``.
    """

    def __init__(self, in_channels: int | Sequence[int], base_channels: int = 16,
                 num_levels: int = 4, max_channels: int = 256, bottleneck_blocks: int = 1,
                 stem_factor: int = 2, norm: str = "group") -> None:
        super().__init__()
        channels = [min(base_channels * 2**level, max_channels) for level in range(num_levels + 1)]
        self.channels = tuple(channels)
        self.stem_factor = stem_factor
        self.size_multiple = stem_factor * 2**num_levels
        inputs = [in_channels] if isinstance(in_channels, int) else list(in_channels)
        self.stem = PatchStem(inputs, channels[0], stem_factor, norm)
        self.down = nn.ModuleList(
            nn.Sequential(ConvBlock(channels[i], channels[i + 1], stride=2, norm=norm),
                          ConvBlock(channels[i + 1], channels[i + 1], norm=norm))
            for i in range(num_levels)
        )
        self.bottleneck = nn.Sequential(
            *(ResidualBlock(channels[-1], norm) for _ in range(bottleneck_blocks)))
        self.up = nn.ModuleList(
            nn.Sequential(ConvBlock(channels[i + 1] + channels[i], channels[i], norm=norm),
                          ConvBlock(channels[i], channels[i], norm=norm))
            for i in range(num_levels)
        )

    @property
    def out_channels(self) -> int:
        return self.channels[0]

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        skips = [self.stem(*inputs)]
        for down in self.down:
            skips.append(down(skips[-1]))
        y = self.bottleneck(skips.pop())
        for level in reversed(range(len(self.up))):
            y = self.up[level](torch.cat([upsample2x(y), skips[level]], dim=1))
        return y
