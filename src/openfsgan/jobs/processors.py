"""Frame processors: what happens to one target frame, for each method and mode.

A processor is built once per job and then called per frame, keeping what must carry over
between frames (temporal smoothing, the driver's reference face) and handing it to the work
state so that a resumed job continues seamlessly. The job runner depends only on the
:class:`_FrameProcessor` protocol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from openfsgan.jobs.request import JobOptions, SwapRequest
from openfsgan.jobs.sources import _reenact_source, load_source_appearance
from openfsgan.pipelines.classic import ClassicConfig, SourceAppearance, TemporalState
from openfsgan.pipelines.reenact import ReenactConfig, ReenactSource, reenact_face
from openfsgan.pipelines.swap import swap_frame
from openfsgan.types import Face

if TYPE_CHECKING:
    from openfsgan.face.analyzer import FaceAnalyzer


class _FrameProcessor(Protocol):
    output_size: tuple[int, int] | None  # (width, height); None: the target's

    def __call__(self, rgb: np.ndarray, face: Face | None) -> np.ndarray: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state(self, data: dict[str, Any]) -> None: ...


class _SmoothedSwap:
    """A swap whose video state (smoothed colour and mask, :class:`TemporalState`) carries over
    between frames and into a resumed job."""

    state: TemporalState | None

    def state_dict(self) -> dict[str, Any]:
        return self.state.to_dict() if self.state is not None else {}

    def load_state(self, data: dict[str, Any]) -> None:
        if self.state is not None and data:
            self.state.load_dict(data)


class _SwapProcessor(_SmoothedSwap):
    def __init__(self, source: SourceAppearance, config: ClassicConfig, video: bool) -> None:
        self.source = source
        self.config = config
        self.state = TemporalState.for_video(config) if video else None
        self.output_size: tuple[int, int] | None = None

    def __call__(self, rgb: np.ndarray, face: Face | None) -> np.ndarray:
        if face is None:
            return rgb
        return swap_frame(rgb, face, self.source, self.config, self.state)


class _ReenactProcessor:
    def __init__(self, source: ReenactSource, config: ReenactConfig) -> None:
        self.source = source
        self.config = config
        self.reference: Face | None = None
        height, width = source.frame.shape[:2]
        self.output_size: tuple[int, int] | None = (width, height)

    def __call__(self, rgb: np.ndarray, face: Face | None) -> np.ndarray:
        if face is None:
            return self.source.frame.copy()
        if self.reference is None:
            # the driver's first face is its reference: motion is measured from there
            self.reference = face
        return self._reenact(rgb, face, self.reference)

    def _reenact(self, rgb: np.ndarray, face: Face, reference: Face) -> np.ndarray:
        return reenact_face(self.source, face, reference, self.config, driver_rgb=rgb)

    def state_dict(self) -> dict[str, Any]:
        return {"reference": None if self.reference is None else self.reference.to_dict()}

    def load_state(self, data: dict[str, Any]) -> None:
        if data.get("reference"):
            self.reference = Face.from_dict(data["reference"])


class _NeuralSwapProcessor(_SmoothedSwap):
    def __init__(self, models: Any, source: SourceAppearance, video: bool,
                 identity_strength: float | None = None) -> None:
        from openfsgan.pipelines.neural import NeuralConfig

        self.models = models
        self.source = source
        self.neural_config = NeuralConfig() if identity_strength is None \
            else NeuralConfig(identity_strength=identity_strength)
        self.state = TemporalState.for_video(self.neural_config) if video else None
        self.output_size: tuple[int, int] | None = None

    def __call__(self, rgb: np.ndarray, face: Face | None) -> np.ndarray:
        from openfsgan.pipelines.neural import swap_frame as neural_swap_frame

        if face is None:
            return rgb
        return neural_swap_frame(self.models, rgb, face, self.source, self.neural_config,
                                 self.state)


class _NeuralReenactProcessor(_ReenactProcessor):
    def __init__(self, models: Any, source: ReenactSource, config: ReenactConfig) -> None:
        from openfsgan.pipelines.neural import NeuralReenactSource

        super().__init__(source, config)
        self.models = models
        self.neural_source = NeuralReenactSource.prepare(models, source.frame, source.face)

    def _reenact(self, rgb: np.ndarray, face: Face, reference: Face) -> np.ndarray:
        from openfsgan.pipelines.neural import reenact_frame as neural_reenact_frame
        from openfsgan.pipelines.reenact import retarget_landmarks

        driven = retarget_landmarks(self.source.face, face, reference,
                                    self.config.expression_gain)
        return neural_reenact_frame(self.models, self.neural_source, driven)


def _neural_processor(request: SwapRequest, analyzer: FaceAnalyzer, options: JobOptions,
                      video: bool) -> tuple[_FrameProcessor, int]:
    """The neural path's frame processor (shipped ONNX generators) and its source views."""
    from openfsgan.inference import NeuralModels
    from openfsgan.pipelines.neural import NeuralConfig

    models = NeuralModels.load()
    if request.mode == "reenact":
        source = _reenact_source(request, analyzer, options.reenact)
        return _NeuralReenactProcessor(models, source, options.reenact), 1
    appearance = load_source_appearance(request.source, request.source_face, analyzer,
                                        NeuralConfig().source_config(models.resolution),
                                        options.use_cache)
    return (_NeuralSwapProcessor(models, appearance, video, request.identity_strength),
            len(appearance.views))
