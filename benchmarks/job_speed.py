"""Speed of a whole swap job as a user runs it: labelled output, start-up included.

Two figures per method, each in fresh processes:

* **whole job**: wall time of ``openfsgan swap SOURCE clip.mp4 -o out.mp4 [--method neural]``
  run as a subprocess on a 180-frame 1280x720 clip, from launching the interpreter to its exit:
  imports, model loading, the source's analysis (an empty analysis cache, as on a first run),
  decoding, tracking, the swap, the watermark, H.264 encoding, the final join, the metadata tag
  and the signed C2PA manifest. Reported as seconds and as frames / wall time.
* **steady state**: frames per second after start-up, from the second progress callback to the
  last one of :func:`openfsgan.jobs.run_swap` (the call the command makes), in a fresh process.

Each comes labelled (the default: watermark, metadata tag, C2PA manifest) and unlabelled
(:class:`openfsgan.jobs.NullLabeler`: no mark, no tag, no manifest) beside it, so the cost of the
labels is visible. The unlabelled whole job runs this file's ``--child`` mode, the same
``run_swap`` call with the null labeler, also as a subprocess from interpreter start.

Inputs: the first 180 frames of the shared research video ``fsgan/docs/examples/shinzo_abe.mp4``
(1280x720) as the target and ``video-retalking/examples/face/5.mp4`` as the source; without the
shared data, synthetic astronaut clips (:mod:`openfsgan.benchmarking`).

Usage::

    python benchmarks/job_speed.py [--method classic|neural] [--frames 180] [--repeats 3]

Prints a Markdown table of medians. Numbers depend on what else runs on the machine: quote them
with the load average it prints, and re-run on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SHARED = Path(os.environ.get("OPENFSGAN_SHARED_FACES",
                             Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"))
SHARED_TARGET = SHARED / "fsgan" / "docs" / "examples" / "shinzo_abe.mp4"
SHARED_SOURCE = SHARED / "video-retalking" / "examples" / "face" / "5.mp4"
TARGET_SIZE = (1280, 720)
_RESULT_PREFIX = "JOB_SPEED_RESULT "


def prepare_inputs(folder: Path, frames: int) -> tuple[Path, Path, str]:
    """(source, ``frames``-frame 1280x720 target, description of the inputs)."""
    from openfsgan.benchmarking import write_astronaut_clip, write_resized_clip

    if SHARED_TARGET.is_file() and SHARED_SOURCE.is_file():
        target = write_resized_clip(SHARED_TARGET, folder / "target_720p.mp4", TARGET_SIZE[1],
                                    frames)
        return SHARED_SOURCE, target, (f"target: first {frames} frames of shinzo_abe.mp4 "
                                       "(1280x720), source: video-retalking 5.mp4")
    source = write_astronaut_clip(folder / "source.mp4", 640, 360, 30)
    target = write_astronaut_clip(folder / "target_720p.mp4", *TARGET_SIZE, frames, mirror=True)
    return source, target, f"synthetic astronaut clips ({frames} target frames, 1280x720)"


def _environment(cache: Path) -> dict[str, str]:
    # an empty analysis cache of its own: the source is analysed as on a user's first run
    return {**os.environ, "OPENFSGAN_CACHE_DIR": str(cache)}


def _timed_subprocess(command: list[str], env: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SystemExit(f"benchmark job failed (exit {done.returncode}): {tail}")
    return wall, done.stdout


def whole_job_labelled(source: Path, target: Path, output: Path, method: str,
                       cache: Path) -> float:
    """Wall seconds of ``openfsgan swap SOURCE TARGET -o OUTPUT --method METHOD``."""
    command = [sys.executable, "-m", "openfsgan", "-q", "swap", str(source), str(target),
               "-o", str(output), "--method", method, "--overwrite"]
    return _timed_subprocess(command, _environment(cache))[0]


def child_job(source: Path, target: Path, output: Path, method: str, labelled: bool,
              cache: Path) -> dict[str, Any]:
    """This file's ``--child`` mode in a fresh interpreter: its wall time from launch, and the
    steady-state fps it measured."""
    command = [sys.executable, __file__, "--child", json.dumps(
        {"source": str(source), "target": str(target), "output": str(output),
         "method": method, "labelled": labelled})]
    wall, stdout = _timed_subprocess(command, _environment(cache))
    lines = [line for line in stdout.splitlines() if line.startswith(_RESULT_PREFIX)]
    if not lines:
        raise SystemExit("benchmark child printed no result")
    return {"wall_s": wall, **json.loads(lines[-1][len(_RESULT_PREFIX):])}


def _child_main(spec_json: str) -> int:
    """One ``run_swap`` with progress stamps; prints frames, steady-state fps and job seconds."""
    from openfsgan.jobs import NullLabeler, SwapRequest, run_swap

    spec = json.loads(spec_json)
    stamps: list[float] = []
    request = SwapRequest(Path(spec["source"]), Path(spec["target"]), Path(spec["output"]),
                          method=spec["method"], overwrite=True)
    summary = run_swap(request, progress=lambda done, total: stamps.append(time.perf_counter()),
                       labeler=None if spec["labelled"] else NullLabeler())
    # stamps[0] is the call before the first frame; from the second frame on, start-up
    # (imports, models, source preparation, the first frame's detection) is behind us
    steady = (len(stamps) - 2) / (stamps[-1] - stamps[1]) if len(stamps) > 3 else 0.0
    result = {"frames": summary.frames_total, "swapped": summary.frames_swapped,
              "steady_fps": steady, "job_seconds": summary.seconds}
    sys.stdout.write(_RESULT_PREFIX + json.dumps(result) + "\n")
    return 0


def measure(source: Path, target: Path, method: str, frames: int, repeats: int,
            work: Path) -> dict[str, Any]:
    """Medians over ``repeats`` of the four figures (whole job and steady state, labelled and
    unlabelled), each run in fresh processes with an empty analysis cache."""
    runs: dict[str, list[float]] = {"labelled_wall_s": [], "labelled_steady_fps": [],
                                    "unlabelled_wall_s": [], "unlabelled_steady_fps": []}
    swapped = 0
    for repeat in range(repeats):
        folder = work / f"run{repeat}"
        folder.mkdir(parents=True, exist_ok=True)
        runs["labelled_wall_s"].append(whole_job_labelled(
            source, target, folder / "cli.mp4", method, folder / "cache_cli"))
        labelled = child_job(source, target, folder / "labelled.mp4", method, True,
                             folder / "cache_labelled")
        unlabelled = child_job(source, target, folder / "unlabelled.mp4", method, False,
                               folder / "cache_unlabelled")
        runs["labelled_steady_fps"].append(labelled["steady_fps"])
        runs["unlabelled_wall_s"].append(unlabelled["wall_s"])
        runs["unlabelled_steady_fps"].append(unlabelled["steady_fps"])
        swapped = labelled["swapped"]
    medians = {name: statistics.median(values) for name, values in runs.items()}
    return {"method": method, "frames": frames, "swapped": swapped, "repeats": repeats,
            **medians, "runs": runs, "load_average": os.getloadavg()}


def markdown_rows(result: dict[str, Any]) -> list[str]:
    """Table rows: output | whole job | steady state."""
    frames = result["frames"]
    rows = []
    for kind, text in (("labelled", "labelled (default: watermark, tag, C2PA)"),
                       ("unlabelled", "unlabelled (`NullLabeler`)")):
        wall = result[f"{kind}_wall_s"]
        rows.append(f"| {result['method']} | {text} | {wall:.1f} s = {frames / wall:.1f} fps "
                    f"| {result[f'{kind}_steady_fps']:.1f} fps |")
    return rows


TABLE_HEADER = ["| method | output | whole job, start-up included | steady state |",
                "|---|---|---:|---:|"]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return _child_main(argv[1])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", choices=("classic", "neural"), action="append",
                        help="method(s) to time (repeatable; default both)")
    parser.add_argument("--frames", type=int, default=180, help="target frames (1280x720)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    methods = args.method or ["classic", "neural"]
    with tempfile.TemporaryDirectory(prefix="openfsgan-job-speed-") as tmp:
        work = Path(tmp)
        source, target, inputs = prepare_inputs(work, args.frames)
        results = [measure(source, target, method, args.frames, args.repeats, work / method)
                   for method in methods]
    print(f"{inputs}; {os.cpu_count()} CPU cores; load average at the end "
          f"{', '.join(f'{v:.1f}' for v in os.getloadavg())}; median of {args.repeats}")
    print("\n".join(TABLE_HEADER + [row for result in results for row in markdown_rows(result)]))
    if args.json:
        args.json.write_text(json.dumps({"inputs": inputs, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
