"""Feature networks F for the perceptual loss, and the face embedding for an identity loss.

``L_perc(x, y) = Σ_i ‖F_i(x) − F_i(y)‖₁ / (C_i H_i W_i)`` needs a frozen network that maps
images to a list of feature maps. Two are available:

* ``"dlib"`` (default, always available): dlib's ResNet face descriptor, converted at first use
  from the ``.dat`` file installed by ``face-recognition-models`` (:mod:`.dlib_resnet`); it also
  gives the 128-D identity embedding, addressing FSGAN's known weakness (identity).
* ``"vgg19"``: VGG-19 with torchvision's ImageNet weights, when the user has that file.
"""

from __future__ import annotations

import os
from typing import Literal

import torch
from torch import nn
from torch.nn import functional as F

from openfsgan.errors import ModelError
from openfsgan.nn.blocks import assert_shape
from openfsgan.nn.dlib_resnet import CHIP_SIZE, load_dlib_face_resnet
from openfsgan.nn.vgg import VGG19Features

FeatureKind = Literal["dlib", "vgg19"]


class DlibFaceFeatures(nn.Module):
    """dlib's face descriptor as a frozen feature network (images in ``[-1, 1]``).

    Images are resized to dlib's 150x150 chip; for descriptors comparable with dlib's own, feed
    crops aligned like ``dlib.get_face_chip(image, shape, 150, padding=0.25)``.

    Args:
        dat_path: dlib's ``dlib_face_recognition_resnet_model_v1.dat`` (default: installed one).
    """

    def __init__(self, dat_path: str | os.PathLike[str] | None = None) -> None:
        super().__init__()
        self.network = load_dlib_face_resnet(dat_path)
        self.eval()

    def _chip(self, image: torch.Tensor) -> torch.Tensor:
        assert_shape(image, (None, 3, None, None), "image")
        if tuple(image.shape[-2:]) != (CHIP_SIZE, CHIP_SIZE):
            image = F.interpolate(image, size=(CHIP_SIZE, CHIP_SIZE), mode="bilinear",
                                  align_corners=False, antialias=True)
        return self.network.normalize((image + 1.0) * 127.5)

    def features_and_embedding(self, image: torch.Tensor
                               ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """``[B,3,H,W]`` -> (five feature maps ``[B,C_i,H_i,W_i]``, ``[B,128]`` descriptor)."""
        return self.network.forward_features(self._chip(image))

    def forward(self, image: torch.Tensor) -> list[torch.Tensor]:
        """``[B,3,H,W]`` in ``[-1, 1]`` -> the five levels' feature maps (for ``L_perc``)."""
        return self.features_and_embedding(image)[0]

    def embed(self, image: torch.Tensor) -> torch.Tensor:
        """``[B,3,H,W]`` in ``[-1, 1]`` -> ``[B,128]`` descriptor (for ``identity_loss``)."""
        return self.features_and_embedding(image)[1]

    def train(self, mode: bool = True) -> DlibFaceFeatures:
        """Stays in eval mode: a frozen loss network."""
        return super().train(False)


def build_feature_network(kind: FeatureKind = "dlib",
                          weights_path: str | os.PathLike[str] | None = None) -> nn.Module:
    """A frozen feature network for the perceptual loss.

    Args:
        kind: ``"dlib"`` (default) or ``"vgg19"``.
        weights_path: for ``"vgg19"`` torchvision's ``vgg19-dcbb9e9d.pth`` (required); for
            ``"dlib"`` an alternative ``.dat`` file.
    """
    if kind == "dlib":
        return DlibFaceFeatures(weights_path)
    if kind == "vgg19":
        if weights_path is None:
            raise ModelError("the vgg19 feature network needs torchvision's ImageNet weights "
                             "file (vgg19-dcbb9e9d.pth): pass its path (--vgg-weights PATH)")
        return VGG19Features(weights_path)
    raise ValueError(f"unknown feature network {kind!r}; valid: dlib, vgg19")

