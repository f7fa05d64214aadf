"""``openfsgan train STAGE``: train one of FSGAN's networks on a prepared dataset."""

from __future__ import annotations

import argparse
import logging

from openfsgan.stages import STAGES

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train", help="train a generator (reenactment, segmentation, inpainting, blending)",
        description="Train one stage of FSGAN on a dataset made by `openfsgan prepare`. The run "
                    "folder receives the resolved config, checkpoints (every N steps, at the "
                    "end, and on Ctrl-C/SIGTERM) and logs. Multi-GPU: launch with torchrun. "
                    "See docs/training.md.")
    parser.add_argument("stage", choices=STAGES, help="which network to train")
    parser.add_argument("--data", required=True, metavar="DATASET",
                        help="dataset folder from `openfsgan prepare`")
    parser.add_argument("--out", required=True, metavar="RUN", help="run folder")
    parser.add_argument("--config", metavar="FILE.yaml",
                        help="training config (e.g. configs/reenactment-tiny.yaml); default: "
                             "the full-size defaults of the stage")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default auto)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in RUN from its latest checkpoint")
    parser.add_argument("--max-steps", type=int, metavar="N",
                        help="train until step N (overrides the config)")
    parser.add_argument("--num-workers", type=int, metavar="N",
                        help="data-loading processes (overrides the config)")
    parser.add_argument("--reenactment-model", metavar="DIR",
                        help="segmentation stage: a trained G_r (its run folder or model "
                             "folder) whose segmentation G_s learns to agree with (λ_reenact)")
    parser.add_argument("--init-from", metavar="DIR",
                        help="start the generator from this model folder (config.json + "
                             "model.safetensors, e.g. src/openfsgan/assets/models/STAGE) when "
                             "the run has no checkpoint yet; same architecture, any crop size")
    parser.add_argument("--threads", type=int, metavar="N",
                        help="CPU threads of torch (default: torch's choice; 1 is fastest on a "
                             "busy or small machine)")
    parser.add_argument("--vgg-weights", metavar="PATH",
                        help="VGG-19 weights for the perceptual loss (default: dlib face "
                             "features, shipped)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import os
    import signal
    from pathlib import Path

    from tqdm import tqdm

    from openfsgan.config import load_yaml
    from openfsgan.errors import INTERRUPTED_EXIT_CODE, ConfigError
    from openfsgan.io.paths import check_input_dir, check_input_file
    from openfsgan.training.config import TrainConfig
    from openfsgan.training.run import train

    check_input_dir(args.data, "dataset folder")
    if args.threads is not None:
        if args.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    values = {}
    if args.config:
        values = load_yaml(check_input_file(args.config, "config file"))
    stage = values.setdefault("stage", args.stage)
    if stage != args.stage:
        raise ConfigError(f"{args.config} configures the {stage} stage, not {args.stage}")
    if args.max_steps is not None:
        values["max_steps"] = args.max_steps
    if args.num_workers is not None:
        values["num_workers"] = args.num_workers
    if args.reenactment_model:
        from openfsgan.export.onnx import resolve_model_dir

        model_dir, _ = resolve_model_dir(check_input_dir(args.reenactment_model,
                                                         "reenactment model"))
        values["reenactment_model"] = str(model_dir.resolve())
    config = TrainConfig.from_dict(values)
    vgg_weights = str(check_input_file(args.vgg_weights, "VGG-19 weights")) \
        if args.vgg_weights else None

    # under torchrun only the first process reports
    main_process = int(os.environ.get("RANK", "0")) == 0
    with tqdm(total=config.max_steps, desc=f"train {stage}", unit="step",
              disable=bool(args.quiet) or not main_process, dynamic_ncols=True) as bar:
        def progress(step: int, total: int) -> None:
            bar.total = total
            bar.update(step - bar.n)

        def on_log(step: int, losses: dict[str, float]) -> None:
            shown = {k: f"{v:.4g}" for k, v in losses.items()
                     if k in ("generator", "discriminator", "rec", "ce")}
            bar.set_postfix(shown, refresh=False)

        init_from = (check_input_dir(args.init_from, "model folder (--init-from)")
                     if args.init_from else None)
        result = train(config, args.data, args.out, device=args.device, resume=args.resume,
                       vgg_weights=vgg_weights, progress=progress, on_log=on_log,
                       init_from=init_from)
    if not main_process:
        return 0 if result.status == "completed" else 128 + int(result.signal_number or 15)
    where = result.checkpoint or Path(args.out)
    if result.status == "interrupted":
        print(f"interrupted at step {result.step}; checkpoint: {where} "
              "(continue with --resume)")
        if result.signal_number == signal.SIGINT:
            return INTERRUPTED_EXIT_CODE
        return 128 + int(result.signal_number or 15)
    print(f"trained {stage} to step {result.step}; checkpoint: {where}")
    return 0
