"""A small synthetic prepared dataset (no real face data needed)."""

from __future__ import annotations

import pytest

from openfsgan.data.prepare import PrepareConfig, prepare_synthetic


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory):
    """4 synthetic identities x 4 frames, crops of 64 and 32 px (2 train, 2 val identities)."""
    root = tmp_path_factory.mktemp("data") / "synthetic"
    prepare_synthetic(root, identities=4, frames_per_identity=4,
                      config=PrepareConfig(size=64, val_fraction=0.25))
    return root
