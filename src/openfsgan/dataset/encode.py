"""The dataset's encoders: one H.264 chain for real and fake videos alike, lossless masks.

A detector must not be able to tell a fake by its compression. Both the real target and the
fake therefore take the same path: RGB frames -> the job's lossless intermediate (H.264 CRF 0,
the job's preset) -> :func:`reencode` at the requested CRF with the same preset, pixel format
and frame rate, by the same :class:`openfsgan.io.media.VideoWriter`.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from openfsgan.io.atomic import atomic_output


def encode_frames(frames: Any, path: Path, fps: Fraction, width: int, height: int, crf: int,
                  preset: str, audio_from: Path | None = None,
                  max_frames: int | None = None) -> int:
    """Encode RGB frames (an iterable of :class:`openfsgan.io.media.VideoFrame`) to ``path``
    with H.264 at ``crf``; returns the number of frames written."""
    from openfsgan.io.media import VideoWriter

    with VideoWriter(path, fps, width, height, audio_from=audio_from, crf=crf,
                     preset=preset) as writer:
        for frame in frames:
            if max_frames is not None and frame.index >= max_frames:
                break
            writer.write(frame.rgb)
        return writer.frames_written


def reencode(source: Path, path: Path, crf: int, preset: str,
             max_frames: int | None = None) -> int:
    """Decode ``source`` and encode it again to ``path`` (audio copied, fps kept)."""
    from openfsgan.io.media import iter_frames, probe

    info = probe(source)
    return encode_frames(iter_frames(source), path, info.fps, info.width, info.height, crf,
                         preset, audio_from=source if info.has_audio else None,
                         max_frames=max_frames)


class LosslessMaskWriter:
    """A mask video that decodes to exactly the bytes written: RGB H.264 at QP 0 in MP4.

    ``libx264rgb`` is used because this FFmpeg's libx264 has no grey format and 4:2:0 or limited
    range YUV would change the values; OpenCV and PyAV both read it back bit-exact. Each
    ``[H, W]`` uint8 mask is stored on all three channels, so a loader may read any channel.
    Written atomically: the file appears at ``path`` on :meth:`close` only.
    """

    def __init__(self, path: Path, fps: Fraction, width: int, height: int) -> None:
        import av

        self.path = path
        self.width, self.height = width, height
        self.frames_written = 0
        self._atomic = atomic_output(path, suffix=".mp4")
        tmp = self._atomic.__enter__()
        self._container = av.open(str(tmp), mode="w", format="mp4")
        self._stream = self._container.add_stream("libx264rgb", rate=fps)
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "rgb24"
        self._stream.codec_context.time_base = Fraction(1) / fps
        self._stream.options = {"qp": "0", "preset": "veryfast"}
        self._time_base = Fraction(1) / fps

    def write(self, mask: np.ndarray) -> None:
        """Append one ``[H, W]`` uint8 mask."""
        import av

        if mask.shape != (self.height, self.width) or mask.dtype != np.uint8:
            raise ValueError(f"mask must be uint8 [{self.height}, {self.width}], got "
                             f"{mask.dtype} {list(mask.shape)}")
        rgb = np.repeat(mask[:, :, None], 3, axis=2)
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = self.frames_written
        frame.time_base = self._time_base
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file and move it into place."""
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        except BaseException as error:
            self.abort(error)
            raise
        self._container.close()
        self._atomic.__exit__(None, None, None)

    def abort(self, error: BaseException | None = None) -> None:
        """Drop the partial file."""
        self._container.close()
        failure = error or RuntimeError("mask writer aborted")
        self._atomic.__exit__(type(failure), failure, None)


def read_masks(path: Path) -> list[np.ndarray]:
    """The ``[H, W]`` uint8 masks of a mask video (its first channel)."""
    import av

    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24")[:, :, 0].copy()
                for frame in container.decode(video=0)]
