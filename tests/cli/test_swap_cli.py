"""``openfsgan swap`` / ``reenact`` end to end in a subprocess, like a user runs them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cli_helpers import openfsgan

from openfsgan.io.media import probe, write_image
from people import photo


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, astronaut_rgb: np.ndarray) -> dict[str, Path]:
    from openfsgan.benchmarking import write_astronaut_clip

    folder = tmp_path_factory.mktemp("cli")
    return {
        # two different people: Grace Hopper onto (a clip of) the astronaut
        "source": write_image(folder / "source.png", photo("hopper")),
        "target": write_astronaut_clip(folder / "target.mp4", 320, 240, 8, mirror=True,
                                       face_fraction=0.9),
        "blank": write_image(folder / "blank.png", np.full((120, 120, 3), 100, np.uint8)),
        "cache": folder / "cache",
    }


def test_swap_writes_the_video_and_a_summary(inputs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "swapped.mp4"
    done = openfsgan("-q", "swap", inputs["source"], inputs["target"], "-o", out,
                     "--no-watermark", "--max-frames", "6", cache=inputs["cache"])
    assert done.returncode == 0, done.stderr
    assert probe(out).frame_count == 6
    again = openfsgan("swap", inputs["source"], inputs["target"], "-o", out, "--overwrite",
                      "--no-watermark", cache=inputs["cache"])
    assert again.returncode == 0, again.stderr
    assert "wrote" in again.stdout and "8 frame(s), 8 swapped, 0 unchanged" in again.stdout
    assert probe(out).frame_count == 8


def test_reenact_writes_a_video_of_the_source_photo(inputs: dict[str, Path],
                                                   tmp_path: Path) -> None:
    out = tmp_path / "driven.mp4"
    done = openfsgan("reenact", inputs["source"], inputs["target"], "-o", out,
                     "--no-watermark", cache=inputs["cache"])
    assert done.returncode == 0, done.stderr
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (512, 600, 8)  # Hopper's photo
    assert "8 driven" in done.stdout


def test_robust_watermark_flag_adds_the_chroma_layer(inputs: dict[str, Path],
                                                     tmp_path: Path) -> None:
    """``--robust-watermark``: the output's mark has the chroma layer and its tag says so; the
    default mark has no chroma layer (and keeps PSNR >= 40 dB: tests/provenance)."""
    from openfsgan.io.media import read_image
    from openfsgan.provenance import watermark as wm
    from openfsgan.provenance.metadata import read_tag

    target = write_image(tmp_path / "target.png", photo("astronaut"))
    found = {}
    for name, extra in (("standard", []), ("robust", ["--robust-watermark"])):
        out = tmp_path / f"{name}.png"
        done = openfsgan("swap", inputs["source"], target, "-o", out, *extra,
                         cache=inputs["cache"])
        assert done.returncode == 0, done.stderr
        tag = read_tag(out).tag
        assert tag is not None and tag.watermark_profile == name
        verified = openfsgan("verify", out)
        assert f"watermark embedded ({name} profile)" in verified.stdout, verified.stdout
        found[name] = wm.detect([read_image(out)])
    assert found["standard"].payload_verified and not found["standard"].chroma_found
    assert found["robust"].payload_verified and found["robust"].chroma_found


@pytest.mark.parametrize(("case", "code", "message"), [
    ("missing_source", 3, "source not found"),
    ("no_face", 5, "no face"),
    ("output_is_input", 7, "refusing to overwrite an input"),
    ("output_exists", 7, "output exists"),
    ("bad_face_number", 9, "must be >= 0"),
    ("contradictory_watermark_flags", 9, "--robust-watermark and --no-watermark"),
    # found by hand: a 1x1 PNG target ended in an OpenCV assertion inside the labeller, an
    # output under a regular file in a NotADirectoryError
    ("one_pixel_target", 4, "too small to hold a face: 1x1 px"),
    ("two_pixel_target", 4, "too small to hold a face: 2x2 px"),
    ("one_pixel_source", 4, "source is too small to hold a face"),
    ("empty_target", 4, "empty file"),
    ("faceless_photo_target", 5, "no face found in the target photo"),
    ("output_under_a_file", 7, "is a file"),
    ("output_under_a_file_deeper", 7, "is a file"),
])
def test_errors_are_one_line_with_their_exit_code(inputs: dict[str, Path], tmp_path: Path,
                                                  case: str, code: int, message: str) -> None:
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"x")
    source, target, output, extra = inputs["source"], inputs["target"], tmp_path / "out.mp4", []
    if case == "missing_source":
        source = tmp_path / "nope.png"
    elif case == "no_face":
        source = inputs["blank"]
    elif case == "output_is_input":
        output = inputs["target"]
        extra = ["--overwrite"]
    elif case == "output_exists":
        output = existing
    elif case == "bad_face_number":
        extra = ["--target-face", "-1"]
    elif case == "contradictory_watermark_flags":
        extra = ["--robust-watermark", "--no-watermark"]
    elif case in ("one_pixel_target", "two_pixel_target"):
        side = 1 if case == "one_pixel_target" else 2
        target = write_image(tmp_path / "tiny.png", np.full((side, side, 3), 128, np.uint8))
        output = tmp_path / "out.png"
    elif case == "one_pixel_source":
        source = write_image(tmp_path / "tiny.png", np.full((1, 1, 3), 128, np.uint8))
    elif case == "empty_target":
        target = tmp_path / "empty.png"
        target.write_bytes(b"")
        output = tmp_path / "out.png"
    elif case == "faceless_photo_target":
        target, output = inputs["blank"], tmp_path / "out.png"
    elif case == "output_under_a_file":
        output = existing / "x.mp4"
    else:
        output = existing / "deeper" / "x.mp4"
    done = openfsgan("swap", source, target, "-o", output, *extra, cache=inputs["cache"])
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr
    assert "internal error" not in done.stderr
    assert not (tmp_path / "out.mp4").exists() and not (tmp_path / "out.png").exists()
    assert existing.read_bytes() == b"x"


@pytest.mark.parametrize(("case", "code", "message"), [
    ("one_pixel_driver", 4, "target is too small to hold a face: 1x1 px"),
    ("faceless_photo_driver", 5, "no face found in the driver photo"),
    ("output_under_a_file", 7, "is a file"),
])
def test_reenact_errors_are_one_line_with_their_exit_code(inputs: dict[str, Path],
                                                          tmp_path: Path, case: str, code: int,
                                                          message: str) -> None:
    a_file = tmp_path / "a_file"
    a_file.write_bytes(b"x")
    driver, output = inputs["target"], tmp_path / "out.mp4"
    if case == "one_pixel_driver":
        driver = write_image(tmp_path / "tiny.png", np.full((1, 1, 3), 128, np.uint8))
        output = tmp_path / "out.png"
    elif case == "faceless_photo_driver":
        driver, output = inputs["blank"], tmp_path / "out.png"
    else:
        output = a_file / "out.mp4"
    done = openfsgan("reenact", inputs["source"], driver, "-o", output, cache=inputs["cache"])
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "internal error" not in done.stderr
    assert not output.exists() and a_file.read_bytes() == b"x"
