"""ONNX export of trained generators, checked against torch with ONNX Runtime.

The generators run through ONNX Runtime at inference (faster than torch on a CPU; see
``NOTES.md``), so every export is verified: the same inputs go through torch and through the
exported graph, and the largest absolute difference must stay under a tolerance, or the export
fails and nothing is written.

Graphs use opset 17 and the TorchScript-based exporter (``dynamo=False``: it needs no
``onnxscript``). The batch axis is dynamic; the crop size is fixed at export.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from openfsgan.errors import ModelError
from openfsgan.inference.sessions import INPUT_NAMES, OUTPUT_NAMES
from openfsgan.io.atomic import atomic_output
from openfsgan.models.checkpoint import CONFIG_FILE, load_pretrained, read_checkpoint_config
from openfsgan.models.reenactment import ReenactmentGenerator

log = logging.getLogger(__name__)

OPSET = 17


@dataclass(frozen=True)
class ExportReport:
    """Result of one export."""

    path: Path
    model: str
    resolution: int
    max_abs_diff: float
    tolerance: float


def resolve_model_dir(path: str | os.PathLike[str]) -> tuple[Path, int | None]:
    """A model folder (config.json + model.safetensors) from a model folder or a run folder.

    For a run folder the trained generator of its latest checkpoint is taken, and the run's
    training resolution is returned with it (``None`` for a bare model folder).

    Raises:
        ModelError: neither a model folder nor a run with a checkpoint.
    """
    folder = Path(path)
    if (folder / CONFIG_FILE).is_file():
        return folder, None
    from openfsgan.training.checkpointing import latest_checkpoint
    from openfsgan.training.config import TrainConfig
    from openfsgan.training.stages import GENERATOR_ROLES

    config_path = folder / "config.yaml"
    if not config_path.is_file():
        raise ModelError(f"{folder} is neither a model folder ({CONFIG_FILE}) nor a training "
                         "run (config.yaml)")
    config = TrainConfig.from_yaml(config_path)
    checkpoint = latest_checkpoint(folder)
    if checkpoint is None:
        raise ModelError(f"training run {folder} has no checkpoint yet")
    return checkpoint / GENERATOR_ROLES[config.stage], config.resolution


def example_inputs(model_name: str, resolution: int, batch: int = 1,
                   seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Plausible inputs of a generator: images in ``[-1, 1]``, landmark heatmaps of a jittered
    canonical face, binary masks of an ellipse."""
    from openfsgan.face.align import canonical_landmarks
    from openfsgan.face.heatmaps import landmark_heatmaps

    rng = np.random.default_rng(seed)
    size = (batch, 3, resolution, resolution)

    def image() -> torch.Tensor:
        return torch.from_numpy(rng.uniform(-1, 1, size).astype(np.float32))

    def mask() -> torch.Tensor:
        ys, xs = np.mgrid[0:resolution, 0:resolution] / resolution
        masks = []
        for _ in range(batch):
            cx, cy, rx, ry = rng.uniform([0.4, 0.4, 0.15, 0.2], [0.6, 0.6, 0.3, 0.35])
            masks.append((((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2 <= 1).astype(np.float32))
        return torch.from_numpy(np.stack(masks)[:, None])

    if model_name == "reenactment":
        points = canonical_landmarks(resolution)[None] + rng.normal(0, 1.5, (batch, 68, 2))
        heatmaps = torch.from_numpy(landmark_heatmaps(points.astype(np.float32), resolution))
        return image(), heatmaps
    if model_name == "segmentation":
        return (image(),)
    if model_name == "inpainting":
        return image(), mask()
    if model_name == "blending":
        return image(), image(), mask()
    raise ModelError(f"{model_name!r} models are not exported; exportable: "
                     f"{', '.join(INPUT_NAMES)}")


class ReenactmentWithMotion(nn.Module):
    """G_r as exported: its output and segmentation, then its motion (flow, occlusion mask),
    in the order of ``OUTPUT_NAMES["reenactment"]``."""

    def __init__(self, generator: ReenactmentGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, image: torch.Tensor, heatmaps: torch.Tensor) -> tuple[torch.Tensor, ...]:
        parts = self.generator.components(image, heatmaps)
        return parts.image, parts.segmentation_logits, parts.flow, parts.occlusion_mask


def exported_module(generator: nn.Module) -> nn.Module:
    """The module whose outputs the ONNX graph of ``generator`` has (``OUTPUT_NAMES``): G_r
    with its motion, every other generator as it is."""
    if isinstance(generator, ReenactmentGenerator):
        return ReenactmentWithMotion(generator).eval()
    return generator


def _outputs(model: nn.Module, inputs: tuple[torch.Tensor, ...]) -> list[np.ndarray]:
    with torch.no_grad():
        result = model(*inputs)
    if isinstance(result, torch.Tensor):
        result = (result,)
    return [t.numpy() for t in result]


def export_onnx(model_path: str | os.PathLike[str], output: str | os.PathLike[str],
                resolution: int | None = None, tolerance: float = 1e-3,
                opset: int = OPSET) -> ExportReport:
    """Export a generator (model folder or training run) to ONNX and check it against torch.

    Args:
        model_path: a ``save_pretrained`` folder or a training run folder.
        output: the ``.onnx`` file to write (atomically, only when the check passes).
        resolution: crop size of the graph (default: the run's training resolution, else 256).
        tolerance: largest accepted absolute difference between ONNX Runtime and torch.
        opset: ONNX opset.

    Raises:
        ModelError: unreadable model, a non-generator model, or a failed parity check.
    """
    import onnxruntime as ort

    model_dir, run_resolution = resolve_model_dir(model_path)
    name = read_checkpoint_config(model_dir)["model"]
    if name not in INPUT_NAMES:
        raise ModelError(f"{model_dir} holds a {name!r} model; exportable: "
                         f"{', '.join(INPUT_NAMES)}")
    generator = load_pretrained(model_dir).float().eval()
    size = resolution or run_resolution or 256
    multiple = getattr(generator.config, "size_multiple", 1)
    if size % multiple:
        raise ModelError(f"resolution {size} is not a multiple of {multiple} for this model")
    model = exported_module(generator)
    inputs = example_inputs(name, size, batch=1)
    input_names, output_names = list(INPUT_NAMES[name]), list(OUTPUT_NAMES[name])
    with atomic_output(output) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about constant spatial sizes
            torch.onnx.export(model, inputs, str(tmp), opset_version=opset, dynamo=False,
                              input_names=input_names, output_names=output_names,
                              dynamic_axes={n: {0: "batch"} for n in input_names + output_names})
        # check on a batch of another size and other values than those traced
        check = example_inputs(name, size, batch=2, seed=1)
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
        got = session.run(None, {n: x.numpy() for n, x in zip(input_names, check, strict=True)})
        want = _outputs(model, check)
        if len(got) != len(want):
            raise ModelError(f"ONNX graph has {len(got)} outputs, torch {len(want)}")
        diff = max(float(np.abs(g - w).max()) for g, w in zip(got, want, strict=True))
        if not diff <= tolerance:
            raise ModelError(f"ONNX export of {model_dir} differs from torch by {diff:.3g} "
                             f"(tolerance {tolerance:g}); not written")
    log.info("exported %s (%d px) to %s; max |onnx - torch| = %.3g", name, size, output, diff)
    return ExportReport(Path(output), name, size, diff, tolerance)
