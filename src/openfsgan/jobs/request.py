"""The vocabulary of a job: request, options, summary, cancellation and the provenance hook,
plus the checks that refuse a bad request before anything is read or written.

Every other module of the package builds on these names, so this one imports none of them;
callers that only build or validate a request need nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from openfsgan.errors import (
    INTERRUPTED_EXIT_CODE,
    ConfigError,
    InvalidInputError,
    OpenFSGANError,
    OutputError,
)
from openfsgan.pipelines.config import SwapConfig, check_method, resolve_config
from openfsgan.types import MediaInfo

MODES: tuple[str, ...] = ("swap", "reenact")
VIDEO_OUTPUT_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov"})
MIN_FACE_MEDIA_SIDE_PX = 32
"""Smallest width and height of a source or target. The photo detector (dlib's 80-px HOG window
at one pyramid upsampling) finds faces down to about 40 px, so a smaller picture cannot hold a
face it finds; refusing it up front gives one clear line instead of a failure deep in the
pipeline or the labeller (a 1x1 PNG used to end in an OpenCV assertion)."""

Progress = Callable[[int, int], None]

FrameObserver = Callable[[int, np.ndarray, "np.ndarray | None"], None]
"""``(frame_index, rgb, alpha) -> None``, called once per output frame, in order
(:attr:`JobOptions.frame_observer`).

