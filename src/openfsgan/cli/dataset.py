"""``openfsgan dataset``: a labelled deepfake dataset in the FaceForensics++ layout."""

from __future__ import annotations

import argparse
from typing import Any

# some items failed (each with its reason in the summary); the rest of the dataset is complete
ITEMS_FAILED_EXIT_CODE = 11


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "dataset", help="build a labelled deepfake dataset (FaceForensics++ layout)",
        description="Swap every pair of PAIRS.csv (columns source,target[,split]) or of a "
                    "folder of videos (--from-folder) with every method, encode real and fake "
                    "videos alike at each compression, and write lossless masks, per-video "
                    "metadata, identity-disjoint splits and a labels table. Complete items are "
                    "skipped, so rerunning the same command resumes an interrupted build. "
                    "See docs/dataset.md.")
    parser.add_argument("pairs", nargs="?", help="CSV with columns source,target[,split] "
                                                 "(paths relative to the CSV)")
    parser.add_argument("--from-folder", metavar="DIR",
                        help="instead of PAIRS.csv: pair the videos of DIR (one identity per "
                             "video, or per sub-folder) with identity-disjoint splits")
    parser.add_argument("-o", "--output", required=True, metavar="DATASET",
                        help="dataset folder (created; on a cluster a path every node sees)")
    parser.add_argument("--methods", default="classic",
                        help="comma-separated methods (default: classic); see docs/dataset.md")
    parser.add_argument("--compression", default="c23",
                        help="comma-separated c0, c23, c40 (H.264 CRF 0/23/40; default c23)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="worker processes (or Ray actors); default: the CPU cores")
    parser.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                        help="run the items on Ray: a cluster's ADDRESS, or a local Ray when "
                             "none is given (needs pip install 'openfsgan[cluster]')")
    parser.add_argument("--watermark", action="store_true",
                        help="embed the invisible watermark in the fakes (off by default in a "
                             "dataset; the metadata tag and C2PA manifest always label them)")
    parser.add_argument("--robust-watermark", action="store_true",
                        help="embed the robust mark (with the coarse chroma layer, PSNR about "
                             "38.3 dB instead of 40.9); implies --watermark")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the pairs and splits (recorded per video)")
    parser.add_argument("--preset", default="veryfast",
                        help="x264 preset of every encode, real and fake (default veryfast)")
    parser.add_argument("--max-frames", type=int, metavar="N",
                        help="only the first N frames of each video (a quick dataset)")
    parser.add_argument("--retries", type=int, default=2,
                        help="retries of an item whose worker crashed (default 2)")
    parser.set_defaults(handler=run)


def _config(args: argparse.Namespace) -> Any:
    from openfsgan.dataset.items import DatasetConfig
    from openfsgan.dataset.methods import parse_methods
    from openfsgan.errors import ConfigError

    compressions = tuple(dict.fromkeys(c.strip() for c in args.compression.split(",")
                                       if c.strip()))
    if not compressions:
        raise ConfigError("--compression needs at least one of c0, c23, c40")
    return DatasetConfig(methods=parse_methods(args.methods), compressions=compressions,
                         watermark=args.watermark or args.robust_watermark,
                         watermark_profile="robust" if args.robust_watermark else "standard",
                         seed=args.seed, preset=args.preset,
                         max_frames=args.max_frames, retries=args.retries)


def _pairs(args: argparse.Namespace) -> Any:
    from pathlib import Path

    from openfsgan.dataset.pairs import pairs_from_folder, read_pairs_csv
    from openfsgan.errors import ConfigError

    if (args.pairs is None) == (args.from_folder is None):
        raise ConfigError("give PAIRS.csv or --from-folder DIR (one of the two)")
    if args.from_folder is not None:
        return pairs_from_folder(Path(args.from_folder), seed=args.seed)
    return read_pairs_csv(Path(args.pairs), seed=args.seed)


def run(args: argparse.Namespace) -> int:
    import os
    import sys
    from pathlib import Path

    from tqdm import tqdm

    from openfsgan.dataset.build import build_dataset
    from openfsgan.dataset.items import build_items
    from openfsgan.errors import ConfigError, OutputError

    config = _config(args)
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {args.workers}")
    workers = args.workers or os.cpu_count() or 1
    pairs = _pairs(args)
    root = Path(args.output)
    if root.exists() and not root.is_dir():
        raise OutputError(f"dataset output is not a folder: {root}")
    if not config.watermark and not args.quiet:
        print("openfsgan: invisible watermark off in the fakes (dataset default; --watermark "
              "embeds it); their metadata tag and C2PA manifest still say synthetic",
              file=sys.stderr)
    # one step per item, from the start (its ETA follows the items' rate)
    bar: Any = None if args.quiet else tqdm(total=len(build_items(pairs, config)),
                                            desc="dataset", unit="item", file=sys.stderr)

    def on_record(record: Any, finished: int, planned: int) -> None:
        if bar is None:
            return
        bar.update(finished - bar.n)
        if record.status == "failed":
            bar.write(f"failed {record.key}: {record.reason}", file=sys.stderr)

    try:
        summary = build_dataset(root, pairs, config, workers=workers,
                                use_ray=args.ray is not None, ray_address=args.ray or None,
                                on_record=on_record)
    except KeyboardInterrupt:
        print("complete items are kept: run the same command again to resume",
              file=sys.stderr)
        raise
    finally:
        if bar is not None:
            bar.close()
    if not args.quiet:
        print(f"dataset {root}: {summary.done} done, {summary.skipped} skipped, "
              f"{summary.failed} failed; {summary.frames} frames in {summary.seconds:.1f} s")
    for failure in summary.failures:
        print(f"failed {failure.key}: {failure.reason}", file=sys.stderr)
    return ITEMS_FAILED_EXIT_CODE if summary.failed else 0
