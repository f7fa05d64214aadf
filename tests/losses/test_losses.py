"""Losses on cases with known answers."""

from __future__ import annotations

import math

import pytest
import torch

from openfsgan.losses import (
    adversarial_loss,
    d_hinge_loss,
    d_lsgan_loss,
    discriminator_loss,
    g_hinge_loss,
    g_lsgan_loss,
    identity_loss,
    perceptual_loss,
    pixel_loss,
    reconstruction_loss,
    segmentation_ce_loss,
)


def test_pixel_loss():
    x = torch.zeros(2, 3, 4, 4)
    assert pixel_loss(x, x) == 0
    assert pixel_loss(x, x + 0.5) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="equal shapes"):
        pixel_loss(x, x[:1])


def test_perceptual_loss_is_a_sum_of_per_layer_means():
    fx = [torch.zeros(1, 2, 4, 4), torch.zeros(1, 8, 2, 2)]
    fy = [torch.ones(1, 2, 4, 4), torch.full((1, 8, 2, 2), 3.0)]
    assert perceptual_loss(fx, fx) == 0
    assert perceptual_loss(fx, fy) == pytest.approx(1.0 + 3.0)
    with pytest.raises(ValueError):
        perceptual_loss(fx, fy[:1])


def test_reconstruction_loss_weights_and_gradients():
    def features(image):
        return [image, image.mean(dim=1, keepdim=True)]

    y = torch.zeros(1, 3, 4, 4)
    x = torch.full((1, 3, 4, 4), 0.5, requires_grad=True)
    loss = reconstruction_loss(features, x, y, lambda_perc=1.0, lambda_pixel=0.1)
    assert loss.item() == pytest.approx(1.0 * (0.5 + 0.5) + 0.1 * 0.5)
    loss.backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert reconstruction_loss(features, y, y) == 0


def test_hinge_and_lsgan_losses():
    real, fake = torch.full((2, 1, 3, 3), 2.0), torch.full((2, 1, 3, 3), -2.0)
    assert d_hinge_loss(real, fake) == 0  # confidently right: no loss
    assert d_hinge_loss(fake, real) == pytest.approx(3.0 + 3.0)
    assert g_hinge_loss(fake) == pytest.approx(2.0)
    assert d_lsgan_loss(torch.ones(4), torch.zeros(4)) == 0
    assert g_lsgan_loss(torch.ones(4)) == 0
    assert g_lsgan_loss(torch.zeros(4)) == pytest.approx(1.0)


def test_multiscale_sums_over_scales():
    outputs = [torch.full((1, 1, 8, 8), 1.0), torch.full((1, 1, 4, 4), 3.0)]
    assert adversarial_loss(outputs) == pytest.approx(-4.0)
    assert adversarial_loss(outputs, kind="lsgan") == pytest.approx(0.0 + 4.0)
    reals = [torch.full_like(o, 1.0) for o in outputs]
    fakes = [torch.full_like(o, -1.0) for o in outputs]
    assert discriminator_loss(reals, fakes) == 0
    assert discriminator_loss(fakes, reals) == pytest.approx(2 * 4.0)
    with pytest.raises(ValueError, match="unknown GAN loss"):
        adversarial_loss(outputs, kind="wgan")  # type: ignore[arg-type]


def test_identity_loss():
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert identity_loss(a, a * 3) == pytest.approx(0.0, abs=1e-7)
    assert identity_loss(a, -a) == pytest.approx(2.0)
    assert identity_loss(a, a.flip(1)) == pytest.approx(1.0)


def test_segmentation_ce_loss():
    labels = torch.tensor([[[0, 1], [2, 1]]])
    confident = torch.nn.functional.one_hot(labels, 3).permute(0, 3, 1, 2).float() * 50
    assert segmentation_ce_loss(confident, labels) < 1e-6
    assert segmentation_ce_loss(confident, labels[:, None]) < 1e-6
    uniform = torch.zeros(1, 3, 2, 2)
    assert segmentation_ce_loss(uniform, labels) == pytest.approx(math.log(3))
    soft = torch.full((1, 3, 2, 2), 1 / 3)
    assert segmentation_ce_loss(uniform, soft) == pytest.approx(math.log(3))
    with pytest.raises(ValueError, match="labels must be"):
        segmentation_ce_loss(uniform, labels[:, :1])
