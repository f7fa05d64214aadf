"""Fixtures shared by the whole suite.

Tests that need the research-licensed face data in ``../shared/data/faces`` take the
``shared_faces`` fixture and are skipped, with the reason, where it is absent. Everything else
runs on images we synthesise or that a dependency ships (scikit-image's astronaut photo).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_FACES = Path(os.environ.get("OPENFSGAN_SHARED_FACES",
                                   REPO_ROOT.parent / "shared" / "data" / "faces"))


@pytest.fixture(scope="session")
def shared_faces() -> Path:
    """``../shared/data/faces``; skips the test when it is not beside the checkout."""
    if not SHARED_FACES.is_dir():
        pytest.skip(f"shared face data not found at {SHARED_FACES} (research data lives beside "
                    "the checkout, never in it)")
    return SHARED_FACES


@pytest.fixture(scope="session")
def astronaut_rgb() -> np.ndarray:
    """scikit-image's astronaut photo, 512x512 RGB uint8 (one real face)."""
    from skimage import data

    image = data.astronaut()
    image.flags.writeable = False
    return image
