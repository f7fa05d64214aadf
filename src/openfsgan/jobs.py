"""Swap and reenactment jobs: the I/O layer shared by the CLI, the web UI and the evaluation.

:func:`run_swap` takes a :class:`SwapRequest` (source, target, output and options), reads the
inputs, runs the frame pipeline (:mod:`openfsgan.pipelines`) and writes the output, and returns
a :class:`JobSummary`.

* SOURCE: a photo, a folder of photos or a video. Every view of the chosen source face goes into
  the appearance map (near-duplicate poses fused, sharpest kept). Video sources are analysed
  through the analysis cache.
* TARGET: a photo or a video. The output keeps its resolution, frame count, fps and audio.
  Frames without the chosen face pass through unchanged and are counted.
* Video is streamed end to end (decode -> analyse -> swap -> encode, one frame at a time), so
  memory stays flat for any length.
* Resumable: finished frames are encoded in segments of ``JobOptions.segment_frames`` frames into
  a hidden work folder beside the output (``.<output name>.openfsgan-work/``), with a small JSON
  state written after each segment. An interrupted job (Ctrl-C, kill, cancel) continues with
  ``resume=True`` from the first unfinished segment. At the end the segments are joined by
  remuxing their H.264 packets (no re-encoding) with the target's audio into a temporary file
  that is renamed onto the output; the final path never holds a partial file.
* Provenance: every frame goes through :meth:`OutputLabeler.label_frame` before it is encoded,
  and the complete file through :meth:`OutputLabeler.finalize` before it is renamed into place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import queue
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from openfsgan import __version__
from openfsgan.errors import (
    INTERRUPTED_EXIT_CODE,
    ConfigError,
    InvalidInputError,
    NoFaceError,
    OpenFSGANError,
    OutputError,
)
from openfsgan.io.atomic import atomic_output, write_text_atomic
from openfsgan.pipelines.classic import (
    ClassicConfig,
    SourceAppearance,
    SourceView,
    TemporalState,
    make_source_view,
    open_eyed,
    sharpness,
)
from openfsgan.pipelines.reenact import ReenactConfig, ReenactSource, reenact_face
from openfsgan.pipelines.select import FaceSelector, face_by_rank
from openfsgan.pipelines.swap import swap_frame
from openfsgan.types import BoundingBox, Face, FrameFaces, MediaInfo

if TYPE_CHECKING:
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.io.media import VideoFrame

log = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("classic", "neural")
MODES: tuple[str, ...] = ("swap", "reenact")
VIDEO_OUTPUT_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov"})
WORK_STATE_VERSION = 1

Progress = Callable[[int, int], None]


class JobCancelled(OpenFSGANError):  # noqa: N818 - the public name of the API
    """The job was cancelled (its cancel event was set); finished segments are kept for
    ``resume``."""

    exit_code = INTERRUPTED_EXIT_CODE


@dataclass(frozen=True)
class SwapRequest:
    """One swap (or reenactment) job.

    Attributes:
        source: photo, folder of photos, or video of the identity to transfer (``swap``), or
            the face to animate (``reenact``).
        target: photo or video whose face is replaced (``swap``), or the driver (``reenact``).
        output: file to write (an image for a photo target, an MP4 for a video).
        method: ``"classic"`` (mesh warp + Poisson blending) or ``"neural"`` (the trained
            generators G_r, G_s, G_c, G_b; :mod:`openfsgan.pipelines.neural`).
        mode: ``"swap"`` or ``"reenact"``.
        source_face: track id (video) or rank by size (photo) of the source face; None: largest.
        target_face: same for the target; None: the largest face, followed over the video.
        target_reference: a photo of the person to replace in the target (matched by face
            descriptor); excludes ``target_face``.
        resume: continue an interrupted video job from its finished segments.
        overwrite: replace an existing output.
        watermark: embed the invisible pixel watermark (the metadata tag and the C2PA
            manifest are always written; they record when the watermark was turned off).
        label: text of a visible "synthetic" label (via the labeler); None for none.
        max_frames: process only the first N target frames (a preview); None for all.
        run_id: the run id the watermark and manifest carry (8 hex digits); None: a new one
            (a resumed job keeps the id of the run it continues).
        c2pa_cert, c2pa_key: an organisation's certificate chain (PEM) and private key to sign
            the C2PA manifest with; None: the local identity (see docs/provenance.md).
    """

    source: Path
    target: Path
    output: Path
    method: str = "classic"
    mode: str = "swap"
    source_face: int | None = None
    target_face: int | None = None
    target_reference: Path | None = None
    resume: bool = False
    overwrite: bool = False
    watermark: bool = True
    label: str | None = None
    max_frames: int | None = None
    run_id: str | None = None
    c2pa_cert: Path | None = None
    c2pa_key: Path | None = None


@dataclass(frozen=True)
class JobSummary:
    """What a finished job did.

    Attributes:
        output: the written file.
        frames_total: frames in the output.
        frames_swapped: output frames where the face was replaced (or driven).
        frames_passed_through: output frames left unchanged (no chosen face on them).
        seconds: wall time of this run.
        fps: frames processed per second by this run.
        media_kind: ``"image"`` or ``"video"``.
        frames_resumed: frames taken over from an interrupted earlier run (not recomputed).
        source_views: source views in the appearance map (``swap``), 1 for ``reenact``.
        method, mode: as requested.
    """

    output: Path
    frames_total: int
    frames_swapped: int
    frames_passed_through: int
    seconds: float
    fps: float
    media_kind: str = "video"
    frames_resumed: int = 0
    source_views: int = 0
    method: str = "classic"
    mode: str = "swap"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["output"] = str(self.output)
        return data


class OutputLabeler(Protocol):
    """Provenance hook: marks every output frame and the finished file as synthetic."""

    @property
    def run_id(self) -> str | None:
        """The id the marks carry (kept in a video job's work state for ``resume``)."""
        ...

    def label_frame(self, rgb: np.ndarray, index: int) -> np.ndarray:
        """The frame to encode instead of ``rgb`` (``[H, W, 3]`` uint8, same size)."""
        ...

    def finalize(self, path: Path, media_kind: str) -> object:
        """Called once on the complete output (``media_kind``: ``"image"`` or ``"video"``),
        at a temporary name beside the final path, before it is renamed into place; what it
        returns is ignored."""
        ...


class NullLabeler:
    """Labels nothing (for tests and callers that label their outputs themselves)."""

    run_id = None

    def label_frame(self, rgb: np.ndarray, index: int) -> np.ndarray:
        return rgb

    def finalize(self, path: Path, media_kind: str) -> None:
        return None


def make_labeler(request: SwapRequest) -> OutputLabeler:
    """The provenance labeler for ``request`` (:mod:`openfsgan.provenance.labeler`).

    A resumed video job reuses the run id saved with its finished segments, so every frame of
    the output carries the same payload.
    """
    from openfsgan.provenance.labeler import make_labeler as make_provenance_labeler

    if request.run_id is None and request.resume:
        request = replace(request, run_id=_WorkState.saved_run_id(request.output))
    labeler: OutputLabeler = make_provenance_labeler(request)
    return labeler


@dataclass(frozen=True)
class JobOptions:
    """Settings of a job beyond the request (the CLI and web UI use the defaults).

    Attributes:
        classic: classic swap settings.
        reenact: classic reenactment settings.
        segment_frames: frames per resumable segment.
        crf, preset: H.264 quality and speed of the output.
        queue_frames: frames buffered between the reader, swap and writer threads.
        use_cache: read/write the analysis cache for source videos (and read it for targets).
    """

    classic: ClassicConfig = field(default_factory=ClassicConfig)
    reenact: ReenactConfig = field(default_factory=ReenactConfig)
    segment_frames: int = 60
    crf: int = 18
    preset: str = "veryfast"
    queue_frames: int = 4
    use_cache: bool = True

    def __post_init__(self) -> None:
        if self.segment_frames < 1:
            raise ConfigError("segment_frames must be >= 1")
        if not 0 <= self.crf <= 51:
            raise ConfigError("crf must be in [0, 51]")


# ---------------------------------------------------------------------------------------------
# request checks


def _list_photos(folder: Path) -> list[Path]:
    from openfsgan.io.media import IMAGE_EXTENSIONS

    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                  and not p.name.startswith("."))


