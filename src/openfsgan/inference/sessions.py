"""ONNX Runtime sessions of the four generators (G_r, G_s, G_c, G_b).

The default models ship inside the package (``openfsgan/assets/models/<stage>/``: ``model.onnx``
for inference, ``config.json`` + ``model.safetensors`` for fine-tuning) and are found with
:mod:`importlib.resources`, so a fresh clone or wheel runs without downloading anything. Another
folder with the same layout can be given instead (e.g. your own exports).

ONNX Runtime is used rather than torch because it is faster on a CPU (``NOTES.md``); the CUDA
provider is used when the installed onnxruntime has it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from openfsgan.errors import ModelError
from openfsgan.stages import STAGES

log = logging.getLogger(__name__)

ONNX_FILE = "model.onnx"

# the graphs' interface, written by :mod:`openfsgan.export.onnx` and read here (defined here so
# that inference never imports torch)
INPUT_NAMES: dict[str, tuple[str, ...]] = {
    "reenactment": ("image", "heatmaps"),
    "segmentation": ("image",),
    "inpainting": ("image", "mask"),
    "blending": ("reenacted", "target", "mask"),
}
OUTPUT_NAMES: dict[str, tuple[str, ...]] = {
    # G_r also gives its motion (flow, occlusion mask), so that the source's detail above the
    # network's resolution can be moved the same way (pipelines.neural.DetailTrack)
    "reenactment": ("reenacted", "segmentation_logits", "flow", "occlusion_mask"),
    "segmentation": ("segmentation_logits",),
    "inpainting": ("inpainted",),
    "blending": ("blended",),
}


def shipped_model_dir(stage: str) -> Path:
    """The folder of the default ``stage`` model inside the installed package."""
    if stage not in STAGES:
        raise ModelError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    return Path(str(resources.files("openfsgan") / "assets" / "models" / stage))


def execution_providers() -> list[str]:
    """CUDA when this onnxruntime has it, always with the CPU as the fallback."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    return [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]


def default_threads() -> int:
    """ONNX Runtime's intra-op threads when none are asked for: the cores this process may run
    on (ORT's own default counts the machine's physical cores, whatever the affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity on this platform
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, eq=False)
class GeneratorSession:
    """One generator graph: call it with NCHW float32 arrays, get its outputs.

    Attributes:
        stage: which generator (``reenactment`` ...).
        resolution: the crop side the graph was exported for.
        path: the ``.onnx`` file.
    """

    stage: str
    resolution: int
    path: Path
    session: Any

    def __call__(self, *inputs: np.ndarray) -> list[np.ndarray]:
        names = INPUT_NAMES[self.stage]
        if len(inputs) != len(names):
            raise ValueError(f"{self.stage} takes {len(names)} inputs ({', '.join(names)}), "
                             f"got {len(inputs)}")
        for name, array in zip(names, inputs, strict=True):
            if array.ndim != 4 or array.shape[-2:] != (self.resolution, self.resolution):
                raise ValueError(f"{self.stage}.{name} must be [B, C, {self.resolution}, "
                                 f"{self.resolution}], got {list(array.shape)}")
        feed = {n: np.ascontiguousarray(a, dtype=np.float32)
                for n, a in zip(names, inputs, strict=True)}
        return list(self.session.run(list(OUTPUT_NAMES[self.stage]), feed))


def load_session(stage: str, model_dir: str | os.PathLike[str] | None = None,
                 threads: int | None = None) -> GeneratorSession:
    """Open ``model_dir/model.onnx`` (default: the shipped ``stage`` model).

    Args:
        stage: one of :data:`STAGES`.
        model_dir: folder holding ``model.onnx``; None for the shipped model.
        threads: ONNX Runtime intra-op threads (None: :func:`default_threads`).

    Raises:
        ModelError: the file is missing or is not a valid graph of that stage.
    """
    import onnxruntime as ort

    folder = Path(model_dir) if model_dir is not None else shipped_model_dir(stage)
    path = folder / ONNX_FILE
    if not path.is_file():
        hint = ("the package was installed without its model files; reinstall openfsgan"
                if model_dir is None else
                f"export one with `openfsgan export-onnx RUN -o {path}`")
        raise ModelError(f"no {stage} model at {path}: {hint}")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads if threads is not None else default_threads()
    # ORT's worker threads busy-wait for work by default: that doubles the CPU time of a
    # 128-px generator and takes the cores from the job's decoder, tracker and encoder
    # threads, which run beside the generators
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(str(path), options, providers=execution_providers())
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        raise ModelError(f"cannot load {path}: {exc}") from exc
    names = tuple(i.name for i in session.get_inputs())
    if names != INPUT_NAMES[stage]:
        raise ModelError(f"{path} is not a {stage} model: inputs {', '.join(names)}, expected "
                         f"{', '.join(INPUT_NAMES[stage])}")
    outputs = tuple(o.name for o in session.get_outputs())
    if outputs != OUTPUT_NAMES[stage]:
        raise ModelError(f"{path} has outputs {', '.join(outputs)}, expected "
                         f"{', '.join(OUTPUT_NAMES[stage])}: export it again with this "
                         "version (`openfsgan export-onnx`)")
    shape = session.get_inputs()[0].shape
    if not (isinstance(shape[2], int) and shape[2] == shape[3]):
        raise ModelError(f"{path} must have a fixed square crop size, got input shape {shape}")
    return GeneratorSession(stage, int(shape[2]), path, session)


@dataclass(frozen=True, eq=False)
class NeuralModels:
    """The four generators of the neural path, at one crop resolution."""

    reenactment: GeneratorSession
    segmentation: GeneratorSession
    inpainting: GeneratorSession
    blending: GeneratorSession

    @property
    def resolution(self) -> int:
        return self.reenactment.resolution

    @staticmethod
    def load(models_dir: str | os.PathLike[str] | None = None,
             threads: int | None = None) -> NeuralModels:
        """Load ``models_dir/<stage>/model.onnx`` for every stage (default: the shipped ones).

        Raises:
            ModelError: a model is missing or invalid, or the resolutions differ.
        """
        sessions = {stage: load_session(stage, None if models_dir is None
                                        else Path(models_dir) / stage, threads)
                    for stage in STAGES}
        sizes = {s.resolution for s in sessions.values()}
        if len(sizes) != 1:
            raise ModelError("the generators were exported at different crop sizes: "
                             + ", ".join(f"{k} {v.resolution}" for k, v in sessions.items()))
        log.info("neural models (%d px) on %s", sizes.pop(),
                 sessions["reenactment"].session.get_providers()[0])
        return NeuralModels(**sessions)
