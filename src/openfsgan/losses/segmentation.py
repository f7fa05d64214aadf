"""Segmentation loss of G_s and of G_r's segmentation output (weight ``λ_seg = 0.1`` in G_r)."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def segmentation_ce_loss(logits: torch.Tensor, labels: torch.Tensor,
                         ignore_index: int = -100) -> torch.Tensor:
    """Pixel-wise cross-entropy.

    Args:
        logits: ``[B,K,H,W]`` class logits (background, face, hair).
        labels: ``[B,H,W]`` (or ``[B,1,H,W]``) integer class indices, ``ignore_index`` where
            unknown; or ``[B,K,H,W]`` float class probabilities (soft labels).
    """
    if labels.is_floating_point():
        if labels.shape != logits.shape:
            raise ValueError(f"soft labels must match logits {list(logits.shape)}, got "
                             f"{list(labels.shape)}")
        return F.cross_entropy(logits, labels)
    if labels.ndim == 4 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(f"labels must be [B,H,W] = {[logits.shape[0], *logits.shape[2:]]}, got "
                         f"{list(labels.shape)}")
    return F.cross_entropy(logits, labels.long(), ignore_index=ignore_index)
