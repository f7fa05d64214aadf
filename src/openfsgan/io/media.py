"""Images and streamed video.

Frames are RGB ``uint8`` arrays ``[H, W, 3]``. Video is decoded and encoded with PyAV one frame
at a time, so memory stays flat for any length. Every writer here is atomic (temp file + rename).
Problems with an input become :mod:`openfsgan.errors` exceptions with one clear sentence.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from openfsgan.errors import (
    InputTooLargeError,
    InvalidInputError,
    OutputError,
    PermissionDeniedError,
)
from openfsgan.io.atomic import atomic_output
from openfsgan.io.paths import check_input_file
from openfsgan.types import MediaInfo

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
# 64 megapixels: above 8K (33 MP); a 20000x20000 image (400 MP) is refused before decoding.
MAX_IMAGE_PIXELS = 64_000_000
# Video frames above 8K UHD are refused as well (they would not fit the per-frame budget).
MAX_VIDEO_PIXELS = 7680 * 4320


@dataclass(frozen=True)
class VideoFrame:
    """One decoded frame: its 0-based index, presentation time in seconds and RGB pixels."""

    index: int
    time_s: float
    rgb: np.ndarray


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """True when the extension names a still-image format."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def is_video(path: str | os.PathLike[str]) -> bool:
    """True for a readable video (probes the file; images and non-media give False)."""
    try:
        return probe(path).is_video
    except InvalidInputError:
        return False


def _denied(path: Path) -> PermissionDeniedError:
    """Opening was refused although the access check passed (ACLs, a race, a network share)."""
    return PermissionDeniedError(f"file is not readable (permission denied): {path}")


def _image_size(path: Path) -> tuple[int, int]:
    """(width, height) from the image header, without decoding the pixels."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # we apply our own limit, with our own message
    try:
        with Image.open(path) as image:
            return int(image.width), int(image.height)
    except PermissionError as error:
        raise _denied(path) from error
    except Exception as error:  # PIL raises many types for broken files
        raise InvalidInputError(f"not a readable image: {path} ({error})") from error


def _check_image_size(path: Path, width: int, height: int) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise InputTooLargeError(
            f"image is too large: {width}x{height} ({width * height / 1e6:.0f} MP) exceeds "
            f"the {MAX_IMAGE_PIXELS / 1e6:.0f} MP limit: {path}")


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode a still image to RGB ``uint8 [H, W, 3]`` (greyscale and alpha are converted).

    EXIF orientation is applied, so a phone photo comes out upright.
    """
    from PIL import Image, ImageOps

    p = Path(path)
    check_input_file(p, "file")
    width, height = _image_size(p)
    _check_image_size(p, width, height)
    try:
        with Image.open(p) as image:
            upright = ImageOps.exif_transpose(image)
            return np.asarray(upright.convert("RGB"), dtype=np.uint8).copy()
    except PermissionError as error:
        raise _denied(p) from error
    except Exception as error:  # PIL raises OSError, SyntaxError, ValueError... for bad files
        raise InvalidInputError(
            f"image could not be decoded (truncated or corrupt?): {p}") from error


def _open_container(path: Path) -> Any:
    import av

    try:
        return av.open(str(path))
    except PermissionError as error:  # PyAV's own PermissionError is one too
        raise _denied(path) from error
    except av.error.FFmpegError as error:
        raise InvalidInputError(f"not a readable image or video: {path}") from error


def _count_presented_frames(container: Any, stream: Any) -> int:
    """Frames a decoder will output: packets inside the stream's presentation interval.

    The header's frame count is not used: an MP4 edit list can hide packets (before the start or
    past the end) that decoders drop, and those would otherwise be promised as frames.
    """
    start = stream.start_time if stream.start_time is not None else 0
    end = start + stream.duration if stream.duration else None
    count = 0
    for packet in container.demux(stream):
        if not packet.size:
            continue
        if packet.pts is None or (packet.pts >= start and (end is None or packet.pts < end)):
            count += 1
    return count


