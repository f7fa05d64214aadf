"""Per-stage speed of the neural swap (``--method neural``) on a 720p target, and the whole job.

Per stage (median milliseconds per frame, over ``--frames`` target frames, after a warm-up):
face analysis (tracking: detection on a downscaled frame, 68 landmarks, pose), alignment, G_r
(all iterative steps over all appearance-map views), the landmark refinement of G_r's result,
the detail layer, G_s, G_c, G_b, paste-back; no labels (the stages do not label).

Whole job (:mod:`job_speed`): ``openfsgan swap SOURCE clip.mp4 -o out.mp4 --method neural`` as a
subprocess on 180 frames of a 1280x720 clip, start-up included, and the steady state (frames per
second after start-up), each with the default labelled output (watermark, metadata tag, C2PA
manifest) and unlabelled (``NullLabeler``) beside it.

Inputs: the held-out shared research video ``fsgan/docs/examples/shinzo_abe.mp4`` (1280x720)
as the target and ``video-retalking/examples/face/5.mp4`` as the source; without the shared data,
synthetic 720p astronaut clips. Numbers depend on what else runs on the machine: quote medians
from a quiet machine.

Usage::

    python benchmarks/neural_speed.py [--frames 60] [--job-frames 180] [--repeats 1]
                                      [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import job_speed
import numpy as np

SHARED = Path(os.environ.get("OPENFSGAN_SHARED_FACES",
                             Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"))
SHARED_TARGET = SHARED / "fsgan" / "docs" / "examples" / "shinzo_abe.mp4"
SHARED_SOURCE = SHARED / "video-retalking" / "examples" / "face" / "5.mp4"


class Timer:
    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}
        self._current: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        self._current[name] = self._current.get(name, 0.0) + seconds

    def current(self, name: str) -> float:
        """Seconds added under ``name`` so far in the current frame."""
        return self._current.get(name, 0.0)

    def end_frame(self, keep: bool = True) -> None:
        """Close the current frame; ``keep=False`` drops it (a warm-up frame)."""
        if keep:
            for name, value in self._current.items():
                self.samples.setdefault(name, []).append(value)
        self._current = {}

    def medians_ms(self) -> dict[str, float]:
        return {k: 1000 * statistics.median(v) for k, v in self.samples.items()}


def _timed_models(models: Any, timer: Timer) -> Any:
    """Wrap each generator session so that its calls add to the timer under its stage."""
    from dataclasses import replace

    def wrap(session: Any) -> Any:
        class Timed:
            resolution = session.resolution

            def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
                start = time.perf_counter()
                out = session(*inputs)
                timer.add(session.stage, time.perf_counter() - start)
                return out

        return Timed()

    return replace(models, reenactment=wrap(models.reenactment),
                   segmentation=wrap(models.segmentation), inpainting=wrap(models.inpainting),
                   blending=wrap(models.blending))


def _timed(timer: Timer, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            timer.add(name, time.perf_counter() - start)

    return timed


STEPS = ("geometry_refinement", "detail_layer")


@contextlib.contextmanager
def _timed_steps(timer: Timer) -> Iterator[None]:
    """Time the neural path's steps between the networks under their own names (``STEPS``)."""
    from openfsgan.pipelines import detail as detail_layer
    from openfsgan.pipelines import neural, swap

    track = detail_layer.DetailTrack
    detail = track.__dict__["detail"]
    with contextlib.ExitStack() as stack:
        for owner, attribute, name, replacement in (
                (neural, "refine_geometry", "geometry_refinement", None),
                (neural, "add_detail", "detail_layer", None),
                (swap, "add_detail", "detail_layer", None),
                (track, "__init__", "detail_layer", None),
                (track, "follow", "detail_layer", None),
                (track, "detail", "detail_layer", property(_timed(timer, "detail_layer",
                                                                  detail.fget)))):
            stack.enter_context(mock.patch.object(
                owner, attribute,
                replacement or _timed(timer, name, getattr(owner, attribute))))
        yield


