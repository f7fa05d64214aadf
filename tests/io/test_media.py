from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from openfsgan.errors import (
    InputNotFoundError,
    InputTooLargeError,
    InvalidInputError,
    OutputError,
)
from openfsgan.io import media


def test_probe_video_keeps_fps_frames_audio(synthetic_video: Path) -> None:
    info = media.probe(synthetic_video)
    assert info.is_video
    assert (info.width, info.height) == (64, 48)
    assert info.frame_count == 12
    assert info.fps == Fraction(12)
    assert info.has_audio


def test_iter_frames_streams_every_frame_in_order(synthetic_video: Path) -> None:
    frames = list(media.iter_frames(synthetic_video))
    assert [f.index for f in frames] == list(range(12))
    assert frames[0].rgb.shape == (48, 64, 3) and frames[0].rgb.dtype == np.uint8
    assert frames[3].time_s == pytest.approx(3 / 12, abs=1e-6)
    assert [f.index for f in media.iter_frames(synthetic_video, start=9)] == [9, 10, 11]


def test_image_roundtrip_and_probe(tmp_path: Path, astronaut_rgb: np.ndarray) -> None:
    path = media.write_image(tmp_path / "a.png", astronaut_rgb)
    info = media.probe(path)
    assert not info.is_video and (info.width, info.height, info.frame_count) == (512, 512, 1)
    np.testing.assert_array_equal(media.read_image(path), astronaut_rgb)
    (frame,) = list(media.iter_frames(path))
    np.testing.assert_array_equal(frame.rgb, astronaut_rgb)


def test_huge_image_is_refused_before_decoding(huge_png: Path) -> None:
    with pytest.raises(InputTooLargeError, match="20000x20000"):
        media.read_image(huge_png)
    with pytest.raises(InputTooLargeError):
        media.probe(huge_png)


@pytest.mark.parametrize("content", [b"", b"this is not media at all" * 10])
def test_empty_and_non_media_files_are_invalid(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(InvalidInputError):
        media.probe(bad)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputNotFoundError):
        media.probe(tmp_path / "nope.mp4")


def test_truncated_video_is_reported(tmp_path: Path, synthetic_video: Path) -> None:
    data = synthetic_video.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(InvalidInputError):
        # either the probe or the decoder notices, never a raw FFmpeg traceback
        list(media.iter_frames(truncated))


def test_writer_keeps_audio_fps_and_count(tmp_path: Path, synthetic_video: Path) -> None:
    info = media.probe(synthetic_video)
    out = tmp_path / "out.mp4"
    with media.VideoWriter(out, info.fps, info.width, info.height,
                           audio_from=synthetic_video) as writer:
        for frame in media.iter_frames(synthetic_video):
            writer.write(frame.rgb)
    written = media.probe(out)
    assert (written.frame_count, written.fps, written.has_audio) == (12, Fraction(12), True)
    with av.open(str(out)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"


def test_writer_is_atomic_on_error(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError), media.VideoWriter(out, 10, 32, 32) as writer:
        writer.write(np.zeros((32, 32, 3), np.uint8))
        raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_empty_video(tmp_path: Path) -> None:
    with pytest.raises(OutputError), media.VideoWriter(tmp_path / "o.mp4", 10, 32, 32):
        pass
    assert list(tmp_path.iterdir()) == []


def test_writer_keeps_odd_sizes(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    with media.VideoWriter(out, 10, 33, 31) as writer:
        for value in (0, 128):
            writer.write(np.full((31, 33, 3), value, np.uint8))
    info = media.probe(out)
    assert (info.width, info.height, info.frame_count) == (33, 31, 2)


def test_png_under_a_video_name_is_an_image(tmp_path: Path, astronaut_rgb: np.ndarray) -> None:
    png = media.write_image(tmp_path / "a.png", astronaut_rgb)
    disguised = tmp_path / "a.mp4"
    disguised.write_bytes(png.read_bytes())
    info = media.probe(disguised)
    assert not info.is_video and info.frame_count == 1


def test_truncated_image_is_invalid(tmp_path: Path, astronaut_rgb: np.ndarray) -> None:
    data = media.write_image(tmp_path / "a.png", astronaut_rgb).read_bytes()
    truncated = tmp_path / "t.png"
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(InvalidInputError, match="truncated"):
        media.read_image(truncated)


def test_frame_count_matches_decoded_frames(synthetic_video: Path) -> None:
    # the count promised by probe() is what iter_frames() yields (edit lists aside)
    assert media.probe(synthetic_video).frame_count == len(list(media.iter_frames(synthetic_video)))
