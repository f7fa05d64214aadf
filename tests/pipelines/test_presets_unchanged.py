"""The presets ``--method classic`` and ``--method neural`` give the outputs they gave before the
stages became interchangeable (issue: one swap pipeline).

The checksums below were computed on the code before that refactor, from a fixed input built
here (Grace Hopper as the source, a short synthetic clip of the astronaut as the target or
driver), through the library entry point ``run_swap`` with no labelling: a recording labeler
keeps each output frame exactly as the pipeline produced it, before any encoding. A change of
float order may move pixels by one grey level; such a change fails here and must be judged
(and the checksums renewed) on purpose, never silently.

The swaps run at identity strength 0 (``--identity-strength 0``): the target's own geometry, as
before the identity transfer of the 3D morphable model; that they still give the old outputs
bit for bit is what "strength 0 = today's swap" means. The relighting of the colour step (added
later, ``appearance.relight_sigma``) is off for the same reason: these checksums pin the stages
as they were; what the relighting itself does is tested in tests/geometry. At the default
strength the swap's output must differ (the test below), reenactment's not (it keeps the
source's shape anyway).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from openfsgan.io.media import VideoWriter, iter_frames, read_image, write_image
from openfsgan.jobs import JobOptions, SwapRequest, run_swap
from openfsgan.pipelines.config import resolve_config

WIDTH, HEIGHT, FRAMES = 320, 240, 4

INPUT_CHECKSUM = {
    "clip": "4c0e906e57cb96877eea3f26178d5b8b717e00f80242f86aac76940044219aa4",
    "photo": "31baea2a05b56ecfe6ec3b4458a41d0402d734d1ec9d1d959c590d7df30819b5",
    "source": "f7f982de68dd296af67ee51b2a95a2e5658f7bf064c6536520b66bae8d01fc34",
}
"""sha256 of the decoded inputs: a mismatch here means the input changed, not the pipeline."""

OUTPUT_CHECKSUM: dict[tuple[str, str, str], str] = {
    ("classic", "swap", "clip"):
        "8a308f8a2b3fb660cfda86d4f122fc7a1425bb24c33a666e3ffbbefdbcf62767",
    ("classic", "swap", "photo"):
        "ae0d5e065086e0cc7049e9cc4c563163a0096000e574bd2a9535f3dcc058601a",
    ("classic", "reenact", "clip"):
        "754dec6b0abb58f8ba3017588f1891c822841a5f2d475b0d454c8c3ff5160f66",
    ("neural", "swap", "clip"):
        "1c908beccc96a41d1f4010f396151b1bae2e2e41c92535ede34941cdc5ecede3",
    ("neural", "swap", "photo"):
        "62e6cf58f1b32f30be793ec87844838d127f8baf4bfd0c70b3e6f6375f347e8f",
    ("neural", "reenact", "clip"):
        "b06f6c9bff3ef4bbd312f9665ca311358a3b4ca566b0ac9c60d0dc60ecbc9f8b",
}
"""sha256 of the output frames (all frames, in order) per (method, mode, target kind).

Renewed on purpose: ``("neural", "reenact", "clip")`` when neural reenactment got the classic
reenactment's placement (G_r works in the driven face's own alignment, pasted into the mesh
warp's wide crop; issue 16): a fix, not a float-order change."""


class RecordingLabeler:
    """Labels nothing; keeps a copy of every frame handed to it (the pipeline's output)."""

    run_id = None

    def __init__(self) -> None:
        self.frames: dict[int, np.ndarray] = {}

    def label_frame(self, rgb: np.ndarray, index: int) -> np.ndarray:
        self.frames[index] = rgb.copy()
        return rgb

    def finalize(self, path: Path, media_kind: str) -> None:
        return None


def _digest(frames: list[np.ndarray]) -> str:
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(np.ascontiguousarray(frame, np.uint8).tobytes())
    return digest.hexdigest()


def _grace_hopper() -> np.ndarray:
    from matplotlib import cbook

    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        from PIL import Image

        return np.asarray(Image.open(handle).convert("RGB"))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from openfsgan.benchmarking import astronaut_frame

    folder = tmp_path_factory.mktemp("presets")
    frames = [astronaut_frame(WIDTH, HEIGHT, i, FRAMES, mirror=True, face_fraction=0.9)
              for i in range(FRAMES)]
    clip = folder / "clip.mp4"
    with VideoWriter(clip, 25, WIDTH, HEIGHT, crf=18, preset="ultrafast") as writer:
        for frame in frames:
            writer.write(frame)
    return {"clip": clip, "photo": write_image(folder / "photo.png", frames[0]),
            "source": write_image(folder / "source.png", _grace_hopper())}


def test_inputs_are_the_fixed_ones(inputs: dict[str, Path]) -> None:
    decoded = {"clip": _digest([f.rgb for f in iter_frames(inputs["clip"])]),
               "photo": _digest([read_image(inputs["photo"])]),
               "source": _digest([read_image(inputs["source"])])}
    assert decoded == INPUT_CHECKSUM


@pytest.mark.parametrize("method", ["classic", "neural"])
@pytest.mark.parametrize(("mode", "kind"), [("swap", "clip"), ("swap", "photo"),
                                            ("reenact", "clip")])
def test_preset_output_is_unchanged(inputs: dict[str, Path], tmp_path: Path, method: str,
                                    mode: str, kind: str) -> None:
    suffix = ".mp4" if kind == "clip" else ".png"
    labeler = RecordingLabeler()
    summary = run_swap(SwapRequest(inputs["source"], inputs[kind], tmp_path / f"out{suffix}",
                                   method=method, mode=mode, watermark=False,
                                   identity_strength=0.0,
                                   config=resolve_config(method, {"appearance": {
                                       "identity_strength": 0.0, "relight_sigma": 0.0}})),
                       options=JobOptions(segment_frames=2, preset="ultrafast", use_cache=False),
                       labeler=labeler)
    frames = [labeler.frames[i] for i in sorted(labeler.frames)]
    assert len(frames) == summary.frames_total == (FRAMES if kind == "clip" else 1)
    assert summary.frames_swapped == len(frames)
    assert _digest(frames) == OUTPUT_CHECKSUM[(method, mode, kind)]


@pytest.mark.parametrize("method", ["classic", "neural"])
def test_the_default_identity_strength_changes_the_swap(inputs: dict[str, Path], tmp_path: Path,
                                                        method: str) -> None:
    labeler = RecordingLabeler()
    run_swap(SwapRequest(inputs["source"], inputs["photo"], tmp_path / "out.png", method=method,
                         watermark=False),
             options=JobOptions(use_cache=False), labeler=labeler)
    assert _digest([labeler.frames[0]]) != OUTPUT_CHECKSUM[(method, "swap", "photo")]
