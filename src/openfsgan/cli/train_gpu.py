"""``openfsgan train-gpu``: the four stages at 256² in a time budget (docs/training.md)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train-gpu", help="train all four generators at 256² on a GPU in a time budget",
        description="Unpack a crop set (made by `openfsgan prepare --size 256` and packed with "
                    "tar), train reenactment, segmentation, inpainting and blending for MINUTES "
                    "in all (40/20/20/20 %%), each starting from the shipped generator (or "
                    "continuing its run in OUT), with mixed precision and the method's losses; "
                    "export every generator to OUT/models/<stage>/ (ONNX + safetensors) and "
                    "log the losses to OUT/losses.csv. See docs/training.md.")
    parser.add_argument("--data", required=True, metavar="CROPS.tar",
                        help="packed crop set (.tar, .tar.gz, .tar.xz) or a dataset folder")
    parser.add_argument("--minutes", required=True, type=float, metavar="M",
                        help="training time of all stages together")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--device", default="auto", help="cuda, cpu or auto (default auto)")
    parser.add_argument("--resolution", type=int, default=256, help="crop size (default 256)")
    parser.add_argument("--batch-size", type=int, default=16, help="samples per step (16)")
    parser.add_argument("--max-steps", type=int, default=100_000,
                        help="steps per stage at most (default 100000: the time decides)")
    parser.add_argument("--num-workers", type=int, default=6,
                        help="data-loading processes (default 6)")
    parser.add_argument("--stages", default="reenactment,segmentation,inpainting,blending",
                        help="comma-separated stages to train (default: all four)")
    parser.add_argument("--init-from", metavar="DIR",
                        help="folder with one generator folder per stage to start from "
                             "(default: the shipped generators)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from tqdm import tqdm

    from openfsgan.training.gpu import GpuTrainOptions, train_all

    options = GpuTrainOptions(
        data=Path(args.data), minutes=args.minutes, out=Path(args.out), device=args.device,
        resolution=args.resolution, batch_size=args.batch_size, max_steps=args.max_steps,
        num_workers=args.num_workers,
        stages=tuple(s.strip() for s in args.stages.split(",") if s.strip()),
        init_from=Path(args.init_from) if args.init_from else None)
    bars: dict[str, tqdm] = {}

    def progress(stage: str, step: int, total: int) -> None:
        if args.quiet:
            return
        if stage not in bars:
            for bar in bars.values():
                bar.close()
            bars[stage] = tqdm(total=total, initial=step, desc=f"train {stage}", unit="step")
        bars[stage].update(step - bars[stage].n)

    try:
        summary = train_all(options, progress)
    finally:
        for bar in bars.values():
            bar.close()
    for stage, done in summary["stages"].items():
        print(f"{stage}: {done['steps']} steps ({done['status']}, {done['seconds']:.0f} s); "
              f"last losses {json.dumps(done['last_losses'])}")
    print(f"models: {options.out / 'models'}; losses: {options.out / 'losses.csv'}")
    return 0
