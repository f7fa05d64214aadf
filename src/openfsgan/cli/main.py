"""Entry point of the ``openfsgan`` command.

Every sub-command lives in its own module of this package and exposes
``register(subparsers)``; the module must keep its top-level imports light (argparse, typing)
and import heavy libraries (torch, cv2, av) inside its handler, so that ``openfsgan --help``
stays fast. Errors derived from :class:`openfsgan.errors.OpenFSGANError` become one line on
stderr and the error's exit code; nothing else prints a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from openfsgan import __version__
from openfsgan.errors import INTERRUPTED_EXIT_CODE, OpenFSGANError

# Sub-command modules, in the order `openfsgan --help` lists them.
COMMAND_MODULES: tuple[str, ...] = (
    "swap",
    "reenact",
    "demo",
    "analyze",
    "cache",
    "serve",
    "eval",
    "bench",
    "prepare",
    "train",
    "train-gpu",
    "export-onnx",
    "verify",
    "dataset",
)

log = logging.getLogger("openfsgan")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openfsgan",
        description="Face swapping and reenactment after FSGAN; outputs are labelled synthetic.",
    )
    parser.add_argument("--version", action="version", version=f"openfsgan {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="only errors; no progress bars")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"openfsgan.cli.{name.replace('-', '_')}")
        module.register(subparsers)
    return parser


def _configure_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else
                                         logging.INFO if verbose == 1 else logging.WARNING)
    logging.basicConfig(level=level, format="openfsgan: %(levelname)s: %(message)s",
                        stream=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose, args.quiet)
    if not getattr(args, "handler", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args) or 0)
    except OpenFSGANError as error:
        if args.debug:
            log.exception("failed")
        print(f"openfsgan: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("openfsgan: interrupted", file=sys.stderr)
        return INTERRUPTED_EXIT_CODE
    except MemoryError:
        print("openfsgan: error: out of memory", file=sys.stderr)
        return 1
    except Exception as error:  # the CLI edge turns bugs into one line too
        if args.debug:
            raise
        print(f"openfsgan: internal error: {type(error).__name__}: {error} "
              "(run with --debug for a traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
