"""End-to-end speed and peak memory of the classic swap (``openfsgan.jobs.run_swap``).

Measures, each in a fresh Python process (so peak memory is the job's own):

* **fps on a 720p target**: decode -> analyse (track) -> swap -> label -> H.264 encode, every
  frame, after the source is prepared; reported as steady-state frames per second (from the
  first to the last progress callback) and as the job's overall fps (source preparation and the
  final remux included).
* **peak memory on a 1080p target** (``ru_maxrss``) at two lengths: flat memory means the longer
  job peaks no higher than the shorter one.

Inputs: by default a talking-head video of the shared research data (``../shared/data/faces``:
``fsgan/docs/examples/shinzo_abe.mp4``, 1280x720) as the target, upscaled to 1920x1080 into a
temporary folder for the memory runs, and a short video of another person as the source; without
the shared data, synthetic astronaut clips (:mod:`openfsgan.benchmarking`) are used instead.

Usage::

    python benchmarks/swap_speed.py [--frames 150] [--json results.json]

Numbers depend on what else runs on the machine: run it on a quiet machine and quote medians.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SHARED = Path(os.environ.get("OPENFSGAN_SHARED_FACES",
                             Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"))
SHARED_TARGET = SHARED / "fsgan" / "docs" / "examples" / "shinzo_abe.mp4"
SHARED_SOURCE = SHARED / "video-retalking" / "examples" / "face" / "5.mp4"


def _job(source: str, target: str, output: str, frames: int, cache: str,
         result: Any) -> None:
    """One swap in this (child) process; puts timings and ru_maxrss on ``result``."""
    os.environ["OPENFSGAN_CACHE_DIR"] = cache
    from openfsgan.jobs import NullLabeler, SwapRequest, run_swap

    stamps: list[float] = []
    request = SwapRequest(Path(source), Path(target), Path(output), overwrite=True,
                          max_frames=frames, watermark=False)
    started = time.perf_counter()
    summary = run_swap(request, progress=lambda done, total: stamps.append(time.perf_counter()),
                       labeler=NullLabeler())
    wall = time.perf_counter() - started
    steady = (len(stamps) - 2) / (stamps[-1] - stamps[1]) if len(stamps) > 3 else 0.0
    result.put({"frames": summary.frames_total, "swapped": summary.frames_swapped,
                "wall_s": wall, "job_fps": summary.frames_total / wall,
                "steady_fps": steady,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0})


def run_job(source: Path, target: Path, output: Path, frames: int, cache: Path) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    result = context.Queue()
    child = context.Process(target=_job, args=(str(source), str(target), str(output), frames,
                                               str(cache), result))
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


def prepare_inputs(folder: Path, frames: int) -> tuple[Path, Path, Path, str]:
    """(source, 720p target, 1080p target, description)."""
    from openfsgan.benchmarking import write_astronaut_clip

    long_frames = 3 * frames
    if SHARED_TARGET.is_file() and SHARED_SOURCE.is_file():
        target_720 = SHARED_TARGET
        target_1080 = upscale(SHARED_TARGET, folder / "target_1080p.mp4", 1920, 1080,
                              long_frames)
        return SHARED_SOURCE, target_720, target_1080, "shared talking-head videos"
    source = write_astronaut_clip(folder / "source.mp4", 640, 360, 30)
    target_720 = write_astronaut_clip(folder / "target_720p.mp4", 1280, 720, frames,
                                      mirror=True)
    target_1080 = write_astronaut_clip(folder / "target_1080p.mp4", 1920, 1080, long_frames,
                                       mirror=True)
    return source, target_720, target_1080, "synthetic astronaut clips"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=150, help="720p frames to time")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (median reported)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="openfsgan-bench-") as tmp:
        folder = Path(tmp)
        cache = folder / "cache"
        source, target_720, target_1080, inputs = prepare_inputs(folder, args.frames)
        # warm-up: fills the analysis cache of the source video, so the timed runs measure
        # the target's frames
        run_job(source, target_720, folder / "warm.mp4", 5, cache)
        runs = [run_job(source, target_720, folder / "out720.mp4", args.frames, cache)
                for _ in range(args.repeats)]
        short = run_job(source, target_1080, folder / "out1080a.mp4", args.frames, cache)
        long = run_job(source, target_1080, folder / "out1080b.mp4", 3 * args.frames, cache)

    results = {
        "inputs": inputs,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, Python "
                   f"{platform.python_version()}",
        "load_average": os.getloadavg(),
        "fps_720p_steady_median": statistics.median(r["steady_fps"] for r in runs),
        "fps_720p_job_median": statistics.median(r["job_fps"] for r in runs),
        "runs_720p": runs,
        "peak_rss_mb_1080p": {f"{short['frames']} frames": short["peak_rss_mb"],
                              f"{long['frames']} frames": long["peak_rss_mb"]},
    }
    print(f"inputs: {inputs}; {results['machine']}; load average "
          f"{', '.join(f'{v:.1f}' for v in results['load_average'])}")
    print(f"720p classic swap: {results['fps_720p_steady_median']:.1f} fps steady state, "
          f"{results['fps_720p_job_median']:.1f} fps for the whole job "
          f"(median of {args.repeats} runs of {args.frames} frames)")
    print(f"1080p peak memory (ru_maxrss): {short['peak_rss_mb']:.0f} MB for "
          f"{short['frames']} frames, {long['peak_rss_mb']:.0f} MB for {long['frames']} frames")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
