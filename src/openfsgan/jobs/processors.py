"""Frame processors: what happens to one target frame, in swap and in reenact mode.

A processor is built once per job from the job's configuration (:func:`build_processor`) and
then called per frame, keeping what must carry over between frames (temporal smoothing, the
driver's reference face) and handing it to the work state so that a resumed job continues
seamlessly. The job runner depends only on the :class:`FrameProcessor` protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import numpy as np

from openfsgan.face.align import paste_alpha, paste_back
from openfsgan.jobs.request import JobOptions, SwapRequest
from openfsgan.jobs.sources import load_source_appearance, reenact_source
from openfsgan.pipelines.appearance import AppearanceConfig, SourceAppearance, TemporalState
from openfsgan.pipelines.config import SwapConfig, build_reenactor, build_stages
from openfsgan.pipelines.reenact import ReenactConfig, reenact_face
from openfsgan.pipelines.stages import Reenactor, ReenactSource, SwapStages
from openfsgan.pipelines.swap import swap_crop
from openfsgan.types import Face

if TYPE_CHECKING:
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.inference import NeuralModels


class FrameResult(NamedTuple):
    """One processed frame: ``rgb`` ``[H, W, 3]`` uint8 and, when asked for, ``alpha``
    ``[H, W]`` float32, the soft mask the face was composited with (None: unchanged frame)."""

    rgb: np.ndarray
    alpha: np.ndarray | None = None


class FrameProcessor(Protocol):
    output_size: tuple[int, int] | None  # (width, height); None: the target's
    with_alpha: bool  # compute FrameResult.alpha (for a frame observer)

    def __call__(self, rgb: np.ndarray, face: Face | None) -> FrameResult: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state(self, data: dict[str, Any]) -> None: ...


class SwapProcessor:
    """The swap of one frame with the job's stages; its video state (smoothed colour and mask,
    :class:`TemporalState`) carries over between frames and into a resumed job."""

    def __init__(self, stages: SwapStages, source: SourceAppearance, config: AppearanceConfig,
                 video: bool) -> None:
        self.stages = stages
        self.source = source
        self.config = config
        self.state = TemporalState.for_video(config) if video else None
        self.output_size: tuple[int, int] | None = None
        self.with_alpha = False

    def __call__(self, rgb: np.ndarray, face: Face | None) -> FrameResult:
        if face is None:
            return FrameResult(rgb)
        swapped = swap_crop(rgb, face, self.source, self.stages, self.config, self.state)
        # into the target frame as the swap left it (glasses painted out, face outline moved)
        frame = paste_back(swapped.target_crop.frame, swapped.output, swapped.output_mask,
                           swapped.output_transform)
        alpha = None
        if self.with_alpha:
            alpha = paste_alpha(swapped.output_mask, swapped.output_transform, rgb.shape)
            if swapped.target_crop.frame is not rgb:  # what the swap moved or painted out
                alpha = np.maximum(alpha, (swapped.target_crop.frame != rgb).any(axis=2))
        return FrameResult(frame, alpha)

    def state_dict(self) -> dict[str, Any]:
        return self.state.to_dict() if self.state is not None else {}

    def load_state(self, data: dict[str, Any]) -> None:
        if self.state is not None and data:
            self.state.load_dict(data)


class ReenactProcessor:
    """The source face driven by each driver frame, motion measured from the driver's first
    face (its reference, kept for a resumed job)."""

    def __init__(self, reenactor: Reenactor, source: ReenactSource,
                 config: ReenactConfig) -> None:
        self.reenactor = reenactor
        self.source = source
        self.config = config
        self.reference: Face | None = None
        height, width = source.frame.shape[:2]
        self.output_size: tuple[int, int] | None = (width, height)
        self.with_alpha = False

    def __call__(self, rgb: np.ndarray, face: Face | None) -> FrameResult:
        if face is None:
            return FrameResult(self.source.frame.copy())
        if self.reference is None:
            # the driver's first face is its reference: motion is measured from there
            self.reference = face
        frame = reenact_face(self.reenactor, self.source, face, self.reference, self.config,
                             driver_rgb=rgb)
        # the driven crop is pasted through its border window
        alpha = (paste_alpha(self.source.window, self.source.transform, frame.shape)
                 if self.with_alpha else None)
        return FrameResult(frame, alpha)

    def state_dict(self) -> dict[str, Any]:
        return {"reference": None if self.reference is None else self.reference.to_dict()}

    def load_state(self, data: dict[str, Any]) -> None:
        if data.get("reference"):
            self.reference = Face.from_dict(data["reference"])


def _load_models() -> NeuralModels:
    from openfsgan.inference import NeuralModels

    return NeuralModels.load()


def _tuned_models(models: NeuralModels, request: SwapRequest, config: SwapConfig,
                  views: list[tuple[np.ndarray, np.ndarray]],
                  options: JobOptions) -> NeuralModels:
    """``models`` with G_r fine-tuned on the source's ``views`` (crop, landmarks) (from the
    fine-tuning cache when this source was tuned before)."""
    from dataclasses import replace

    from openfsgan.inference.sessions import load_session
    from openfsgan.pipelines.finetune import finetuned_reenactment

    folder = finetuned_reenactment(request.source, request.source_face, views, config.finetune,
                                   options.finetune_progress)
    return replace(models, reenactment=load_session("reenactment", folder))


def _photo_view(frame: np.ndarray, face: Face, size: int) -> tuple[np.ndarray, np.ndarray]:
    from openfsgan.face.align import estimate_alignment, transform_points, warp_to_crop

    transform = estimate_alignment(face.landmarks, size)
    return (warp_to_crop(frame, transform),
            transform_points(face.landmarks, transform.matrix).astype(np.float32))


def build_processor(request: SwapRequest, config: SwapConfig, analyzer: FaceAnalyzer,
                    options: JobOptions, video: bool, models: NeuralModels | None = None
                    ) -> tuple[FrameProcessor, int]:
    """The frame processor of a job and its number of source views (1 for reenact).

    The shipped generators (``models`` when given) are loaded only when a chosen stage runs
    one; with fine-tuning on (``config.finetune``), G_r is first tuned on the source's views and
    the stages are made again with the tuned G_r.
    """
    loaded: list[NeuralModels] = [] if models is None else [models]

    def load_models() -> NeuralModels:
        if not loaded:
            loaded.append(_load_models())
        return loaded[0]

    tune = config.finetune.enabled and config.reenactment == "neural"
    if request.mode == "reenact":
        reenactor = build_reenactor(config, load_models)
        source = reenact_source(request, analyzer, reenactor)
        if tune:
            view = _photo_view(source.frame, source.face, load_models().resolution)
            tuned = _tuned_models(load_models(), request, config, [view], options)
            reenactor = build_reenactor(config, lambda: tuned)
            source = reenactor.prepare(source.frame, source.face)
        return ReenactProcessor(reenactor, source, config.reenact), 1
    stages = build_stages(config, load_models)
    geometry = stages.reenactor.view_geometry(config.appearance.min_view_distance_deg)
    appearance = load_source_appearance(request.source, request.source_face, analyzer,
                                        geometry, options.use_cache)
    if tune:
        views = [(view.crop, view.landmarks) for view in appearance.views]
        tuned = _tuned_models(load_models(), request, config, views, options)
        stages = build_stages(config, lambda: tuned)
    return (SwapProcessor(stages, appearance, config.appearance, video),
            len(appearance.views))
