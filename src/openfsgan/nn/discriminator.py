"""Multi-scale PatchGAN discriminator (pix2pixHD), as used by every FSGAN generator's GAN loss.

``D_1`` sees the image, ``D_2`` the image downsampled by 2, ``D_3`` by 4, ...; each returns a map
of patch logits. The generators' adversarial loss sums over the scales:
``L_adv = Σ_i L_GAN(G, D_i)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as apply_spectral_norm

from openfsgan.config import Config, check_choice, check_positive
from openfsgan.errors import ConfigError
from openfsgan.nn.blocks import LEAKY_SLOPE, NORM_KINDS, assert_shape, make_norm


@dataclass(frozen=True)
class DiscriminatorConfig(Config):
    """Options of :class:`MultiScaleDiscriminator`.

    Attributes:
        in_channels: channels of the judged image (3, or more with a conditioning input).
        base_channels: channels of the first convolution; doubled per layer.
        max_channels: cap on the channel count.
        num_layers: stride-2 convolutions per scale (the patch size grows with it).
        num_scales: number of discriminators ``D_1..D_n``.
        norm: normalisation of the inner layers.
        spectral_norm: wrap every convolution in spectral normalisation.
    """

    PRESETS: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "tiny": {"base_channels": 8, "max_channels": 32, "num_layers": 2, "num_scales": 2},
    }

    in_channels: int = 3
    base_channels: int = 64
    max_channels: int = 512
    num_layers: int = 3
    num_scales: int = 2
    norm: Literal["group", "instance", "batch", "none"] = "instance"
    spectral_norm: bool = False

    def __post_init__(self) -> None:
        check_positive(self, "in_channels", "base_channels", "max_channels", "num_layers",
                       "num_scales")
        check_choice(self, "norm", NORM_KINDS)
        if self.max_channels < self.base_channels:
            raise ConfigError(f"DiscriminatorConfig.max_channels ({self.max_channels}) must be "
                              f">= base_channels ({self.base_channels})")

    @property
    def min_input_size(self) -> int:
        """Smallest image side for which the coarsest scale still yields a patch map."""
        # each scale halves; per scale num_layers stride-2 convs, then two 4x4 stride-1 convs
        # (padding 1) that each remove one pixel.
        return 2 ** (self.num_scales - 1) * 2**self.num_layers * 3


def _patch_discriminator(cfg: DiscriminatorConfig) -> nn.Sequential:
    def conv(cin: int, cout: int, stride: int) -> nn.Module:
        layer = nn.Conv2d(cin, cout, 4, stride=stride, padding=1)
        return apply_spectral_norm(layer) if cfg.spectral_norm else layer

    channels = cfg.base_channels
    layers: list[nn.Module] = [conv(cfg.in_channels, channels, 2),
                               nn.LeakyReLU(LEAKY_SLOPE, inplace=True)]
    for _ in range(1, cfg.num_layers):
        out = min(channels * 2, cfg.max_channels)
        layers += [conv(channels, out, 2), make_norm(cfg.norm, out),
                   nn.LeakyReLU(LEAKY_SLOPE, inplace=True)]
        channels = out
    out = min(channels * 2, cfg.max_channels)
    layers += [conv(channels, out, 1), make_norm(cfg.norm, out),
               nn.LeakyReLU(LEAKY_SLOPE, inplace=True), conv(out, 1, 1)]
    return nn.Sequential(*layers)


class MultiScaleDiscriminator(nn.Module):
    """``[B,C,H,W] -> [D_1 logits, ..., D_n logits]``, ``D_i`` of the image downsampled 2^(i-1)x.

    Example::

        discriminator = MultiScaleDiscriminator(num_scales=3)
        logits = discriminator(image)        # list of 3 tensors [B,1,h_i,w_i]
    """

    def __init__(self, config: DiscriminatorConfig | Mapping[str, Any] | None = None,
                 **overrides: Any) -> None:
        super().__init__()
        self.config = DiscriminatorConfig.resolve(config, **overrides)
        self.discriminators = nn.ModuleList(
            _patch_discriminator(self.config) for _ in range(self.config.num_scales))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """Patch logits at every scale.

        Args:
            image: ``[B,C,H,W]``, ``C = config.in_channels``, sides >= ``config.min_input_size``.

        Returns:
            ``num_scales`` tensors ``[B,1,h_i,w_i]``, finest scale first.
        """
        assert_shape(image, (None, self.config.in_channels, None, None), "image")
        if min(image.shape[-2:]) < self.config.min_input_size:
            raise ValueError(f"image sides must be >= {self.config.min_input_size} for this "
                             f"discriminator, got {list(image.shape[-2:])}")
        outputs = []
        for index, discriminator in enumerate(self.discriminators):
            if index:
                image = self.downsample(image)
            outputs.append(discriminator(image))
        return outputs