def _input_files(request: SwapRequest) -> list[Path]:
    inputs = [request.target]
    if request.source.is_dir():
        inputs.extend(_list_photos(request.source))
    else:
        inputs.append(request.source)
    if request.target_reference is not None:
        inputs.append(request.target_reference)
    return inputs


def check_request(request: SwapRequest) -> tuple[MediaInfo, MediaInfo | None]:
    """Fail early, with one actionable sentence, on anything wrong with ``request``.

    Returns:
        The target's media info and the source's (None for a folder of photos).
    """
    from openfsgan.io.media import IMAGE_EXTENSIONS, probe
    from openfsgan.io.paths import check_input_path, check_output_file

    if request.method not in METHODS:
        raise ConfigError(f"unknown method {request.method!r}; available: {', '.join(METHODS)}")
    if request.mode not in MODES:
        raise ConfigError(f"unknown mode {request.mode!r}; valid: {', '.join(MODES)}")
    if request.target_face is not None and request.target_reference is not None:
        raise ConfigError("choose the target face by number or by reference photo, not both")
    for name in ("source_face", "target_face"):
        value = getattr(request, name)
        if value is not None and value < 0:
            raise ConfigError(f"{name.replace('_', '-')} must be >= 0, got {value}")
    if request.max_frames is not None and request.max_frames < 1:
        raise ConfigError(f"max-frames must be >= 1, got {request.max_frames}")
    check_input_path(request.source, "source", allow_dir=True)
    check_input_path(request.target, "target")
    if request.target_reference is not None:
        check_input_path(request.target_reference, "target reference photo")
    source_info = None
    if request.source.is_dir():
        if not _list_photos(request.source):
            raise InvalidInputError(f"source folder has no photos "
                                    f"({', '.join(sorted(IMAGE_EXTENSIONS))}): {request.source}")
    else:
        source_info = probe(request.source)
    target_info = probe(request.target)
    check_output_file(request.output, _input_files(request), request.overwrite)
    suffix = request.output.suffix.lower()
    if target_info.is_video and suffix not in VIDEO_OUTPUT_EXTENSIONS:
        raise OutputError(f"the target is a video: the output must end in "
                          f"{', '.join(sorted(VIDEO_OUTPUT_EXTENSIONS))}, got {request.output}")
    if not target_info.is_video and suffix not in IMAGE_EXTENSIONS:
        raise OutputError(f"the target is a photo: the output must be an image "
                          f"({', '.join(sorted(IMAGE_EXTENSIONS))}), got {request.output}")
    return target_info, source_info


