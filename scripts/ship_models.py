"""Copy trained generators into the package as its default models.

    python scripts/ship_models.py --run reenactment=runs/reenactment --run segmentation=... \
        [--out src/openfsgan/assets/models]

For each stage, the generator of the run's latest checkpoint is written as
``<out>/<stage>/config.json`` + ``model.safetensors`` (float16: half the size; fine-tuning loads
it into float32) and ``model.onnx`` exported from those float16-rounded weights (float32 graph),
checked against torch by :func:`openfsgan.export.onnx.export_onnx`. The run's step and training
config are recorded in config.json's metadata. Every file must stay under 16 MiB.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

import torch

from openfsgan.export.onnx import export_onnx, resolve_model_dir
from openfsgan.inference import STAGES
from openfsgan.models import load_pretrained, save_pretrained
from openfsgan.training.config import TrainConfig

MAX_FILE_BYTES = 16 * 1024 * 1024


def ship(stage: str, run: Path, out: Path) -> None:
    model_dir, resolution = resolve_model_dir(run)
    if resolution is None:
        raise SystemExit(f"{run} is not a training run")
    model = load_pretrained(model_dir, expected_model=stage).half().float()
    step = int(model_dir.parent.name.removeprefix("step-")) \
        if model_dir.parent.name.startswith("step-") else None
    train_config = TrainConfig.from_yaml(run / "config.yaml")
    metadata = {"training_step": step, "resolution": resolution,
                "train_config": train_config.to_dict(),
                "data": "openfsgan prepare of /work/shared/data/faces minus "
                        "eval/heldout_identities.txt (research-only licences; MODEL_CARD.md)"}
    target = out / stage
    with tempfile.TemporaryDirectory() as tmp:
        save_pretrained(model, tmp, metadata)  # float32 copy for the export
        export_onnx(tmp, target / "model.onnx", resolution=resolution)
    save_pretrained(model.half(), target, metadata)
    for path in target.iterdir():
        size = path.stat().st_size
        if size >= MAX_FILE_BYTES:
            raise SystemExit(f"{path} is {size / 2**20:.1f} MiB, over the 16 MiB limit")
        logging.info("%s: %.2f MiB", path, size / 2**20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", action="append", default=[], metavar="STAGE=RUN",
                        help="a stage and its training run folder (repeatable)")
    parser.add_argument("--out", type=Path, default=Path("src/openfsgan/assets/models"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    torch.set_num_threads(1)
    for item in args.run:
        stage, _, run = item.partition("=")
        if stage not in STAGES or not run:
            raise SystemExit(f"--run must be STAGE=RUN with STAGE in {', '.join(STAGES)}")
        ship(stage, Path(run), args.out)


if __name__ == "__main__":
    main()
