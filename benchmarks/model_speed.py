"""Per-model cost: GMAC (hook-based count) and CPU latency, torch vs ONNX Runtime.

Usage::

    python benchmarks/model_speed.py [--sizes 128 256] [--threads 2] [--repeats 20]
                                     [--preset default]

Prints a Markdown table of medians. Latency is wall-clock per forward pass of one image
(batch 1, fp32, eval mode, no gradients); the ONNX model is exported with opset 17 by the
TorchScript exporter. Timings are only comparable on a quiet machine: other processes sharing
the cores slow torch several-fold.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from openfsgan.models import build_model
from openfsgan.nn.dlib_resnet import load_dlib_face_resnet
from openfsgan.nn.macs import count_macs
from openfsgan.stages import STAGES


def example_inputs(name: str, size: int) -> tuple[torch.Tensor, ...]:
    image = torch.rand(1, 3, size, size) * 2 - 1
    mask = (torch.rand(1, 1, size, size) > 0.5).float()
    return {
        "reenactment": (image, torch.rand(1, 68, size, size)),
        "segmentation": (image,),
        "inpainting": (image, mask),
        "blending": (image, image.flip(-1), mask),
        "discriminator": (image,),
    }[name]


def median_ms(run: Callable[[], object], repeats: int) -> float:
    run()  # warm-up (allocations, ORT graph optimisation)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def onnx_session(model: torch.nn.Module, inputs: tuple[torch.Tensor, ...], threads: int,
                 folder: Path) -> tuple[ort.InferenceSession, dict[str, np.ndarray]]:
    names = [f"input_{i}" for i in range(len(inputs))]
    path = folder / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, inputs, str(path), opset_version=17, dynamo=False,
                          input_names=names)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session, {n: x.numpy() for n, x in zip(names, inputs, strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--preset", default="default")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in STAGES:
            model = build_model(name, preset=args.preset).eval()
            params = sum(p.numel() for p in model.parameters()) / 1e6
            for size in args.sizes:
                inputs = example_inputs(name, size)
                gmac = count_macs(model, *inputs) / 1e9
                with torch.no_grad():
                    torch_ms = median_ms(lambda m=model, x=inputs: m(*x), args.repeats)
                session, feeds = onnx_session(model, inputs, args.threads, Path(tmp))
                onnx_ms = median_ms(lambda s=session, f=feeds: s.run(None, f), args.repeats)
                rows.append((name, f"{params:.2f}", f"{size}²", f"{gmac:.2f}",
                             f"{torch_ms:.1f}", f"{onnx_ms:.1f}"))
        discriminator = build_model("discriminator", preset=args.preset).eval()
        for size in args.sizes:
            gmac = count_macs(discriminator, *example_inputs("discriminator", size)) / 1e9
            params = sum(p.numel() for p in discriminator.parameters()) / 1e6
            rows.append(("discriminator (training only)", f"{params:.2f}", f"{size}²",
                         f"{gmac:.2f}", "-", "-"))
        dlib_net = load_dlib_face_resnet()
        chip = torch.rand(1, 3, 150, 150) * 255
        with torch.no_grad():
            dlib_ms = median_ms(lambda: dlib_net(dlib_net.normalize(chip)), args.repeats)
        dlib_params = sum(p.numel() for p in dlib_net.parameters()) / 1e6
        rows.append(("dlib face descriptor (torch port)", f"{dlib_params:.2f}", "150²",
                     f"{count_macs(dlib_net, chip) / 1e9:.2f}", f"{dlib_ms:.1f}", "-"))

    header = ("model", "params (M)", "input", "GMAC", "torch ms", "ONNX Runtime ms")
    print(f"preset {args.preset}, {args.threads} thread(s), batch 1, median of {args.repeats}")
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
