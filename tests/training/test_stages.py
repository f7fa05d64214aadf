"""Each FSGAN stage on tiny networks and synthetic faces: it learns, and resumes exactly."""

import math

import pytest
import torch

from openfsgan.errors import ConfigError, OutputError
from openfsgan.models import build_model
from openfsgan.models.checkpoint import load_pretrained, save_pretrained
from openfsgan.training.config import TrainConfig
from openfsgan.training.logging import read_scalars
from openfsgan.training.run import train
from openfsgan.training.stages import GENERATOR_ROLES

STAGES = ("reenactment", "segmentation", "inpainting", "blending")
# the loss part each stage must reduce when it overfits a few samples
WATCHED = {"reenactment": "rec", "segmentation": "ce", "inpainting": "rec", "blending": "rec"}


def tiny_config(stage, **changes):
    values = {
        "stage": stage, "resolution": 32, "batch_size": 4, "max_steps": 40, "num_workers": 0,
        "log_every": 1, "checkpoint_every": 1000, "image_every": 0,
        "generator": {"preset": "tiny"}, "discriminator": {"preset": "tiny"},
        "optimizer": {"lr": 1e-3}, "augment": {"hflip": 0.0},
        "losses": {"perceptual": "none", "reenact_ramp_steps": 4},
    }
    values.update(changes)
    return TrainConfig.from_dict(values)


@pytest.fixture(scope="module")
def reenactment_model(tmp_path_factory):
    torch.manual_seed(1)
    folder = tmp_path_factory.mktemp("gr") / "reenactment"
    save_pretrained(build_model("reenactment", preset="tiny"), folder)
    return folder


@pytest.mark.parametrize("stage", STAGES)
def test_stage_overfits_a_few_samples(stage, overfit_dataset, tmp_path):
    run = tmp_path / "run"
    # G_r starts as (almost) the identity warp and learns motion more slowly than the others
    steps, lr = (60, 2e-3) if stage == "reenactment" else (40, 2e-3)
    config = tiny_config(stage, batch_size=2, max_steps=steps, optimizer={"lr": lr})
    result = train(config, overfit_dataset, run, device="cpu")
    assert result.status == "completed" and result.step == steps
    records = read_scalars(run / "logs")
    assert len(records) == steps

    def falls(key, ratio):
        values = [r[key] for r in records]
        assert all(math.isfinite(v) for v in values)
        assert sum(values[-5:]) < ratio * sum(values[:5]), (key, values)

    falls(WATCHED[stage], 0.95 if stage == "reenactment" else 0.7)
    if stage == "reenactment":  # the whole objective, dominated by the segmentation term
        falls("generator", 0.7)
    if stage != "segmentation":
        assert all(math.isfinite(r["discriminator"]) and r["discriminator"] >= 0
                   for r in records)
    model = load_pretrained(result.checkpoint / GENERATOR_ROLES[stage])
    assert type(model).__name__ == type(build_model(stage, preset="tiny")).__name__
    assert (run / "config.yaml").is_file() and (run / "run.json").is_file()


@pytest.mark.parametrize("stage", STAGES)
def test_resume_gives_the_uninterrupted_trajectory(stage, synthetic_dataset, tmp_path,
                                                   reenactment_model):
    extra = {"reenactment_model": str(reenactment_model)} if stage == "segmentation" else {}
    config = tiny_config(stage, max_steps=6, augment={"hflip": 0.5}, **extra)
    straight = train(config, synthetic_dataset, tmp_path / "straight", device="cpu")
    train(config.replace(max_steps=3), synthetic_dataset, tmp_path / "split", device="cpu")
    resumed = train(config, synthetic_dataset, tmp_path / "split", device="cpu", resume=True)
    assert resumed.step == straight.step == 6
    expected = read_scalars(tmp_path / "straight" / "logs")
    got = read_scalars(tmp_path / "split" / "logs")
    drop = {"time/steps_per_s"}
    assert [{k: v for k, v in r.items() if k not in drop} for r in got] == \
        [{k: v for k, v in r.items() if k not in drop} for r in expected]
    if stage == "segmentation":  # λ_reenact ramps 0 -> 1 over 4 steps (step s logs s - 1)
        assert [r["lambda_reenact"] for r in got] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]
        assert all(r["reenact_agreement"] > 0 for r in got)
    role = GENERATOR_ROLES[stage]
    a = load_pretrained(straight.checkpoint / role).state_dict()
    b = load_pretrained(resumed.checkpoint / role).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_reenactment_with_dlib_perceptual_loss_previews_and_validation(synthetic_dataset,
                                                                       tmp_path):
    config = tiny_config("reenactment", max_steps=2, batch_size=2, image_every=2, val_every=2,
                         val_batches=1, losses={"perceptual": "dlib", "stepwise_steps": 3})
    result = train(config, synthetic_dataset, tmp_path / "run", device="cpu")
    *_, last, validation = read_scalars(tmp_path / "run" / "logs")
    assert last["step"] == validation["step"] == 2
    assert math.isfinite(last["generator"]) and last["stepwise"] > 0
    assert math.isfinite(validation["val/rec"])
    assert result.step == 2
    assert list((tmp_path / "run" / "logs").glob("images/reenactment-*.png")) or \
        list((tmp_path / "run" / "logs").glob("events.out.tfevents.*"))


def test_run_folder_rules(synthetic_dataset, tmp_path):
    config = tiny_config("inpainting", max_steps=2)
    train(config, synthetic_dataset, tmp_path / "run", device="cpu")
    with pytest.raises(OutputError, match="--resume"):
        train(config, synthetic_dataset, tmp_path / "run", device="cpu")
    with pytest.raises(ConfigError, match="batch_size"):
        train(config.replace(batch_size=2), synthetic_dataset, tmp_path / "run", device="cpu",
              resume=True)
    done = train(config.replace(max_steps=3), synthetic_dataset, tmp_path / "run",
                 device="cpu", resume=True)
    assert done.step == 3


def test_config_errors():
    with pytest.raises(ConfigError, match="multiple"):
        tiny_config("blending", resolution=40)
    with pytest.raises(ConfigError, match="segmentation"):
        tiny_config("blending", reenactment_model="x")
    with pytest.raises(ConfigError, match="base_channel"):
        tiny_config("reenactment", generator={"options": {"base_channel": 3}})