def _is_still_image_format(format_name: str) -> bool:
    """FFmpeg's demuxers for single images: ``image2`` and the ``*_pipe`` family."""
    return format_name == "image2" or format_name.endswith("_pipe")


def probe(path: str | os.PathLike[str]) -> MediaInfo:
    """Describe an image or video without decoding it whole.

    Raises:
        InputNotFoundError, PermissionDeniedError, InvalidInputError, InputTooLargeError.
    """
    p = Path(path)
    check_input_file(p, "file")
    if is_image_path(p):
        width, height = _image_size(p)
        _check_image_size(p, width, height)
        return MediaInfo(str(p), False, width, height, 1, Fraction(0))
    container = _open_container(p)
    try:
        if not container.streams.video:
            raise InvalidInputError(f"no video stream in: {p}")
        stream = container.streams.video[0]
        width, height = int(stream.codec_context.width), int(stream.codec_context.height)
        if width <= 0 or height <= 0:
            raise InvalidInputError(f"video has no valid frame size: {p}")
        has_audio = bool(container.streams.audio)
        fps = Fraction(stream.average_rate or stream.guessed_rate or 0)
        if _is_still_image_format(container.format.name):
            # an image under a video-like name (e.g. a PNG saved as .mp4)
            _check_image_size(p, width, height)
            return MediaInfo(str(p), False, width, height, 1, Fraction(0))
        if width * height > MAX_VIDEO_PIXELS:
            raise InputTooLargeError(f"video frames are too large ({width}x{height}): {p}")
        frames = _count_presented_frames(container, stream)
        if frames <= 0:
            raise InvalidInputError(f"video has no frames: {p}")
        if not fps:
            fps = Fraction(25)
        return MediaInfo(str(p), True, width, height, frames, fps, has_audio)
    except InvalidInputError:
        raise
    except InputTooLargeError:
        raise
    except Exception as error:
        raise InvalidInputError(f"not a readable image or video: {p} ({error})") from error
    finally:
        container.close()


def iter_frames(path: str | os.PathLike[str], start: int = 0) -> Iterator[VideoFrame]:
    """Stream the frames of a video (or the one frame of an image) from index ``start``.

    A video that stops decoding part-way (truncated, corrupt) raises InvalidInputError naming
    the frame where it broke; frames before it have already been yielded.
    """
    import av

    p = Path(path)
    info = probe(p)
    if not info.is_video:
        if start == 0:
            yield VideoFrame(0, 0.0, read_image(p))
        return
    container = _open_container(p)
    index = -1
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        time_base = stream.time_base or Fraction(1, 1)
        first_pts: int | None = None
        for index, frame in enumerate(container.decode(stream)):
            if first_pts is None:
                first_pts = frame.pts or 0
            if index < start:
                continue
            pts = frame.pts if frame.pts is not None else first_pts
            time_s = float((pts - first_pts) * time_base)
            yield VideoFrame(index, time_s, frame.to_ndarray(format="rgb24"))
    except av.error.FFmpegError as error:
        raise InvalidInputError(
            f"video could not be decoded after frame {index} (truncated or corrupt?): {p}"
        ) from error
    finally:
        container.close()
    if index < 0:
        raise InvalidInputError(f"video has no decodable frames (truncated or corrupt?): {p}")
    if index + 1 < info.frame_count:
        log.warning("%s: decoded %d of the %d frames its header announces (truncated?)",
                    p, index + 1, info.frame_count)


def write_image(path: str | os.PathLike[str], rgb: np.ndarray, jpeg_quality: int = 95) -> Path:
    """Encode ``rgb`` to ``path`` atomically; the format follows the extension."""
    import cv2

    p = Path(path)
    ext = p.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise OutputError(f"unsupported image extension {ext!r} for output {p}")
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if ext in {".jpg", ".jpeg"} else []
    ok, data = cv2.imencode(ext, np.ascontiguousarray(rgb[:, :, ::-1]), params)
    if not ok:
        raise OutputError(f"could not encode image {p}")
    with atomic_output(p) as tmp:
        tmp.write_bytes(data.tobytes())
    return p


