"""Taking in an uploaded file: check what it really is, preview it, find the faces to pick from.

An upload is accepted only when its extension is an accepted image or video format AND its
content, probed with PIL (images) or PyAV (videos), is that kind of media and decodes. The page
then shows a small preview and one thumbnail per detected face (a track, for a video), so the
user can pick which face to take or replace when there are several.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openfsgan.errors import InputTooLargeError, InvalidInputError, OpenFSGANError
from openfsgan.types import BoundingBox, MediaInfo
from openfsgan.web.storage import UnsupportedMediaError

log = logging.getLogger(__name__)

PREVIEW_MAX_SIDE_PX = 320
THUMBNAIL_SIDE_PX = 96
THUMBNAIL_MARGIN = 0.25  # of the box size, on every side, so the thumbnail shows hair and chin
MAX_FACES_SHOWN = 8
VIDEO_SCAN_FRAMES = 24  # faces of a video are picked from its first second or so


@dataclass(frozen=True)
class FoundFace:
    """A face to pick: its track id (what the job is given), box and frame, and a crop."""

    track_id: int
    box: BoundingBox
    frame_index: int
    thumbnail: np.ndarray  # RGB uint8 [h, w, 3]


FaceFinder = Callable[[Path, bool], list[FoundFace]]


def sniff_media(path: Path, expect_video: bool) -> MediaInfo:
    """Probe ``path`` and check its content is the kind of media its extension says.

    Raises:
        UnsupportedMediaError: not media, or an image named as a video (or the reverse).
        InputTooLargeError: over the pixel limits of :mod:`openfsgan.io.media`.
        InvalidInputError: empty.
    """
    from openfsgan.io import media

    if path.stat().st_size == 0:
        raise InvalidInputError("the file is empty (0 bytes)")
    try:
        info = media.probe(path)
    except InputTooLargeError:
        raise
    except OpenFSGANError as error:
        raise UnsupportedMediaError(
            f"the content is not a readable {'video' if expect_video else 'image'}") from error
    is_video = info.is_video and not _is_still_image(path)
    if is_video != expect_video:
        raise UnsupportedMediaError(
            f"the content is {'a video' if is_video else 'an image'} but the name says "
            f"{'video' if expect_video else 'image'}")
    return info


def _is_still_image(path: Path) -> bool:
    """True when PIL recognises the file's signature as a still-image format.

    PyAV opens a PNG or JPEG renamed ``.mp4`` as a one-frame "video"; PIL's format sniffing
    tells the two apart.
    """
    from PIL import Image

    try:
        with Image.open(path) as image:
            return getattr(image, "n_frames", 1) == 1
    except Image.DecompressionBombError:
        return True
    except Exception:  # PIL raises many types for what it cannot identify
        return False


def first_frame(path: Path) -> np.ndarray:
    """The first frame of a video (or the image), fully decoded: proves the content decodes."""
    from openfsgan.io import media

    try:
        for frame in media.iter_frames(path):
            return frame.rgb
    except InputTooLargeError:
        raise
    except OpenFSGANError as error:
        raise UnsupportedMediaError("the file could not be decoded (truncated or corrupt?)") \
            from error
    raise UnsupportedMediaError("the file has no decodable frame")


def resized_to_fit(rgb: np.ndarray, max_side_px: int) -> np.ndarray:
    """Downscale so the longest side is at most ``max_side_px`` (never upscales)."""
    import cv2

    height, width = rgb.shape[:2]
    scale = max_side_px / max(height, width)
    if scale >= 1.0:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def encode_jpeg(rgb: np.ndarray, quality: int = 88) -> bytes:
    import cv2

    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]),
                            [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise InvalidInputError("could not encode a preview")
    return bytes(data.tobytes())


def face_thumbnail(rgb: np.ndarray, box: BoundingBox) -> np.ndarray:
    """A square-ish crop around ``box`` with a margin, at most 96 px a side."""
    height, width = rgb.shape[:2]
    margin_x, margin_y = box.width * THUMBNAIL_MARGIN, box.height * THUMBNAIL_MARGIN
    x0 = int(max(0, np.floor(box.x0 - margin_x)))
    y0 = int(max(0, np.floor(box.y0 - margin_y)))
    x1 = int(min(width, np.ceil(box.x1 + margin_x)))
    y1 = int(min(height, np.ceil(box.y1 + margin_y)))
    if x1 <= x0 or y1 <= y0:
        x0, y0, x1, y1 = 0, 0, width, height
    return resized_to_fit(np.ascontiguousarray(rgb[y0:y1, x0:x1]), THUMBNAIL_SIDE_PX)


class AnalyzerFaceFinder:
    """Finds faces with :class:`openfsgan.face.analyzer.FaceAnalyzer` (built on first use).

    One analyzer serves every request, behind a lock: dlib's models are not meant to be used
    from several threads at once, and requests run in a thread pool.
    """

    def __init__(self) -> None:
        self._analyzer: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        if self._analyzer is None:
            from openfsgan.face.analyzer import FaceAnalyzer

            self._analyzer = FaceAnalyzer()
        return self._analyzer

    def __call__(self, path: Path, is_video: bool) -> list[FoundFace]:
        from openfsgan.io import media

        with self._lock:
            analyzer = self._get()
            if not is_video:
                rgb = media.read_image(path)
                frame_faces = analyzer.analyze_image(rgb)
                found = [FoundFace(face.track_id, face.box, 0, face_thumbnail(rgb, face.box))
                         for face in frame_faces.faces]
            else:
                found = self._video_faces(analyzer, path)
        found.sort(key=lambda face: -face.box.area)
        return sorted(found[:MAX_FACES_SHOWN], key=lambda face: face.box.x0)

    @staticmethod
    def _video_faces(analyzer: Any, path: Path) -> list[FoundFace]:
        """Each track's largest appearance over the first frames of a video."""
        from openfsgan.io import media

        decoded: dict[int, np.ndarray] = {}

        def frames() -> Any:
            for frame in itertools.islice(media.iter_frames(path), VIDEO_SCAN_FRAMES):
                decoded.clear()  # keep one frame in memory: the tracker consumes them in order
                decoded[frame.index] = frame.rgb
                yield frame

        best: dict[int, FoundFace] = {}
        for frame_faces in analyzer.track_frames(frames()):
            rgb = decoded[frame_faces.index]
            for face in frame_faces.faces:
                known = best.get(face.track_id)
                if known is None or face.box.area > known.box.area:
                    best[face.track_id] = FoundFace(face.track_id, face.box, frame_faces.index,
                                                    face_thumbnail(rgb, face.box))
        return list(best.values())


