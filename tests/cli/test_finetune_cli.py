"""``openfsgan swap/reenact --method neural --finetune N`` end to end in a subprocess: G_r is
tuned on the source, used, recorded in the output's configuration, cached and reused."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from cli_helpers import openfsgan

from openfsgan.io.media import probe, read_image


def _entries(cache: Path) -> list[Path]:
    return sorted((cache / "finetune").glob("*/entry.json"))


def test_finetuned_swap_is_used_recorded_cached_and_reused(neural_inputs: dict[str, Path],
                                                           tmp_path: Path) -> None:
    common = ("--method", "neural", "--no-watermark")
    plain, tuned, again = (tmp_path / f"{name}.png" for name in ("plain", "tuned", "again"))
    done = openfsgan("swap", neural_inputs["source"], neural_inputs["photo"], "-o", plain, *common,
                     cache=neural_inputs["cache"], key_dir=neural_inputs["keys"])
    assert done.returncode == 0, done.stderr
    done = openfsgan("swap", neural_inputs["source"], neural_inputs["photo"], "-o", tuned, *common,
                     "--finetune", "3", cache=neural_inputs["cache"], key_dir=neural_inputs["keys"])
    assert done.returncode == 0, done.stderr
    assert "fine-tune G_r" in done.stderr  # the progress bar
    # the tuned G_r made the face: the output differs from the shipped G_r's
    assert np.abs(read_image(tuned).astype(int) - read_image(plain)).max() > 0
    report = json.loads(openfsgan("verify", tuned, "--json", key_dir=neural_inputs["keys"]).stdout)
    assert report["metadata"]["details"]["tag"]["configuration"]["finetune"]["steps"] == 3
    (entry,) = _entries(neural_inputs["cache"])
    assert json.loads(entry.read_text())["complete"] is True
    stamp = entry.stat().st_mtime_ns
    # the same source again: the cached model, no training (the entry is not rewritten)
    done = openfsgan("swap", neural_inputs["source"], neural_inputs["photo"], "-o", again, *common,
                     "--finetune", "3", cache=neural_inputs["cache"], key_dir=neural_inputs["keys"])
    assert done.returncode == 0, done.stderr
    assert entry.stat().st_mtime_ns == stamp and _entries(neural_inputs["cache"]) == [entry]
    assert np.array_equal(read_image(again), read_image(tuned))
    listed = openfsgan("cache", "info", cache=neural_inputs["cache"])
    assert "3 steps  complete" in listed.stdout
    cleared = openfsgan("cache", "clear", cache=neural_inputs["cache"])
    assert "removed 1 fine-tuned models" in cleared.stdout
    assert not _entries(neural_inputs["cache"])


def test_finetune_with_a_video_source_and_in_reenact(neural_inputs: dict[str, Path],
                                                     tmp_path: Path) -> None:
    out = tmp_path / "from-clip.png"
    done = openfsgan("swap", neural_inputs["clip"], neural_inputs["source"], "-o", out,
                     "--method", "neural", "--no-watermark", "--finetune", "2",
                     cache=neural_inputs["cache"])
    assert done.returncode == 0, done.stderr
    assert read_image(out).shape == (600, 512, 3)
    driven = tmp_path / "driven.mp4"
    done = openfsgan("reenact", neural_inputs["source"], neural_inputs["clip"], "-o", driven,
                     "--method", "neural", "--no-watermark", "--finetune", "2",
                     cache=neural_inputs["cache"])
    assert done.returncode == 0, done.stderr
    assert probe(driven).frame_count == 4
    assert len(_entries(neural_inputs["cache"])) == 2  # one per source (the clip, the photo)


def test_finetune_needs_the_neural_reenactment(neural_inputs: dict[str, Path],
                                               tmp_path: Path) -> None:
    done = openfsgan("swap", neural_inputs["source"], neural_inputs["photo"], "-o",
                     tmp_path / "x.png", "--finetune", "3", cache=neural_inputs["cache"])
    assert done.returncode == 9, done.stderr  # ConfigError
    assert "it needs the neural reenactment stage" in done.stderr
    assert "Traceback" not in done.stderr
