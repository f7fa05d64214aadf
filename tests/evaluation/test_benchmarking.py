from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openfsgan.benchmarking import (
    BenchConfig,
    astronaut_frame,
    markdown_table,
    measure_stage,
    model_example_inputs,
    parse_resolution,
    write_astronaut_clip,
    write_resized_clip,
)
from openfsgan.errors import ConfigError
from openfsgan.io.media import probe


def test_parse_resolution() -> None:
    assert parse_resolution("720p") == ("720p", 1280, 720)
    assert parse_resolution("320x240") == ("320x240", 320, 240)
    for bad in ("4k", "10x10", "x", "99999x5"):
        with pytest.raises(ConfigError):
            parse_resolution(bad)


def test_bench_config_validation() -> None:
    with pytest.raises(ConfigError):
        BenchConfig(frames=1)
    with pytest.raises(ConfigError):
        BenchConfig(stages=("warp",))
    with pytest.raises(ConfigError):
        BenchConfig(device="tpu")
    with pytest.raises(ConfigError):
        BenchConfig(model_size_px=100)


def test_synthetic_frames_move_and_mirror() -> None:
    a = astronaut_frame(320, 180, index=0, frames=8)
    b = astronaut_frame(320, 180, index=2, frames=8)
    m = astronaut_frame(320, 180, index=0, frames=8, mirror=True)
    assert a.shape == (180, 320, 3) and a.dtype == np.uint8
    assert not np.array_equal(a, b)  # the face drifts between frames
    assert not np.array_equal(a, m)


def test_clips_have_the_asked_size_and_length(tmp_path: Path) -> None:
    clip = write_astronaut_clip(tmp_path / "a.mp4", 320, 180, 5)
    info = probe(clip)
    assert (info.width, info.height, info.frame_count) == (320, 180, 5)
    resized = write_resized_clip(clip, tmp_path / "b.mp4", 90, 3)
    info = probe(resized)
    assert (info.width, info.height, info.frame_count) == (160, 90, 3)


def test_model_example_inputs_follow_the_forward_signature() -> None:
    import torch


    class Blend(torch.nn.Module):
        config = None

        def forward(self, reenacted, target, mask):
            return reenacted

    inputs = model_example_inputs("blend", Blend(), 64)
    assert [tuple(x.shape) for x in inputs] == [(1, 3, 64, 64), (1, 3, 64, 64), (1, 1, 64, 64)]
    assert set(np.unique(inputs[2].numpy())) <= {0.0, 1.0}
    assert inputs[0].min() < 0 < inputs[0].max()

    class Odd(torch.nn.Module):
        def forward(self, flow):
            return flow

    with pytest.raises(KeyError, match="flow"):
        model_example_inputs("odd", Odd(), 64)


def test_measure_analysis_stage_in_process(tmp_path: Path) -> None:
    clip = write_astronaut_clip(tmp_path / "c.mp4", 320, 240, 3, face_fraction=1.0)
    result = measure_stage({"stage": "analysis", "clip": str(clip), "frames": 3,
                            "device": "cpu"})
    assert result["calls"] == 2
    assert result["fps"] > 0
    assert result["peak_rss_mb"] >= result["baseline_rss_mb"] > 0
    assert result["note"] == "3 faces on 3 frames"


def test_markdown_table_layout() -> None:
    report = {
        "config": {"resolutions": ["480p", "720p"], "frames": 5},
        "device": {"device": "cpu", "cpu_count": 2},
        "results": [
            {"stage": "analysis", "resolution": "480p", "fps": 40.0, "peak_rss_mb": 300.0,
             "stage_rss_mb": 12.0},
            {"stage": "analysis", "resolution": "720p", "fps": 20.0, "peak_rss_mb": 320.0},
            {"stage": "descriptor", "resolution": "any", "fps": 12.0, "peak_rss_mb": 310.0},
            {"stage": "swap", "resolution": "480p", "skipped": "no swap | here"},
        ],
    }
    table = markdown_table(report)
    lines = table.splitlines()
    assert lines[0] == "| stage | 480p | 720p |"
    assert "| analysis | 40.0 fps · 300 MiB (+12) | 20.0 fps · 320 MiB |" in lines
    assert any("descriptor" in line and "(any size)" in line for line in lines)
    assert any("skipped: no swap / here" in line for line in lines)