# ---------------------------------------------------------------------------------------------
# analysis


def _default_analyzer() -> FaceAnalyzer:
    from openfsgan.face.analyzer import FaceAnalyzer

    return FaceAnalyzer()


def _analyse_video(path: Path, analyzer: FaceAnalyzer, use_cache: bool) -> list[FrameFaces]:
    if use_cache:
        from openfsgan.io.cache import analyze_cached

        return analyze_cached(path, analyzer)[0]
    return analyzer.analyze_video(path)


def _cached_analysis(path: Path, analyzer: FaceAnalyzer) -> list[FrameFaces] | None:
    """A target's analysis from the cache, if it was analysed before (same track ids as the
    analysis the user picked faces from); never computes one."""
    from openfsgan.io.cache import AnalysisCache

    cache = AnalysisCache()
    try:
        return cache.load(cache.key_for(path, analyzer.config.digest()))
    except OSError:
        return None


def _frames_with_faces(path: Path, start: int, analyzer: FaceAnalyzer,
                       cached: list[FrameFaces] | None
                       ) -> Iterator[tuple[VideoFrame, FrameFaces]]:
    """Decoded frames from ``start`` with their faces: from the cached analysis when there is
    one, else tracked on the fly (the tracker starts fresh at ``start``)."""
    from openfsgan.io.media import iter_frames

    frames = iter_frames(path, start)
    try:
        if cached is not None:
            for frame in frames:
                faces = (cached[frame.index] if frame.index < len(cached)
                         else FrameFaces(frame.index, frame.time_s))
                yield frame, faces
            return
        pending: deque[VideoFrame] = deque()

        def feed() -> Iterator[VideoFrame]:
            for frame in frames:
                pending.append(frame)
                yield frame

        tracked = analyzer.track_frames(feed())
        try:
            for faces in tracked:
                yield pending.popleft(), faces
        finally:
            _close(tracked)
    finally:
        _close(frames)


def _close(iterator: Any) -> None:
    """Close a generator (its ``finally`` blocks release decoders) when it has ``close``."""
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


def _describer() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    from openfsgan.metrics.identity import FaceDescriptor

    return FaceDescriptor().describe


def _target_selector(request: SwapRequest, analyzer: FaceAnalyzer) -> FaceSelector:
    if request.target_reference is None:
        return FaceSelector(face_index=request.target_face)
    from openfsgan.io.media import read_image

    reference_rgb = read_image(request.target_reference)
    faces = analyzer.analyze_image(reference_rgb)
    face = face_by_rank(faces, 0, "target reference photo")
    describe = _describer()
    return FaceSelector(reference=describe(reference_rgb, face.landmarks), describer=describe)


# ---------------------------------------------------------------------------------------------
# source


