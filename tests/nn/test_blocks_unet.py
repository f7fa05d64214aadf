"""Building blocks: shape checks, norms, the U-Net body, the MAC counter."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from openfsgan.nn.blocks import assert_shape, group_count, make_norm
from openfsgan.nn.macs import count_macs
from openfsgan.nn.unet import UNet


def test_assert_shape():
    assert_shape(torch.zeros(2, 3, 4), (None, 3, 4))
    with pytest.raises(ValueError, match=r"x must have shape \[\*, 4\], got \[2, 3\]"):
        assert_shape(torch.zeros(2, 3), (None, 4), "x")
    with pytest.raises(ValueError):
        assert_shape(torch.zeros(2, 3), (2, 3, 1))


def test_norms():
    assert group_count(48) == 8 and group_count(12) == 6 and group_count(7) == 7
    assert isinstance(make_norm("none", 4), nn.Identity)
    with pytest.raises(ValueError, match="unknown norm"):
        make_norm("layer", 4)


@pytest.mark.parametrize("stem_factor", [1, 2, 4])
def test_unet_body_shapes(stem_factor):
    body = UNet(5, base_channels=4, num_levels=2, max_channels=8, stem_factor=stem_factor)
    assert body.size_multiple == stem_factor * 4
    out = body(torch.zeros(2, 5, 32, 32))
    assert out.shape == (2, 4, 32 // stem_factor, 32 // stem_factor)
    assert body.channels == (4, 8, 8)


def test_count_macs_of_known_layers():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(),
                          nn.Linear(8 * 4 * 4, 10))
    expected = 4 * 4 * 8 * 3 * 9 + 8 * 4 * 4 * 10
    assert count_macs(model, torch.zeros(1, 3, 4, 4)) == expected
    assert count_macs(model, torch.zeros(2, 3, 4, 4)) == 2 * expected
