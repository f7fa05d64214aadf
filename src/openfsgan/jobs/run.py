"""The job runner: :func:`run_swap` ties the request checks, the sources, a frame processor,
the reader/writer threads and the work folder together, for photo and video targets.

It is the only module that knows the order of the steps; :func:`make_labeler` is here rather
than beside :class:`OutputLabeler` because it reads the run id back from the work folder.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING

from openfsgan.errors import InvalidInputError, NoFaceError
from openfsgan.io.atomic import atomic_output
from openfsgan.jobs.processors import FrameProcessor, build_processor
from openfsgan.jobs.request import (
    JobCancelled,
    JobOptions,
    JobSummary,
    OutputLabeler,
    Progress,
    SwapRequest,
    check_request,
)
from openfsgan.jobs.resume import Segment, WorkState, concat_segments, request_fingerprint
from openfsgan.jobs.sources import (
    cached_analysis,
    default_analyzer,
    frames_with_faces,
    target_selector,
)
from openfsgan.jobs.threads import BackgroundWriter, Prefetch
from openfsgan.pipelines.config import SwapConfig
from openfsgan.pipelines.select import FaceSelector, face_by_rank
from openfsgan.types import BoundingBox, Face, FrameFaces, MediaInfo

if TYPE_CHECKING:
    from openfsgan.face.analyzer import FaceAnalyzer
    from openfsgan.inference import NeuralModels

log = logging.getLogger(__name__)


def make_labeler(request: SwapRequest) -> OutputLabeler:
    """The provenance labeler for ``request`` (:mod:`openfsgan.provenance.labeler`).

    A resumed video job reuses the run id saved with its finished segments, so every frame of
    the output carries the same payload.
    """
    from openfsgan.provenance.labeler import make_labeler as make_provenance_labeler

    if request.run_id is None and request.resume:
        request = replace(request, run_id=WorkState.saved_run_id(request.output))
    labeler: OutputLabeler = make_provenance_labeler(request)
    return labeler


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


def _run_video(request: SwapRequest, config: SwapConfig, target_info: MediaInfo,
               processor: FrameProcessor, selector: FaceSelector, analyzer: FaceAnalyzer,
               labeler: OutputLabeler, options: JobOptions, progress: Progress | None,
               cancel: threading.Event | None) -> tuple[int, int, int, int]:
    """Swap every frame of a video target, segment by segment; returns
    ``(frames_total, swapped, passed_through, resumed)``."""
    from openfsgan.io.media import VideoWriter

    total = target_info.frame_count
    if request.max_frames is not None:
        total = min(total, request.max_frames)
    work = WorkState.open(request.output, request_fingerprint(request, config, options),
                          request.resume, labeler.run_id, config)
    resumed = work.frames_done
    processor.load_state(work.processor_state)
    cached = cached_analysis(request.target, analyzer) if options.use_cache else None
    width, height = processor.output_size or (target_info.width, target_info.height)
    relock = work.last_box if resumed and cached is None else None
    done = resumed
    if progress is not None:
        progress(done, total)
    # three stages overlap on the CPU cores: decode + analysis (a reader thread), the swap
    # (this thread), labelling + H.264 encoding (a writer thread per segment)
    frames = Prefetch(frames_with_faces(request.target, resumed, analyzer, cached),
                      options.queue_frames)
    try:
        item = next(frames, None) if done < total else None
        while item is not None:
            _check_cancel(cancel)
            name = f"segment_{len(work.segments):05d}.mp4"
            segment = Segment(name, done, 0, 0, 0)
            with VideoWriter(work.folder / name, target_info.fps, width, height,
                             crf=options.crf, preset=options.preset) as video_writer, \
                    BackgroundWriter(video_writer, labeler, options.queue_frames) as writer:
                while item is not None and segment.frames < options.segment_frames:
                    frame, frame_faces = item
                    if relock is not None:
                        _relocked(selector, frame_faces, relock)
                        relock = None
                    face = selector.select(frame_faces, frame.rgb)
                    result = processor(frame.rgb, face)
                    if options.frame_observer is not None:
                        options.frame_observer(frame.index, result.rgb, result.alpha)
                    writer.write(result.rgb, frame.index)
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


def _run_image(request: SwapRequest, processor: FrameProcessor, selector: FaceSelector,
               analyzer: FaceAnalyzer, labeler: OutputLabeler,
               options: JobOptions) -> tuple[int, int]:
    """Swap the one face of a photo target; returns ``(swapped, passed_through)``."""
    from openfsgan.io.media import read_image, write_image

    rgb = read_image(request.target)
    frame_faces = analyzer.analyze_image(rgb)
    if not frame_faces.faces:  # a video's faceless frames pass through; a photo has no others
        role = "target" if request.mode == "swap" else "driver"
        raise NoFaceError(f"no face found in the {role} photo: {request.target}")
    if request.target_face is not None:
        face: Face | None = face_by_rank(frame_faces, request.target_face, "target photo")
    else:
        face = selector.select(frame_faces, rgb)
    result = processor(rgb, face)
    if options.frame_observer is not None:
        options.frame_observer(0, result.rgb, result.alpha)
    out = labeler.label_frame(result.rgb, 0)
    with atomic_output(request.output) as tmp:
        write_image(tmp, out)
        labeler.finalize(tmp, "image")
    return (1, 0) if face is not None else (0, 1)


def run_swap(request: SwapRequest, progress: Progress | None = None,
             cancel: threading.Event | None = None, *, options: JobOptions | None = None,
             labeler: OutputLabeler | None = None,
             analyzer: FaceAnalyzer | None = None,
             models: NeuralModels | None = None) -> JobSummary:
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
        models: the shipped generators, already loaded (a process running many jobs loads
            them once); default: loaded by the job when a chosen stage runs one.

    Raises:
        OpenFSGANError subclasses for bad inputs or outputs (nothing is written then),
        NoFaceError when the source has no usable face or a photo target has no face at all,
        JobCancelled when cancelled.
    """
    started = time.perf_counter()
    options = options or JobOptions()
    target_info, _ = check_request(request)
    analyzer = analyzer or default_analyzer()
    if labeler is None:
        labeler = make_labeler(request)  # with the watermark off it still tags and signs
    _check_cancel(cancel)
    config = request.resolved_config()
    processor, source_views = build_processor(request, config, analyzer, options,
                                              target_info.is_video, models)
    processor.with_alpha = options.frame_observer is not None
    selector = target_selector(request, analyzer)
    if target_info.is_video:
        total, swapped, passed, resumed = _run_video(
            request, config, target_info, processor, selector, analyzer, labeler, options,
            progress, cancel)
        kind = "video"
    else:
        _check_cancel(cancel)
        swapped, passed = _run_image(request, processor, selector, analyzer, labeler, options)
        total, resumed, kind = 1, 0, "image"
        if progress is not None:
            progress(1, 1)
    seconds = time.perf_counter() - started
    processed = total - resumed
    summary = JobSummary(output=request.output, frames_total=total, frames_swapped=swapped,
                         frames_passed_through=passed, seconds=seconds,
                         fps=processed / seconds if seconds > 0 else 0.0, media_kind=kind,
                         frames_resumed=resumed, source_views=source_views,
                         method=request.method, mode=request.mode, config=config.to_dict())
    log.info("wrote %s: %d frames (%d swapped, %d unchanged) in %.1f s", request.output, total,
             swapped, passed, seconds)
    return summary
