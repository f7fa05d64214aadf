"""The labeler that swap/reenact use: frames marked, files tagged and signed, by default."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

from openfsgan.errors import ConfigError
from openfsgan.provenance import watermark as wm
from openfsgan.provenance.labeler import final_name, make_labeler, new_run_id
from openfsgan.provenance.manifest import read_manifest
from openfsgan.provenance.metadata import read_tag


def test_defaults_mark_tag_and_sign(tmp_path: Path, astronaut_rgb: np.ndarray) -> None:
    labeler = make_labeler(SimpleNamespace())
    assert labeler.embedder is not None and labeler.caption is None
    marked = labeler.label_frame(astronaut_rgb, 0)
    assert marked.shape == astronaut_rgb.shape and not np.array_equal(marked, astronaut_rgb)
    path = tmp_path / "out.png"
    cv2.imwrite(str(path), marked[:, :, ::-1])
    result = labeler.finalize(path, "image")
    assert result.metadata_tag and result.manifest == path and result.watermark
    reading = read_tag(path)
    assert reading.found and reading.tag is not None
    assert reading.tag.run_id == labeler.run_id and reading.tag.watermark
    manifest = read_manifest(path)
    assert manifest.status == "found" and manifest.tag is not None
    assert manifest.tag.run_id == labeler.run_id
    detection = wm.detect([cv2.imread(str(path))[:, :, ::-1]])
    assert detection.payload is not None and detection.payload.run_id_hex == labeler.run_id


def test_watermark_profile_is_chosen_and_recorded(astronaut_rgb: np.ndarray) -> None:
    standard = make_labeler(SimpleNamespace())
    robust = make_labeler(SimpleNamespace(watermark_profile="robust"))
    assert standard.embedder is not None and not standard.embedder.config.has_chroma_layer
    assert robust.embedder is not None and robust.embedder.config.has_chroma_layer
    assert (standard.tag.watermark_profile, robust.tag.watermark_profile) == ("standard",
                                                                             "robust")
    assert robust.describe()["watermark_profile"] == "robust"
    assert make_labeler(SimpleNamespace(watermark=False)).tag.watermark_profile is None
    with pytest.raises(ConfigError, match="unknown watermark profile"):
        make_labeler(SimpleNamespace(watermark_profile="loud"))


def test_no_watermark_is_recorded_not_silent(tmp_path: Path, astronaut_rgb: np.ndarray) -> None:
    labeler = make_labeler(SimpleNamespace(watermark=False, mode="reenact"))
    assert labeler.embedder is None
    assert np.array_equal(labeler.label_frame(astronaut_rgb, 3), astronaut_rgb)
    path = tmp_path / "out.jpg"
    cv2.imwrite(str(path), astronaut_rgb[:, :, ::-1])
    labeler.finalize(path, "image")
    tag = read_tag(path).tag
    assert tag is not None and tag.watermark is False and tag.operation == "reenact"
    manifest_tag = read_manifest(path).tag
    assert manifest_tag is not None and manifest_tag.watermark is False


def test_visible_label_and_run_id(astronaut_rgb: np.ndarray) -> None:
    labeler = make_labeler(SimpleNamespace(label="AI-generated", run_id="0a1b2c3d"))
    assert labeler.run_id == "0a1b2c3d"
    out = labeler.label_frame(astronaut_rgb, 0)
    bottom_left = np.abs(out[-60:, :200].astype(int) - astronaut_rgb[-60:, :200]).mean()
    top_right = np.abs(out[:60, -200:].astype(int) - astronaut_rgb[:60, -200:]).mean()
    assert bottom_left > 10 * top_right  # caption there, only the faint mark elsewhere
    assert labeler.describe()["label"] == "AI-generated"
    with pytest.raises(ConfigError):
        make_labeler(SimpleNamespace(run_id="not-hex!"))


def test_bad_organisation_key_fails_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        make_labeler(SimpleNamespace(c2pa_cert=tmp_path / "none.pem",
                                     c2pa_key=tmp_path / "none.key"))


def test_run_ids_and_final_names() -> None:
    ids = {new_run_id() for _ in range(50)}
    assert len(ids) == 50 and all(len(i) == 8 for i in ids)
    assert final_name(Path("/x/.clip.k2j3h4.partial.mp4")) == "clip.mp4"
    assert final_name(Path("/x/.my.clip.ab12.partial.png")) == "my.clip.png"
    assert final_name(Path("/x/photo.jpg")) == "photo.jpg"
