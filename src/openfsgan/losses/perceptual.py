"""Perceptual and reconstruction losses.

FSGAN's reconstruction loss is ``L_rec = λ_perc L_perc + λ_pixel L_1`` with
``L_perc(x, y) = Σ_i ‖F_i(x) − F_i(y)‖₁ / (C_i H_i W_i)`` over the layers ``F_i`` of a
feature network (VGG-19 or a face-recognition network; see :mod:`openfsgan.nn.features`).
Defaults: ``λ_perc = 1``, ``λ_pixel = 0.1``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch.nn import functional as F

from openfsgan.losses.pixel import pixel_loss

FeatureNetwork = Callable[[torch.Tensor], Sequence[torch.Tensor]]
"""Images ``[B,3,H,W]`` in ``[-1, 1]`` -> list of feature maps ``F_i``."""


def perceptual_loss(features_x: Sequence[torch.Tensor],
                    features_y: Sequence[torch.Tensor]) -> torch.Tensor:
    """``Σ_i mean|F_i(x) − F_i(y)|`` (mean over batch, channels and positions per layer)."""
    if len(features_x) != len(features_y) or not features_x:
        raise ValueError(f"perceptual_loss needs two equally long, non-empty feature lists, got "
                         f"{len(features_x)} and {len(features_y)}")
    return torch.stack([F.l1_loss(fx, fy) for fx, fy in zip(features_x, features_y,
                                                            strict=True)]).sum()


def reconstruction_loss(feature_net: FeatureNetwork, x: torch.Tensor, y: torch.Tensor,
                        lambda_perc: float = 1.0, lambda_pixel: float = 0.1) -> torch.Tensor:
    """``λ_perc L_perc(x, y) + λ_pixel ‖x − y‖₁`` for a generated ``x`` and its target ``y``.

    Args:
        feature_net: images ``[B,3,H,W]`` in ``[-1, 1]`` -> list of feature maps.
        x: ``[B,3,H,W]`` generated image (gradients flow through it).
        y: ``[B,3,H,W]`` target; its features are computed without gradients unless ``y``
            itself requires them.
    """
    if y.requires_grad:
        features_y = feature_net(y)
    else:
        with torch.no_grad():
            features_y = [f.detach() for f in feature_net(y)]
    return (lambda_perc * perceptual_loss(feature_net(x), features_y)
            + lambda_pixel * pixel_loss(x, y))
