"""Every registered model: builds by name, runs forward + backward, survives save/load."""

from __future__ import annotations

import json

import pytest
import torch
from model_inputs import example_inputs, perturb_parameters

from openfsgan.errors import ConfigError, ModelError
from openfsgan.models import (
    build_model,
    config_class,
    load_pretrained,
    model_names,
    save_pretrained,
)
from openfsgan.models.reenactment import identity_grid, warp_image
from openfsgan.nn.macs import count_macs


def _outputs(result) -> list[torch.Tensor]:
    return list(result) if isinstance(result, tuple | list) else [result]


def test_registry_names_and_errors():
    assert model_names() == ["reenactment", "segmentation", "inpainting", "blending",
                             "discriminator"]
    with pytest.raises(ConfigError, match="unknown model 'reenact'; valid models: reenactment"):
        build_model("reenact")
    with pytest.raises(ConfigError, match="valid keys: base_channels"):
        build_model("blending", {"base_chanels": 8})
    with pytest.raises(ConfigError, match="valid presets: default, tiny"):
        build_model("blending", preset="large")


@pytest.mark.parametrize("name", model_names())
def test_forward_backward_and_round_trip(name, tmp_path):
    torch.manual_seed(0)
    model = build_model(name, preset="tiny")
    assert model.config == config_class(name).preset("tiny")
    perturb_parameters(model)
    inputs = example_inputs(name)
    outputs = _outputs(model(*inputs))
    assert all(torch.isfinite(o).all() for o in outputs)
    sum(o.square().mean() for o in outputs).backward()
    without_grad = [n for n, p in model.named_parameters() if p.grad is None]
    assert not without_grad

    model.eval()
    save_pretrained(model, tmp_path / name, metadata={"step": 3})
    loaded = load_pretrained(tmp_path / name, expected_model=name)
    assert type(loaded) is type(model) and loaded.config == model.config
    with torch.no_grad():
        for a, b in zip(_outputs(model(*inputs)), _outputs(loaded(*inputs)), strict=True):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", ["reenactment", "segmentation", "inpainting", "blending"])
def test_generator_output_shapes_and_ranges(name):
    model = build_model(name, preset="tiny").eval()
    perturb_parameters(model, scale=0.3)
    inputs = example_inputs(name, batch=1)
    with torch.no_grad():
        outputs = _outputs(model(*inputs))
    image = outputs[0]
    assert image.shape == (1, 3, 64, 64)
    if name != "segmentation":
        assert image.min() >= -1 and image.max() <= 1
    else:
        assert outputs[0].shape == (1, 3, 64, 64)


def test_default_generators_fit_the_cpu_budget():
    # NOTES.md: ~1-1.5 GMAC per 256² generator keeps the pipeline near 10 fps on 2 cores
    for name in ("reenactment", "segmentation", "inpainting", "blending"):
        model = build_model(name).eval()
        macs = count_macs(model, *example_inputs(name, batch=1, size=256))
        assert 0.5e9 < macs < 1.5e9, (name, macs)


def test_shape_checks_name_the_input():
    model = build_model("reenactment", preset="tiny")
    image, heatmaps = example_inputs("reenactment", batch=1)
    with pytest.raises(ValueError, match=r"heatmaps must have shape \[1, 68, 64, 64\]"):
        model(image, heatmaps[:, :5])
    with pytest.raises(ValueError, match="multiples of 16"):
        model(image[..., :60, :60], heatmaps[..., :60, :60])
    with pytest.raises(ValueError, match="image sides must be >= 24"):
        build_model("discriminator", preset="tiny")(torch.zeros(1, 3, 16, 16))


def test_untrained_generators_start_from_their_inputs():
    """Zero-initialised motion/correction heads: training starts from copy and naive paste."""
    image, heatmaps = example_inputs("reenactment", batch=1)
    reenactment = build_model("reenactment", preset="tiny").eval()
    with torch.no_grad():
        parts = reenactment.components(image, heatmaps)
    assert parts.flow.abs().max() == 0
    torch.testing.assert_close(parts.warped, image, atol=1e-5, rtol=0)
    assert parts.occlusion_mask.min() > 0.9

    reenacted, target, mask = example_inputs("blending", batch=1)
    blending = build_model("blending", preset="tiny").eval()
    with torch.no_grad():
        blended = blending(reenacted, target, mask)
    torch.testing.assert_close(blended, reenacted * mask + target * (1 - mask))


def test_outside_the_mask_is_passed_through():
    inpainting = build_model("inpainting", preset="tiny").eval()
    perturb_parameters(inpainting, scale=0.3)
    image, mask = example_inputs("inpainting", batch=1)
    with torch.no_grad():
        filled = inpainting(image, mask)
    keep = mask == 0
    torch.testing.assert_close(filled[keep.expand_as(filled)], image[keep.expand_as(image)])

    blending = build_model("blending", preset="tiny").eval()
    perturb_parameters(blending, scale=0.3)
    reenacted, target, mask = example_inputs("blending", batch=1)
    with torch.no_grad():
        blended = blending(reenacted, target, mask)
    outside = (mask == 0).expand_as(target)
    torch.testing.assert_close(blended[outside], target[outside])


def test_identity_grid_matches_affine_grid():
    theta = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    expected = torch.nn.functional.affine_grid(theta, [1, 3, 6, 10], align_corners=False)
    torch.testing.assert_close(identity_grid(6, 10, torch.zeros(1)), expected)


def test_warp_moves_pixels_by_the_flow():
    image = torch.arange(2 * 8 * 8, dtype=torch.float32).view(1, 2, 8, 8)
    flow = torch.zeros(1, 2, 8, 8)
    flow[:, 0] = 2.0 / 8  # one pixel to the right in normalised units
    warped = warp_image(image, flow)
    torch.testing.assert_close(warped[..., :-1], image[..., 1:])


def test_discriminator_scales():
    discriminator = build_model("discriminator", {"num_scales": 3, "in_channels": 4,
                                                  "base_channels": 8, "num_layers": 2})
    logits = discriminator(torch.zeros(2, 4, 96, 96))
    assert [tuple(x.shape) for x in logits] == [(2, 1, 22, 22), (2, 1, 10, 10), (2, 1, 4, 4)]


def _saved(tmp_path, name="segmentation"):
    model = build_model(name, preset="tiny")
    return model, save_pretrained(model, tmp_path / "ckpt")


def test_load_errors_are_model_errors(tmp_path):
    with pytest.raises(ModelError, match=r"config\.json is missing"):
        load_pretrained(tmp_path / "nowhere")
    _, folder = _saved(tmp_path)
    with pytest.raises(ModelError, match="holds a 'segmentation' model, expected 'blending'"):
        load_pretrained(folder, expected_model="blending")

    document = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**document, "format_version": 99}))
    with pytest.raises(ModelError, match="format version 99; this openfsgan reads version 1"):
        load_pretrained(folder)

    wider = {**document, "config": {**document["config"], "base_channels": 16}}
    (folder / "config.json").write_text(json.dumps(wider))
    with pytest.raises(ModelError, match="shape mismatches backbone"):
        load_pretrained(folder)

    (folder / "config.json").write_text(json.dumps({**document, "model": "vae"}))
    with pytest.raises(ModelError, match="unknown model 'vae'"):
        load_pretrained(folder)

    (folder / "config.json").write_text(json.dumps(document))
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ModelError, match="cannot read"):
        load_pretrained(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelError, match=r"lacks model\.safetensors"):
        load_pretrained(folder)