def load_source_appearance(path: Path, face_index: int | None, analyzer: FaceAnalyzer,
                           config: ClassicConfig, use_cache: bool = True) -> SourceAppearance:
    """Every view of the chosen source face (photo, folder of photos or video), fused into an
    appearance map.

    Near-duplicate poses keep their sharpest view. A video is read three times (analysis,
    sharpness, crops) so that only the kept views are ever held in memory.

    Raises:
        NoFaceError: no face (or no face number ``face_index``) anywhere in the source.
    """
    from openfsgan.io.media import probe, read_image

    views: list[SourceView] = []
    if path.is_dir():
        for number, photo in enumerate(_list_photos(path)):
            faces = analyzer.analyze_image(read_image(photo))
            try:
                face = face_by_rank(faces, face_index or 0, f"source photo {photo.name}")
            except NoFaceError as error:
                log.info("skipping %s: %s", photo, error)
                continue
            views.append(make_source_view(read_image(photo), face, config, number))
        if not views:
            raise NoFaceError(f"no face found in any photo of the source folder {path}")
    elif not probe(path).is_video:
        rgb = read_image(path)
        face = face_by_rank(analyzer.analyze_image(rgb), face_index or 0, "source photo")
        views.append(make_source_view(rgb, face, config))
    else:
        return _video_source_appearance(path, face_index, analyzer, config, use_cache)
    if len(views) > 1:
        keep = open_eyed([view.landmarks for view in views])
        views = [view for view, ok in zip(views, keep, strict=True) if ok]
    priority = np.array([sharpness(view.crop) for view in views])
    return SourceAppearance.from_views(views, config.min_view_distance_deg, priority)


def _video_source_appearance(path: Path, face_index: int | None, analyzer: FaceAnalyzer,
                             config: ClassicConfig, use_cache: bool) -> SourceAppearance:
    from openfsgan.geometry.appearance_map import fuse_near_views, pose_points
    from openfsgan.io.media import iter_frames

    selector = FaceSelector(face_index=face_index)
    chosen: dict[int, Face] = {}
    for frame_faces in _analyse_video(path, analyzer, use_cache):
        face = selector.select(frame_faces)
        if face is not None:
            chosen[frame_faces.index] = face
    if not chosen:
        what = "no face" if face_index is None else f"no face number {face_index}"
        raise NoFaceError(f"{what} found in the source video {path}")
    # blinking frames make poor views: left out (unless every frame blinks)
    keep = open_eyed([chosen[i].landmarks for i in sorted(chosen)])
    if keep.any():
        chosen = {i: chosen[i] for i, ok in zip(sorted(chosen), keep, strict=True) if ok}
    indices = sorted(chosen)
    scores = np.zeros(len(indices))
    position = {frame_index: i for i, frame_index in enumerate(indices)}
    for frame in iter_frames(path):
        if frame.index in position:
            view = make_source_view(frame.rgb, chosen[frame.index], config, frame.index)
            scores[position[frame.index]] = sharpness(view.crop)
    faces = [chosen[i] for i in indices]
    points = pose_points(np.array([f.pose.yaw for f in faces]),
                         np.array([f.pose.pitch for f in faces]))
    kept = {indices[i] for i in fuse_near_views(points, config.min_view_distance_deg, scores)}
    views = [make_source_view(frame.rgb, chosen[frame.index], config, frame.index)
             for frame in iter_frames(path) if frame.index in kept]
    log.info("source %s: %d frames with the face, %d views in the appearance map",
             path, len(indices), len(views))
    return SourceAppearance.from_views(views, 0.0)


def _reenact_source(request: SwapRequest, analyzer: FaceAnalyzer,
                    config: ReenactConfig) -> ReenactSource:
    """The face to animate: the chosen face of the source photo (or of the first source frame
    or folder photo where it appears)."""
    from openfsgan.io.media import iter_frames, read_image

    if request.source.is_dir():
        candidates: Iterator[tuple[np.ndarray, FrameFaces]] = (
            (rgb, analyzer.analyze_image(rgb))
            for rgb in (read_image(p) for p in _list_photos(request.source)))
    else:
        candidates = ((frame.rgb, analyzer.analyze_image(frame.rgb))
                      for frame in iter_frames(request.source))
    for rgb, faces in candidates:
        if len(faces.faces) > (request.source_face or 0):
            face = face_by_rank(faces, request.source_face or 0, "source")
            return ReenactSource.prepare(rgb, face, config)
    what = "no face" if request.source_face is None else f"no face number {request.source_face}"
    raise NoFaceError(f"{what} found in the source {request.source}")


# ---------------------------------------------------------------------------------------------
# frame processors: what happens to one target frame


class _FrameProcessor(Protocol):
    output_size: tuple[int, int] | None  # (width, height); None: the target's

    def __call__(self, rgb: np.ndarray, face: Face | None) -> np.ndarray: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state(self, data: dict[str, Any]) -> None: ...


