"""G_b must not see the target's pixels under the mask (they are the training ground truth)."""

from __future__ import annotations

import torch

from openfsgan.models.registry import build_model


def test_blending_output_ignores_target_inside_mask() -> None:
    torch.manual_seed(0)
    model = build_model("blending", preset="tiny").eval()
    with torch.no_grad():
        for parameter in model.head.parameters():  # leave the zero-init: give it a real output
            parameter.normal_(0, 0.1)
    size = 64
    reenacted = torch.rand(1, 3, size, size) * 2 - 1
    target = torch.rand(1, 3, size, size) * 2 - 1
    mask = torch.zeros(1, 1, size, size)
    mask[..., 16:48, 16:48] = 1
    other_target = target.clone()
    other_target[..., 16:48, 16:48] = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        first = model(reenacted, target, mask)
        second = model(reenacted, other_target, mask)
    torch.testing.assert_close(first, second)
    assert not torch.allclose(first, reenacted * mask + target * (1 - mask))
