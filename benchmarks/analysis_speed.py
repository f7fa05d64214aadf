"""Face-analysis throughput on 720p talking-head videos (prints a Markdown table).

Measures, per video and detection interval K: decoding alone (PyAV, RGB frames), the whole
analysis (decode + detect every K frames + track + 68 landmarks + pose + 1-euro smoothing), and
the analysis without decoding (the difference). Each figure is given as wall-clock fps and as
frames per CPU-second of this process (``time.process_time``), which is what a quiet core
would give when other jobs share the machine. OpenCV runs on one thread; dlib is
single-threaded; PyAV may decode on several threads. Usage::

    python benchmarks/analysis_speed.py [VIDEO ...] [--detect-every 1 5 10]
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
DEFAULT_VIDEOS = [SHARED / "fsgan/docs/examples/shinzo_abe.mp4",
                  SHARED / "LivePortrait/assets/examples/source/s18.mp4"]


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    from openfsgan.face.analyzer import AnalyzerConfig, FaceAnalyzer
    from openfsgan.io.media import iter_frames, probe

    cv2.setNumThreads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="*", type=Path, default=DEFAULT_VIDEOS)
    parser.add_argument("--detect-every", type=int, nargs="+", default=[1, 5, 10])
    args = parser.parse_args()

    print("| video | resolution | frames | K | decode fps (wall / CPU) | analysis fps incl. "
          "decode (wall / CPU) | analysis fps excl. decode (wall / CPU) | frames with a face | "
          "tracks |")
    print("|---|---|---|---|---|---|---|---|---|")
    for video in args.videos:
        info = probe(video)
        start, cpu_start = time.perf_counter(), time.process_time()
        decoded = sum(1 for _ in iter_frames(video))
        decode_s = time.perf_counter() - start
        decode_cpu_s = time.process_time() - cpu_start
        for k in args.detect_every:
            base = AnalyzerConfig()
            analyzer = FaceAnalyzer(replace(base, tracker=replace(base.tracker, detect_every=k)))
            analyzer.analyze_image(next(iter_frames(video)).rgb)  # load the models first
            start, cpu_start = time.perf_counter(), time.process_time()
            frames = analyzer.analyze_video(video)
            total_s = time.perf_counter() - start
            total_cpu_s = time.process_time() - cpu_start
            n = len(frames)
            with_face = sum(1 for f in frames if f.faces)
            tracks = len({face.track_id for f in frames for face in f.faces})
            print(f"| {video.name} | {info.width}x{info.height} | {decoded} | {k} | "
                  f"{decoded / decode_s:.0f} / {decoded / decode_cpu_s:.0f} | "
                  f"{n / total_s:.0f} / {n / total_cpu_s:.0f} | "
                  f"{n / max(total_s - decode_s, 1e-9):.0f} / "
                  f"{n / max(total_cpu_s - decode_cpu_s, 1e-9):.0f} | "
                  f"{with_face}/{n} | {tracks} |", flush=True)


if __name__ == "__main__":
    main()