class _SwapProcessor:
    def __init__(self, source: SourceAppearance, config: ClassicConfig, video: bool) -> None:
        self.source = source
        self.config = config
        self.state = TemporalState.for_video(config) if video else None
        self.output_size: tuple[int, int] | None = None

    def __call__(self, rgb: np.ndarray, face: Face | None) -> np.ndarray:
        if face is None:
            return rgb
        return swap_frame(rgb, face, self.source, self.config, self.state)

    def state_dict(self) -> dict[str, Any]:
        return self.state.to_dict() if self.state is not None else {}

    def load_state(self, data: dict[str, Any]) -> None:
        if self.state is not None and data:
            self.state.load_dict(data)


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
        return reenact_face(self.source, face, self.reference, self.config, driver_rgb=rgb)

    def state_dict(self) -> dict[str, Any]:
        return {"reference": None if self.reference is None else self.reference.to_dict()}

    def load_state(self, data: dict[str, Any]) -> None:
        if data.get("reference"):
            self.reference = Face.from_dict(data["reference"])


class _NeuralSwapProcessor:
    def __init__(self, models: Any, source: SourceAppearance, video: bool) -> None:
        from openfsgan.geometry.masks import MaskSmoother
        from openfsgan.pipelines.neural import NeuralConfig

        self.models = models
        self.source = source
        self.config = NeuralConfig()
        self.smoother = MaskSmoother(self.config.mask_momentum) if video else None
        self.track_id: int | None = None
        self.output_size: tuple[int, int] | None = None

    def __call__(self, rgb: np.ndarray, face: Face | None) -> np.ndarray:
        from openfsgan.pipelines.neural import swap_frame as neural_swap_frame

        if face is None:
            return rgb
        if self.smoother is not None and face.track_id != self.track_id:
            self.smoother.reset()
            self.track_id = face.track_id
        return neural_swap_frame(self.models, rgb, face, self.source, self.config,
                                 self.smoother)

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state(self, data: dict[str, Any]) -> None:
        pass


