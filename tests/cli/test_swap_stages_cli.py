"""``openfsgan swap`` with stages chosen one by one (flags and ``--config``): the output runs, and
``openfsgan verify`` shows the configuration that made it; bad names and keys are refused with
one line and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import openfsgan

from openfsgan.errors import ConfigError
from openfsgan.io.media import VideoWriter, write_image

WIDTH, HEIGHT, FRAMES = 320, 240, 3


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from matplotlib import cbook
    from PIL import Image

    from openfsgan.benchmarking import astronaut_frame

    folder = tmp_path_factory.mktemp("stages_cli")
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        hopper = np.asarray(Image.open(handle).convert("RGB"))
    clip = folder / "target.mp4"
    with VideoWriter(clip, 25, WIDTH, HEIGHT, preset="ultrafast") as writer:
        for index in range(FRAMES):
            writer.write(astronaut_frame(WIDTH, HEIGHT, index, FRAMES, mirror=True,
                                         face_fraction=0.9))
    return {"source": write_image(folder / "hopper.png", hopper), "target": clip,
            "cache": folder / "cache", "keys": folder / "keys"}


def _run(media: dict[str, Path], *args: str | Path) -> object:
    return openfsgan(*args, cache=media["cache"], key_dir=media["keys"])


def test_swap_with_chosen_stages_and_verify_shows_them(media: dict[str, Path],
                                                      tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    done = _run(media, "-q", "swap", media["source"], media["target"], "-o", out,
                "--reenactment", "warp", "--blending", "neural")
    assert done.returncode == 0, done.stderr  # type: ignore[attr-defined]
    report = _run(media, "verify", out)
    assert report.returncode == 0, report.stderr  # type: ignore[attr-defined]
    assert ("configuration: method classic: reenactment warp, segmentation landmarks, "
            "inpainting none, blending neural") in report.stdout  # type: ignore[attr-defined]
    full = json.loads(_run(media, "verify", "--json", out).stdout)  # type: ignore[attr-defined]
    for check in ("metadata", "c2pa_manifest"):  # both labels carry the whole tree
        tree = full[check]["details"]["tag"]["configuration"]
        assert tree["blending"] == "neural" and tree["reenactment"] == "warp"
        assert tree["classic"]["crop_size"] == 256 and "appearance" in tree


def test_config_file_with_flags_overriding_it(media: dict[str, Path], tmp_path: Path) -> None:
    config = tmp_path / "swap.yaml"
    config.write_text("method: neural\nblending: alpha\nneural:\n  reenactment_steps: 1\n",
                      encoding="utf-8")
    out = tmp_path / "out.mp4"
    done = _run(media, "-q", "swap", media["source"], media["target"], "-o", out, "--config",
                config, "--blending", "poisson", "--max-frames", "2")
    assert done.returncode == 0, done.stderr  # type: ignore[attr-defined]
    full = json.loads(_run(media, "verify", "--json", out).stdout)  # type: ignore[attr-defined]
    tree = full["metadata"]["details"]["tag"]["configuration"]
    assert (tree["method"], tree["reenactment"], tree["blending"]) == ("neural", "neural",
                                                                         "poisson")
    assert tree["neural"]["reenactment_steps"] == 1


@pytest.mark.parametrize(("args", "yaml_text", "listed"), [
    (["--blending", "feather"], None, "poisson, neural, alpha"),
    (["--segmentation", "unet"], None, "landmarks, neural"),
    (["--method", "fsgan"], None, "classic, neural"),
    ([], "blendng: neural\n", "valid keys: method, reenactment, segmentation, inpainting, "
                              "blending, appearance, classic, neural, reenact"),
    ([], "inpainting: lama\n", "none, neural"),
    ([], "classic:\n  poisson_cycle: 3\n", "poisson_cycles"),
])
def test_bad_stage_or_key_is_one_line_and_writes_nothing(media: dict[str, Path],
                                                         tmp_path: Path, args: list[str],
                                                         yaml_text: str | None,
                                                         listed: str) -> None:
    out = tmp_path / "out.mp4"
    if yaml_text is not None:
        config = tmp_path / "swap.yaml"
        config.write_text(yaml_text, encoding="utf-8")
        args = [*args, "--config", str(config)]
    for command in ("swap", "reenact"):
        done = _run(media, command, media["source"], media["target"], "-o", out, *args)
        assert done.returncode == ConfigError.exit_code  # type: ignore[attr-defined]
        lines = done.stderr.strip().splitlines()  # type: ignore[attr-defined]
        assert len(lines) == 1 and listed in lines[0] and "Traceback" not in lines[0]
        assert sorted(p.name for p in tmp_path.iterdir()) == (
            ["swap.yaml"] if yaml_text is not None else [])


def test_eval_takes_the_stage_flags(tmp_path: Path) -> None:
    done = openfsgan("eval", "--source-dir", tmp_path, "--target-dir", tmp_path, "-o",
                     tmp_path / "report.json", "--blending", "feather")
    assert done.returncode == ConfigError.exit_code, done.stderr
    assert "poisson, neural, alpha" in done.stderr and not (tmp_path / "report.json").exists()
