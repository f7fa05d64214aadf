"""Fixtures of the provenance tests: a private C2PA key folder for every test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def c2pa_dir(tmp_path_factory: pytest.TempPathFactory,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Keep signing keys out of the developer's ~/.config (one folder per test session)."""
    folder = tmp_path_factory.getbasetemp() / "c2pa-keys"
    monkeypatch.setenv("OPENFSGAN_C2PA_DIR", str(folder))
    for name in ("OPENFSGAN_C2PA_CERT", "OPENFSGAN_C2PA_KEY", "OPENFSGAN_C2PA_TRUST_ANCHORS"):
        monkeypatch.delenv(name, raising=False)
    yield folder