class _NeuralReenactProcessor(_ReenactProcessor):
    def __init__(self, models: Any, source: ReenactSource, config: ReenactConfig) -> None:
        from openfsgan.pipelines.neural import NeuralReenactSource

        super().__init__(source, config)
        self.models = models
        self.neural_source = NeuralReenactSource.prepare(models, source.frame, source.face)

    def __call__(self, rgb: np.ndarray, face: Face | None) -> np.ndarray:
        from openfsgan.pipelines.neural import reenact_frame as neural_reenact_frame
        from openfsgan.pipelines.reenact import retarget_landmarks

        if face is None:
            return self.source.frame.copy()
        if self.reference is None:
            self.reference = face
        driven = retarget_landmarks(self.source.face, face, self.reference,
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
    return _NeuralSwapProcessor(models, appearance, video), len(appearance.views)


# ---------------------------------------------------------------------------------------------
# resumable work folder


def work_folder(output: Path) -> Path:
    """The hidden folder beside ``output`` holding an unfinished video job."""
    return output.parent / f".{output.name}.openfsgan-work"


def _file_stamp(path: Path | None) -> list[Any]:
    if path is None:
        return []
    if path.is_dir():
        return [str(path.resolve())] + [_file_stamp(p) for p in _list_photos(path)]
    stat = path.stat()
    return [str(path.resolve()), stat.st_size, stat.st_mtime_ns]


def request_fingerprint(request: SwapRequest, options: JobOptions) -> str:
    """What the frames of a job depend on: inputs (path, size, mtime), options, version."""
    data = {
        "version": __version__,
        "source": _file_stamp(request.source),
        "target": _file_stamp(request.target),
        "target_reference": _file_stamp(request.target_reference),
        "request": {k: v for k, v in asdict(request).items()
                    if k in ("method", "mode", "source_face", "target_face", "watermark",
                             "label", "max_frames")},
        "options": json.loads(json.dumps(asdict(options), default=str)),
    }
    text = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class _Segment:
    file: str
    start: int
    frames: int
    swapped: int
    passed_through: int


class _WorkState:
    """Segments finished so far and what the next segment needs to continue seamlessly."""

    def __init__(self, folder: Path, fingerprint: str, run_id: str | None = None) -> None:
        self.folder = folder
        self.fingerprint = fingerprint
        self.run_id = run_id
        self.segments: list[_Segment] = []
        self.processor_state: dict[str, Any] = {}
        self.last_box: list[float] | None = None

    @property
    def path(self) -> Path:
        return self.folder / "state.json"

    @property
    def frames_done(self) -> int:
        return sum(s.frames for s in self.segments)

    def save(self) -> None:
        data = {"format": "openfsgan-swap-work", "version": WORK_STATE_VERSION,
                "fingerprint": self.fingerprint, "run_id": self.run_id,
                "segments": [asdict(s) for s in self.segments],
                "processor_state": self.processor_state, "last_box": self.last_box}
        write_text_atomic(self.path, json.dumps(data, indent=1))

    @staticmethod
    def saved_run_id(output: Path) -> str | None:
        """The run id of the unfinished job writing ``output``, if there is one."""
        try:
            data = json.loads((work_folder(output) / "state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        run_id = data.get("run_id") if isinstance(data, dict) else None
        return run_id if isinstance(run_id, str) else None

    @staticmethod
    def open(output: Path, fingerprint: str, resume: bool,
             run_id: str | None = None) -> _WorkState:
        folder = work_folder(output)
        state = _WorkState(folder, fingerprint, run_id)
        if folder.exists() and resume:
            state._load()
            log.info("resuming %s: %d frames already done", output, state.frames_done)
            return state
        if folder.exists():
            log.info("discarding the unfinished earlier run in %s (pass --resume to continue "
                     "it)", folder)
            shutil.rmtree(folder)
        elif resume:
            log.info("nothing to resume for %s: starting from the first frame", output)
        folder.mkdir(parents=True)
        state.save()
        return state

    def _load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("format") != "openfsgan-swap-work" or data.get(
                    "version") != WORK_STATE_VERSION:
                raise ValueError("not a work state of this version")
            fingerprint = data["fingerprint"]
            segments = [_Segment(**s) for s in data["segments"]]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise OutputError(f"cannot resume: the work folder {self.folder} is unreadable "
                              f"({error}); run again without --resume") from error
        if fingerprint != self.fingerprint:
            raise OutputError(f"cannot resume: the inputs or options changed since the "
                              f"interrupted run ({self.folder}); run again without --resume")
        for segment in segments:
            if not (self.folder / segment.file).is_file():
                raise OutputError(f"cannot resume: segment {segment.file} is missing from "
                                  f"{self.folder}; run again without --resume")
        self.segments = segments
        self.processor_state = data.get("processor_state") or {}
        self.last_box = data.get("last_box")
        for leftover in self.folder.glob(".*.partial*"):  # a segment cut short by a kill
            leftover.unlink(missing_ok=True)


def concat_segments(segments: list[Path], output: Path, fps: Fraction,
                    frame_counts: list[int], audio_from: Path | None) -> None:
    """Join H.264 MP4 segments into ``output`` by remuxing (no re-encoding), adding the audio
    of ``audio_from`` (cut at the video's end).

    Each segment starts with a key frame and is encoded with the same settings, so the packets
    can follow each other; timestamps are shifted by the frames before each segment.
    """
    import av

    container: Any = av.open(str(output), mode="w", format="mp4")
    opened: list[Any] = []
    try:
        first: Any = av.open(str(segments[0]))
        opened.append(first)
        video_out = container.add_stream_from_template(first.streams.video[0])
        audio_in: Any = None
        audio_out: Any = None
        audio_source: Any = None
        if audio_from is not None:
            audio_source = av.open(str(audio_from))
            opened.append(audio_source)
            if audio_source.streams.audio:
                audio_in = audio_source.streams.audio[0]
                audio_out = container.add_stream_from_template(audio_in)
        frames_before = 0
        for segment, count in zip(segments, frame_counts, strict=True):
            source: Any = first if segment == segments[0] else av.open(str(segment))
            if source is not first:
                opened.append(source)
            stream = source.streams.video[0]
            offset = round(Fraction(frames_before) / fps / stream.time_base)
            for packet in source.demux(stream):
                if packet.dts is None:
                    continue
                packet.pts += offset
                packet.dts += offset
                packet.stream = video_out
                container.mux(packet)
            frames_before += count
            if source is not first:
                source.close()
                opened.remove(source)
        if audio_in is not None and audio_source is not None:
            duration_s = Fraction(frames_before) / fps
            for packet in audio_source.demux(audio_in):
                if packet.dts is None:
                    continue
                if packet.pts is not None and packet.pts * audio_in.time_base >= duration_s:
                    break
                packet.stream = audio_out
                container.mux(packet)
    finally:
        container.close()
        for handle in opened:
            handle.close()


# ---------------------------------------------------------------------------------------------
# the job


_END = object()


class _Prefetch:
    """Runs an iterator in a background thread, ``depth`` items ahead (decoding and face
    analysis release the GIL for most of their time, so they overlap with the swap).

    Exceptions of the iterator are re-raised by ``next``; ``close`` stops the thread, which
    then closes the iterator (a generator must be closed by the thread running it).
    """

    def __init__(self, iterator: Iterator[Any], depth: int) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(iterator,), daemon=True,
                                        name="openfsgan-reader")
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, iterator: Iterator[Any]) -> None:
        try:
            for item in iterator:
                if not self._put(item):
                    break
        except BaseException as error:  # handed to the consumer thread
            self._error = error
        finally:
            _close(iterator)
            self._put(_END)

    def __iter__(self) -> _Prefetch:
        return self

    def __next__(self) -> Any:
        item = self._queue.get()
        if item is _END:
            self._queue.put(_END)  # later calls end too
            if self._error is not None:
                raise self._error
            raise StopIteration
        return item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()


class _BackgroundWriter:
    """Labels and encodes frames in a background thread (x264 releases the GIL), in order.

    ``write`` hands a frame over (blocking while ``depth`` frames wait); leaving the block
    waits until every frame is encoded and re-raises the writer's error, if any. On an
    exception in the block, frames still queued are dropped.
    """

    def __init__(self, writer: Any, labeler: OutputLabeler, depth: int) -> None:
        self._writer = writer
        self._labeler = labeler
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._abort = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="openfsgan-writer")

    def __enter__(self) -> _BackgroundWriter:
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if self._error is not None or self._abort.is_set():
                continue
            rgb, index = item
            try:
                self._writer.write(self._labeler.label_frame(rgb, index))
            except BaseException as error:  # re-raised in the producing thread
                self._error = error

    def write(self, rgb: np.ndarray, index: int) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((rgb, index))

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self._abort.set()
        self._queue.put(_END)
        self._thread.join()
        if exc_type is None and self._error is not None:
            raise self._error


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise JobCancelled("cancelled; finished segments are kept (resume to continue)")


