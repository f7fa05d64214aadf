"""Dataset build throughput: 1 worker, 2 workers and Ray with 2 actors (prints a Markdown table).

Each configuration runs the real command, ``openfsgan dataset``, in a subprocess on the same
pairs, into a fresh dataset folder with a fresh analysis cache, so every run does the same work
from scratch (start-up of the workers, and of Ray, included: that is the overhead of each
runner). The inputs are synthetic talking-head clips (scikit-image's astronaut, drifting, as in
the swap benchmark), so the figures need no research data. Items per hour count the fakes
(one item = one pair and method, at every compression; the real videos' re-encodes are done
too and included in the time); frames per second count the fakes' frames. Peak memory is the
largest resident set of any one worker (each worker reports its own). Usage::

    python benchmarks/dataset_speed.py [--people 4] [--frames 60] [--size 640x360]
        [--methods classic] [--compression c23] [--runs pool1 pool2 ray2]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

RUNS = {"pool1": ("1 worker", ["--workers", "1"]),
        "pool2": ("2 workers", ["--workers", "2"]),
        "ray2": ("Ray, 2 actors (2 CPUs)", ["--workers", "2", "--ray"])}


def write_inputs(folder: Path, people: int, frames: int, width: int, height: int) -> Path:
    """``people`` synthetic clips and a pairs CSV: each clip is the target of the next one."""
    from openfsgan.benchmarking import write_astronaut_clip

    names = [f"person{i}" for i in range(people)]
    for index, name in enumerate(names):
        write_astronaut_clip(folder / f"{name}.mp4", width, height, frames,
                             mirror=index % 2 == 1, face_fraction=0.6 + 0.05 * (index % 3))
    rows = [f"{names[(i + 1) % people]}.mp4,{name}.mp4" for i, name in enumerate(names)]
    path = folder / "pairs.csv"
    path.write_text("source,target\n" + "\n".join(rows) + "\n")
    return path


@dataclass(frozen=True)
class RunResult:
    wall_s: float
    items: int
    fakes: int
    fake_frames: int
    peak_mb: float


def run_one(pairs: Path, work: Path, key: str, extra: list[str]) -> RunResult:
    out = work / f"ds-{key}"
    env = dict(os.environ, OPENFSGAN_CACHE_DIR=str(work / f"cache-{key}"),
               OPENFSGAN_C2PA_DIR=str(work / "c2pa"))
    command = [sys.executable, "-m", "openfsgan", "-q", "dataset", str(pairs), "-o", str(out),
               *extra]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{key} failed ({done.returncode}): {done.stderr.strip()}")
    run = json.loads((out / "dataset.json").read_text())["last_run"]
    with (out / "labels.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    # one row per file: count each fake's frames once, not once per compression
    fake_frames = sum(int(r["frames"]) for r in rows if r["is_fake"] == "1")
    compressions = max(1, len({r["compression"] for r in rows}))
    peaks = list(run["worker_peak_rss_mb"].values())
    return RunResult(wall, int(run["done"]), int(run["fakes_done"]),
                     fake_frames // compressions, max(peaks) if peaks else 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=4)
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--methods", default="classic")
    parser.add_argument("--compression", default="c23")
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS))
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory(prefix="dataset-speed-") as tmp:
        work = Path(tmp)
        pairs = write_inputs(work, args.people, args.frames, width, height)
        print(f"{args.people} pairs x {args.methods} at {args.compression}, "
              f"{width}x{height}, {args.frames} frames per clip; wall time of the whole command")
        print()
        print("| runner | items (fakes + reals) | wall s | fake items / hour | fake frames / s | "
              "peak memory per worker (MiB) |")
        print("|---|---|---|---|---|---|")
        for key in args.runs:
            label, extra = RUNS[key]
            extra = [*extra, "--methods", args.methods, "--compression", args.compression]
            r = run_one(pairs, work, key, extra)
            print(f"| {label} | {r.items} | {r.wall_s:.1f} | {3600 * r.fakes / r.wall_s:.0f} | "
                  f"{r.fake_frames / r.wall_s:.1f} | {r.peak_mb:.0f} |", flush=True)


if __name__ == "__main__":
    main()
