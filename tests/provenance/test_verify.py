"""verify(): the three checks together, agreement between them, tampering, bad input."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
from provenance_media import talking_clip

from openfsgan.errors import InputNotFoundError, InvalidInputError
from openfsgan.io.atomic import atomic_output
from openfsgan.provenance.labeler import make_labeler
from openfsgan.provenance.verify import verify


@pytest.fixture(scope="module")
def labelled_video(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A 25-frame 640x360 clip written the way openfsgan.jobs writes one (CRF 18, then finalize)."""
    from openfsgan.io.media import VideoWriter

    labeler = make_labeler(SimpleNamespace(label="AI-generated"))
    path = tmp_path_factory.mktemp("verify") / "swap.mp4"
    with atomic_output(path) as tmp:
        with VideoWriter(tmp, 25, 640, 360) as writer:
            for index, frame in enumerate(talking_clip(25, 640, 360)):
                writer.write(labeler.label_frame(frame, index))
        labeler.finalize(tmp, "video")
    return path, labeler.run_id


def test_labelled_video_reports_all_three(labelled_video: tuple[Path, str]) -> None:
    path, run_id = labelled_video
    report = verify(path)
    assert report.labelled and report.exit_code == 0
    assert report.watermark.status == "found" and report.watermark.run_id == run_id
    assert report.watermark.confidence is not None and report.watermark.confidence > 0.999999
    assert report.metadata.status == "found" and report.metadata.run_id == run_id
    assert report.manifest.status == "found" and report.manifest.run_id == run_id
    assert report.notes == ()
    data = report.to_dict()
    assert data["media"] == {"kind": "video", "width": 640, "height": 360,
                             "frames_analysed": 25}
    assert data["watermark"]["details"]["payload"]["run_id"] == run_id


def test_modified_after_signing_is_tampered(tmp_path: Path, astronaut_rgb: np.ndarray) -> None:
    labeler = make_labeler(SimpleNamespace())
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), labeler.label_frame(astronaut_rgb, 0)[:, :, ::-1])
    labeler.finalize(path, "image")
    assert verify(path).manifest.status == "found"
    # brighten a corner: the manifest's hash no longer matches, the watermark survives
    pixels = cv2.imread(str(path))
    pixels[:40, :40] = np.minimum(pixels[:40, :40].astype(int) + 30, 255).astype(np.uint8)
    data = bytearray(path.read_bytes())
    ok, encoded = cv2.imencode(".png", pixels)
    assert ok
    # keep the file's own chunks (metadata, manifest) and swap in the edited image data
    edited = bytearray(encoded.tobytes())
    start = data.find(b"IDAT") - 4
    data[start:] = edited[edited.find(b"IDAT") - 4:]
    path.write_bytes(bytes(data))
    report = verify(path)
    assert report.manifest.status == "tampered"
    assert "mismatch" in report.manifest.note
    assert report.watermark.status == "found"
    assert report.labelled


def test_unlabelled_file(tmp_path: Path, astronaut_rgb: np.ndarray) -> None:
    path = tmp_path / "plain.jpg"
    cv2.imwrite(str(path), astronaut_rgb[:, :, ::-1])
    report = verify(path)
    assert not report.labelled and report.exit_code == 1
    assert {report.watermark.status, report.metadata.status, report.manifest.status} == {
        "not found"}


def test_bad_input_raises(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        verify(tmp_path / "missing.mp4")
    empty = tmp_path / "empty.png"
    empty.touch()
    with pytest.raises(InvalidInputError):
        verify(empty)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    with pytest.raises(InvalidInputError):
        verify(text)