class VideoWriter:
    """H.264 MP4 writer, atomic, optionally copying the audio of another file.

    Usage::

        with VideoWriter(out, fps=info.fps, width=w, height=h, audio_from=target) as writer:
            for rgb in frames:
                writer.write(rgb)

    The file appears at ``path`` only when the block ends without an exception. Odd frame sizes
    are kept exactly (they use 4:4:4 chroma, which 4:2:0 cannot represent).
    """

    def __init__(self, path: str | os.PathLike[str], fps: Fraction | float, width: int,
                 height: int, audio_from: str | os.PathLike[str] | None = None, crf: int = 18,
                 preset: str = "veryfast", metadata: dict[str, str] | None = None) -> None:
        self.path = Path(path)
        self.fps = Fraction(fps).limit_denominator(1001 * 1000)
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {fps}")
        self.width, self.height = int(width), int(height)
        self.audio_from = Path(audio_from) if audio_from is not None else None
        self.crf, self.preset = crf, preset
        self.metadata = dict(metadata or {})
        self.frames_written = 0
        self._atomic: Any = None
        self._container: Any = None
        self._stream: Any = None
        self._audio_source: Any = None
        self._audio_in: Any = None
        self._audio_out: Any = None

    def __enter__(self) -> VideoWriter:
        import av

        self._atomic = atomic_output(self.path, suffix=".mp4")
        tmp = self._atomic.__enter__()
        self._container = av.open(str(tmp), mode="w", format="mp4")
        for key, value in self.metadata.items():
            self._container.metadata[key] = value
        stream = self._container.add_stream("libx264", rate=self.fps)
        stream.width, stream.height = self.width, self.height
        even = self.width % 2 == 0 and self.height % 2 == 0
        stream.pix_fmt = "yuv420p" if even else "yuv444p"
        stream.codec_context.time_base = Fraction(1) / self.fps
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        self._stream = stream
        self._open_audio_source()
        return self

    def write(self, rgb: np.ndarray) -> None:
        """Append one RGB frame of exactly the writer's size."""
        import av

        if rgb.shape != (self.height, self.width, 3) or rgb.dtype != np.uint8:
            raise ValueError(f"frame must be uint8 [{self.height}, {self.width}, 3], "
                             f"got {rgb.dtype} {list(rgb.shape)}")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        frame.pts = self.frames_written
        frame.time_base = Fraction(1) / self.fps
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def _open_audio_source(self) -> None:
        """Add an audio stream copied from ``audio_from`` (before the header is written)."""
        import av

        self._audio_source = self._audio_in = self._audio_out = None
        if self.audio_from is None:
            return
        try:
            source = av.open(str(self.audio_from))
        except av.error.FFmpegError:
            log.warning("could not open %s to copy its audio", self.audio_from)
            return
        if not source.streams.audio:
            source.close()
            return
        self._audio_source = source
        self._audio_in = source.streams.audio[0]
        self._audio_out = self._container.add_stream_from_template(self._audio_in)

    def _mux_audio(self) -> None:
        """Remux every audio packet unchanged (no re-encoding, so no loss and no drift)."""
        if self._audio_source is None:
            return
        for packet in self._audio_source.demux(self._audio_in):
            if packet.dts is None:
                continue
            packet.stream = self._audio_out
            self._container.mux(packet)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is None:
                if self.frames_written == 0:
                    raise OutputError(f"no frames were written to {self.path}")
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
                self._mux_audio()
        except BaseException as error:
            self._close_all()
            self._atomic.__exit__(type(error), error, error.__traceback__)
            raise
        self._close_all()
        self._atomic.__exit__(exc_type, exc, tb)

    def _close_all(self) -> None:
        self._container.close()
        if self._audio_source is not None:
            self._audio_source.close()
