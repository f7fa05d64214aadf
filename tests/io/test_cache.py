"""Analysis cache: keys follow content/config/version, entries round-trip, corruption is safe."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from openfsgan.face.analyzer import AnalyzerConfig, FaceAnalyzer
from openfsgan.face.track import TrackerConfig
from openfsgan.io.cache import (
    AnalysisCache,
    CacheKey,
    analyze_cached,
    default_cache_dir,
    file_sha256,
)
from openfsgan.types import BoundingBox, EulerAngles, Face, FrameFaces


def sample_frames() -> list[FrameFaces]:
    rng = np.random.default_rng(0)
    landmarks = rng.uniform(0, 100, (68, 2)).astype(np.float32)
    face = Face(BoundingBox(1, 2, 50, 60), 0.9, landmarks,
                np.c_[landmarks, rng.normal(0, 5, 68)].astype(np.float32),
                EulerAngles(1.5, -2.0, 3.25), track_id=2)
    return [FrameFaces(0, 0.0, (face,)), FrameFaces(1, 0.04, ())]


def test_default_dir_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("OPENFSGAN_CACHE_DIR", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("OPENFSGAN_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "openfsgan" / "analysis"


def test_key_depends_on_content_config_and_version(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.bin", tmp_path / "b.bin", tmp_path / "c.bin"
    a.write_bytes(b"same bytes")
    b.write_bytes(b"same bytes")  # another name, same content: same key
    c.write_bytes(b"other bytes")
    cache = AnalysisCache(tmp_path / "cache")
    digest = AnalyzerConfig().digest()
    assert cache.key_for(a, digest) == cache.key_for(b, digest)
    assert cache.key_for(a, digest) != cache.key_for(c, digest)
    other = AnalyzerConfig(tracker=TrackerConfig(detect_every=2)).digest()
    assert cache.key_for(a, digest).filename != cache.key_for(a, other).filename
    key = cache.key_for(a, digest)
    assert key.filename != CacheKey(key.content_sha256, key.config_sha256, "9.9.9").filename
    import hashlib
    assert file_sha256(a) == hashlib.sha256(b"same bytes").hexdigest()


def test_store_load_info_clear(tmp_path: Path) -> None:
    cache = AnalysisCache(tmp_path / "cache")
    key = CacheKey("ab" * 32, "cd" * 32)
    assert cache.load(key) is None
    frames = sample_frames()
    path = cache.store(key, frames)
    assert path.name.endswith(".json.gz") and path.parent == cache.directory
    loaded = cache.load(key)
    assert loaded is not None and len(loaded) == 2
    assert loaded[0].faces[0].pose == frames[0].faces[0].pose
    np.testing.assert_allclose(loaded[0].faces[0].landmarks, frames[0].faces[0].landmarks,
                               atol=0.006)
    assert loaded[1].faces == ()
    info = cache.info()
    assert info.entries == 1 and info.total_bytes == path.stat().st_size
    assert not list(cache.directory.glob(".*partial*"))  # atomic write left no temp file
    assert cache.clear() == 1 and cache.info().entries == 0


def test_corrupt_or_mismatched_entry_is_ignored_and_removed(tmp_path: Path) -> None:
    cache = AnalysisCache(tmp_path)
    key = CacheKey("ab" * 32, "cd" * 32)
    cache.path_for(key).write_bytes(b"not gzip at all")
    assert cache.load(key) is None and not cache.path_for(key).exists()
    other = CacheKey("ef" * 32, "cd" * 32)
    cache.store(other, sample_frames())
    cache.path_for(key).write_bytes(cache.path_for(other).read_bytes())  # wrong content key
    assert cache.load(key) is None
    cache.path_for(key).write_bytes(gzip.compress(b'{"format": "something else"}'))
    assert cache.load(key) is None


def test_analyze_cached_second_call_hits(tmp_path: Path, astronaut_rgb: np.ndarray) -> None:
    import cv2

    image = tmp_path / "astronaut.png"
    cv2.imwrite(str(image), astronaut_rgb[:, :, ::-1])
    cache = AnalysisCache(tmp_path / "cache")
    analyzer = FaceAnalyzer()
    first, hit = analyze_cached(image, analyzer, cache)
    assert not hit and len(first) == 1 and len(first[0].faces) >= 1
    second, hit = analyze_cached(image, analyzer, cache)
    assert hit
    np.testing.assert_allclose(second[0].faces[0].landmarks, first[0].faces[0].landmarks,
                               atol=0.006)
    # another config is another entry
    _, hit = analyze_cached(image, FaceAnalyzer(AnalyzerConfig(smooth=False)), cache)
    assert not hit and cache.info().entries == 2
