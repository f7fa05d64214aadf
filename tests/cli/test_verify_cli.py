"""``openfsgan verify`` in a subprocess: report, JSON and its own exit codes (0 / 1 / 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import openfsgan


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, astronaut_rgb: np.ndarray
          ) -> tuple[dict[str, Path], Path]:
    """A labelled photo and video, an unlabelled photo, and bad inputs."""
    import cv2

    from openfsgan.io.atomic import atomic_output
    from openfsgan.io.media import VideoWriter
    from openfsgan.provenance.keys import local_identity
    from openfsgan.provenance.labeler import OutputLabeler, new_run_id
    from openfsgan.provenance.metadata import ProvenanceTag

    folder = tmp_path_factory.mktemp("verify-cli")
    key_dir = folder / "keys"
    labeler = OutputLabeler(ProvenanceTag(run_id=new_run_id()), local_identity(key_dir))
    paths = {"photo": folder / "swap.png", "video": folder / "swap.mp4",
             "plain": folder / "plain.jpg", "empty": folder / "empty.mp4",
             "text": folder / "notes.png", "missing": folder / "missing.mp4"}
    cv2.imwrite(str(paths["photo"]), labeler.label_frame(astronaut_rgb, 0)[:, :, ::-1])
    labeler.finalize(paths["photo"], "image")
    with atomic_output(paths["video"]) as tmp:
        with VideoWriter(tmp, 10, 256, 256) as writer:
            for i in range(8):
                frame = np.ascontiguousarray(astronaut_rgb[i * 4:i * 4 + 256, 100:356])
                writer.write(labeler.label_frame(frame, i))
        labeler.finalize(tmp, "video")
    cv2.imwrite(str(paths["plain"]), astronaut_rgb[:, :, ::-1])
    paths["empty"].touch()
    paths["text"].write_text("not an image")
    return paths, key_dir


def test_labelled_files_exit_0(files: tuple[dict[str, Path], Path]) -> None:
    paths, key_dir = files
    for name in ("photo", "video"):
        result = openfsgan("verify", str(paths[name]), key_dir=key_dir)
        assert result.returncode == 0, result.stderr
        assert "watermark:     found" in result.stdout
        assert "C2PA manifest: found" in result.stdout
        assert "labelled as synthetic" in result.stdout


def test_json_report(files: tuple[dict[str, Path], Path]) -> None:
    paths, key_dir = files
    result = openfsgan("verify", str(paths["video"]), "--json", key_dir=key_dir)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["labelled"] is True
    assert report["watermark"]["status"] == "found"
    assert report["metadata"]["status"] == "found"
    assert report["c2pa_manifest"]["status"] == "found"
    run_ids = {report[k]["run_id"] for k in ("watermark", "metadata", "c2pa_manifest")}
    assert len(run_ids) == 1 and None not in run_ids
    assert report["media"]["frames_analysed"] == 8


def test_unlabelled_file_exits_1(files: tuple[dict[str, Path], Path]) -> None:
    paths, key_dir = files
    result = openfsgan("verify", str(paths["plain"]), key_dir=key_dir)
    assert result.returncode == 1, result.stderr
    assert "no openfsgan watermark or C2PA manifest found" in result.stdout


@pytest.mark.parametrize("name", ["missing", "empty", "text"])
def test_bad_input_exits_2_with_one_line(files: tuple[dict[str, Path], Path], name: str) -> None:
    paths, key_dir = files
    result = openfsgan("verify", str(paths[name]), key_dir=key_dir)
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("openfsgan: error:")
    assert "Traceback" not in result.stderr


def test_bad_option_exits_2(files: tuple[dict[str, Path], Path]) -> None:
    paths, key_dir = files
    result = openfsgan("verify", str(paths["photo"]), "--max-frames", "0", key_dir=key_dir)
    assert result.returncode == 2

