"""``openfsgan prepare``: turn videos and photos into a training dataset (or a synthetic one)."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "prepare", help="build a training dataset from videos and photos",
        description="Analyse videos and photos once (faces, landmarks, 3D landmarks, pose), and "
                    "store aligned face crops at SIZE and SIZE/2 pixels with landmarks, poses "
                    "and face/hair pseudo-labels, an index with a train/val split by identity "
                    "(input file) and reenactment pairs of frames of the same video. "
                    "See docs/training.md.")
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="image/video files or folders (searched recursively)")
    parser.add_argument("-o", "--output", required=True, metavar="DATASET",
                        help="dataset folder to create")
    parser.add_argument("--size", type=int, default=256,
                        help="large crop side in pixels, a multiple of 64 (default 256; the "
                             "small crops are half of it)")
    parser.add_argument("--every", type=int, default=1, metavar="N",
                        help="keep every N-th video frame (default 1)")
    parser.add_argument("--max-frames-per-video", type=int, default=0, metavar="N",
                        help="keep at most N frames per video (default 0: all)")
    parser.add_argument("--max-faces-per-frame", type=int, default=1, metavar="N",
                        help="faces kept per frame, largest first (default 1)")
    parser.add_argument("--val-fraction", type=float, default=0.1,
                        help="fraction of identities in the validation split (default 0.1)")
    parser.add_argument("--pairs-per-frame", type=int, default=4,
                        help="reenactment targets drawn per video frame (default 4)")
    parser.add_argument("--exclude-list", metavar="FILE",
                        help="never use the files listed in FILE ('<identity> <path>' lines, "
                             "paths relative to the data folder, e.g. "
                             "eval/heldout_identities.txt)")
    parser.add_argument("--no-cache", action="store_true",
                        help="do not read or write the face-analysis cache")
    parser.add_argument("--synthetic", type=int, metavar="IDENTITIES",
                        help="instead of INPUTs, draw this many synthetic cartoon identities "
                             "(for smoke tests; no real data needed)")
    parser.add_argument("--synthetic-frames", type=int, default=8, metavar="N",
                        help="frames per synthetic identity (default 8)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing dataset folder")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from openfsgan.data.prepare import PrepareConfig, prepare_dataset, prepare_synthetic
    from openfsgan.errors import ConfigError

    config = PrepareConfig.from_dict({
        "size": args.size, "every": args.every,
        "max_frames_per_video": args.max_frames_per_video,
        "max_faces_per_frame": args.max_faces_per_frame, "val_fraction": args.val_fraction,
        "pairs_per_frame": args.pairs_per_frame})
    if args.synthetic is not None:
        if args.inputs:
            raise ConfigError("give either INPUTs or --synthetic, not both")
        if args.synthetic < 1 or args.synthetic_frames < 1:
            raise ConfigError("--synthetic and --synthetic-frames must be >= 1")
        summary = prepare_synthetic(args.output, args.synthetic, args.synthetic_frames, config,
                                    overwrite=args.overwrite)
    else:
        if not args.inputs:
            raise ConfigError("no INPUT given (files or folders of images and videos, or "
                              "--synthetic N)")
        exclude: tuple[str, ...] = ()
        if args.exclude_list:
            from openfsgan.data.prepare import load_exclude_list
            from openfsgan.io.paths import check_input_file

            exclude = load_exclude_list(check_input_file(args.exclude_list, "exclusion list"))
        cache = None
        if not args.no_cache:
            from openfsgan.io.cache import AnalysisCache

            cache = AnalysisCache()
        with tqdm(desc="prepare", unit="input", disable=bool(args.quiet)) as bar:
            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            summary = prepare_dataset(args.inputs, args.output, config, cache=cache,
                                      overwrite=args.overwrite, progress=progress,
                                      exclude=exclude)
    print(f"{summary.root}: {summary.samples} samples of {summary.identities} identities "
          f"(train {summary.split_samples['train']}, val {summary.split_samples['val']}); "
          f"reenactment pairs train {summary.pairs['train']}, val {summary.pairs['val']}")
    if summary.excluded_inputs:
        print(f"excluded {len(summary.excluded_inputs)} inputs on the exclusion list")
    for skipped in summary.skipped_inputs:
        print(f"skipped (unreadable): {skipped}")
    return 0
