"""Fine-tuning G_r on one source photo: time per step and what it does to self-reconstruction.

Usage::

    python benchmarks/finetune_speed.py [--person hopper|astronaut] [--steps 30]
                                        [--batch-size 4] [--threads 2]

The shipped G_r is fine-tuned as ``--finetune`` does (:mod:`openfsgan.training.finetune`, all
loss terms) on the person's photo (scikit-image's astronaut or matplotlib's Grace Hopper).
Printed: wall and CPU seconds per step, the ONNX export's time, and the mean L1 of G_r
reconstructing held-out view pairs of the same photo (pairs of steps no training step draws)
before and after. Wall times are only comparable on a quiet machine; CPU seconds per step
tell what a quiet machine of the same cores would need.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from openfsgan.face.align import estimate_alignment, transform_points, warp_to_crop
from openfsgan.inference.sessions import shipped_model_dir
from openfsgan.jobs.sources import default_analyzer
from openfsgan.models.checkpoint import load_pretrained
from openfsgan.pipelines.finetune import FinetuneConfig
from openfsgan.training import finetune as tuning

HELD_OUT_STEP = 1_000_000  # batches of these steps are never drawn while training


def person_photo(person: str) -> np.ndarray:
    if person == "astronaut":
        from skimage import data

        return np.asarray(data.astronaut())
    import matplotlib.cbook
    from PIL import Image

    with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as handle:
        return np.asarray(Image.open(handle).convert("RGB"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--person", choices=("hopper", "astronaut"), default="hopper")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rgb = person_photo(args.person)
    face = default_analyzer().analyze_image(rgb).faces[0]
    transform = estimate_alignment(face.landmarks, 128)
    views = [(warp_to_crop(rgb, transform), transform_points(face.landmarks, transform.matrix))]
    config = FinetuneConfig(steps=args.steps, batch_size=args.batch_size)
    model = load_pretrained(shipped_model_dir("reenactment"), expected_model="reenactment")
    assert isinstance(model, tuning.ReenactmentGenerator)
    view_set = tuning.ViewSet(views, 128)
    view_set.label_with(model)
    held_out = [view_set.batch(HELD_OUT_STEP + k, config) for k in range(4)]
    before = np.mean([tuning.self_reconstruction_loss(model, b) for b in held_out])
    tuner = tuning.Finetuner(model, config)
    wall, cpu = time.perf_counter(), time.process_time()
    for step in range(args.steps):
        tuner.train_step(view_set.batch(step, config))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    model.eval()
    after = np.mean([tuning.self_reconstruction_loss(model, b) for b in held_out])
    with tempfile.TemporaryDirectory() as folder:
        export = time.perf_counter()
        tuning.export_tuned(model, Path(folder), 128)
        export = time.perf_counter() - export
    print(f"{args.person}, {args.steps} steps of {args.batch_size} pairs, {args.threads} "
          f"threads: {wall / args.steps:.2f} s/step wall, {cpu / args.steps:.2f} CPU-s/step; "
          f"ONNX export {export:.1f} s; held-out self-reconstruction L1 {before:.4f} -> "
          f"{after:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
