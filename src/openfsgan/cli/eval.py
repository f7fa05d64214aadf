"""``openfsgan eval``: swap pairs of videos and score identity, pose, expression, fidelity,
jitter, seams and speed; write report.json, report.md and plots."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from openfsgan.cli.swap import add_stage_arguments
from openfsgan.stages import STAGE_IMPLEMENTATIONS

if TYPE_CHECKING:
    from openfsgan.evaluation.pairs import EvalPair

log = logging.getLogger(__name__)

METHOD_CHOICES = ("classic", "neural", "both")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval", help="evaluate swaps on pairs of videos (identity, pose, expression, ...)",
        description="Swap every source/target pair (watermark off, for measurement), analyse "
                    "each output frame and compare it with its source and target: identity "
                    "similarity, ID gain and ID retrieval (dlib ResNet descriptor; optionally "
                    "among distractor photos), pose and pose-change error, expression error "
                    "(after alignment, and identity-invariant), SSIM/L1/PSNR/keypoint "
                    "distance on self-reenactment pairs, temporal jitter, seam "
                    "visibility and speed. Writes REPORT.json, REPORT.md and plots beside it; "
                    "swapped videos and per-pair results go to a work folder so that "
                    "--resume continues an interrupted run. See docs/evaluation.md.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--pairs", metavar="CSV",
                        help="pairs file: pair_id,source,target,source_identity,"
                             "target_identity,source_start,source_end,target_start,"
                             "mode (swap|reenact)")
    source.add_argument("--source-dir", metavar="DIR",
                        help="use every ordered pair of videos in DIR (or DIR x --target-dir)")
    parser.add_argument("--target-dir", metavar="DIR",
                        help="with --source-dir: pair every source with every video here")
    parser.add_argument("--data-root", metavar="DIR",
                        help="folder that relative paths in --pairs are relative to "
                             "(default: the CSV's folder)")
    parser.add_argument("-o", "--output", required=True, metavar="REPORT.json",
                        help="report to write (.json); REPORT.md and plots go beside it")
    parser.add_argument("--method", choices=METHOD_CHOICES, default="classic",
                        help="swap method(s) to evaluate (default classic)")
    add_stage_arguments(parser)  # applied on top of each method's preset
    parser.add_argument("--frames", type=int, default=16, metavar="N",
                        help="target frames swapped and scored per pair (default 16)")
    parser.add_argument("--source-frames", type=int, default=8, metavar="K",
                        help="source frames averaged into the source identity (default 8)")
    parser.add_argument("--distractors", metavar="DIR",
                        help="folder of photos of other people (300-W style .pts landmarks "
                             "beside them are used when present) added to the ID-retrieval "
                             "gallery as distractors")
    parser.add_argument("--max-distractors", type=int, default=300, metavar="N",
                        help="most distractor photos used, evenly spaced (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--identity-strength", type=float, metavar="S",
                        help="the swaps' share of the source's face shape, 0..1 (default: "
                             "each method's; see swap --identity-strength)")
    from openfsgan.pipelines.finetune import DEFAULT_FINETUNE_STEPS

    parser.add_argument("--finetune", type=int, nargs="?", const=DEFAULT_FINETUNE_STEPS,
                        metavar="N",
                        help="fine-tune G_r on each source for N steps (default N: "
                             f"{DEFAULT_FINETUNE_STEPS}) before its swaps, as swap --finetune "
                             "does; applies to the methods with neural reenactment (an error "
                             "when there is none); each source is tuned once (cached by its "
                             "content) and its fine-tuning time is in the report")
    parser.add_argument("--work-dir", metavar="DIR",
                        help="swapped videos and per-pair results (default: REPORT_work/ "
                             "beside the report)")
    parser.add_argument("--resume", action="store_true",
                        help="reuse the per-pair results already in the work folder")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing report")
    parser.set_defaults(handler=run)


def _pairs_from_args(args: argparse.Namespace) -> list[EvalPair]:
    from openfsgan.errors import ConfigError
    from openfsgan.evaluation.pairs import load_pairs, pairs_from_dirs
    from openfsgan.io.paths import check_input_dir, check_input_file

    if args.pairs:
        if args.target_dir:
            raise ConfigError("--target-dir goes with --source-dir, not with --pairs")
        csv_path = check_input_file(args.pairs, "pairs file")
        root = check_input_dir(args.data_root, "--data-root") if args.data_root else None
        return load_pairs(csv_path, root)
    if args.data_root:
        raise ConfigError("--data-root goes with --pairs")
    source_dir = check_input_dir(args.source_dir, "--source-dir")
    target_dir = check_input_dir(args.target_dir, "--target-dir") if args.target_dir else None
    return pairs_from_dirs(source_dir, target_dir)


def _swap_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """``--config`` file and stage flags, applied on top of each evaluated method's preset."""
    from openfsgan.config import load_yaml

    options: dict[str, Any] = load_yaml(args.config) if args.config else {}
    options.pop("method", None)  # --method says which presets are evaluated
    options.update({stage: getattr(args, stage) for stage in STAGE_IMPLEMENTATIONS
                    if getattr(args, stage) is not None})
    return options or None


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tqdm import tqdm

    from openfsgan import __version__
    from openfsgan.errors import OpenFSGANError, OutputError
    from openfsgan.evaluation.runner import EvalConfig, check_method_available, run_evaluation
    from openfsgan.io.atomic import write_text_atomic
    from openfsgan.io.paths import check_input_dir, check_output_file, check_output_folder
    from openfsgan.metrics.report import (
        markdown_finetune_table,
        markdown_report,
        markdown_summary_table,
        write_json,
    )
    from openfsgan.pipelines.config import resolve_config

    report_path = Path(args.output)
    if report_path.suffix.lower() != ".json":
        raise OutputError(f"the report must be a .json file: {report_path}")
    swap_options = _swap_options(args)
    resolve_config(config=swap_options)  # a bad stage name or key fails first
    pairs = _pairs_from_args(args)
    inputs = sorted({p for pair in pairs for p in (pair.source, pair.target) if p.exists()})
    check_output_file(report_path, inputs, overwrite=args.overwrite or args.resume)
    methods = ("classic", "neural") if args.method == "both" else (args.method,)
    if args.method != "both":
        check_method_available(args.method)  # fail before any work
    distractors = (str(check_input_dir(args.distractors, "--distractors"))
                   if args.distractors else None)
    if distractors is not None:  # no photos there: fail now, not after every pair has run
        from openfsgan.evaluation.distractors import list_photos

        list_photos(distractors, args.max_distractors)
    config = EvalConfig(methods=methods, frames=args.frames, seed=args.seed,
                        source_frames=args.source_frames, resume=args.resume,
                        strict_methods=() if args.method == "both" else methods,
                        distractors=distractors, max_distractors=args.max_distractors,
                        swap_options=swap_options, identity_strength=args.identity_strength,
                        finetune_steps=args.finetune)
    stem = report_path.with_suffix("")
    markdown_path = report_path.with_name(stem.name + ".md")  # "x_s0.5.json" -> "x_s0.5.md"
    work_dir = Path(args.work_dir) if args.work_dir else stem.with_name(stem.name + "_work")
    check_output_folder(work_dir, "work folder")

    with tqdm(total=len(pairs) * len(methods), desc="eval", unit="pair",
              disable=bool(args.quiet)) as bar:
        def progress(done: int, total: int) -> None:
            bar.update(done - bar.n)

        report = run_evaluation(pairs, config, work_dir, progress=progress)
    report["tool"] = {"name": "openfsgan", "version": __version__}
    report["outputs"] = {"markdown": str(markdown_path), "plots": []}
    if not args.no_plots:
        try:
            from openfsgan.metrics.plots import write_plots

            report["outputs"]["plots"] = [str(p) for p in write_plots(report, stem)]
        except ImportError:
            note = "plots skipped: matplotlib is not installed (pip install 'openfsgan[eval]')"
            log.warning(note)
            report["notes"].append(note)
    write_text_atomic(markdown_path, markdown_report(report))
    write_json(report_path, report)  # last: its presence means the run completed
    if not args.quiet:
        print(markdown_summary_table(report["summary"]))
        if report.get("finetune"):
            print(markdown_finetune_table(report["finetune"]))
    failed = [p for p in report["pairs"] if p["status"] not in {"ok", "skipped"}]
    for pair in failed:
        log.warning("pair %s (%s): %s: %s", pair["pair_id"], pair["method"], pair["status"],
                    pair.get("reason", ""))
    log.info("report: %s", report_path)
    if not any(p["status"] == "ok" for p in report["pairs"]):
        raise OpenFSGANError(f"no pair could be scored; reasons are in {report_path}")
    return 0