def per_stage(source: Path, target: Path, frames: int, threads: int | None) -> dict[str, Any]:
    from openfsgan.face.align import paste_back
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.inference import STAGES, NeuralModels
    from openfsgan.io.media import iter_frames
    from openfsgan.jobs import load_source_appearance
    from openfsgan.pipelines.config import build_stages, resolve_config
    from openfsgan.pipelines.swap import swap_crop

    timer = Timer()
    models = NeuralModels.load(threads=threads)
    config = resolve_config("neural")  # the defaults a user gets, as the whole job below
    analyzer = FaceAnalyzer()
    timed = _timed_models(models, timer)
    stages = build_stages(config, lambda: timed)
    appearance = load_source_appearance(
        source, None, analyzer,
        stages.reenactor.view_geometry(config.appearance.min_view_distance_deg), False)
    decoded = _TimedFrames(iter(iter_frames(target)), timer)
    size = None
    for index, faces in enumerate(analyzer.track_frames(decoded)):
        if index >= frames + 3:
            break
        timer.add("analysis", time.perf_counter() - decoded.handed_at)
        frame = decoded.rgb
        size = frame.shape[:2]
        if faces.faces:
            start = time.perf_counter()
            with _timed_steps(timer):
                crop = swap_crop(frame, faces.faces[0], appearance, stages, config.appearance)
            total = time.perf_counter() - start
            start = time.perf_counter()
            paste_back(frame, crop.output, crop.output_mask, crop.output_transform)
            timer.add("paste_back", time.perf_counter() - start)
            measured = sum(timer.current(stage) for stage in STAGES + STEPS)
            timer.add("align_masks_other", total - measured)
        timer.end_frame(keep=index >= 3)  # warm-up frames are not counted
    medians = timer.medians_ms()
    return {"frame_size": list(size or ()), "views": len(appearance.views),
            "reenactment_steps": config.neural.reenactment_steps, "resolution": models.resolution,
            "median_ms": medians, "swap_fps_without_io": 1000.0 / sum(medians.values())}


class _TimedFrames:
    """Decoded frames handed to the tracker, timing the decoding; remembers the last frame
    handed over and when, so that the caller can time the analysis of it."""

    def __init__(self, frames: Any, timer: Timer) -> None:
        self.frames, self.timer = frames, timer
        self.rgb: np.ndarray | None = None
        self.handed_at = 0.0

    def __iter__(self) -> _TimedFrames:
        return self

    def __next__(self) -> Any:
        start = time.perf_counter()
        frame = next(self.frames)
        self.timer.add("decode", time.perf_counter() - start)
        self.rgb, self.handed_at = frame.rgb, time.perf_counter()
        return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=60, help="target frames per stage")
    parser.add_argument("--job-frames", type=int, default=180,
                        help="frames of the 1280x720 clip the whole job runs on")
    parser.add_argument("--repeats", type=int, default=1, help="whole-job runs (median)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads (default: its own)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if SHARED_TARGET.is_file() and SHARED_SOURCE.is_file():
            source, target = SHARED_SOURCE, SHARED_TARGET
        else:
            from openfsgan.benchmarking import write_astronaut_clip

            source = write_astronaut_clip(Path(tmp) / "source.mp4", 640, 360, 20)
            target = write_astronaut_clip(Path(tmp) / "target.mp4", 1280, 720, args.frames + 5,
                                          mirror=True)
        stages = per_stage(source, target, args.frames, args.threads)
        job_source, job_target, inputs = job_speed.prepare_inputs(Path(tmp), args.job_frames)
        job = job_speed.measure(job_source, job_target, "neural", args.job_frames, args.repeats,
                                Path(tmp) / "job")
    result = {"machine": f"{platform.processor() or platform.machine()}, "
                         f"{os.cpu_count()} cores",
              "target": str(target), "source": str(source), "per_stage": stages,
              "whole_job": {"inputs": inputs, **job}}
    text = json.dumps(result, indent=2)
    print(text)
    print("\n".join(job_speed.TABLE_HEADER + job_speed.markdown_rows(job)))
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
