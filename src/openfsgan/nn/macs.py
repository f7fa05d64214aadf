"""Count multiply-accumulates (MACs) of a forward pass with module hooks.

Counts convolutions (incl. transposed) and linear layers, which dominate every network here;
normalisations, activations, resizes and ``grid_sample`` are left out (a few percent at most).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def _conv_macs(module: nn.Module, inputs: tuple[Any, ...], output: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d | nn.Conv1d | nn.Conv3d):
        kernel = int(torch.tensor(module.kernel_size).prod())
        return output.numel() * (module.in_channels // module.groups) * kernel
    if isinstance(module, nn.ConvTranspose2d):
        kernel = int(torch.tensor(module.kernel_size).prod())
        return inputs[0].numel() * (module.out_channels // module.groups) * kernel
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    return 0


def count_macs(model: nn.Module, *inputs: torch.Tensor) -> int:
    """MACs of ``model(*inputs)`` (for the whole batch), counted without gradients."""
    total = 0

    def hook(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> None:
        nonlocal total
        total += _conv_macs(module, args, output)

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if isinstance(m, nn.Conv1d | nn.Conv2d | nn.Conv3d | nn.ConvTranspose2d
                             | nn.Linear)]
    try:
        with torch.no_grad():
            model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    return total
