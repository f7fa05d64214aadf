"""Head-pose stability on talking heads: frame-to-frame jitter of yaw, pitch and roll.

For each video the analysis runs twice, without and with the 1-euro smoothing; the table gives
the standard deviation of the frame-to-frame change of each angle (degrees), which for a
talking head that barely moves is mostly estimation noise, and the per-video range of yaw as a
check that real motion is kept. Usage::

    python benchmarks/pose_stability.py [VIDEO ...]
"""

from __future__ import annotations

import argparse
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces"
DEFAULT_VIDEOS = [SHARED / "LivePortrait/assets/examples/driving/d0.mp4",
                  SHARED / "video-retalking/examples/face/1.mp4",
                  SHARED / "fsgan/docs/examples/shinzo_abe.mp4"]


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    from openfsgan.face.analyzer import AnalyzerConfig, FaceAnalyzer

    cv2.setNumThreads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("videos", nargs="*", type=Path, default=DEFAULT_VIDEOS)
    args = parser.parse_args()
    print("| video | smoothing | frames | jitter yaw | jitter pitch | jitter roll | yaw range |")
    print("|---|---|---|---|---|---|---|")
    for video in args.videos:
        for smooth in (False, True):
            analyzer = FaceAnalyzer(replace(AnalyzerConfig(), smooth=smooth))
            frames = analyzer.analyze_video(video)
            track = [f.by_track(0) for f in frames]
            poses = np.array([face.pose.as_array() for face in track if face is not None])
            jitter = np.diff(poses, axis=0).std(axis=0)
            print(f"| {video.name} | {'1-euro' if smooth else 'none'} | {len(poses)} | "
                  f"{jitter[0]:.2f}° | {jitter[1]:.2f}° | {jitter[2]:.2f}° | "
                  f"{np.ptp(poses[:, 0]):.1f}° |", flush=True)


if __name__ == "__main__":
    main()