def _box_iou(a: list[float], b: BoundingBox) -> float:
    return BoundingBox(*a).iou(b)


def _relocked(selector: FaceSelector, frame_faces: FrameFaces, last_box: list[float]) -> None:
    """After a resume the tracker starts afresh: give the face that continues the one swapped
    before the interruption (best box overlap) the id the selector follows."""
    if not frame_faces.faces:
        return
    best = max(frame_faces.faces, key=lambda f: _box_iou(last_box, f.box))
    if _box_iou(last_box, best.box) < 0.3:
        return
    if selector.face_index is not None:
        selector.face_index = best.track_id
    else:
        selector.locked_track = best.track_id


def _run_video(request: SwapRequest, target_info: MediaInfo, processor: _FrameProcessor,
               selector: FaceSelector, analyzer: FaceAnalyzer, labeler: OutputLabeler,
               options: JobOptions, progress: Progress | None,
               cancel: threading.Event | None) -> tuple[int, int, int, int]:
    """Swap every frame of a video target, segment by segment; returns
    ``(frames_total, swapped, passed_through, resumed)``."""
    from openfsgan.io.media import VideoWriter

    total = target_info.frame_count
    if request.max_frames is not None:
        total = min(total, request.max_frames)
    work = _WorkState.open(request.output, request_fingerprint(request, options), request.resume,
                           labeler.run_id)
    resumed = work.frames_done
    processor.load_state(work.processor_state)
    cached = _cached_analysis(request.target, analyzer) if options.use_cache else None
    width, height = processor.output_size or (target_info.width, target_info.height)
    relock = work.last_box if resumed and cached is None else None
    done = resumed
    if progress is not None:
        progress(done, total)
    # three stages overlap on the CPU cores: decode + analysis (a reader thread), the swap
    # (this thread), labelling + H.264 encoding (a writer thread per segment)
    frames = _Prefetch(_frames_with_faces(request.target, resumed, analyzer, cached),
                       options.queue_frames)
    try:
        item = next(frames, None) if done < total else None
        while item is not None:
            _check_cancel(cancel)
            name = f"segment_{len(work.segments):05d}.mp4"
            segment = _Segment(name, done, 0, 0, 0)
            with VideoWriter(work.folder / name, target_info.fps, width, height,
                             crf=options.crf, preset=options.preset) as video_writer, \
                    _BackgroundWriter(video_writer, labeler, options.queue_frames) as writer:
                while item is not None and segment.frames < options.segment_frames:
                    frame, frame_faces = item
                    if relock is not None:
                        _relocked(selector, frame_faces, relock)
                        relock = None
                    face = selector.select(frame_faces, frame.rgb)
                    writer.write(processor(frame.rgb, face), frame.index)
                    segment.frames += 1
                    if face is not None:
                        segment.swapped += 1
                        work.last_box = face.box.to_list()
                    else:
                        segment.passed_through += 1
                    done += 1
                    if progress is not None:
                        progress(done, max(total, done))
                    item = next(frames, None) if done < total else None
                    if item is not None:
                        _check_cancel(cancel)
            work.segments.append(segment)
            work.processor_state = processor.state_dict()
            work.save()
    finally:
        frames.close()
    if not work.segments:
        raise InvalidInputError(f"no frames could be read from the target {request.target}")
    with atomic_output(request.output, suffix=request.output.suffix) as tmp:
        concat_segments([work.folder / s.file for s in work.segments], tmp, target_info.fps,
                        [s.frames for s in work.segments],
                        request.target if target_info.has_audio else None)
        labeler.finalize(tmp, "video")
    shutil.rmtree(work.folder, ignore_errors=True)
    return (work.frames_done, sum(s.swapped for s in work.segments),
            sum(s.passed_through for s in work.segments), resumed)


