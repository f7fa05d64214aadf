"""``openfsgan swap``: put the source person's face onto the target photo or video."""

from __future__ import annotations

import argparse
from typing import Any

from openfsgan.stages import STAGE_IMPLEMENTATIONS


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``swap`` and ``reenact``."""
    parser.add_argument("-o", "--output", required=True,
                        help="file to write: an image for a photo target, .mp4 for a video")
    parser.add_argument("--method", metavar="classic|neural",
                        help="preset of the stage choices: classic = mesh warp, landmark mask, "
                             "no inpainting, Poisson blending (default); neural = the shipped "
                             "generators G_r, G_s, G_c, G_b (ONNX Runtime; see MODEL_CARD.md)")
    add_stage_arguments(parser)
    from openfsgan.pipelines.finetune import DEFAULT_FINETUNE_STEPS

    parser.add_argument("--finetune", type=int, nargs="?", const=DEFAULT_FINETUNE_STEPS,
                        metavar="N",
                        help="first fine-tune G_r on the source's own views for N steps "
                             f"(default N: {DEFAULT_FINETUNE_STEPS}); cached by the "
                             "source's content, so a second job with the same source reuses "
                             "it; neural reenactment only (see docs/swap.md)")
    parser.add_argument("--source-face", type=int, metavar="N",
                        help="source face: track id (video) or number by size, 0 = largest "
                             "(photo); default the largest")
    parser.add_argument("--resume", action="store_true",
                        help="continue an interrupted video job where it stopped")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument("--no-watermark", action="store_true",
                        help="do not embed the invisible pixel watermark (for research data "
                             "sets); the metadata tag and C2PA manifest still label the file "
                             "and record that the watermark is off")
    parser.add_argument("--robust-watermark", action="store_true",
                        help="add the watermark's coarse chroma layer: found more often after "
                             "a crop combined with a downscale and strong re-compression, at "
                             "a PSNR of about 38.3 dB instead of 40.9 (docs/provenance.md)")
    parser.add_argument("--label", metavar="TEXT",
                        help="visible label drawn on every frame (e.g. 'AI-generated')")
    parser.add_argument("--max-frames", type=int, metavar="N",
                        help="only the first N target frames (a quick preview)")
    parser.add_argument("--c2pa-cert", metavar="PEM",
                        help="certificate chain to sign the C2PA manifest with (default: a "
                             "local identity made on first use; see docs/provenance.md)")
    parser.add_argument("--c2pa-key", metavar="PEM", help="private key for --c2pa-cert")


def add_stage_arguments(parser: argparse.ArgumentParser) -> None:
    """``--config`` and one flag per stage (checked by the library: a bad name is one line
    listing the valid ones)."""
    parser.add_argument("--config", metavar="YAML",
                        help="configuration file (stage choices and settings, see docs/swap.md); "
                             "flags override it")
    for stage, choices in STAGE_IMPLEMENTATIONS.items():
        parser.add_argument(f"--{stage}", metavar="|".join(choices),
                            help=f"{stage} stage implementation (default: the method's)")


def config_from_args(args: argparse.Namespace) -> Any:
    """The resolved :class:`~openfsgan.pipelines.config.SwapConfig` of parsed arguments."""
    from openfsgan.pipelines.config import resolve_config

    options: dict[str, Any] = {}
    if getattr(args, "finetune", None) is not None:  # a flag wins over the file
        options["finetune"] = {"steps": args.finetune}
    config = resolve_config(args.method, config=options or None, config_file=args.config,
                            **{stage: getattr(args, stage) for stage in STAGE_IMPLEMENTATIONS})
    if options and config.finetune.enabled and config.reenactment != "neural":
        from openfsgan.errors import ConfigError

        raise ConfigError("--finetune tunes G_r: it needs the neural reenactment stage "
                          "(--method neural or --reenactment neural)")
    return config


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "swap", help="swap a face from a source onto a target photo or video",
        description="Replace a face in TARGET (photo or video) by the person in SOURCE (a "
                    "photo, a folder of photos or a video: every view goes into the appearance "
                    "map). The output keeps the target's resolution, frame count, fps and "
                    "audio; frames without the face pass through unchanged.")
    parser.add_argument("source", help="photo, folder of photos, or video of the source person")
    parser.add_argument("target", help="photo or video whose face is replaced")
    add_common_arguments(parser)
    parser.add_argument("--target-face", type=int, metavar="N",
                        help="target face: track id (video) or number by size (photo); default "
                             "the largest, followed over the video")
    parser.add_argument("--target-reference", metavar="PHOTO",
                        help="photo of the person to replace in the target (matched by face "
                             "descriptor)")
    parser.add_argument("--identity-strength", type=float, metavar="S",
                        help="share of the source's face shape, 0..1: 0 keeps the target's "
                             "face geometry, 1 gives the source's eye spacing, nose, mouth and "
                             "jaw under the target's pose and expression (3D morphable model); "
                             "default 1 with the mesh warp, 0.5 with --reenactment neural, 1 "
                             "with --finetune")
    parser.set_defaults(handler=run)


def request_from_args(args: argparse.Namespace, mode: str) -> Any:
    """The library request for parsed arguments (paths checked by the library)."""
    from pathlib import Path

    from openfsgan.errors import ConfigError
    from openfsgan.jobs import SwapRequest

    target_face = getattr(args, "target_face", None)
    reference = getattr(args, "target_reference", None)
    if target_face is not None and reference is not None:
        raise ConfigError("use --target-face or --target-reference, not both")
    if (args.c2pa_cert is None) != (args.c2pa_key is None):
        raise ConfigError("--c2pa-cert and --c2pa-key go together")
    if args.robust_watermark and args.no_watermark:
        raise ConfigError("--robust-watermark and --no-watermark contradict each other")
    config = config_from_args(args)
    return SwapRequest(
        source=Path(args.source), target=Path(args.target), output=Path(args.output),
        method=config.method, config=config, mode=mode, source_face=args.source_face,
        target_face=target_face,
        target_reference=Path(reference) if reference else None, resume=args.resume,
        overwrite=args.overwrite, watermark=not args.no_watermark,
        watermark_profile="robust" if args.robust_watermark else "standard", label=args.label,
        max_frames=args.max_frames,
        c2pa_cert=Path(args.c2pa_cert) if args.c2pa_cert else None,
        c2pa_key=Path(args.c2pa_key) if args.c2pa_key else None,
        identity_strength=getattr(args, "identity_strength", None))


def run_request(request: Any, quiet: bool) -> int:
    """Run a job with a progress bar (ETA) and print a one-line summary."""
    from tqdm import tqdm

    from openfsgan.jobs import JobOptions, run_swap

    bar: Any = None
    tuning: Any = None

    def finetune_progress(done: int, total: int) -> None:
        nonlocal tuning
        if quiet:
            return
        if tuning is None:
            tuning = tqdm(total=total, initial=done, desc="fine-tune G_r", unit="step")
        tuning.update(done - tuning.n)
        if done >= total:
            tuning.close()

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if quiet or total <= 1:
            return
        if bar is None:
            bar = tqdm(total=total, initial=done, desc=request.mode, unit="frame")
        bar.total = total
        bar.update(done - bar.n)

    try:
        summary = run_swap(request, progress=progress,
                           options=JobOptions(finetune_progress=finetune_progress))
    finally:
        for shown in (tuning, bar):
            if shown is not None:
                shown.close()
    if not quiet:
        resumed = (f", {summary.frames_resumed} resumed" if summary.frames_resumed else "")
        print(f"wrote {summary.output}: {summary.frames_total} frame(s), "
              f"{summary.frames_swapped} {'swapped' if request.mode == 'swap' else 'driven'}, "
              f"{summary.frames_passed_through} unchanged{resumed}; "
              f"{summary.seconds:.1f} s ({summary.fps:.1f} fps)")
    return 0


def run(args: argparse.Namespace) -> int:
    return run_request(request_from_args(args, "swap"), args.quiet)
