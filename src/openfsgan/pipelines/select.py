"""Which face to swap: by number, by a reference photo, or the largest.

Numbers (``--source-face N`` / ``--target-face N``) are track ids on video and the rank by size
on a photo (0: the largest; the analyzer numbers a photo's faces largest first, so both agree).
A reference photo picks the target track whose dlib face descriptor is closest to the reference
face's (Euclidean distance below 0.6, dlib's same-person threshold). By default the largest face
is chosen and *followed* by its track id, so the swap does not jump between two similar-sized
faces from frame to frame; when that track ends, the largest face present takes over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from openfsgan.errors import NoFaceError
from openfsgan.types import Face, FrameFaces

log = logging.getLogger(__name__)

SAME_PERSON_DISTANCE = 0.6
"""dlib ResNet descriptors closer than this (Euclidean) are the same person."""

MAX_DESCRIPTOR_TRIES = 3
"""Frames on which an unmatched track is described before it is ruled out."""

Describer = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``(rgb [H, W, 3], landmarks [68, 2]) -> descriptor [128]`` (dlib's ResNet on a 68-point chip)."""


def faces_by_size(frame_faces: FrameFaces) -> list[Face]:
    """The frame's faces, largest box first."""
    return sorted(frame_faces.faces, key=lambda face: face.box.area, reverse=True)


def face_by_rank(frame_faces: FrameFaces, rank: int, what: str = "image") -> Face:
    """The ``rank``-th largest face of a photo.

    Raises:
        NoFaceError: when the photo has no face, or fewer than ``rank + 1`` faces.
    """
    faces = faces_by_size(frame_faces)
    if not faces:
        raise NoFaceError(f"no face found in the {what}")
    if not 0 <= rank < len(faces):
        raise NoFaceError(f"the {what} has {len(faces)} face(s); face number {rank} does not "
                          f"exist (faces are numbered from 0, largest first)")
    return faces[rank]


class FaceSelector:
    """Chooses the face to process on each frame of a video (or on a photo).

    Args:
        face_index: a track id (video) / rank by size (photo); None for automatic.
        reference: descriptor ``[128]`` of the person to pick; needs ``describer``.
        describer: computes descriptors of candidate faces (only with ``reference``).
        max_distance: descriptor distance under which a face is the reference person.
    """

    def __init__(self, face_index: int | None = None, reference: np.ndarray | None = None,
                 describer: Describer | None = None,
                 max_distance: float = SAME_PERSON_DISTANCE) -> None:
        if face_index is not None and reference is not None:
            raise ValueError("choose a face by number or by reference photo, not both")
        if reference is not None and describer is None:
            raise ValueError("a reference descriptor needs a describer")
        self.face_index = face_index
        self.reference = None if reference is None else np.asarray(reference, np.float64)
        self.describer = describer
        self.max_distance = max_distance
        self.locked_track: int | None = None
        self._distances: dict[int, float] = {}
        self._tries: dict[int, int] = {}

    def select(self, frame_faces: FrameFaces, rgb: np.ndarray | None = None) -> Face | None:
        """The face to process on this frame, or None (the frame passes through unchanged).

        ``rgb`` is needed only when choosing by reference photo.
        """
        if not frame_faces.faces:
            return None
        if self.face_index is not None:
            return frame_faces.by_track(self.face_index)
        if self.reference is not None:
            return self._by_reference(frame_faces, rgb)
        return self._largest_followed(frame_faces)

    def _largest_followed(self, frame_faces: FrameFaces) -> Face | None:
        if self.locked_track is not None:
            face = frame_faces.by_track(self.locked_track)
            if face is not None:
                return face
        largest = frame_faces.largest()
        if largest is not None:
            if self.locked_track is not None:
                log.info("frame %d: face %d left; following face %d (the largest)",
                         frame_faces.index, self.locked_track, largest.track_id)
            self.locked_track = largest.track_id
        return largest

    def _by_reference(self, frame_faces: FrameFaces, rgb: np.ndarray | None) -> Face | None:
        if rgb is None:
            raise ValueError("choosing by reference photo needs the frame's pixels")
        assert self.describer is not None and self.reference is not None
        for face in frame_faces.faces:
            track = face.track_id
            if track in self._distances and self._distances[track] <= self.max_distance:
                continue
            if self._tries.get(track, 0) >= MAX_DESCRIPTOR_TRIES:
                continue
            self._tries[track] = self._tries.get(track, 0) + 1
            descriptor = self.describer(rgb, face.landmarks)
            distance = float(np.linalg.norm(np.asarray(descriptor) - self.reference))
            self._distances[track] = min(distance, self._distances.get(track, np.inf))
            log.debug("frame %d: face %d is at descriptor distance %.3f from the reference",
                      frame_faces.index, track, distance)
        matches = [(self._distances[f.track_id], f) for f in frame_faces.faces
                   if self._distances.get(f.track_id, np.inf) <= self.max_distance]
        if not matches:
            return None
        return min(matches, key=lambda pair: pair[0])[1]
