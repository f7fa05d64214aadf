"""Training tests: torch on one thread, and a dataset small enough to overfit."""

from __future__ import annotations

import pytest

from openfsgan.data.prepare import PrepareConfig, prepare_synthetic


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """Every test here runs torch on one thread (see the suite's ``one_torch_thread``)."""


@pytest.fixture(scope="session")
def overfit_dataset(tmp_path_factory):
    """One synthetic identity, 2 frames (2 crops, 2 reenactment pairs), all in training."""
    root = tmp_path_factory.mktemp("data") / "overfit"
    prepare_synthetic(root, identities=1, frames_per_identity=2, seed=1,
                      config=PrepareConfig(size=64, val_fraction=0.0))
    return root
