"""Adversarial losses for the multi-scale discriminator (hinge and least-squares).

With discriminators ``D_1..D_n`` at successive scales, FSGAN's adversarial term is
``L_adv = Σ_i L_GAN(G, D_i)``; weight it by ``λ_adv = 0.001`` in the generators' objective.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch.nn import functional as F

GanKind = Literal["hinge", "lsgan"]


def d_hinge_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator hinge loss: ``E[max(0, 1 − D(real))] + E[max(0, 1 + D(fake))]``."""
    return F.relu(1.0 - real_logits).mean() + F.relu(1.0 + fake_logits).mean()


def g_hinge_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator hinge loss: ``−E[D(fake)]``."""
    return -fake_logits.mean()


def d_lsgan_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Least-squares discriminator loss: ``E[(D(real) − 1)²] + E[D(fake)²]``."""
    return (real_logits - 1.0).square().mean() + fake_logits.square().mean()


def g_lsgan_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """Least-squares generator loss: ``E[(D(fake) − 1)²]``."""
    return (fake_logits - 1.0).square().mean()


def _check(kind: str) -> None:
    if kind not in ("hinge", "lsgan"):
        raise ValueError(f"unknown GAN loss {kind!r}; valid: hinge, lsgan")


def adversarial_loss(discriminator_outputs: Sequence[torch.Tensor],
                     kind: GanKind = "hinge") -> torch.Tensor:
    """Generator term ``Σ_i L_GAN(G, D_i)`` over the scales' logits of generated images."""
    _check(kind)
    loss = g_hinge_loss if kind == "hinge" else g_lsgan_loss
    return torch.stack([loss(logits) for logits in discriminator_outputs]).sum()


def discriminator_loss(real_outputs: Sequence[torch.Tensor], fake_outputs: Sequence[torch.Tensor],
                       kind: GanKind = "hinge") -> torch.Tensor:
    """Discriminator term summed over scales; ``fake_outputs`` from detached generated images."""
    _check(kind)
    if len(real_outputs) != len(fake_outputs):
        raise ValueError(f"{len(real_outputs)} real vs {len(fake_outputs)} fake scales")
    loss = d_hinge_loss if kind == "hinge" else d_lsgan_loss
    return torch.stack([loss(real, fake) for real, fake in zip(real_outputs, fake_outputs,
                                                               strict=True)]).sum()
