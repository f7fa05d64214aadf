"""Building blocks shared by every generator: convolution blocks, norms, stems, heads, checks.

All blocks use only operators that export to ONNX opset 17 with the TorchScript exporter
(``torch.onnx.export(..., dynamo=False)``): convolutions, group/instance/batch norm, LeakyReLU,
nearest/bilinear resize, pixel (un)shuffle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

NormKind = Literal["group", "instance", "batch", "none"]
NORM_KINDS: tuple[str, ...] = ("group", "instance", "batch", "none")

LEAKY_SLOPE = 0.2


def assert_shape(tensor: torch.Tensor, shape: Sequence[int | None], name: str = "tensor") -> None:
    """Raise ``ValueError`` unless ``tensor`` has ``shape`` (``None`` matches any size).

    Skipped while tracing for ONNX export, where sizes are symbolic.
    """
    if torch.jit.is_tracing() or torch.onnx.is_in_onnx_export():
        return
    if tensor.ndim != len(shape) or any(
        want is not None and have != want for have, want in zip(tensor.shape, shape, strict=True)
    ):
        want_text = ", ".join("*" if s is None else str(s) for s in shape)
        raise ValueError(f"{name} must have shape [{want_text}], got {list(tensor.shape)}")


def group_count(channels: int, max_groups: int = 8) -> int:
    """The largest number of groups <= ``max_groups`` that divides ``channels``."""
    for groups in range(min(max_groups, channels), 0, -1):
        if channels % groups == 0:
            return groups
    return 1


def make_norm(kind: str, channels: int) -> nn.Module:
    """A normalisation layer over ``channels`` feature maps (``"none"``: identity)."""
    if kind == "group":
        return nn.GroupNorm(group_count(channels), channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm {kind!r}; valid: {', '.join(NORM_KINDS)}")


class ConvBlock(nn.Sequential):
    """``[B,in,H,W] -> [B,out,H/stride,W/stride]``: conv, norm, LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3,
                 stride: int = 1, norm: str = "group", activation: bool = True) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride,
                      padding=kernel_size // 2, bias=norm == "none"),
            make_norm(norm, out_channels),
        ]
        if activation:
            layers.append(nn.LeakyReLU(LEAKY_SLOPE, inplace=True))
        super().__init__(*layers)


class ResidualBlock(nn.Module):
    """``[B,C,H,W] -> [B,C,H,W]``: ``x + conv(norm(act(conv(x))))`` then LeakyReLU."""

    def __init__(self, channels: int, norm: str = "group") -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvBlock(channels, channels, norm=norm),
            ConvBlock(channels, channels, norm=norm, activation=False),
        )
        self.activation = nn.LeakyReLU(LEAKY_SLOPE, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(x + self.body(x))


class PatchStem(nn.Module):
    """``[B,c_1,H,W], ..., [B,c_n,H,W] -> [B,out,H/f,W/f]``: f x f stride-f conv, then a 3x3 block.

    The f x f stride-f convolution equals a pixel-unshuffle followed by a 1x1 convolution (a
    lossless move to 1/f resolution) without the unshuffle's copy. Starting the network at 1/f
    resolution is what keeps a 256² generator near 1 GMAC: one 3x3 conv at full resolution
    would cost as much as the whole encoder. Several inputs get one convolution each, summed,
    which equals convolving their concatenation without materialising it.
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int, factor: int = 2,
                 norm: str = "group") -> None:
        super().__init__()
        self.factor = factor
        self.embed = nn.ModuleList(
            nn.Conv2d(channels, out_channels, factor, stride=factor,
                      bias=index == 0 and norm == "none")
            for index, channels in enumerate(in_channels))
        self.norm = make_norm(norm, out_channels)
        self.activation = nn.LeakyReLU(LEAKY_SLOPE, inplace=True)
        self.conv = ConvBlock(out_channels, out_channels, norm=norm)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        x = self.embed[0](inputs[0])
        for embed, extra in zip(self.embed[1:], inputs[1:], strict=True):
            x = x + embed(extra)
        return self.conv(self.activation(self.norm(x)))


class DepthToSpaceHead(nn.Module):
    """``[B,in,h,w] -> [B,out,h*f,w*f]``: a 3x3 conv to ``out*f*f`` channels, pixel-shuffle."""

    def __init__(self, in_channels: int, out_channels: int, factor: int = 2,
                 zero_init: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels * factor * factor, 3, padding=1)
        assert self.conv.bias is not None
        self.shuffle = nn.PixelShuffle(factor) if factor > 1 else nn.Identity()
        if zero_init:
            nn.init.zeros_(self.conv.weight)
            nn.init.zeros_(self.conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.conv(x))


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """Nearest-neighbour x2 upsampling (an ONNX ``Resize``)."""
    return nn.functional.interpolate(x, scale_factor=2.0, mode="nearest")