def _run_image(request: SwapRequest, processor: _FrameProcessor, selector: FaceSelector,
               analyzer: FaceAnalyzer, labeler: OutputLabeler) -> tuple[int, int]:
    """Swap the one face of a photo target; returns ``(swapped, passed_through)``."""
    from openfsgan.io.media import read_image, write_image

    rgb = read_image(request.target)
    frame_faces = analyzer.analyze_image(rgb)
    if request.target_face is not None:
        face: Face | None = face_by_rank(frame_faces, request.target_face, "target photo")
    else:
        face = selector.select(frame_faces, rgb)
    out = labeler.label_frame(processor(rgb, face), 0)
    with atomic_output(request.output) as tmp:
        write_image(tmp, out)
        labeler.finalize(tmp, "image")
    return (1, 0) if face is not None else (0, 1)


def run_swap(request: SwapRequest, progress: Progress | None = None,
             cancel: threading.Event | None = None, *, options: JobOptions | None = None,
             labeler: OutputLabeler | None = None,
             analyzer: FaceAnalyzer | None = None) -> JobSummary:
    """Run one swap or reenactment job from files to a file.

    Args:
        request: inputs, output and options.
        progress: called with ``(frames_done, frames_total)`` after every frame.
        cancel: when set, the job stops before the next frame and raises :class:`JobCancelled`
            (finished segments stay for ``resume``).
        options: job settings (defaults: :class:`JobOptions`).
        labeler: provenance labeler (default: :func:`make_labeler`; with ``watermark=False``
            it skips the pixel mark but still writes the metadata tag and C2PA manifest).
        analyzer: face analyzer to use (default: a new one with the default config).

    Raises:
        OpenFSGANError subclasses for bad inputs or outputs (nothing is written then),
        NoFaceError when the source has no usable face, JobCancelled when cancelled.
    """
    started = time.perf_counter()
    options = options or JobOptions()
    target_info, _ = check_request(request)
    analyzer = analyzer or _default_analyzer()
    if labeler is None:
        labeler = make_labeler(request)  # with the watermark off it still tags and signs
    _check_cancel(cancel)
    processor: _FrameProcessor
    source_views = 1
    if request.method == "neural":
        processor, source_views = _neural_processor(request, analyzer, options,
                                                    target_info.is_video)
    elif request.mode == "swap":
        source = load_source_appearance(request.source, request.source_face, analyzer,
                                        options.classic, options.use_cache)
        source_views = len(source.views)
        processor = _SwapProcessor(source, options.classic, target_info.is_video)
    else:
        processor = _ReenactProcessor(_reenact_source(request, analyzer, options.reenact),
                                      options.reenact)
    selector = _target_selector(request, analyzer)
    if target_info.is_video:
        total, swapped, passed, resumed = _run_video(
            request, target_info, processor, selector, analyzer, labeler, options, progress,
            cancel)
        kind = "video"
    else:
        _check_cancel(cancel)
        swapped, passed = _run_image(request, processor, selector, analyzer, labeler)
        total, resumed, kind = 1, 0, "image"
        if progress is not None:
            progress(1, 1)
    seconds = time.perf_counter() - started
    processed = total - resumed
    summary = JobSummary(output=request.output, frames_total=total, frames_swapped=swapped,
                         frames_passed_through=passed, seconds=seconds,
                         fps=processed / seconds if seconds > 0 else 0.0, media_kind=kind,
                         frames_resumed=resumed, source_views=source_views,
                         method=request.method, mode=request.mode)
    log.info("wrote %s: %d frames (%d swapped, %d unchanged) in %.1f s", request.output, total,
             swapped, passed, seconds)
    return summary


def remove_work_folder(output: str | os.PathLike[str]) -> bool:
    """Delete the unfinished work of a job writing ``output``; True if there was some."""
    folder = work_folder(Path(output))
    if folder.exists():
        shutil.rmtree(folder)
        return True
    return False
