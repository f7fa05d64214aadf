"""Distractor photos: selection, 300-W landmark files, descriptor cache; the pairs' mode."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openfsgan.errors import ConfigError
from openfsgan.evaluation.distractors import distractor_descriptors, list_photos, read_pts
from openfsgan.evaluation.pairs import EvalPair, parse_pairs
from openfsgan.io.media import write_image


def _photos(folder: Path, count: int) -> list[Path]:
    paths = []
    for index in range(count):
        sub = folder / ("afw" if index % 2 else "helen")
        paths.append(write_image(sub / f"p{index:02d}.png", np.full((8, 8, 3), index, np.uint8)))
    return paths


def _pts_text(points: np.ndarray) -> str:
    rows = "\n".join(f"{x:.3f} {y:.3f}" for x, y in points)
    return f"version: 1\nn_points: 68\n{{\n{rows}\n}}\n"


def test_list_photos_is_evenly_spaced_and_deterministic(tmp_path) -> None:
    _photos(tmp_path, 10)
    (tmp_path / "notes.txt").write_text("not a photo")
    chosen = list_photos(tmp_path, 4)
    assert len(chosen) == 4 and chosen == list_photos(tmp_path, 4)
    assert {p.parent.name for p in chosen} == {"afw", "helen"}
    assert len(list_photos(tmp_path, 50)) == 10
    with pytest.raises(ConfigError):
        list_photos(tmp_path / "nowhere", 4)
    with pytest.raises(ConfigError):
        list_photos(tmp_path, 0)


def test_read_pts_with_and_without_header(tmp_path) -> None:
    points = np.arange(136, dtype=np.float64).reshape(68, 2) + 1.0
    with_header = tmp_path / "a.pts"
    with_header.write_text(_pts_text(points))
    bare = tmp_path / "b.pts"
    bare.write_text("\n".join(f"{x} {y}" for x, y in points))
    for path in (with_header, bare):
        np.testing.assert_allclose(read_pts(path), points - 1.0)  # 300-W counts from 1
    short = tmp_path / "c.pts"
    short.write_text("1 2\n3 4\n")
    assert read_pts(short) is None
    assert read_pts(tmp_path / "missing.pts") is None


def test_descriptors_use_pts_else_the_detector_and_are_cached(tmp_path) -> None:
    photos = _photos(tmp_path / "photos", 4)
    points = np.tile(np.array([[2.0, 3.0]]), (68, 1)) + 1.0
    photos[0].with_suffix(".pts").write_text(_pts_text(points))
    calls: list[str] = []

    def describe(rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        calls.append("describe")
        return np.array([float(rgb[0, 0, 0]), float(landmarks[0, 0]), 1.0])

    def landmarks_of(rgb: np.ndarray) -> np.ndarray | None:
        calls.append("detect")
        return None if rgb[0, 0, 0] == 3 else np.zeros((68, 2))  # no face on the last photo

    cache = tmp_path / "work" / "distractors.json"
    found = distractor_descriptors(tmp_path / "photos", 10, describe, landmarks_of, "fake",
                                   cache)
    assert found.skipped == 1 and len(found.photos) == 3
    assert found.descriptors.shape == (3, 3)
    by_photo = dict(zip(found.photos, found.descriptors.tolist(), strict=True))
    assert by_photo["helen/p00.png"][1] == pytest.approx(2.0)  # the .pts, 0-based
    assert calls.count("detect") == 3  # only the photos without .pts
    calls.clear()
    again = distractor_descriptors(tmp_path / "photos", 10, describe, landmarks_of, "fake",
                                   cache)
    assert calls == [] and again.photos == found.photos
    np.testing.assert_allclose(again.descriptors, found.descriptors)
    # another descriptor is another cache key
    distractor_descriptors(tmp_path / "photos", 10, describe, landmarks_of, "other", cache)
    assert calls.count("describe") == 3
    _photos(tmp_path / "faceless", 2)
    with pytest.raises(ConfigError, match="no face"):
        distractor_descriptors(tmp_path / "faceless", 10, describe, lambda rgb: None, "x")


def test_pairs_mode_column(tmp_path) -> None:
    text = ("pair_id,source,target,source_identity,target_identity,source_start,mode\n"
            "a,a.mp4,b.mp4,a,b,,\n"
            "b,a.jpg,b.mp4,a,b,,reenact\n"
            "c,b.mp4,b.mp4,b,b,5,reenact\n")
    swap, cross, own = parse_pairs(text, tmp_path)
    assert (swap.mode, swap.kind) == ("swap", "cross")
    assert (cross.mode, cross.kind) == ("reenact", "reenact-cross")
    assert own.kind == "reenact-self" and own.is_self and own.source_start == 5
    with pytest.raises(ConfigError, match="mode"):
        parse_pairs("source,target,mode\na.mp4,b.mp4,dance\n", tmp_path)
    with pytest.raises(ValueError, match="source_end"):
        EvalPair("x", Path("a.mp4"), Path("b.mp4"), "a", "b", source_end=4, mode="reenact")
