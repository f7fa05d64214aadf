import random

import numpy as np
import pytest
import torch
from torch import nn

from openfsgan.errors import ModelError
from openfsgan.models import build_model
from openfsgan.models.checkpoint import load_pretrained
from openfsgan.training.checkpointing import (
    STATE_FILE,
    capture_rng_state,
    latest_checkpoint,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)


def test_rng_state_round_trip():
    state = capture_rng_state()
    expected = (torch.rand(3), np.random.rand(2), random.random())
    torch.rand(5)
    np.random.rand(5)
    random.random()
    restore_rng_state(state)
    assert torch.equal(torch.rand(3), expected[0])
    assert np.array_equal(np.random.rand(2), expected[1])
    assert random.random() == expected[2]


def test_checkpoint_round_trip_prune_and_latest(tmp_path):
    torch.manual_seed(0)
    generator = build_model("segmentation", preset="tiny")
    plain = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(plain.parameters(), lr=1e-3)
    plain(torch.randn(4, 3)).sum().backward()
    optimizer.step()
    assert latest_checkpoint(tmp_path) is None
    for step in (10, 20, 30):
        folder = save_checkpoint(tmp_path, step, {"segmentation_generator": generator,
                                                  "plain": plain},
                                 {"optimizer": optimizer.state_dict(), "epoch": step // 10,
                                  "rng": capture_rng_state()}, keep=2)
    assert latest_checkpoint(tmp_path) == folder
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "latest", "step-000000020", "step-000000030"]
    # registered networks are ordinary model folders
    reloaded = load_pretrained(folder / "segmentation_generator")
    for a, b in zip(reloaded.state_dict().values(), generator.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    fresh_plain = nn.Linear(3, 2)
    fresh_generator = build_model("segmentation", preset="tiny")
    state = load_checkpoint(folder, {"segmentation_generator": fresh_generator,
                                     "plain": fresh_plain})
    assert state["step"] == 30 and state["epoch"] == 3
    assert torch.equal(fresh_plain.weight, plain.weight)
    fresh_optimizer = torch.optim.Adam(fresh_plain.parameters(), lr=1e-3)
    fresh_optimizer.load_state_dict(state["optimizer"])
    assert torch.equal(fresh_optimizer.state_dict()["state"][0]["exp_avg"],
                       optimizer.state_dict()["state"][0]["exp_avg"])


def test_bad_checkpoints_raise_model_errors(tmp_path):
    module = nn.Linear(2, 2)
    folder = save_checkpoint(tmp_path, 1, {"m": module}, {})
    with pytest.raises(ModelError, match="fit"):
        load_checkpoint(folder, {"m": nn.Linear(3, 2)})
    with pytest.raises(ModelError, match="no weights"):
        load_checkpoint(folder, {"other": module})
    (folder / STATE_FILE).write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match="cannot read"):
        load_checkpoint(folder, {"m": module})
