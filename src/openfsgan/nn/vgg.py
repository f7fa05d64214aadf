"""VGG-19 feature extractor in plain torch, loading torchvision's ImageNet weights file.

torchvision is not a dependency; users who have its ``vgg19-dcbb9e9d.pth`` (a ``state_dict`` with
keys ``features.N.weight`` / ``features.N.bias`` / ``classifier.*``) pass its path
(``--vgg-weights PATH``). The file is read with ``torch.load(weights_only=True)``, which only
accepts tensors and containers, never arbitrary pickled code.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from openfsgan.errors import ModelError
from openfsgan.nn.blocks import assert_shape

logger = logging.getLogger(__name__)

# torchvision's configuration "E": conv widths, "M" = 2x2 max-pool
_VGG19_LAYOUT: tuple[int | str, ...] = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
                                        512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
DEFAULT_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def vgg19_layer_names() -> list[str]:
    """Names of torchvision's ``vgg19().features`` entries by index: conv1_1, relu1_1, ..."""
    names: list[str] = []
    block, conv = 1, 1
    for item in _VGG19_LAYOUT:
        if item == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return names


class VGG19Features(nn.Module):
    """``[B,3,H,W]`` in ``[-1, 1]`` -> activations at ``layers`` (frozen VGG-19, ImageNet norm).

    Args:
        weights_path: torchvision's ``vgg19-dcbb9e9d.pth`` (or any state_dict with the same
            ``features.*`` keys). ``None`` keeps random weights (only meaningful for tests).
        layers: names from :func:`vgg19_layer_names`, returned in network order.

    Raises:
        ModelError: unreadable file, missing or mis-shaped ``features.*`` tensors.
        ValueError: unknown layer names.
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, weights_path: str | os.PathLike[str] | None,
                 layers: Sequence[str] = DEFAULT_LAYERS) -> None:
        super().__init__()
        names = vgg19_layer_names()
        unknown = [name for name in layers if name not in names]
        if unknown or not layers:
            raise ValueError(f"unknown VGG-19 layers {unknown or '(none given)'}; valid: "
                             f"{', '.join(names)}")
        self.layer_indices = sorted(names.index(name) for name in set(layers))
        self.layer_names = [names[i] for i in self.layer_indices]
        modules: list[nn.Module] = []
        in_channels = 3
        for item in _VGG19_LAYOUT:
            if item == "M":
                modules.append(nn.MaxPool2d(2, 2))
            else:
                modules += [nn.Conv2d(in_channels, int(item), 3, padding=1), nn.ReLU()]
                in_channels = int(item)
        # keep torchvision's indices so that its state_dict keys apply; drop what is unused
        self.features = nn.Sequential(*modules[:self.layer_indices[-1] + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        if weights_path is None:
            logger.warning("VGG19Features without weights: random features")
        else:
            self.load_torchvision_weights(weights_path)
        self.requires_grad_(False)
        self.eval()

    def load_torchvision_weights(self, path: str | os.PathLike[str]) -> None:
        """Load the ``features.*`` tensors of a torchvision VGG-19 state_dict file."""
        file = Path(path)
        if not file.is_file():
            raise ModelError(f"VGG-19 weights not found at {file} (torchvision's "
                             "vgg19-dcbb9e9d.pth is expected)")
        try:
            state = torch.load(file, map_location="cpu", weights_only=True)
        except Exception as exc:  # a foreign file: torch.load fails in many ways on junk
            raise ModelError(f"cannot read VGG-19 weights {file}: {exc}") from exc
        if not isinstance(state, dict):
            raise ModelError(f"{file} does not hold a state_dict")
        wanted = self.features.state_dict()
        loaded = {}
        for key, param in wanted.items():
            value = state.get(f"features.{key}")
            if not isinstance(value, torch.Tensor):
                raise ModelError(f"{file} lacks tensor features.{key}: not torchvision's VGG-19")
            if value.shape != param.shape:
                raise ModelError(f"{file}: features.{key} has shape {list(value.shape)}, VGG-19 "
                                 f"needs {list(param.shape)}")
            loaded[key] = value.float()
        self.features.load_state_dict(loaded)

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """``[B,3,H,W]`` in ``[-1, 1]`` -> one ``[B,C_i,H_i,W_i]`` tensor per requested layer."""
        assert_shape(image, (None, 3, None, None), "image")
        x = ((image + 1.0) * 0.5 - self.mean) / self.std
        outputs = []
        wanted = iter(self.layer_indices)
        next_index = next(wanted)
        for index, module in enumerate(self.features):
            x = module(x)
            if index == next_index:
                outputs.append(x)
                next_index = next(wanted, -1)
        return outputs
