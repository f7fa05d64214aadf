"""Where the faces of a job come from: face analysis of the target (cached or tracked on the
fly), the choice of the target face, and the source face prepared for a swap or reenactment.

These are the inputs of the frame processors; keeping them here leaves :mod:`.processors`
with only what happens to one frame.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from openfsgan.errors import NoFaceError
from openfsgan.jobs.request import SwapRequest, list_photos
from openfsgan.jobs.threads import close_iterator
from openfsgan.pipelines.appearance import (
    SourceAppearance,
    SourceView,
    ViewGeometry,
    make_source_view,
    open_eyed,
    sharpness,
)
from openfsgan.pipelines.select import FaceSelector, face_by_rank
from openfsgan.pipelines.stages import Reenactor, ReenactSource
from openfsgan.types import Face, FrameFaces

if TYPE_CHECKING:
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.io.media import VideoFrame

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------------------------------
# analysis


def default_analyzer() -> FaceAnalyzer:
    from openfsgan.face.analyzer import FaceAnalyzer

    return FaceAnalyzer()


def _analyse_video(path: Path, analyzer: FaceAnalyzer, use_cache: bool) -> list[FrameFaces]:
    if use_cache:
        from openfsgan.io.cache import analyze_cached

        return analyze_cached(path, analyzer)[0]
    return analyzer.analyze_video(path)


def cached_analysis(path: Path, analyzer: FaceAnalyzer) -> list[FrameFaces] | None:
    """A target's analysis from the cache, if it was analysed before (same track ids as the
    analysis the user picked faces from); never computes one."""
    from openfsgan.io.cache import AnalysisCache

    cache = AnalysisCache()
    try:
        return cache.load(cache.key_for(path, analyzer.config.digest()))
    except OSError:
        return None


def frames_with_faces(path: Path, start: int, analyzer: FaceAnalyzer,
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
            close_iterator(tracked)
    finally:
        close_iterator(frames)


def _describer() -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    from openfsgan.metrics.identity import FaceDescriptor

    return FaceDescriptor().describe


def target_selector(request: SwapRequest, analyzer: FaceAnalyzer) -> FaceSelector:
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
                           config: ViewGeometry, use_cache: bool = True) -> SourceAppearance:
    """Every view of the chosen source face (photo, folder of photos or video), fused into an
    appearance map; views are cut as ``config`` says (the reenactment stage's
    :meth:`~openfsgan.pipelines.stages.Reenactor.view_geometry`).

    Near-duplicate poses keep their sharpest view. A video is read three times (analysis,
    sharpness, crops) so that only the kept views are ever held in memory.

    Raises:
        NoFaceError: no face (or no face number ``face_index``) anywhere in the source.
    """
    from openfsgan.io.media import probe, read_image

    views: list[SourceView] = []
    if path.is_dir():
        for number, photo in enumerate(list_photos(path)):
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
                             config: ViewGeometry, use_cache: bool) -> SourceAppearance:
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


def reenact_source(request: SwapRequest, analyzer: FaceAnalyzer,
                   reenactor: Reenactor) -> ReenactSource:
    """The face to animate: the chosen face of the source photo (or of the first source frame
    or folder photo where it appears), prepared by the reenactment stage."""
    from openfsgan.io.media import iter_frames, read_image

    if request.source.is_dir():
        candidates: Iterator[tuple[np.ndarray, FrameFaces]] = (
            (rgb, analyzer.analyze_image(rgb))
            for rgb in (read_image(p) for p in list_photos(request.source)))
    else:
        candidates = ((frame.rgb, analyzer.analyze_image(frame.rgb))
                      for frame in iter_frames(request.source))
    for rgb, faces in candidates:
        if len(faces.faces) > (request.source_face or 0):
            face = face_by_rank(faces, request.source_face or 0, "source")
            return reenactor.prepare(rgb, face)
    what = "no face" if request.source_face is None else f"no face number {request.source_face}"
    raise NoFaceError(f"{what} found in the source {request.source}")
