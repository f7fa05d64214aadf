"""VGG-19 loads torchvision's state_dict layout (tested with a random file in that layout)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from openfsgan.errors import ModelError
from openfsgan.nn.features import build_feature_network
from openfsgan.nn.vgg import VGG19Features, vgg19_layer_names

# torchvision's vgg19 ("E"), written out independently of the module under test
_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
        512, 512, 512, 512, "M"]


def _torchvision_like_vgg19() -> nn.Module:
    layers: list[nn.Module] = []
    channels = 3
    for item in _CFG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(channels, item, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = item
    model = nn.Module()
    model.features = nn.Sequential(*layers)
    model.classifier = nn.Sequential(nn.Linear(512 * 7 * 7, 16), nn.ReLU(True), nn.Linear(16, 10))
    return model


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    torch.manual_seed(0)
    reference = _torchvision_like_vgg19()
    path = tmp_path_factory.mktemp("vgg") / "vgg19-dcbb9e9d.pth"
    torch.save(reference.state_dict(), path)
    return path, reference


def test_loaded_features_match_the_reference(vgg_file):
    path, reference = vgg_file
    network = VGG19Features(path, layers=("relu1_1", "relu2_2", "relu3_1"))
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        ours = network(image)
        x = ((image + 1) / 2 - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / \
            torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        expected = []
        for index, layer in enumerate(reference.features):
            x = layer(x).clone()
            if index in (1, 8, 11):
                expected.append(x)
            if index == 11:
                break
    assert len(ours) == 3
    for a, b in zip(ours, expected, strict=True):
        torch.testing.assert_close(a, b)
    assert len(network.features) == 12  # nothing past relu3_1 is built
    assert not any(p.requires_grad for p in network.parameters())
    assert isinstance(build_feature_network("vgg19", path), VGG19Features)


def test_layer_names():
    names = vgg19_layer_names()
    assert len(names) == 37
    assert names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert names[20] == "relu4_1" and names[29] == "relu5_1" and names[36] == "pool5"
    with pytest.raises(ValueError, match="unknown VGG-19 layers"):
        VGG19Features(None, layers=("relu9_9",))


def test_bad_weight_files(vgg_file, tmp_path):
    _, reference = vgg_file
    with pytest.raises(ModelError, match="not found"):
        VGG19Features(tmp_path / "missing.pth")
    with pytest.raises(ModelError, match="needs torchvision's ImageNet weights"):
        build_feature_network("vgg19")
    state = reference.state_dict()
    state["features.0.weight"] = torch.zeros(64, 3, 5, 5)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(ModelError, match=r"features\.0\.weight has shape \[64, 3, 5, 5\]"):
        VGG19Features(tmp_path / "shape.pth")
    del state["features.0.weight"]
    torch.save(state, tmp_path / "missing_key.pth")
    with pytest.raises(ModelError, match=r"lacks tensor features\.0\.weight"):
        VGG19Features(tmp_path / "missing_key.pth")
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(ModelError, match="cannot read VGG-19 weights"):
        VGG19Features(tmp_path / "junk.pth")
