"""``openfsgan bench``: throughput and peak memory of analysis, each model and the end-to-end
swap at several resolutions, on this machine."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "bench", help="measure speed and peak memory of every stage",
        description="Measure frames per second and peak memory of face analysis, the identity "
                    "descriptor, every registered model (torch and ONNX Runtime, random input) "
                    "and the end-to-end swap, at each resolution, on the device it runs on. "
                    "Each stage runs in its own process so that its peak memory is its own. "
                    "Input: a synthetic clip of scikit-image's astronaut, or --video. Prints a "
                    "Markdown table; -o also writes every figure as JSON.")
    parser.add_argument("--resolutions", default="480p,720p,1080p", metavar="LIST",
                        help="comma-separated sizes: 240p, 360p, 480p, 720p, 1080p or WxH "
                             "(default 480p,720p,1080p)")
    parser.add_argument("--frames", type=int, default=20, metavar="N",
                        help="frames per measurement, the first one untimed (default 20)")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                        help="device of the models and the swap (default cpu)")
    parser.add_argument("--stages", metavar="LIST",
                        help="comma-separated subset of: analysis, analysis_tracked, "
                             "descriptor, models, swap (default all)")
    parser.add_argument("--video", metavar="PATH",
                        help="a real clip to use (scaled to each resolution) instead of the "
                             "synthetic astronaut")
    parser.add_argument("--method", choices=("classic", "neural"), default="classic",
                        help="swap method of the end-to-end stage (default classic)")
    parser.add_argument("--model-size", type=int, default=256, metavar="PX",
                        help="square input side of the models (default 256)")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="torch / ONNX Runtime threads (default: the libraries' choice)")
    parser.add_argument("--in-process", action="store_true",
                        help="run every stage in this process (faster; peak memory is then "
                             "cumulative, not per stage)")
    parser.add_argument("--work-dir", metavar="DIR",
                        help="keep the clips and outputs here (default: a temporary folder)")
    parser.add_argument("-o", "--output", metavar="BENCH.json", help="write the figures as JSON")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing -o file")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import tempfile
    from pathlib import Path

    from tqdm import tqdm

    from openfsgan import __version__
    from openfsgan.benchmarking import STAGES, BenchConfig, markdown_table, run_benchmark
    from openfsgan.errors import OutputError
    from openfsgan.io.media import probe
    from openfsgan.io.paths import check_input_file, check_output_file, check_output_folder
    from openfsgan.metrics.report import write_json

    video = check_input_file(args.video, "--video") if args.video else None
    if video is not None:
        probe(video)  # a clear error for a file that is not media, before any work
    output = None
    if args.output:
        output = check_output_file(args.output, [video] if video else [], args.overwrite)
        if output.suffix.lower() != ".json":
            raise OutputError(f"-o must name a .json file: {output}")
    if args.work_dir:
        check_output_folder(args.work_dir, "work folder")
    resolutions = tuple(r.strip() for r in args.resolutions.split(",") if r.strip())
    stages = (tuple(s.strip() for s in args.stages.split(",") if s.strip()) if args.stages
              else STAGES)
    config = BenchConfig(resolutions=resolutions, frames=args.frames, device=args.device,
                         stages=stages, model_size_px=args.model_size, method=args.method,
                         video=str(video) if video else None, threads=args.threads,
                         isolate=not args.in_process)
    with tempfile.TemporaryDirectory(prefix="openfsgan-bench-") as scratch, \
            tqdm(desc="bench", unit="stage", disable=bool(args.quiet)) as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report = run_benchmark(config, Path(args.work_dir) if args.work_dir else scratch,
                               progress)
    report["tool"] = {"name": "openfsgan", "version": __version__}
    if output is not None:
        write_json(output, report)
    print(markdown_table(report))
    return 0
