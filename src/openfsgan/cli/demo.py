"""``openfsgan demo``: the whole classic path on built-in material, no downloads, no user files.

The source is scikit-image's astronaut photo. The target is a short clip synthesised from the
same photo, mirrored (so the face descriptor sees another person), recoloured and slowly turning
and drifting. The demo analyses the clip, swaps the photo's face onto it, reenacts the photo
with the clip's head motion, and writes the results, an analysis overlay and a few side-by-side
PNG frames into the output folder.
"""

from __future__ import annotations

import argparse
import math
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

DEMO_FRAMES = 36
DEMO_SIZE = (480, 360)
DEMO_FPS = 24


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo", help="run analysis, swap and reenactment on built-in example material",
        description="Runs the classic swap and reenactment end to end on scikit-image's "
                    "astronaut photo and a synthetic clip made from it (nothing is downloaded, "
                    "no files of yours are read), and writes the results into a folder.")
    parser.add_argument("-o", "--output-dir", default="demo-output",
                        help="folder for the results (default ./demo-output)")
    parser.add_argument("--frames", type=int, default=DEMO_FRAMES,
                        help=f"length of the synthetic clip (default {DEMO_FRAMES})")
    parser.set_defaults(handler=run)


def demo_frame(index: int, frames: int, width: int = DEMO_SIZE[0],
               height: int = DEMO_SIZE[1]) -> np.ndarray:
    """Frame ``index`` of the synthetic target: the mirrored astronaut, warmer and darker,
    rolling her head by up to 8 degrees and drifting (``uint8 [height, width, 3]``)."""
    import cv2

    from openfsgan.benchmarking import astronaut_frame

    frame = astronaut_frame(width, height, index, frames, mirror=True, face_fraction=0.75)
    phase = 2.0 * math.pi * index / max(frames, 1)
    angle = 8.0 * math.sin(phase)
    rotation = cv2.getRotationMatrix2D((width / 2.0, height * 0.4), angle, 1.0)
    frame = cv2.warpAffine(frame, rotation, (width, height), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REFLECT)
    # a different camera: warmer, darker, a little less contrast
    gains = np.array([1.0, 0.85, 0.7], np.float32)
    recoloured = (frame.astype(np.float32) - 128.0) * 0.9 + 118.0
    return np.clip(recoloured * gains + 0.5, 0, 255).astype(np.uint8)


def _write_clip(path: Path, frames: int) -> None:
    from openfsgan.io.media import VideoWriter

    with VideoWriter(path, DEMO_FPS, DEMO_SIZE[0], DEMO_SIZE[1]) as writer:
        for index in range(frames):
            writer.write(demo_frame(index, frames))


def _write_overlay(target: Path, overlay: Path) -> list[Any]:
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.face.draw import draw_frame
    from openfsgan.io.media import VideoWriter, iter_frames, probe

    info = probe(target)
    analysis = []
    pending: deque[Any] = deque()

    def frames() -> Iterator[Any]:
        for frame in iter_frames(target):
            pending.append(frame)
            yield frame

    with VideoWriter(overlay, info.fps, info.width, info.height) as writer:
        for faces in FaceAnalyzer().track_frames(frames()):
            writer.write(draw_frame(pending.popleft().rgb, faces))
            analysis.append(faces)
    return analysis


def _side_by_side(paths: list[Path], indices: list[int]) -> dict[int, np.ndarray]:
    """Frames ``indices`` of each video in ``paths``, concatenated left to right."""
    import cv2

    from openfsgan.io.media import iter_frames

    columns: dict[int, list[np.ndarray]] = {i: [] for i in indices}
    for path in paths:
        for frame in iter_frames(path):
            if frame.index in columns:
                columns[frame.index].append(frame.rgb)
    height = DEMO_SIZE[1]
    rows = {}
    for index, images in columns.items():
        resized = [cv2.resize(image, (round(image.shape[1] * height / image.shape[0]), height))
                   for image in images]
        rows[index] = np.concatenate(resized, axis=1)
    return rows


def run(args: argparse.Namespace) -> int:
    import logging

    from skimage import data

    from openfsgan.cli.swap import run_request
    from openfsgan.errors import ConfigError, OutputError
    from openfsgan.io.media import write_image
    from openfsgan.jobs import SwapRequest

    log = logging.getLogger(__name__)
    if not 8 <= args.frames <= 600:
        raise ConfigError(f"--frames must be in [8, 600], got {args.frames}")
    folder = Path(args.output_dir)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"--output-dir is a file, expected a folder: {folder}")
    folder.mkdir(parents=True, exist_ok=True)

    source = folder / "source_astronaut.png"
    target = folder / "target_clip.mp4"
    write_image(source, data.astronaut())
    _write_clip(target, args.frames)
    log.info("analysing the target clip")
    analysis = _write_overlay(target, folder / "analysis_overlay.mp4")
    faces_found = sum(1 for frame in analysis if frame.faces)

    swap_out = folder / "swap.mp4"
    reenact_out = folder / "reenact.mp4"
    label = "openfsgan demo"
    run_request(SwapRequest(source, target, swap_out, mode="swap", overwrite=True, label=label),
                args.quiet)
    run_request(SwapRequest(source, target, reenact_out, mode="reenact", overwrite=True,
                            label=label), args.quiet)

    picks = sorted({0, args.frames // 4, args.frames // 2, (3 * args.frames) // 4})
    rows = _side_by_side([target, swap_out, reenact_out], picks)
    pngs = []
    for index in picks:
        png = folder / f"frame_{index:03d}_target_swap_reenact.png"
        write_image(png, rows[index])
        pngs.append(png)
    if not args.quiet:
        print(f"demo written to {folder.resolve()}:")
        print(f"  {source.name}: the source photo (scikit-image's astronaut)")
        print(f"  {target.name}: synthetic target clip, {args.frames} frames "
              f"(face found on {faces_found})")
        print("  analysis_overlay.mp4: landmarks, track ids and head pose on the target")
        print(f"  {swap_out.name}: the source face swapped onto the target")
        print(f"  {reenact_out.name}: the source photo driven by the target's head motion")
        for png in pngs:
            print(f"  {png.name}")
    return 0
