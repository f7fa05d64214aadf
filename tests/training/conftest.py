"""Synthetic prepared datasets (no real face data needed); torch on one thread.

Torch's intra-op threads fight over a small, busy CPU (a 40-step tiny run took 7x longer with 2
threads than with 1 on the 2-core development machine), so these tests use one thread.
"""

from __future__ import annotations

import pytest
import torch

from openfsgan.data.prepare import PrepareConfig, prepare_synthetic


@pytest.fixture(autouse=True)
def single_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory):
    """4 synthetic identities x 4 frames, crops of 64 and 32 px (2 train, 2 val identities)."""
    root = tmp_path_factory.mktemp("data") / "synthetic"
    prepare_synthetic(root, identities=4, frames_per_identity=4,
                      config=PrepareConfig(size=64, val_fraction=0.25))
    return root


@pytest.fixture(scope="session")
def overfit_dataset(tmp_path_factory):
    """One synthetic identity, 2 frames (2 crops, 2 reenactment pairs), all in training."""
    root = tmp_path_factory.mktemp("data") / "overfit"
    prepare_synthetic(root, identities=1, frames_per_identity=2, seed=1,
                      config=PrepareConfig(size=64, val_fraction=0.0))
    return root
