"""``openfsgan analyze`` and ``openfsgan cache`` end to end, in a subprocess, with bad inputs."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import openfsgan

from openfsgan.errors import (
    InputNotFoundError,
    InputTooLargeError,
    InvalidInputError,
    NoFaceError,
    OutputError,
    PermissionDeniedError,
)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, astronaut_rgb: np.ndarray) -> dict[str, Path]:
    """An image with a face, a faceless image and a 10-frame video of a moving face."""
    import cv2

    from openfsgan.io.media import VideoWriter

    folder = tmp_path_factory.mktemp("media")
    paths = {"image": folder / "astronaut.png", "blank": folder / "blank.png",
             "video": folder / "moving.mp4"}
    cv2.imwrite(str(paths["image"]), astronaut_rgb[:, :, ::-1])
    cv2.imwrite(str(paths["blank"]), np.full((120, 160, 3), 127, np.uint8))
    with VideoWriter(paths["video"], 25, 320, 320) as writer:
        for i in range(10):
            crop = astronaut_rgb[i * 3:i * 3 + 320, 60 + i * 4:380 + i * 4]
            writer.write(np.ascontiguousarray(crop))
    return paths


def assert_clean_failure(result: subprocess.CompletedProcess[str], exit_code: int,
                         folder: Path, before: set[Path]) -> None:
    assert result.returncode == exit_code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("openfsgan: error: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert set(folder.iterdir()) == before  # no output, no temporary file left behind


def test_image_end_to_end_with_overlay(media: dict[str, Path], tmp_path: Path) -> None:
    out, overlay = tmp_path / "a.json", tmp_path / "a.png"
    result = openfsgan("analyze", str(media["image"]), "-o", str(out), "--overlay",
                       str(overlay), cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    doc = json.loads(out.read_text())
    assert doc["format"] == "openfsgan-analysis" and doc["media"]["width"] == 512
    assert doc["analyzer_config"]["tracker"]["detect_every"] == 10
    face, *others = doc["frames"][0]["faces"]  # most confident first
    assert all(other["score"] < face["score"] for other in others)
    x0, y0, x1, y1 = face["box"]
    assert 160 < x0 < 190 and 255 < x1 < 280 and 65 < y0 < 95 and 155 < y1 < 180
    assert len(face["landmarks"]) == 68 and len(face["landmarks_3d"][0]) == 3
    assert set(face["pose"]) == {"yaw", "pitch", "roll"}
    assert doc["tracks"][0]["frame_count"] == 1 and doc["tracks"][0]["track_id"] == 0
    import cv2
    drawn = cv2.imread(str(overlay))
    assert drawn is not None and drawn.shape == (512, 512, 3)


def test_video_end_to_end_cached_second_run(media: dict[str, Path], tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    out, overlay = tmp_path / "v.json", tmp_path / "v.mp4"
    result = openfsgan("-q", "analyze", str(media["video"]), "-o", str(out), "--overlay",
                       str(overlay), "--detect-every", "4", cache=cache_dir)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # -q: no progress bar
    doc = json.loads(out.read_text())
    assert doc["media"]["is_video"] and doc["media"]["frame_count"] == 10
    assert [f["index"] for f in doc["frames"]] == list(range(10))
    assert all(len(f["faces"]) == 1 for f in doc["frames"])
    assert [t["track_id"] for t in doc["tracks"]] == [0] and doc["tracks"][0]["frame_count"] == 10
    from openfsgan.io.media import probe
    assert probe(overlay).frame_count == 10
    # second run: same content, same config -> read from the cache
    again = openfsgan("-v", "analyze", str(media["video"]), "-o", str(tmp_path / "v2.json"),
                      "--detect-every", "4", cache=cache_dir)
    assert again.returncode == 0 and "from the cache" in again.stderr
    assert json.loads((tmp_path / "v2.json").read_text())["frames"] == doc["frames"]
    info = openfsgan("cache", "info", cache=cache_dir)
    assert info.returncode == 0 and "entries: 1" in info.stdout
    cleared = openfsgan("cache", "clear", cache=cache_dir)
    assert cleared.returncode == 0 and "removed 1" in cleared.stdout
    assert "entries: 0" in openfsgan("cache", "info", cache=cache_dir).stdout


def png_header_only(width: int, height: int) -> bytes:
    """A PNG announcing ``width x height`` pixels (no pixel data): what a size check sees."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_bad_inputs_fail_cleanly(media: dict[str, Path], tmp_path: Path) -> None:
    import cv2

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.mp4").write_bytes(b"")
    video_bytes = media["video"].read_bytes()
    (bad / "truncated.mp4").write_bytes(video_bytes[: len(video_bytes) // 2])
    (bad / "notes.mp4").write_text("this is not a video\n" * 50)
    (bad / "huge.png").write_bytes(png_header_only(20000, 20000))
    (bad / "a_folder").mkdir()
    cv2.imwrite(str(bad / "one_pixel.png"), np.full((1, 1, 3), 127, np.uint8))
    (bad / "dangling.png").symlink_to(bad / "gone.png")
    os.mkfifo(bad / "pipe.mp4")  # not a regular file: refused without being opened
    cases = [
        (bad / "missing.mp4", InputNotFoundError.exit_code),
        (bad / "empty.mp4", InvalidInputError.exit_code),
        (bad / "truncated.mp4", InvalidInputError.exit_code),
        (bad / "notes.mp4", InvalidInputError.exit_code),
        (media["blank"], NoFaceError.exit_code),
        (bad / "a_folder", InvalidInputError.exit_code),
        (bad / "huge.png", InputTooLargeError.exit_code),
        (bad / "one_pixel.png", NoFaceError.exit_code),
        (bad / "dangling.png", InputNotFoundError.exit_code),
        (bad / "pipe.mp4", InvalidInputError.exit_code),
    ]
    assert len({code for _, code in cases}) >= 4
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    for source, code in cases:
        before = set(out_dir.iterdir())
        result = openfsgan("analyze", str(source), "-o", str(out_dir / "a.json"), "--overlay",
                           str(out_dir / "o.png"), cache=tmp_path / "cache")
        assert_clean_failure(result, code, out_dir, before)


def test_truncated_image_fails_cleanly(media: dict[str, Path], tmp_path: Path) -> None:
    image_bytes = media["image"].read_bytes()
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(image_bytes[: len(image_bytes) // 3])
    out = tmp_path / "out"
    out.mkdir()
    result = openfsgan("analyze", str(truncated), "-o", str(out / "a.json"),
                       cache=tmp_path / "cache")
    assert result.returncode == InvalidInputError.exit_code
    assert "Traceback" not in result.stderr and not list(out.iterdir())
    assert_clean_failure(result, InvalidInputError.exit_code, out, set())


def test_output_refusals(media: dict[str, Path], tmp_path: Path) -> None:
    existing = tmp_path / "exists.json"
    existing.write_text("{}")
    before = set(tmp_path.iterdir())
    result = openfsgan("analyze", str(media["image"]), "-o", str(existing),
                       cache=tmp_path / "cache")
    assert_clean_failure(result, OutputError.exit_code, tmp_path, before)
    result = openfsgan("analyze", str(media["video"]), "-o", str(tmp_path / "x.json"),
                       "--overlay", str(tmp_path / "x.png"), cache=tmp_path / "cache")
    assert_clean_failure(result, OutputError.exit_code, tmp_path, before)
    result = openfsgan("analyze", str(media["image"]), "-o", str(tmp_path / "x.json"),
                       "--detect-every", "0", cache=tmp_path / "cache")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    # a regular file where the output's folder should be (was "internal error:
    # NotADirectoryError"), for the report and for the overlay
    result = openfsgan("analyze", str(media["image"]), "-o", str(existing / "x.json"),
                       cache=tmp_path / "cache")
    assert_clean_failure(result, OutputError.exit_code, tmp_path, before)
    assert "is a file" in result.stderr
    result = openfsgan("analyze", str(media["image"]), "-o", str(tmp_path / "x.json"),
                       "--overlay", str(existing / "sub" / "x.png"), cache=tmp_path / "cache")
    assert_clean_failure(result, OutputError.exit_code, tmp_path, before)


def _run_in_process(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """The real command line, in this process, so that a test can take permissions away."""
    from openfsgan.cli.main import main

    code = main(args)
    return code, capsys.readouterr().err


def test_unreadable_inputs(media: dict[str, Path], tmp_path: Path,
                           monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    """A file the user may not read is refused with exit code 8, a folder as not a file.

    Root reads anything whatever its mode bits (and CI runs as root), so the denial is made
    where the check asks the operating system: ``os.access`` answers "no" for the two paths.
    """
    import openfsgan.io.paths as paths

    locked_dir = tmp_path / "locked"
    locked_dir.mkdir()
    locked_file = tmp_path / "locked.png"
    locked_file.write_bytes(media["image"].read_bytes())
    locked = {locked_dir, locked_file}
    real_access = os.access
    monkeypatch.setattr(paths.os, "access",
                        lambda path, mode: Path(path) not in locked and real_access(path, mode))
    monkeypatch.setenv("OPENFSGAN_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "out"
    out.mkdir()
    for source, code, message in [
            (locked_file, PermissionDeniedError.exit_code, "not readable (permission denied)"),
            (locked_dir, InvalidInputError.exit_code, "is a folder")]:
        exit_code, stderr = _run_in_process(["analyze", str(source), "-o", str(out / "a.json")],
                                            capsys)
        assert exit_code == code, stderr
        lines = stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], stderr
        assert not list(out.iterdir())


@pytest.mark.parametrize("kind", ["image", "video"])
def test_permission_denied_while_opening_is_exit_code_8(
        media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], kind: str) -> None:
    """When opening itself is denied (after the access check passed: ACLs, a race, a
    network share) the error is still the permission error, not "not a readable image"."""
    import av
    from PIL import Image

    def deny(path: object, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(Image, "open", deny)
    monkeypatch.setattr(av, "open", deny)
    monkeypatch.setenv("OPENFSGAN_CACHE_DIR", str(tmp_path / "cache"))
    exit_code, stderr = _run_in_process(["analyze", str(media[kind]), "-o",
                                         str(tmp_path / "a.json")], capsys)
    assert exit_code == PermissionDeniedError.exit_code, stderr
    assert len(stderr.strip().splitlines()) == 1 and "permission denied" in stderr
    assert not (tmp_path / "a.json").exists()
