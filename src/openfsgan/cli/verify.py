"""``openfsgan verify``: is this file labelled as synthetic by openfsgan?

Exit status (specific to this command, so scripts can branch on it):

* 0: the invisible watermark or a C2PA manifest (valid or tampered) was found;
* 1: neither was found;
* 2: bad input (missing, empty, unreadable, not an image or video).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_LABELLED = 0
EXIT_NOT_LABELLED = 1
EXIT_BAD_INPUT = 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify", help="check a file for the watermark, metadata tag and C2PA manifest",
        description="Report each of openfsgan's three provenance labels (invisible watermark, "
                    "metadata tag, C2PA manifest) as found / not found / tampered, with the "
                    "decoded payload and a confidence. Exit status: 0 when the watermark or a "
                    "manifest is found, 1 when neither is, 2 on bad input.")
    parser.add_argument("file", help="image or video to check")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--max-frames", type=int, default=300, metavar="N",
                        help="analyse at most the first N frames of a video (default 300)")
    parser.set_defaults(handler=run)


def _line(name: str, check: dict[str, Any]) -> str:
    status = check["status"]
    confidence = check.get("confidence")
    extra = f" (confidence {confidence:.6f})" if confidence is not None else ""
    run_id = f" run {check['run_id']}" if check.get("run_id") else ""
    return f"{name:<14} {status}{run_id}{extra}\n{'':<14} {check['note']}"


def format_report(report: dict[str, Any]) -> str:
    media = report["media"]
    lines = [f"file:          {report['path']} ({media['kind']} {media['width']}x"
             f"{media['height']}, {media['frames_analysed']} frame(s) analysed)",
             _line("watermark:", report["watermark"]),
             _line("metadata tag:", report["metadata"]),
             _line("C2PA manifest:", report["c2pa_manifest"])]
    payload = report["watermark"]["details"].get("payload")
    if payload:
        lines.append(f"{'payload:':<14} tool id 0x{payload['tool_id']:02x}, format version "
                     f"{payload['format_version']}, run {payload['run_id']}")
    configuration = (report["c2pa_manifest"]["details"].get("configuration")
                     or report["metadata"]["details"].get("configuration"))
    if configuration:
        lines.append(f"{'configuration:':<14} {configuration}")
    lines.extend(f"{'note:':<14} {note}" for note in report["notes"])
    verdict = ("labelled as synthetic (openfsgan)" if report["labelled"]
               else "no openfsgan watermark or C2PA manifest found")
    lines.append(f"{'verdict:':<14} {verdict}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from openfsgan.errors import OpenFSGANError
    from openfsgan.provenance.verify import verify

    if args.max_frames < 1:
        print(f"openfsgan: error: --max-frames must be >= 1, got {args.max_frames}",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        report = verify(args.file, max_frames=args.max_frames).to_dict()
    except OpenFSGANError as error:
        print(f"openfsgan: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        print(format_report(report))
    return EXIT_LABELLED if report["labelled"] else EXIT_NOT_LABELLED
