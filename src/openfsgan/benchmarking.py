"""Throughput and peak memory of every stage, on synthetic or real video (``openfsgan bench``).

Stages measured:

* ``analysis`` — :meth:`openfsgan.face.analyzer.FaceAnalyzer.analyze_image` on every frame
  (detection + 68 landmarks + pose, no tracking: the worst case per frame);
* ``analysis_tracked`` — :meth:`~openfsgan.face.analyzer.FaceAnalyzer.track_frames` over the
  clip (detection every K frames, tracking in between: what the swap uses);
* ``descriptor`` — dlib's ResNet identity descriptor (the evaluation's identity metric);
* ``model:<name>`` — each model of :mod:`openfsgan.models.registry` on random input, through
  ONNX Runtime when the model exports to ONNX, else torch;
* ``swap`` — end to end :func:`openfsgan.jobs.run_swap` (decode, analyse, swap, encode).

**Peak memory** is measured by running each stage in a fresh Python process
(``python -m openfsgan.benchmarking``), so stages cannot inherit each other's memory. The child
reports its own peak resident memory after the stage (Linux ``VmHWM``, which starts afresh at
``exec``; ``ru_maxrss`` would carry the forking parent's size over ``exec``), which includes
the interpreter and the imported libraries, and its resident memory just before the timed
loop (after imports and input preparation); ``peak - baseline`` is what the stage itself
added. On CUDA the peak of ``torch.cuda.max_memory_allocated`` is reported as well.

**Speed** is 1 / median per-frame time where every frame does the same work (analysis of
single frames, descriptor, models), and frames / total time where the work varies by design
(tracked analysis detects every K frames; the swap job includes source preparation).

The synthetic clip is scikit-image's astronaut (one real face, shipped with scikit-image, so
the benchmark runs anywhere), her head and shoulders scaled to 80 % of the frame height on a
gradient background, drifting a few pixels per frame so that tracking has work to do.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openfsgan.errors import ConfigError

log = logging.getLogger(__name__)

RESOLUTIONS: dict[str, tuple[int, int]] = {
    "240p": (426, 240),
    "360p": (640, 360),
    "480p": (854, 480),
    "720p": (1280, 720),
    "1080p": (1920, 1080),
}
# Head-and-shoulders window of the astronaut photo (rows, columns), face in its upper middle.
_ASTRONAUT_HEAD = (slice(20, 260), slice(120, 330))


def parse_resolution(text: str) -> tuple[str, int, int]:
    """``"720p"`` or ``"1280x720"`` -> ``(name, width, height)``."""
    name = text.strip().lower()
    if name in RESOLUTIONS:
        return (name, *RESOLUTIONS[name])
    width_text, sep, height_text = name.partition("x")
    if sep and width_text.isdigit() and height_text.isdigit():
        width, height = int(width_text), int(height_text)
        if 64 <= width <= 7680 and 64 <= height <= 4320:
            return name, width, height
    raise ConfigError(f"unknown resolution {text!r}: use {', '.join(RESOLUTIONS)} or WxH "
                      "(64..7680 x 64..4320)")


def astronaut_frame(width: int, height: int, index: int = 0, frames: int = 30,
                    mirror: bool = False, face_fraction: float = 0.8) -> np.ndarray:
    """Frame ``index`` of the synthetic clip: ``uint8 [height, width, 3]``.

    The astronaut's head-and-shoulders window is scaled to ``face_fraction`` of the frame
    height (capped by the width) and drifts on a small ellipse over the clip. ``mirror`` flips
    her left-right: the face descriptor then sees a different-looking person, which tests use
    as a second identity.
    """
    import cv2
    from skimage import data

    head = data.astronaut()[_ASTRONAUT_HEAD]
    if mirror:
        head = head[:, ::-1]
    scale = min(face_fraction * height / head.shape[0], 0.9 * width / head.shape[1])
    size = (max(1, round(head.shape[1] * scale)), max(1, round(head.shape[0] * scale)))
    head = cv2.resize(np.ascontiguousarray(head), size, interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[:height, :width]
    background = (60 + 80 * xx / max(width - 1, 1) + 40 * yy / max(height - 1, 1)).astype(np.uint8)
    frame = np.repeat(background[:, :, None], 3, axis=2)
    phase = 2 * math.pi * index / max(frames, 1)
    amplitude = max(1.0, 0.02 * height)
    x0 = (width - size[0]) // 2 + round(amplitude * math.cos(phase))
    y0 = (height - size[1]) // 2 + round(0.5 * amplitude * math.sin(phase))
    x0 = int(np.clip(x0, 0, width - size[0]))
    y0 = int(np.clip(y0, 0, height - size[1]))
    frame[y0:y0 + size[1], x0:x0 + size[0]] = head
    return frame


def write_astronaut_clip(path: str | os.PathLike[str], width: int, height: int, frames: int,
                         fps: int = 25, mirror: bool = False,
                         face_fraction: float = 0.8) -> Path:
    """Write the synthetic clip (H.264 MP4, atomically) and return its path."""
    from openfsgan.io.media import VideoWriter

    out = Path(path)
    with VideoWriter(out, fps=fps, width=width, height=height) as writer:
        for index in range(frames):
            writer.write(astronaut_frame(width, height, index, frames, mirror, face_fraction))
    return out


def write_resized_clip(video: str | os.PathLike[str], path: str | os.PathLike[str],
                       height: int, frames: int) -> Path:
    """The first ``frames`` frames of ``video`` scaled to ``height`` (aspect kept, even width)."""
    import cv2

    from openfsgan.io.media import VideoWriter, iter_frames, probe

    info = probe(video)
    width = max(2, round(info.width * height / info.height / 2) * 2)
    out = Path(path)
    with VideoWriter(out, fps=info.fps if info.is_video else 25, width=width,
                     height=height) as writer:
        for frame in iter_frames(video):
            if frame.index >= frames:
                break
            writer.write(cv2.resize(frame.rgb, (width, height), interpolation=cv2.INTER_AREA))
    return out


# ----------------------------------------------------------------------------- configuration

STAGES = ("analysis", "analysis_tracked", "descriptor", "models", "swap")
# Stages whose cost does not depend on the frame size (run once, on the first resolution).
RESOLUTION_FREE_STAGES = ("descriptor", "models")
# How to make a random input for a model's forward() argument, by argument name:
# (channels, kind); kind "image" is uniform in [-1, 1], "mask" binary, "heatmaps" in [0, 1].
MODEL_ARGUMENTS: dict[str, tuple[int | str, str]] = {
    "image": (3, "image"), "reenacted": (3, "image"), "target": (3, "image"),
    "mask": (1, "mask"), "heatmaps": ("num_landmarks", "heatmaps"),
}
# Registered networks used only while training are not part of inference throughput.
TRAINING_ONLY_MODELS = ("discriminator",)


@dataclass(frozen=True)
class BenchConfig:
    """What ``openfsgan bench`` measures.

    Attributes:
        resolutions: frame sizes (``480p`` or ``WxH``).
        frames: frames per measurement (the first one is a warm-up, not timed).
        device: ``cpu`` or ``cuda`` (models and the swap; dlib analysis is CPU-only).
        stages: subset of :data:`STAGES`.
        model_size_px: square input side of the generators (the method's crops are 256²).
        method: swap method of the ``swap`` stage.
        video: a real clip to use instead of the synthetic astronaut.
        threads: torch/ONNX Runtime intra-op threads (None: library default).
        isolate: run every stage in a fresh process (needed for per-stage peak memory).
        timeout_s: limit per stage process.
    """

    resolutions: tuple[str, ...] = ("480p", "720p", "1080p")
    frames: int = 20
    device: str = "cpu"
    stages: tuple[str, ...] = STAGES
    model_size_px: int = 256
    method: str = "classic"
    video: str | None = None
    threads: int | None = None
    isolate: bool = True
    timeout_s: float = 900.0

    def __post_init__(self) -> None:
        for resolution in self.resolutions:
            parse_resolution(resolution)
        if not self.resolutions:
            raise ConfigError("at least one resolution is needed")
        if self.frames < 2:
            raise ConfigError(f"--frames must be at least 2 (one warm-up), got {self.frames}")
        if self.device not in ("cpu", "cuda"):
            raise ConfigError(f"--device must be cpu or cuda, got {self.device!r}")
        unknown = [s for s in self.stages if s not in STAGES]
        if unknown or not self.stages:
            raise ConfigError(f"unknown stage(s) {', '.join(unknown) or '(none)'}; valid: "
                              f"{', '.join(STAGES)}")
        if self.model_size_px < 32 or self.model_size_px % 32:
            raise ConfigError(f"model size must be a multiple of 32 pixels, got "
                              f"{self.model_size_px}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"--threads must be >= 1, got {self.threads}")


# ----------------------------------------------------------------------------- the stages
# Each stage function runs inside the measuring process: it prepares its inputs and models
# (not timed), calls ``mark_baseline()`` and then times one call per frame.

Stage = Callable[[dict[str, Any], Callable[[], None]], dict[str, Any]]


def _load_frames(clip: str, frames: int) -> list[np.ndarray]:
    from openfsgan.io.media import iter_frames

    loaded = []
    for frame in iter_frames(clip):
        if frame.index >= frames:
            break
        loaded.append(frame.rgb)
    return loaded


def _stage_analysis(spec: dict[str, Any], mark_baseline: Callable[[], None]) -> dict[str, Any]:
    from openfsgan.face.analyzer import FaceAnalyzer

    frames = _load_frames(spec["clip"], spec["frames"])
    analyzer = FaceAnalyzer()
    started = time.perf_counter()
    found = len(analyzer.analyze_image(frames[0]).faces)  # warm-up: loads the dlib models
    load_s = time.perf_counter() - started
    mark_baseline()
    durations = []
    for rgb in frames[1:]:
        started = time.perf_counter()
        found += len(analyzer.analyze_image(rgb).faces)
        durations.append(time.perf_counter() - started)
    return {"durations_s": durations, "load_s": load_s,
            "note": f"{found} faces on {len(frames)} frames"}


def _stage_analysis_tracked(spec: dict[str, Any],
                            mark_baseline: Callable[[], None]) -> dict[str, Any]:
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.io.media import VideoFrame

    frames = [VideoFrame(i, i / 25.0, rgb)
              for i, rgb in enumerate(_load_frames(spec["clip"], spec["frames"]))]
    analyzer = FaceAnalyzer()
    started = time.perf_counter()
    analyzer.analyze_image(frames[0].rgb)  # loads the dlib models
    load_s = time.perf_counter() - started
    mark_baseline()
    durations = []
    found = 0
    tracked = analyzer.track_frames(frames)
    while True:
        started = time.perf_counter()
        result = next(tracked, None)
        if result is None:
            break
        durations.append(time.perf_counter() - started)
        found += len(result.faces)
    return {"durations_s": durations, "load_s": load_s, "mixed_work": True,
            "note": f"{found} faces on {len(frames)} frames"}


def _stage_descriptor(spec: dict[str, Any], mark_baseline: Callable[[], None]) -> dict[str, Any]:
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.metrics.identity import FaceDescriptor

    frames = _load_frames(spec["clip"], spec["frames"])
    face = FaceAnalyzer().analyze_image(frames[0]).largest()
    if face is None:
        return {"skipped": "no face on the first frame to describe"}
    descriptor = FaceDescriptor()
    started = time.perf_counter()
    descriptor.describe(frames[0], face.landmarks)
    load_s = time.perf_counter() - started
    mark_baseline()
    durations = []
    for rgb in frames[1:]:
        started = time.perf_counter()
        descriptor.describe(rgb, face.landmarks)
        durations.append(time.perf_counter() - started)
    return {"durations_s": durations, "load_s": load_s}


def model_example_inputs(name: str, model: Any, size_px: int, seed: int = 0) -> tuple[Any, ...]:
    """Random ``[1, C, size, size]`` inputs for ``model.forward``, made from its argument names
    (see :data:`MODEL_ARGUMENTS`); raises KeyError naming an argument it cannot make."""
    import inspect

    import torch

    generator = torch.Generator().manual_seed(seed)
    inputs = []
    for argument in list(inspect.signature(model.forward).parameters):
        if argument not in MODEL_ARGUMENTS:
            raise KeyError(f"no input recipe for argument {argument!r} of model {name!r}")
        channels, kind = MODEL_ARGUMENTS[argument]
        if isinstance(channels, str):
            channels = int(getattr(model.config, channels))
        values = torch.rand(1, channels, size_px, size_px, generator=generator)
        if kind == "image":
            values = values * 2 - 1
        elif kind == "mask":
            values = (values > 0.5).float()
        inputs.append(values)
    return tuple(inputs)


def _stage_model(spec: dict[str, Any], mark_baseline: Callable[[], None]) -> dict[str, Any]:
    import warnings

    import torch

    from openfsgan.models.registry import build_model

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    name, backend, device = spec["model"], spec["backend"], spec["device"]
    started = time.perf_counter()
    model = build_model(name).eval()
    try:
        inputs = model_example_inputs(name, model, spec["size"])
    except KeyError as error:
        return {"skipped": str(error)}
    parameters = sum(p.numel() for p in model.parameters())
    note = f"{parameters / 1e6:.2f} M parameters, input {spec['size']}²"
    if backend == "torch":
        model = model.to(device)
        inputs = tuple(x.to(device) for x in inputs)

        def call() -> None:
            with torch.inference_mode():
                model(*inputs)
            if device == "cuda":
                torch.cuda.synchronize()
    else:
        import onnxruntime as ort

        providers = (["CUDAExecutionProvider"] if device == "cuda" else
                     ["CPUExecutionProvider"])
        if providers[0] not in ort.get_available_providers():
            return {"skipped": f"ONNX Runtime has no {providers[0]} here"}
        path = Path(spec["work"]) / f"{name}.onnx"
        names = [f"input_{i}" for i in range(len(inputs))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about constant spatial sizes
            torch.onnx.export(model, inputs, str(path), opset_version=17, dynamo=False,
                              input_names=names)
        options = ort.SessionOptions()
        if spec.get("threads"):
            options.intra_op_num_threads = int(spec["threads"])
        session = ort.InferenceSession(str(path), options, providers=providers)
        feeds = {n: x.numpy() for n, x in zip(names, inputs, strict=True)}
        del model

        def call() -> None:
            session.run(None, feeds)
    call()  # warm-up
    load_s = time.perf_counter() - started
    mark_baseline()
    durations = []
    for _ in range(spec["frames"] - 1):
        started = time.perf_counter()
        call()
        durations.append(time.perf_counter() - started)
    return {"durations_s": durations, "load_s": load_s, "note": note}


def _stage_swap(spec: dict[str, Any], mark_baseline: Callable[[], None]) -> dict[str, Any]:
    try:
        from openfsgan.jobs import SwapRequest, run_swap
    except ImportError as error:
        return {"skipped": f"the swap pipeline is not available ({error})"}
    from openfsgan.errors import ModelError

    mark_baseline()
    output = Path(spec["work"]) / f"swap_{Path(spec['clip']).stem}.mp4"
    request = SwapRequest(source=Path(spec["source"]), target=Path(spec["clip"]), output=output,
                          method=spec["method"], max_frames=spec["frames"], overwrite=True)
    started = time.perf_counter()
    try:
        summary = run_swap(request)
    except ModelError as error:
        return {"skipped": f"method {spec['method']!r} not available: {error}"}
    wall_s = time.perf_counter() - started
    frames = int(summary.frames_total)
    seconds = float(summary.seconds) or wall_s
    return {"durations_s": [seconds / max(frames, 1)] * frames, "load_s": 0.0,
            "mixed_work": True,
            "note": f"{summary.frames_swapped}/{frames} frames swapped, {wall_s:.1f} s wall "
                    f"(decode, analysis, swap, watermark, encode)"}


STAGE_FUNCTIONS: dict[str, Stage] = {
    "analysis": _stage_analysis,
    "analysis_tracked": _stage_analysis_tracked,
    "descriptor": _stage_descriptor,
    "model": _stage_model,
    "swap": _stage_swap,
}


def measure_stage(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one stage in this process and measure it: timings, baseline and peak memory."""
    from openfsgan.metrics.speed import current_rss_mb, peak_rss_mb, summarize_durations

    baseline: dict[str, float] = {}

    def mark_baseline() -> None:
        baseline["rss_mb"] = current_rss_mb()
        if spec.get("device") == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()

    result = STAGE_FUNCTIONS[spec["stage"]](spec, mark_baseline)
    if "skipped" in result:
        return result
    measured: dict[str, Any] = {**summarize_durations(result.pop("durations_s")), **result}
    if measured.pop("mixed_work", False):
        # Frames differ in cost by design (detection every K frames, source preparation):
        # throughput is frames over total time, not the typical frame.
        measured["fps"] = measured["fps_mean"]
    measured["peak_rss_mb"] = peak_rss_mb()
    measured["baseline_rss_mb"] = baseline.get("rss_mb")
    if spec.get("device") == "cuda":
        import torch

        measured["cuda_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return measured


def _run_isolated(spec: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """:func:`measure_stage` in a fresh interpreter; its JSON comes back on the last line."""
    import json
    import subprocess
    import sys

    command = [sys.executable, "-m", "openfsgan.benchmarking", json.dumps(spec)]
    env = dict(os.environ)
    if spec.get("threads"):
        env.update(OMP_NUM_THREADS=str(spec["threads"]), MKL_NUM_THREADS=str(spec["threads"]))
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s,
                              env=env, check=False)
    except subprocess.TimeoutExpired:
        return {"skipped": f"stage took longer than {timeout_s:.0f} s"}
    lines = [line for line in done.stdout.splitlines() if line.startswith(_RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skipped": f"stage process failed (exit {done.returncode}): {tail}"}
    return dict(json.loads(lines[-1][len(_RESULT_PREFIX):]))


_RESULT_PREFIX = "OPENFSGAN_BENCH_RESULT "


# ----------------------------------------------------------------------------- the run

def device_info(device: str) -> dict[str, Any]:
    """What the numbers were measured on."""
    import platform

    import torch

    info: dict[str, Any] = {"device": device, "cpu_count": os.cpu_count(),
                            "platform": platform.platform(), "python": platform.python_version(),
                            "torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    if device == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda: torch sees no CUDA device here")
        info["gpu"] = torch.cuda.get_device_name(0)
    try:
        import onnxruntime

        info["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        info["onnxruntime"] = None
    return info


def _model_jobs(config: BenchConfig) -> tuple[list[tuple[str, str]], list[str]]:
    """(model, backend) pairs to measure, and notes on what is left out."""
    notes: list[str] = []
    try:
        from openfsgan.models.registry import model_names
    except ImportError as error:
        return [], [f"models skipped: no model registry ({error})"]
    names = [n for n in model_names() if n not in TRAINING_ONLY_MODELS]
    left_out = [n for n in model_names() if n in TRAINING_ONLY_MODELS]
    if left_out:
        notes.append(f"training-only networks not measured: {', '.join(left_out)}")
    notes.append("models run with their default config and random weights on random input "
                 f"({config.model_size_px}², batch 1): speed and memory do not depend on the "
                 "weights")
    return [(n, backend) for n in names for backend in ("torch", "onnx")], notes


def _prepare_clips(config: BenchConfig, work: Path) -> dict[str, str]:
    clips: dict[str, str] = {}
    for resolution in config.resolutions:
        name, width, height = parse_resolution(resolution)
        path = work / f"clip_{name}.mp4"
        if config.video:
            write_resized_clip(config.video, path, height, config.frames)
        else:
            write_astronaut_clip(path, width, height, config.frames)
        clips[name] = str(path)
    return clips


def run_benchmark(config: BenchConfig, work_dir: str | os.PathLike[str],
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Measure every stage at every resolution; returns the bench report (a dict)."""
    from openfsgan.io.media import write_image

    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    info = device_info(config.device)
    clips = _prepare_clips(config, work)
    source = work / "source.png"
    write_image(source, astronaut_frame(512, 512, mirror=True, face_fraction=0.9))
    notes = [
        "peak memory: each stage runs in a fresh Python process; peak_rss_mb is that "
        "process's ru_maxrss (interpreter and libraries included), stage_rss_mb the part "
        "added after imports and input preparation",
        "fps = 1000 / median per-frame time; the first frame (model loading) is not timed",
    ]
    model_jobs, model_notes = _model_jobs(config) if "models" in config.stages else ([], [])
    notes += model_notes
    specs: list[tuple[str, dict[str, Any]]] = []
    first = next(iter(clips))
    base = {"frames": config.frames, "device": config.device, "threads": config.threads,
            "work": str(work), "size": config.model_size_px, "method": config.method,
            "source": str(source)}
    for stage in config.stages:
        if stage == "models":
            specs += [("any", {**base, "stage": "model", "clip": clips[first], "model": m,
                               "backend": b}) for m, b in model_jobs]
        elif stage in RESOLUTION_FREE_STAGES:
            specs.append(("any", {**base, "stage": stage, "clip": clips[first]}))
        else:
            specs += [(name, {**base, "stage": stage, "clip": clip})
                      for name, clip in clips.items()]
    results = []
    for done, (resolution, spec) in enumerate(specs, start=1):
        label = (f"model:{spec['model']} ({spec['backend']})" if spec["stage"] == "model"
                 else spec["stage"])
        log.info("bench %s at %s", label, resolution)
        measured = (_run_isolated(spec, config.timeout_s) if config.isolate
                    else measure_stage(spec))
        if measured.get("baseline_rss_mb") is not None and "peak_rss_mb" in measured:
            measured["stage_rss_mb"] = measured["peak_rss_mb"] - measured["baseline_rss_mb"]
        results.append({"stage": label, "resolution": resolution, **measured})
        if progress is not None:
            progress(done, len(specs))
    return {"format": "openfsgan-bench", "version": 1, "config": asdict(config),
            "device": info, "notes": notes, "results": results}


# ----------------------------------------------------------------------------- the table

def markdown_table(report: dict[str, Any]) -> str:
    """One row per stage, one column per resolution: ``fps · peak MiB`` (or the skip reason)."""
    resolutions = [parse_resolution(r)[0] for r in report["config"]["resolutions"]]
    stages = list(dict.fromkeys(r["stage"] for r in report["results"]))
    lines = ["| stage | " + " | ".join(resolutions) + " |",
             "|---|" + "---:|" * len(resolutions)]

    def cell(result: dict[str, Any] | None) -> str:
        if result is None:
            return ""
        if "skipped" in result:
            return f"skipped: {result['skipped']}".replace("|", "/")
        text = f"{result['fps']:.1f} fps · {result['peak_rss_mb']:.0f} MiB"
        if result.get("stage_rss_mb") is not None:
            text += f" (+{max(result['stage_rss_mb'], 0.0):.0f})"
        if result.get("cuda_peak_mb") is not None:
            text += f" (GPU {result['cuda_peak_mb']:.0f} MiB)"
        return text

    for stage in stages:
        rows = {r["resolution"]: r for r in report["results"] if r["stage"] == stage}
        if "any" in rows:
            cells = [cell(rows["any"]) + " (any size)"] + [""] * (len(resolutions) - 1)
        else:
            cells = [cell(rows.get(name)) for name in resolutions]
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    device = report["device"]
    where = device.get("gpu") or f"CPU, {device.get('cpu_count')} cores"
    lines.append("")
    lines.append(f"Device: {device['device']} ({where}); {report['config']['frames']} frames "
                 "per measurement; cells: fps · peak resident memory of the stage's process "
                 "(+ what the stage added after imports and loading). fps: 1 / median frame "
                 "time; frames / total time for analysis_tracked and swap.")
    return "\n".join(lines)


def _child_main(argv: list[str]) -> int:
    import json
    import sys

    spec = json.loads(argv[0])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    result = measure_stage(spec)
    sys.stdout.write(_RESULT_PREFIX + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(_child_main(sys.argv[1:]))
