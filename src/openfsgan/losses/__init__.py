"""FSGAN's losses as small pure functions (see docs/models.md for the weights).

``L_rec = λ_perc L_perc + λ_pixel L_1``, multi-scale adversarial ``Σ_i L_GAN(G, D_i)``,
segmentation cross-entropy, the Poisson-blending target of G_b, and an identity term.
"""

from openfsgan.losses.gan import (
    adversarial_loss,
    d_hinge_loss,
    d_lsgan_loss,
    discriminator_loss,
    g_hinge_loss,
    g_lsgan_loss,
)
from openfsgan.losses.identity import identity_loss
from openfsgan.losses.perceptual import perceptual_loss, reconstruction_loss
from openfsgan.losses.pixel import pixel_loss
from openfsgan.losses.poisson import poisson_blend_target
from openfsgan.losses.segmentation import segmentation_ce_loss

__all__ = [
    "adversarial_loss",
    "d_hinge_loss",
    "d_lsgan_loss",
    "discriminator_loss",
    "g_hinge_loss",
    "g_lsgan_loss",
    "identity_loss",
    "perceptual_loss",
    "pixel_loss",
    "poisson_blend_target",
    "reconstruction_loss",
    "segmentation_ce_loss",
]
