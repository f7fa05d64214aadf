"""``openfsgan export-onnx``: a trained generator as an ONNX graph, checked against torch."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export-onnx", help="export a trained generator to ONNX (with a parity check)",
        description="Export the generator of a training run (its latest checkpoint) or of a "
                    "model folder (config.json + model.safetensors) to ONNX, opset 17, and "
                    "check ONNX Runtime against torch on the same inputs; a difference above "
                    "the tolerance is an error and nothing is written.")
    parser.add_argument("model", metavar="RUN", help="training run folder or model folder")
    parser.add_argument("-o", "--output", required=True, help=".onnx file to write")
    parser.add_argument("--size", type=int,
                        help="crop side of the graph (default: the run's training resolution, "
                             "else 256)")
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="largest accepted |onnx - torch| (default 1e-3)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing file")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from openfsgan.errors import InputNotFoundError, OutputError
    from openfsgan.export.onnx import export_onnx
    from openfsgan.io.paths import check_output_file

    source = Path(args.model)
    if not source.exists():
        raise InputNotFoundError(f"model or run folder not found: {source}")
    output = check_output_file(args.output, [], args.overwrite)
    if output.suffix.lower() != ".onnx":
        raise OutputError(f"output must end in .onnx: {output}")
    report = export_onnx(source, output, resolution=args.size, tolerance=args.tolerance)
    print(f"{report.path}: {report.model} generator at {report.resolution} px; "
          f"max |onnx - torch| = {report.max_abs_diff:.3g} (tolerance {report.tolerance:g})")
    return 0
