"""G_r's identity term: present, differentiable, steering the gradient, and trained with.

``L_id = 1 − cos(e(I_r), e(I_s))`` with ``e`` the dlib ResNet face descriptor (the torch port of
:mod:`openfsgan.nn.dlib_resnet`), weighted by ``losses.lambda_identity``.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.data import default_collate

from openfsgan.data.dataset import PreparedDataset
from openfsgan.errors import ConfigError
from openfsgan.nn.features import DlibFaceFeatures
from openfsgan.training.config import LossConfig, TrainConfig
from openfsgan.training.logging import read_scalars
from openfsgan.training.run import train
from openfsgan.training.stages import build_stage


def reenactment_config(lambda_identity: float, **losses: object) -> TrainConfig:
    return TrainConfig.from_dict({
        "stage": "reenactment", "resolution": 32, "batch_size": 2, "max_steps": 6,
        "num_workers": 0, "log_every": 1, "checkpoint_every": 1000, "image_every": 0,
        "generator": {"preset": "tiny"}, "discriminator": {"preset": "tiny"},
        "augment": {"hflip": 0.0},
        "losses": {"perceptual": "none", "lambda_identity": lambda_identity, **losses}})


def _generator_gradients(config: TrainConfig, batch: dict[str, torch.Tensor]
                         ) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Losses of one step and the gradient of the generator objective on G_r's weights."""
    torch.manual_seed(0)  # the same initial G_r for every config
    stage = build_stage(config)
    losses = stage.step(batch, 0)
    generator = stage.nets["reenactment_generator"]
    parameters = [p for p in generator.parameters() if p.requires_grad]
    grads = torch.autograd.grad(losses["generator"], parameters, allow_unused=True)
    flat = torch.cat([(g if g is not None else torch.zeros_like(p)).flatten()
                      for g, p in zip(grads, parameters, strict=True)])
    return losses, flat


@pytest.fixture(scope="module")
def batch(synthetic_dataset) -> dict[str, torch.Tensor]:
    stage = build_stage(reenactment_config(0.0))
    train_set, _ = stage.datasets(PreparedDataset(synthetic_dataset))
    return default_collate([train_set[i] for i in range(2)])


def test_the_default_weight_is_on_and_checked() -> None:
    assert LossConfig().lambda_identity == 0.1
    with pytest.raises(ConfigError, match="lambda_identity"):
        LossConfig(lambda_identity=-1.0)


def test_identity_term_is_present_differentiable_and_changes_the_gradient(batch) -> None:
    off, grad_off = _generator_gradients(reenactment_config(0.0), batch)
    on, grad_on = _generator_gradients(reenactment_config(1.0), batch)
    assert "identity" not in off
    identity = on["identity"]
    assert identity.requires_grad and math.isfinite(identity.item()) and 0.0 < identity < 2.0
    # the same G_r and batch: the objectives differ by exactly λ_id L_id ...
    assert on["generator"].item() == pytest.approx(off["generator"].item() + identity.item(),
                                                   rel=1e-5)
    # ... and so do the gradients: L_id reaches G_r's weights through the frozen descriptor
    assert not torch.allclose(grad_on, grad_off)
    stage = build_stage(reenactment_config(1.0))
    parameters = [p for p in stage.nets["reenactment_generator"].parameters()
                  if p.requires_grad]
    alone = torch.autograd.grad(stage.step(batch, 0)["identity"], parameters,
                                allow_unused=True)
    assert sum(float(g.abs().sum()) for g in alone if g is not None) > 0.0
    # the descriptor itself is frozen: no weight of it is trained
    assert not any(p.requires_grad for p in stage.nets["identity"].parameters())
    assert "identity" not in stage.trained_roles()


def test_the_perceptual_networks_descriptor_is_reused() -> None:
    stage = build_stage(reenactment_config(0.5, perceptual="dlib"))
    assert stage.identity_role == "features" and "identity" not in stage.nets
    assert isinstance(stage.nets["features"], DlibFaceFeatures)
    assert build_stage(reenactment_config(0.0, perceptual="dlib")).identity_role is None


def test_tiny_training_run_trains_with_the_identity_term(synthetic_dataset,
                                                                   tmp_path) -> None:
    config = reenactment_config(1.0)
    result = train(config, synthetic_dataset, tmp_path / "run", device="cpu")
    assert result.status == "completed" and result.step == config.max_steps
    records = read_scalars(tmp_path / "run" / "logs")
    values = [r["identity"] for r in records]
    assert len(values) == config.max_steps and all(math.isfinite(v) and v > 0 for v in values)
    assert "lambda_identity: 1.0" in (tmp_path / "run" / "config.yaml").read_text()
