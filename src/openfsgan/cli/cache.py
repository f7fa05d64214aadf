"""``openfsgan cache info|clear``: inspect or empty the analysis cache."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cache", help="show or clear the face-analysis cache",
        description="The analysis cache keeps face analyses keyed by file content, analyzer "
                    "settings and openfsgan version, under $OPENFSGAN_CACHE_DIR or "
                    "~/.cache/openfsgan/analysis.")
    parser.add_argument("action", choices=("info", "clear"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from openfsgan.io.cache import AnalysisCache

    cache = AnalysisCache()
    if args.action == "clear":
        removed = cache.clear()
        print(f"removed {removed} cached analyses from {cache.directory}")
        return 0
    info = cache.info()
    print(f"directory: {info.directory}\nentries: {info.entries}\n"
          f"size: {info.total_bytes / 1e6:.2f} MB")
    return 0
