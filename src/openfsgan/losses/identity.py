"""Identity loss on face-recognition embeddings (FSGAN's known weakness is identity)."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def identity_loss(embed_x: torch.Tensor, embed_y: torch.Tensor) -> torch.Tensor:
    """``mean_b (1 − cos(e_x, e_y))`` for ``[B,D]`` embeddings (0 when identical in direction)."""
    if embed_x.shape != embed_y.shape or embed_x.ndim != 2:
        raise ValueError(f"identity_loss needs two [B,D] embeddings, got {list(embed_x.shape)} "
                         f"and {list(embed_y.shape)}")
    return (1.0 - F.cosine_similarity(embed_x, embed_y, dim=1)).mean()