def ingest(folder: Path, media_path: Path, is_video: bool,
           face_finder: FaceFinder | None) -> dict[str, Any]:
    """Check an uploaded file and write its preview and face thumbnails beside it.

    Returns:
        the upload's metadata (without its id and names): kind, size, frames, faces.
    """
    info = sniff_media(media_path, is_video)
    rgb = first_frame(media_path)
    (folder / "preview.jpg").write_bytes(encode_jpeg(resized_to_fit(rgb, PREVIEW_MAX_SIDE_PX)))
    faces: list[FoundFace] = []
    face_error = None
    if face_finder is not None:
        try:
            faces = face_finder(media_path, is_video)
        except OpenFSGANError as error:  # e.g. no face: the upload stays usable for verify
            face_error = str(error)
    faces_dir = folder / "faces"
    faces_dir.mkdir(exist_ok=True)
    face_entries = []
    for number, face in enumerate(faces):
        (faces_dir / f"{number}.jpg").write_bytes(encode_jpeg(face.thumbnail))
        face_entries.append({"number": number, "track_id": face.track_id,
                             "frame_index": face.frame_index,
                             "box": [round(v, 1) for v in face.box.to_list()]})
    return {
        "kind": "video" if info.is_video else "image",
        "width": info.width,
        "height": info.height,
        "frame_count": info.frame_count,
        "fps": float(info.fps),
        "has_audio": info.has_audio,
        "faces": face_entries,
        "face_error": face_error,
    }
