"""End-to-end speed and peak memory of the classic swap, as a user runs it, and the cost of its
Poisson blend.

* **Speed on a 720p target** (:mod:`job_speed`): the whole job ``openfsgan swap SOURCE clip.mp4
  -o out.mp4`` as a subprocess on 180 frames of a 1280x720 clip, start-up included, and the
  steady state (frames per second after start-up), each with the default labelled output
  (watermark, metadata tag, C2PA manifest) and unlabelled (``NullLabeler``) beside it.
* **Peak memory on a 1080p target** (``VmHWM`` of a fresh process running
  :func:`openfsgan.jobs.run_swap` with the default labels) at two lengths: flat memory means the
  longer job peaks no higher than the shorter one.
* **Poisson blend of a 256² face crop**: the classic path's own multigrid solver
  (:func:`openfsgan.geometry.poisson.poisson_blend`, the default settings) against OpenCV's
  ``cv2.seamlessClone``, median milliseconds over 50 calls on an elliptic face-sized mask.

Inputs: by default a talking-head video of the shared research data (``../shared/data/faces``:
``fsgan/docs/examples/shinzo_abe.mp4``, 1280x720) as the target, upscaled to 1920x1080 into a
temporary folder for the memory runs, and a short video of another person as the source; without
the shared data, synthetic astronaut clips (:mod:`openfsgan.benchmarking`) are used instead.

Usage::

    python benchmarks/swap_speed.py [--frames 180] [--repeats 3] [--json results.json]

Numbers depend on what else runs on the machine: run it on a quiet machine and quote medians.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import job_speed
import numpy as np


def _memory_job(source: str, target: str, output: str, frames: int, cache: str,
                result: Any) -> None:
    """One labelled swap (the default labeler) in this (child) process; puts its frame count
    and peak resident memory on ``result`` (``VmHWM``: ``ru_maxrss`` would carry the parent's
    size over the child's ``exec``)."""
    os.environ["OPENFSGAN_CACHE_DIR"] = cache
    from openfsgan.jobs import SwapRequest, run_swap
    from openfsgan.metrics.speed import peak_rss_mb

    request = SwapRequest(Path(source), Path(target), Path(output), overwrite=True,
                          max_frames=frames)
    summary = run_swap(request)
    result.put({"frames": summary.frames_total, "peak_rss_mb": peak_rss_mb()})


def peak_memory(source: Path, target: Path, output: Path, frames: int,
                cache: Path) -> dict[str, Any]:
    """:func:`_memory_job` in a fresh (spawned) process, so the peak is the job's own."""
    context = multiprocessing.get_context("spawn")
    result = context.Queue()
    child = context.Process(target=_memory_job, args=(str(source), str(target), str(output),
                                                      frames, str(cache), result))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"benchmark job failed (exit code {child.exitcode})")
    return dict(result.get())


def upscale(source: Path, destination: Path, width: int, height: int, frames: int) -> Path:
    """The first ``frames`` frames of ``source`` resized to ``width`` x ``height``."""
    import cv2

    from openfsgan.io.media import VideoWriter, iter_frames, probe

    info = probe(source)
    with VideoWriter(destination, info.fps, width, height, preset="ultrafast") as writer:
        for frame in iter_frames(source):
            if frame.index >= frames:
                break
            writer.write(cv2.resize(frame.rgb, (width, height), interpolation=cv2.INTER_CUBIC))
    return destination


def poisson_timing(calls: int = 50) -> dict[str, float]:
    """Median ms of blending a 256² crop: own multigrid solver vs ``cv2.seamlessClone``."""
    import cv2
    from skimage import data

    from openfsgan.geometry.poisson import poisson_blend
    from openfsgan.pipelines.classic import ClassicConfig

    config = ClassicConfig()
    photo = data.astronaut()
    source = np.ascontiguousarray(cv2.resize(photo[0:256, 96:352], (256, 256)))
    target = np.ascontiguousarray(cv2.resize(photo[::-1][0:256, 96:352], (256, 256)))
    mask = np.zeros((256, 256), np.uint8)
    cv2.ellipse(mask, (128, 128), (80, 100), 0, 0, 360, 255, -1)  # a face-sized region
    x, y, w, h = cv2.boundingRect(mask)

    def own() -> None:
        poisson_blend(source, target, mask > 0, cycles=config.poisson_cycles,
                      boundary_clip=config.boundary_clip)

    def opencv() -> None:
        cv2.seamlessClone(source.copy(), target.copy(), mask, (x + w // 2, y + h // 2),
                          cv2.NORMAL_CLONE)

    medians = {}
    for name, call in (("multigrid_ms", own), ("seamless_clone_ms", opencv)):
        call()  # warm-up
        durations = []
        for _ in range(calls):
            started = time.perf_counter()
            call()
            durations.append(time.perf_counter() - started)
        medians[name] = 1000.0 * statistics.median(durations)
    return medians


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=180, help="720p target frames to time")
    parser.add_argument("--memory-frames", type=int, default=150,
                        help="1080p frames of the shorter memory run (the longer one: 3x)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (median reported)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    poisson = poisson_timing()
    with tempfile.TemporaryDirectory(prefix="openfsgan-bench-") as tmp:
        folder = Path(tmp)
        source, target_720, inputs = job_speed.prepare_inputs(folder, args.frames)
        speed = job_speed.measure(source, target_720, "classic", args.frames, args.repeats,
                                  folder / "speed")
        long_frames = 3 * args.memory_frames
        if job_speed.SHARED_TARGET.is_file():
            target_1080 = upscale(job_speed.SHARED_TARGET, folder / "target_1080p.mp4", 1920,
                                  1080, long_frames)
        else:
            from openfsgan.benchmarking import write_astronaut_clip

            target_1080 = write_astronaut_clip(folder / "target_1080p.mp4", 1920, 1080,
                                               long_frames, mirror=True)
        cache = folder / "cache"
        short = peak_memory(source, target_1080, folder / "out1080a.mp4", args.memory_frames,
                            cache)
        long = peak_memory(source, target_1080, folder / "out1080b.mp4", long_frames, cache)

    results = {
        "inputs": inputs,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, Python "
                   f"{platform.python_version()}",
        "load_average": os.getloadavg(),
        "speed_720p": speed,
        "peak_rss_mb_1080p": {f"{short['frames']} frames": short["peak_rss_mb"],
                              f"{long['frames']} frames": long["peak_rss_mb"]},
        "poisson_256_ms": poisson,
    }
    print(f"inputs: {inputs}; {results['machine']}; load average at the end "
          f"{', '.join(f'{v:.1f}' for v in results['load_average'])}")
    print(f"720p classic swap, median of {args.repeats} runs of {args.frames} frames:")
    print("\n".join(job_speed.TABLE_HEADER + job_speed.markdown_rows(speed)))
    print(f"1080p peak memory (VmHWM, labelled output): {short['peak_rss_mb']:.0f} MiB for "
          f"{short['frames']} frames, {long['peak_rss_mb']:.0f} MiB for {long['frames']} frames")
    print(f"Poisson blend of a 256² crop: own multigrid {poisson['multigrid_ms']:.1f} ms, "
          f"cv2.seamlessClone {poisson['seamless_clone_ms']:.1f} ms (median of 50)")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
