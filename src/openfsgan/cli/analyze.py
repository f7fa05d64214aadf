"""``openfsgan analyze``: faces, landmarks, 3D landmarks and head pose of an image or video."""

from __future__ import annotations

import argparse
import logging
from typing import Any

log = logging.getLogger(__name__)

ANALYSIS_FORMAT = "openfsgan-analysis"
ANALYSIS_FORMAT_VERSION = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "analyze", help="detect, track and measure faces in an image or video",
        description="Detect and track faces; write 68 2D landmarks, 3D landmarks and head pose "
                    "(yaw, pitch, roll in degrees) per frame as JSON. Results are cached by "
                    "file content, so analysing the same file again is almost free.")
    parser.add_argument("input", help="image or video file")
    parser.add_argument("-o", "--output", required=True, help="analysis JSON to write")
    parser.add_argument("--overlay", help="also write the input with landmarks, boxes, track "
                                          "ids and pose axes drawn (.mp4 for videos, "
                                          ".png/.jpg for images)")
    parser.add_argument("--no-cache", action="store_true",
                        help="neither read nor write the analysis cache")
    parser.add_argument("--detect-every", type=int, metavar="K",
                        help="run the face detector every K frames (default 10); landmarks "
                             "track the faces in between")
    parser.add_argument("--detector", choices=("hog", "cnn"),
                        help="detector for still images (default hog; cnn is slower, finds "
                             "more turned faces)")
    parser.add_argument("--detect-max-side", type=int, metavar="PX",
                        help="downscale frames to this longest side for detection "
                             "(default 640)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.set_defaults(handler=run)


def _config_from_args(args: argparse.Namespace) -> Any:
    from dataclasses import replace

    from openfsgan.errors import ConfigError
    from openfsgan.face.analyzer import AnalyzerConfig

    config = AnalyzerConfig()
    if args.detect_every is not None:
        if args.detect_every < 1:
            raise ConfigError(f"--detect-every must be >= 1, got {args.detect_every}")
        config = replace(config, tracker=replace(config.tracker, detect_every=args.detect_every))
    if args.detector is not None:
        config = replace(config, image_detector=replace(config.image_detector,
                                                        kind=args.detector))
    if args.detect_max_side is not None:
        config = replace(config,
                         detector=replace(config.detector, max_side_px=args.detect_max_side),
                         image_detector=replace(config.image_detector,
                                                max_side_px=args.detect_max_side))
    return config


def track_summaries(frames: list[Any]) -> list[dict[str, Any]]:
    """Per track: frame span, count, mean score, mean and spread of the pose, face size."""
    import numpy as np

    from openfsgan.types import tracks_from_frames

    summaries = []
    for track in tracks_from_frames(frames):
        poses = np.array([face.pose.as_array() for face in track.faces])
        summaries.append({
            "track_id": track.track_id,
            "first_frame": track.frame_indices[0],
            "last_frame": track.frame_indices[-1],
            "frame_count": len(track.frame_indices),
            "mean_score": round(float(np.mean([f.score for f in track.faces])), 4),
            "mean_inter_ocular_px": round(float(np.mean([f.inter_ocular
                                                         for f in track.faces])), 2),
            "pose_mean": dict(zip(("yaw", "pitch", "roll"),
                                  np.round(poses.mean(axis=0), 3).tolist(), strict=True)),
            "pose_std": dict(zip(("yaw", "pitch", "roll"),
                                 np.round(poses.std(axis=0), 3).tolist(), strict=True)),
        })
    return summaries


def _write_overlay(path: Any, input_path: Any, info: Any, frames: list[Any],
                   quiet: bool) -> None:
    from tqdm import tqdm

    from openfsgan.face.draw import draw_frame
    from openfsgan.io.media import VideoWriter, iter_frames, read_image, write_image

    if not info.is_video:
        write_image(path, draw_frame(read_image(input_path), frames[0]))
        return
    by_index = {frame.index: frame for frame in frames}
    with VideoWriter(path, info.fps, info.width, info.height, audio_from=input_path) as writer, \
            tqdm(total=info.frame_count, desc="overlay", unit="frame", disable=quiet) as bar:
        for frame in iter_frames(input_path):
            faces = by_index.get(frame.index)
            writer.write(draw_frame(frame.rgb, faces) if faces is not None else frame.rgb)
            bar.update(1)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from tqdm import tqdm

    from openfsgan import __version__
    from openfsgan.errors import NoFaceError, OutputError
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.io.atomic import write_text_atomic
    from openfsgan.io.cache import analyze_cached
    from openfsgan.io.media import IMAGE_EXTENSIONS, probe
    from openfsgan.io.paths import check_input_file, check_output_file

    source = check_input_file(args.input)
    output = check_output_file(args.output, [source], args.overwrite)
    overlay = None
    if args.overlay:
        overlay = check_output_file(args.overlay, [source, output], args.overwrite)
    info = probe(source)  # refuses non-media, truncated headers and oversized images early
    if overlay is not None:
        wanted = {".mp4"} if info.is_video else IMAGE_EXTENSIONS
        if overlay.suffix.lower() not in wanted:
            raise OutputError(f"overlay for {'a video' if info.is_video else 'an image'} must "
                              f"end in {', '.join(sorted(wanted))}: {overlay}")
    config = _config_from_args(args)
    analyzer = FaceAnalyzer(config)

    quiet = bool(args.quiet) or not info.is_video
    with tqdm(total=info.frame_count, desc="analyse", unit="frame", disable=quiet) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        if args.no_cache:
            frames, cached = analyzer.analyze_path(source, progress), False
        else:
            frames, cached = analyze_cached(source, analyzer, progress=progress)
    if not info.is_video and not frames[0].faces:
        raise NoFaceError(f"no face found in image: {source}")
    face_frames = sum(1 for frame in frames if frame.faces)
    log.info("%s: %d frames, %d with faces%s", source, len(frames), face_frames,
             " (from the cache)" if cached else "")
    if info.is_video and face_frames == 0:
        log.warning("no face found in any frame of %s", source)

    document = {
        "format": ANALYSIS_FORMAT,
        "format_version": ANALYSIS_FORMAT_VERSION,
        "tool": {"name": "openfsgan", "version": __version__},
        "media": info.to_dict(),
        "analyzer_config": config.to_dict(),
        "tracks": track_summaries(frames),
        "frames": [frame.to_dict() for frame in frames],
    }
    text = json.dumps(document, separators=(",", ":"))
    if overlay is not None:
        _write_overlay(overlay, source, info, frames, bool(args.quiet))
    try:
        write_text_atomic(output, text)
    except BaseException:
        if overlay is not None:  # all outputs or none
            Path(overlay).unlink(missing_ok=True)
        raise
    return 0
