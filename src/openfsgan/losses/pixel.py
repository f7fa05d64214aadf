"""Pixel loss: the L1 term of FSGAN's reconstruction loss."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def pixel_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference ``‖x − y‖₁ / N`` of two same-shaped tensors."""
    if x.shape != y.shape:
        raise ValueError(f"pixel_loss needs equal shapes, got {list(x.shape)} and {list(y.shape)}")
    return F.l1_loss(x, y)
