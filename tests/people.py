"""Two different people that ship with our dependencies, and how far a face is from each.

scikit-image's astronaut (Eileen Collins) and matplotlib's public-domain portrait of Grace Hopper
are two real, different faces available offline. Identity tests swap one onto the other and ask
dlib's ResNet face descriptor (:class:`openfsgan.metrics.identity.FaceDescriptor`) whether the
output looks more like the source person than like the target person. A mirror image of one
person is not a second person for this purpose: a swap that kept the target's identity would
pass such a test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.metrics.identity import FaceDescriptor

PEOPLE = ("astronaut", "hopper")
# head-and-shoulders windows (rows, cols) with the face at the same place and relative size
# (the face box is ~38 % of the window's height in both)
HEAD_WINDOWS = {
    "astronaut": (slice(20, 260), slice(120, 330)),  # face box x 175..266, y 76..167 of 512x512
    "hopper": (slice(25, 518), slice(66, 497)),  # face box x 180..367, y 139..326 of 512x600
}


@cache
def _photo(person: str) -> np.ndarray:
    if person == "astronaut":
        from skimage import data

        image = np.ascontiguousarray(data.astronaut())
    elif person == "hopper":
        from matplotlib import cbook
        from PIL import Image

        with cbook.get_sample_data("grace_hopper.jpg") as file, Image.open(file) as picture:
            image = np.asarray(picture.convert("RGB"), dtype=np.uint8).copy()
    else:
        raise ValueError(f"unknown person {person!r}; known: {', '.join(PEOPLE)}")
    image.flags.writeable = False
    return image


def photo(person: str) -> np.ndarray:
    """The person's photo, RGB uint8 (astronaut 512x512, Grace Hopper 512 wide x 600 high)."""
    return _photo(person)


def person_frame(person: str, width: int, height: int, index: int, frames: int,
                 face_fraction: float = 1.0) -> np.ndarray:
    """Frame ``index`` of a synthetic clip: the person's head window, ``face_fraction`` of the
    frame height, drifting on a small ellipse over a gradient background."""
    import cv2

    head = photo(person)[HEAD_WINDOWS[person]]
    scale = min(face_fraction * height / head.shape[0], 0.9 * width / head.shape[1])
    size = (max(1, round(head.shape[1] * scale)), max(1, round(head.shape[0] * scale)))
    head = cv2.resize(np.ascontiguousarray(head), size, interpolation=cv2.INTER_AREA)
    yy, xx = np.mgrid[:height, :width]
    background = (60 + 80 * xx / max(width - 1, 1) + 40 * yy / max(height - 1, 1))
    frame = np.repeat(background.astype(np.uint8)[:, :, None], 3, axis=2)
    phase = 2 * math.pi * index / max(frames, 1)
    amplitude = max(1.0, 0.02 * height)
    x0 = int(np.clip((width - size[0]) // 2 + round(amplitude * math.cos(phase)), 0,
                     width - size[0]))
    y0 = int(np.clip((height - size[1]) // 2 + round(0.5 * amplitude * math.sin(phase)), 0,
                     height - size[1]))
    frame[y0:y0 + size[1], x0:x0 + size[0]] = head
    return frame


def write_person_clip(path: Path, person: str, width: int, height: int, frames: int,
                      face_fraction: float = 1.0) -> Path:
    """An H.264 clip of :func:`person_frame` frames at 25 fps."""
    from openfsgan.io.media import VideoWriter

    with VideoWriter(path, fps=25, width=width, height=height) as writer:
        for index in range(frames):
            writer.write(person_frame(person, width, height, index, frames, face_fraction))
    return path


@cache
def _analysis() -> tuple[FaceAnalyzer, FaceDescriptor]:
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.metrics.identity import FaceDescriptor

    return FaceAnalyzer(), FaceDescriptor()


def descriptor(rgb: np.ndarray) -> np.ndarray:
    """dlib's 128-D descriptor of the largest face found on ``rgb`` (fails when there is none)."""
    analyzer, describer = _analysis()
    pixels = np.ascontiguousarray(rgb)
    largest = analyzer.analyze_image(pixels).largest()
    assert largest is not None, "no face found where a face was expected"
    return describer.describe(pixels, largest.landmarks)


@dataclass(frozen=True)
class IdentityDistances:
    """How far an output face is from its source and its target person.

    Attributes:
        to_source, to_target: Euclidean distances between dlib descriptors (dlib calls two
            faces the same person below 0.6).
        margin: cosine similarity to the source minus cosine similarity to the target (the
            identity margin; positive: nearer the source).
    """

    to_source: float
    to_target: float
    margin: float

    def __str__(self) -> str:
        return (f"distance to source {self.to_source:.3f}, to target {self.to_target:.3f}, "
                f"cosine margin {self.margin:+.3f}")


def identity_distances(output: np.ndarray, source: np.ndarray,
                       target: np.ndarray) -> IdentityDistances:
    """Describe the largest face of each image and compare the output's with the other two."""
    from openfsgan.metrics.identity import cosine_similarity

    out, src, tgt = descriptor(output), descriptor(source), descriptor(target)
    return IdentityDistances(float(np.linalg.norm(out - src)), float(np.linalg.norm(out - tgt)),
                             cosine_similarity(out, src) - cosine_similarity(out, tgt))
