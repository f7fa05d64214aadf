"""``openfsgan swap/reenact --method neural --finetune N`` end to end in a subprocess: G_r is
tuned on the source, used, recorded in the output's configuration, cached and reused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import openfsgan

from openfsgan.io.media import probe, read_image, write_image
from people import photo


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, astronaut_rgb: np.ndarray) -> dict[str, Path]:
    from openfsgan.benchmarking import write_astronaut_clip

    folder = tmp_path_factory.mktemp("finetune-cli")
    return {
        "source": write_image(folder / "source.png", photo("hopper")),
        "photo": write_image(folder / "mirror.png",
                             np.ascontiguousarray(astronaut_rgb[:, ::-1])),
        "clip": write_astronaut_clip(folder / "clip.mp4", 320, 240, 4, mirror=True,
                                     face_fraction=0.9),
        "cache": folder / "cache",
        "keys": folder / "c2pa",
    }


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "finetune").glob("*/entry.json"))


def test_finetuned_swap_is_used_recorded_cached_and_reused(inputs: dict[str, Path],
                                                           tmp_path: Path) -> None:
    common = ("--method", "neural", "--no-watermark")
    plain, tuned, again = (tmp_path / f"{name}.png" for name in ("plain", "tuned", "again"))
    done = openfsgan("swap", inputs["source"], inputs["photo"], "-o", plain, *common,
                     cache=inputs["cache"], key_dir=inputs["keys"])
    assert done.returncode == 0, done.stderr
    done = openfsgan("swap", inputs["source"], inputs["photo"], "-o", tuned, *common,
                     "--finetune", "3", cache=inputs["cache"], key_dir=inputs["keys"])
    assert done.returncode == 0, done.stderr
    assert "fine-tune G_r" in done.stderr  # the progress bar
    # the tuned G_r made the face: the output differs from the shipped G_r's
    assert np.abs(read_image(tuned).astype(int) - read_image(plain)).max() > 0
    report = json.loads(openfsgan("verify", tuned, "--json", key_dir=inputs["keys"]).stdout)
    assert report["metadata"]["details"]["tag"]["configuration"]["finetune"]["steps"] == 3
    (entry,) = _entries(inputs["cache"])
    assert json.loads(entry.read_text())["complete"] is True
    stamp = entry.stat().st_mtime_ns
    # the same source again: the cached model, no training (the entry is not rewritten)
    done = openfsgan("swap", inputs["source"], inputs["photo"], "-o", again, *common,
                     "--finetune", "3", cache=inputs["cache"], key_dir=inputs["keys"])
    assert done.returncode == 0, done.stderr
    assert entry.stat().st_mtime_ns == stamp and _entries(inputs["cache"]) == [entry]
    assert np.array_equal(read_image(again), read_image(tuned))
    listed = openfsgan("cache", "info", cache=inputs["cache"])
    assert "3 steps  complete" in listed.stdout
    cleared = openfsgan("cache", "clear", cache=inputs["cache"])
    assert "removed 1 fine-tuned models" in cleared.stdout
    assert not _entries(inputs["cache"])


def test_finetune_with_a_video_source_and_in_reenact(inputs: dict[str, Path],
                                                     tmp_path: Path) -> None:
    out = tmp_path / "from-clip.png"
    done = openfsgan("swap", inputs["clip"], inputs["source"], "-o", out, "--method", "neural",
                     "--no-watermark", "--finetune", "2", cache=inputs["cache"])
    assert done.returncode == 0, done.stderr
    assert read_image(out).shape == (600, 512, 3)
    driven = tmp_path / "driven.mp4"
    done = openfsgan("reenact", inputs["source"], inputs["clip"], "-o", driven, "--method",
                     "neural", "--no-watermark", "--finetune", "2", cache=inputs["cache"])
    assert done.returncode == 0, done.stderr
    assert probe(driven).frame_count == 4
    assert len(_entries(inputs["cache"])) == 2  # one per source (the clip, the photo)


def test_finetune_needs_the_neural_reenactment(inputs: dict[str, Path], tmp_path: Path) -> None:
    done = openfsgan("swap", inputs["source"], inputs["photo"], "-o", tmp_path / "x.png",
                     "--finetune", "3", cache=inputs["cache"])
    assert done.returncode == 9, done.stderr  # ConfigError
    assert "it needs the neural reenactment stage" in done.stderr
    assert "Traceback" not in done.stderr
