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

**Peak memory** is measured by running each stage in a fresh Python process (``spawn``), so
stages cannot inherit each other's memory. The child reports ``ru_maxrss`` of itself
(``resource.getrusage(RUSAGE_SELF)``) after the stage, which includes the interpreter and the
imported libraries, and its resident memory just before the stage started (after imports and
input preparation); ``peak_mb - baseline_mb`` is what the stage itself added. On CUDA the
peak of ``torch.cuda.max_memory_allocated`` is reported as well.

The synthetic clip is scikit-image's astronaut (one real face, shipped with scikit-image, so
the benchmark runs anywhere), her head and shoulders scaled to 60 % of the frame height on a
gradient background, drifting a few pixels per frame so that tracking has work to do.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

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
                    mirror: bool = False, face_fraction: float = 0.6) -> np.ndarray:
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
                         face_fraction: float = 0.6) -> Path:
    """Write the synthetic clip (H.264 MP4, atomically) and return its path."""
    from openfsgan.io.media import VideoWriter

    out = Path(path)
    with VideoWriter(out, fps=fps, width=width, height=height) as writer:
        for index in range(frames):
            writer.write(astronaut_frame(width, height, index, frames, mirror, face_fraction))
    return out
