"""``openfsgan reenact``: animate the source face with a driver's head pose and expression."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from openfsgan.cli.swap import add_common_arguments

    parser = subparsers.add_parser(
        "reenact", help="drive a face in a photo with the head motion of a driver video",
        description="Animate the face in SOURCE (a photo) with the head pose and expression "
                    "changes of the face in DRIVER (a video, or a photo). The output has the "
                    "source's resolution and the driver's frame count, fps and audio.")
    parser.add_argument("source", help="photo with the face to animate")
    parser.add_argument("driver", help="video (or photo) of the driving face")
    add_common_arguments(parser)
    parser.add_argument("--driver-face", dest="target_face", type=int, metavar="N",
                        help="driver face: track id (video) or number by size (photo); "
                             "default the largest")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from openfsgan.cli.swap import request_from_args, run_request

    args.target = args.driver
    return run_request(request_from_args(args, "reenact"), args.quiet)