``rgb`` is the output frame ``[H, W, 3]`` uint8 before provenance labelling (no caption, no
watermark); ``alpha`` is the ``[H, W]`` float32 soft mask in ``[0, 1]`` the swapped (or driven)
face was composited into the frame with (and 1 wherever the swap moved the target's own face
outline or painted out its glasses), or None where the frame passed through unchanged (no
chosen face on it). The arrays are the job's own: copy what you keep. Frames taken over from
the finished segments of a resumed job are not observed again (their indices are skipped).
"""


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
            generators G_r, G_s, G_c, G_b; :mod:`openfsgan.pipelines.neural`): the preset of
            the stage choices, used when ``config`` is None.
        mode: ``"swap"`` or ``"reenact"``.
        source_face: track id (video) or rank by size (photo) of the source face; None: largest.
        target_face: same for the target; None: the largest face, followed over the video.
        target_reference: a photo of the person to replace in the target (matched by face
            descriptor); excludes ``target_face``.
        resume: continue an interrupted video job from its finished segments.
        overwrite: replace an existing output.
        watermark: embed the invisible pixel watermark (the metadata tag and the C2PA
            manifest are always written; they record when the watermark was turned off).
        watermark_profile: the watermark's layers: ``standard`` (the luma layer, PSNR about
            40.9 dB) or ``robust`` (plus the coarse chroma layer, about 38.3 dB, found more
            often after a crop with a downscale and CRF 30; docs/provenance.md).
        label: text of a visible "synthetic" label (via the labeler); None for none.
        max_frames: process only the first N target frames (a preview); None for all.
        run_id: the run id the watermark and manifest carry (8 hex digits); None: a new one
            (a resumed job keeps the id of the run it continues).
        c2pa_cert, c2pa_key: an organisation's certificate chain (PEM) and private key to sign
            the C2PA manifest with; None: the local identity (see docs/provenance.md).
        config: the whole configuration (stage choices and every setting,
            :func:`openfsgan.pipelines.config.resolve_config`); None: the ``method`` preset.
            Its ``method`` must then equal ``method``.
        identity_strength: share of the source's face shape in the swap's target geometry
            (0: the target's landmarks, 1: the source's shape;
            :attr:`openfsgan.pipelines.appearance.AppearanceConfig.identity_strength`); None:
            the configuration's. Reenactment keeps the source's own shape anyway.
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
    watermark_profile: str = "standard"
    label: str | None = None
    max_frames: int | None = None
    run_id: str | None = None
    c2pa_cert: Path | None = None
    c2pa_key: Path | None = None
    config: SwapConfig | None = None
    identity_strength: float | None = None

    def resolved_config(self) -> SwapConfig:
        """The configuration this job runs with (the ``method`` preset as
        :func:`~openfsgan.pipelines.config.resolve_config` resolves it, unless given, with
        ``identity_strength`` when set)."""
        config = self.config if self.config is not None else resolve_config(self.method)
        if self.identity_strength is None:
            return config
        return replace(config, appearance=replace(config.appearance,
                                                  identity_strength=self.identity_strength))


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
        config: the resolved configuration (:meth:`SwapConfig.to_dict`).
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
    config: dict[str, Any] | None = None

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


@dataclass(frozen=True)
class JobOptions:
    """Settings of a job beyond the request (the CLI and web UI use the defaults).

    Attributes:
        segment_frames: frames per resumable segment.
        crf, preset: H.264 quality and speed of the output.
        queue_frames: frames buffered between the reader, swap and writer threads.
        use_cache: read/write the analysis cache for source videos (and read it for targets).
        frame_observer: called with every output frame and its blend alpha
            (:data:`FrameObserver`), e.g. to record ground-truth masks; not part of what a
            resumed job must match.
        finetune_progress: called with ``(steps_done, steps_total)`` while G_r is fine-tuned
            on the source (``config.finetune``), e.g. a progress bar; not part of what a
            resumed job must match.
    """

    segment_frames: int = 60
    crf: int = 18
    preset: str = "veryfast"
    queue_frames: int = 4
    use_cache: bool = True
    frame_observer: FrameObserver | None = field(default=None, compare=False)
    finetune_progress: Callable[[int, int], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.segment_frames < 1:
            raise ConfigError("segment_frames must be >= 1")
        if not 0 <= self.crf <= 51:
            raise ConfigError("crf must be in [0, 51]")


# ---------------------------------------------------------------------------------------------
# request checks


def list_photos(folder: Path) -> list[Path]:
    from openfsgan.io.media import IMAGE_EXTENSIONS

    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS
                  and not p.name.startswith("."))


def _input_files(request: SwapRequest) -> list[Path]:
    inputs = [request.target]
    if request.source.is_dir():
        inputs.extend(list_photos(request.source))
    else:
        inputs.append(request.source)
    if request.target_reference is not None:
        inputs.append(request.target_reference)
    return inputs


def _check_face_sized(info: MediaInfo, what: str) -> None:
    if min(info.width, info.height) < MIN_FACE_MEDIA_SIDE_PX:
        raise InvalidInputError(
            f"{what} is too small to hold a face: {info.width}x{info.height} px (at least "
            f"{MIN_FACE_MEDIA_SIDE_PX}x{MIN_FACE_MEDIA_SIDE_PX}): {info.path}")


def check_request(request: SwapRequest) -> tuple[MediaInfo, MediaInfo | None]:
    """Fail early, with one actionable sentence, on anything wrong with ``request``.

    Returns:
        The target's media info and the source's (None for a folder of photos).
    """
    from openfsgan.io.media import IMAGE_EXTENSIONS, probe
    from openfsgan.io.paths import check_input_path, check_output_file

    check_method(request.method)
    if request.config is not None and request.config.method != request.method:
        raise ConfigError(f"the request's method {request.method!r} and its configuration's "
                          f"{request.config.method!r} differ")
    if request.mode not in MODES:
        raise ConfigError(f"unknown mode {request.mode!r}; valid: {', '.join(MODES)}")
    if request.target_face is not None and request.target_reference is not None:
        raise ConfigError("choose the target face by number or by reference photo, not both")
    for name in ("source_face", "target_face"):
        value = getattr(request, name)
        if value is not None and value < 0:
            raise ConfigError(f"{name.replace('_', '-')} must be >= 0, got {value}")
    if request.identity_strength is not None and not 0.0 <= request.identity_strength <= 1.0:
        raise ConfigError(f"identity-strength must be in [0, 1], got {request.identity_strength}")
    if request.max_frames is not None and request.max_frames < 1:
        raise ConfigError(f"max-frames must be >= 1, got {request.max_frames}")
    check_input_path(request.source, "source", allow_dir=True)
    check_input_path(request.target, "target")
    if request.target_reference is not None:
        check_input_path(request.target_reference, "target reference photo")
    source_info = None
    if request.source.is_dir():
        if not list_photos(request.source):
            raise InvalidInputError(f"source folder has no photos "
                                    f"({', '.join(sorted(IMAGE_EXTENSIONS))}): {request.source}")
    else:
        source_info = probe(request.source)
        _check_face_sized(source_info, "source")
    target_info = probe(request.target)
    _check_face_sized(target_info, "target")
    check_output_file(request.output, _input_files(request), request.overwrite)
    suffix = request.output.suffix.lower()
    if target_info.is_video and suffix not in VIDEO_OUTPUT_EXTENSIONS:
        raise OutputError(f"the target is a video: the output must end in "
                          f"{', '.join(sorted(VIDEO_OUTPUT_EXTENSIONS))}, got {request.output}")
    if not target_info.is_video and suffix not in IMAGE_EXTENSIONS:
        raise OutputError(f"the target is a photo: the output must be an image "
                          f"({', '.join(sorted(IMAGE_EXTENSIONS))}), got {request.output}")
    return target_info, source_info
