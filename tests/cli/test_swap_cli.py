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


@pytest.mark.parametrize(("case", "code", "message"), [
    ("missing_source", 3, "source not found"),
    ("no_face", 5, "no face"),
    ("output_is_input", 7, "refusing to overwrite an input"),
    ("output_exists", 7, "output exists"),
    ("bad_face_number", 9, "must be >= 0"),
])
def test_errors_are_one_line_with_their_exit_code(inputs: dict[str, Path], tmp_path: Path,
                                                  case: str, code: int, message: str) -> None:
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"x")
    source, output, extra = inputs["source"], tmp_path / "out.mp4", []
    if case == "missing_source":
        source = tmp_path / "nope.png"
    elif case == "no_face":
        source = inputs["blank"]
    elif case == "output_is_input":
        output = inputs["target"]
        extra = ["--overwrite"]
    elif case == "output_exists":
        output = existing
    else:
        extra = ["--target-face", "-1"]
    done = openfsgan("swap", source, inputs["target"], "-o", output, *extra,
                     cache=inputs["cache"])
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in done.stderr
    assert not (tmp_path / "out.mp4").exists() and existing.read_bytes() == b"x"
