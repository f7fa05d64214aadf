"""``openfsgan cache info|clear``: inspect or empty the analysis and fine-tuning caches."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cache", help="show or clear the face-analysis and fine-tuning caches",
        description="The analysis cache keeps face analyses keyed by file content, analyzer "
                    "settings and openfsgan version, under $OPENFSGAN_CACHE_DIR or "
                    "~/.cache/openfsgan/analysis; the fine-tuning cache keeps G_r models "
                    "tuned on a source (--finetune), under $OPENFSGAN_CACHE_DIR/finetune or "
                    "~/.cache/openfsgan/finetune. `info` lists both, `clear` empties both.")
    parser.add_argument("action", choices=("info", "clear"))
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from openfsgan.io.cache import AnalysisCache
    from openfsgan.pipelines.finetune import FinetuneCache

    cache = AnalysisCache()
    tuned = FinetuneCache()
    if args.action == "clear":
        removed = cache.clear()
        removed_tuned = tuned.clear()
        print(f"removed {removed} cached analyses from {cache.directory}")
        print(f"removed {removed_tuned} fine-tuned models from {tuned.directory}")
        return 0
    info = cache.info()
    print(f"directory: {info.directory}\nentries: {info.entries}\n"
          f"size: {info.total_bytes / 1e6:.2f} MB")
    entries = tuned.entries()
    # not a second "entries:" line: that one counts the analyses
    print(f"fine-tuned models: {len(entries)} in {tuned.directory}")
    for entry in entries:
        data = entry.info()
        state = "complete" if entry.complete else "unfinished (resumable)"
        print(f"  {entry.folder.name}  {data.get('steps', '?')} steps  {state}  "
              f"{entry.size_bytes() / 1e6:.1f} MB  {data.get('source', '?')}")
    return 0
