"""Jobs end to end on real (tiny) media: photo and video targets, audio, pass-through frames,
cancel and resume, and every refused input or output."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from openfsgan.errors import (
    ConfigError,
    InputNotFoundError,
    NoFaceError,
    OpenFSGANError,
    OutputError,
)
from openfsgan.face.analyzer import FaceAnalyzer
from openfsgan.io.media import iter_frames, probe, write_image
from openfsgan.jobs import (
    JobCancelled,
    JobOptions,
    JobSummary,
    NullLabeler,
    SwapRequest,
    run_swap,
    work_folder,
)

WIDTH, HEIGHT, FRAMES, FPS = 320, 240, 12, 25
OPTIONS = JobOptions(segment_frames=4, preset="ultrafast")


def _clip_frames(blank: set[int] | None = None) -> list[np.ndarray]:
    from openfsgan.benchmarking import astronaut_frame

    frames = []
    for index in range(FRAMES):
        frame = astronaut_frame(WIDTH, HEIGHT, index, FRAMES, mirror=True, face_fraction=0.9)
        if blank and index in blank:
            frame = np.full_like(frame, 90)
        frames.append(frame)
    return frames


def write_clip(path: Path, frames: list[np.ndarray], audio: bool) -> Path:
    """H.264 clip, optionally with a 440 Hz AAC tone as long as the video."""
    import av

    container = av.open(str(path), "w")
    video = container.add_stream("libx264", rate=FPS)
    video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    sound = container.add_stream("aac", rate=16000) if audio else None
    if sound is not None:
        sound.layout = "mono"
    for index, rgb in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts, frame.time_base = index, Fraction(1, FPS)
        for packet in video.encode(frame):
            container.mux(packet)
    for packet in video.encode(None):
        container.mux(packet)
    if sound is not None:
        samples = int(16000 * len(frames) / FPS)
        tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 16000)).astype(np.float32)
        for start in range(0, samples, 1024):
            chunk = av.AudioFrame.from_ndarray(tone[None, start:start + 1024], format="fltp",
                                               layout="mono")
            chunk.sample_rate, chunk.pts = 16000, start
            for packet in sound.encode(chunk):
                container.mux(packet)
        for packet in sound.encode(None):
            container.mux(packet)
    container.close()
    return path


@pytest.fixture(autouse=True)
def _private_cache(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENFSGAN_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, astronaut_rgb: np.ndarray) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("media")
    source = write_image(folder / "source.png", np.ascontiguousarray(astronaut_rgb))
    frames = _clip_frames()
    target = write_clip(folder / "target.mp4", frames, audio=True)
    gaps = write_clip(folder / "gaps.mp4", _clip_frames(blank={3, 4, 9}), audio=False)
    photo = write_image(folder / "target.png", frames[0])
    blank = write_image(folder / "blank.png", np.full((200, 200, 3), 128, np.uint8))
    return {"source": source, "target": target, "gaps": gaps, "photo": photo, "blank": blank}


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    """One analyzer for the module: the dlib models load once."""
    return FaceAnalyzer()


Runner = Callable[..., JobSummary]


@pytest.fixture
def run(analyzer: FaceAnalyzer) -> Runner:
    """``run_swap`` with small segments, no labelling and the shared analyzer."""
    def runner(request: SwapRequest, **kwargs: Any) -> JobSummary:
        kwargs.setdefault("labeler", NullLabeler())
        return run_swap(request, options=OPTIONS, analyzer=analyzer, **kwargs)
    return runner


def test_video_swap_keeps_size_frames_fps_and_audio(media: dict[str, Path], run: Runner,
                                                    tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    seen: list[tuple[int, int]] = []
    summary = run(SwapRequest(media["source"], media["target"], out),
                   progress=lambda done, total: seen.append((done, total)))
    info, target = probe(out), probe(media["target"])
    assert (info.width, info.height, info.frame_count, info.fps, info.has_audio) == (
        target.width, target.height, target.frame_count, target.fps, True)
    assert summary.frames_total == FRAMES and summary.frames_swapped == FRAMES
    assert summary.frames_passed_through == 0 and summary.media_kind == "video"
    assert seen[-1] == (FRAMES, FRAMES)
    assert not work_folder(out).exists()
    # the face changed, the corners did not
    first_in = next(iter_frames(media["target"])).rgb.astype(int)
    first_out = next(iter_frames(out)).rgb.astype(int)
    assert np.abs(first_out - first_in)[80:160, 120:200].mean() > 3
    assert np.abs(first_out - first_in)[:20, :20].mean() < 3


def test_frames_without_a_face_pass_through(media: dict[str, Path], run: Runner,
                                            tmp_path: Path) -> None:
    out = tmp_path / "gaps.mp4"
    summary = run(SwapRequest(media["source"], media["gaps"], out))
    assert summary.frames_total == FRAMES
    assert summary.frames_passed_through >= 3
    assert summary.frames_swapped + summary.frames_passed_through == FRAMES
    blank = [f.rgb for f in iter_frames(out) if f.index in (3, 4, 9)]
    assert all(np.abs(rgb.astype(int) - 90).max() <= 3 for rgb in blank)


def test_photo_swap_and_reenactment(media: dict[str, Path], run: Runner,
                                    tmp_path: Path) -> None:
    out = tmp_path / "swapped.png"
    summary = run(SwapRequest(media["source"], media["photo"], out))
    assert summary.media_kind == "image" and summary.frames_swapped == 1
    assert probe(out).width == WIDTH
    driven = tmp_path / "driven.mp4"
    summary = run(SwapRequest(media["source"], media["target"], driven, mode="reenact",
                               max_frames=5))
    info = probe(driven)
    # the source photo's size, the driver's frames
    assert (info.width, info.height, info.frame_count) == (512, 512, 5)
    assert summary.frames_swapped == 5 and summary.mode == "reenact"


def test_cancel_then_resume_does_not_redo_finished_frames(media: dict[str, Path],
                                                          analyzer: FaceAnalyzer,
                                                          tmp_path: Path) -> None:
    calls: list[int] = []  # the frames computed, seen through the job's frame observer
    counted = replace(OPTIONS, frame_observer=lambda index, rgb, alpha: calls.append(index))

    def run(request: SwapRequest, **kwargs: Any) -> JobSummary:
        return run_swap(request, options=counted, analyzer=analyzer, labeler=NullLabeler(),
                        **kwargs)

    out = tmp_path / "resumed.mp4"
    request = SwapRequest(media["source"], media["target"], out)
    cancel = threading.Event()

    def stop_after_six(done: int, total: int) -> None:
        if done == 6:
            cancel.set()

    with pytest.raises(JobCancelled) as raised:
        run(request, progress=stop_after_six, cancel=cancel)
    assert raised.value.exit_code == 130
    assert not out.exists() and work_folder(out).is_dir()
    assert len(calls) == 6
    calls.clear()
    summary = run(SwapRequest(media["source"], media["target"], out, resume=True))
    # segments of 4: frames 0-3 were kept, frames 4-11 computed now
    assert summary.frames_resumed == 4 and len(calls) == FRAMES - 4
    assert summary.frames_total == FRAMES and probe(out).frame_count == FRAMES
    assert probe(out).has_audio and not work_folder(out).exists()
    # the joined video decodes frame by frame, like an uninterrupted run
    reference = tmp_path / "straight.mp4"
    run(SwapRequest(media["source"], media["target"], reference))
    for a, b in zip(iter_frames(out), iter_frames(reference), strict=True):
        assert np.abs(a.rgb.astype(int) - b.rgb).mean() < 2.0


def test_resume_refuses_changed_inputs(media: dict[str, Path], run: Runner,
                                      tmp_path: Path) -> None:
    out = tmp_path / "changed.mp4"
    cancel = threading.Event()
    with pytest.raises(JobCancelled):
        run(SwapRequest(media["source"], media["target"], out), cancel=cancel,
             progress=lambda done, total: cancel.set() if done == 5 else None)
    assert work_folder(out).is_dir()
    with pytest.raises(OutputError, match="changed"):
        run(SwapRequest(media["source"], media["target"], out, resume=True, max_frames=3))


def test_bad_inputs_are_refused_before_anything_is_written(media: dict[str, Path], run: Runner,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    cases: list[tuple[SwapRequest, type[OpenFSGANError], str]] = [
        (SwapRequest(media["blank"], media["target"], out), NoFaceError, "no face"),
        (SwapRequest(tmp_path / "missing.png", media["target"], out), InputNotFoundError,
         "not found"),
        (SwapRequest(media["source"], tmp_path / "missing.mp4", out), InputNotFoundError,
         "not found"),
        (SwapRequest(media["source"], media["target"], media["target"], overwrite=True),
         OutputError, "input"),
        (SwapRequest(media["source"], media["target"], media["source"], overwrite=True),
         OutputError, "input"),
        (SwapRequest(media["source"], media["target"], tmp_path / "out.png"), OutputError,
         "must end in"),
        (SwapRequest(media["source"], media["target"], out, method="magic"), ConfigError,
         "unknown method"),
        (SwapRequest(media["source"], media["target"], out, target_face=0,
                     target_reference=media["source"]), ConfigError, "not both"),
        (SwapRequest(media["source"], media["photo"], tmp_path / "x.png", source_face=3),
         NoFaceError, "face number 3"),
    ]
    for request, error, message in cases:
        with pytest.raises(error, match=message):
            run(request)
    assert not out.exists() and not any(tmp_path.iterdir())
    existing = tmp_path / "exists.mp4"
    existing.write_bytes(b"keep me")
    with pytest.raises(OutputError, match="exists"):
        run(SwapRequest(media["source"], media["target"], existing))
    assert existing.read_bytes() == b"keep me"


def test_labeler_sees_every_frame_and_the_finished_file(media: dict[str, Path], run: Runner,
                                                        tmp_path: Path) -> None:
    class Recorder:
        run_id = "0badcafe"

        def __init__(self) -> None:
            self.frames: list[int] = []
            self.finalized: list[tuple[Path, str]] = []

        def label_frame(self, rgb: np.ndarray, index: int) -> np.ndarray:
            self.frames.append(index)
            return rgb

        def finalize(self, path: Path, media_kind: str) -> None:
            assert path.is_file() and path.stat().st_size > 0
            self.finalized.append((path, media_kind))

    recorder = Recorder()
    out = tmp_path / "labelled.mp4"
    run(SwapRequest(media["source"], media["target"], out, max_frames=5), labeler=recorder)
    assert recorder.frames == [0, 1, 2, 3, 4]
    assert len(recorder.finalized) == 1 and recorder.finalized[0][1] == "video"
    assert probe(out).frame_count == 5


def test_folder_source_and_reference_photo(media: dict[str, Path], run: Runner,
                                           tmp_path: Path, astronaut_rgb: np.ndarray) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    write_image(folder / "a.png", np.ascontiguousarray(astronaut_rgb))
    write_image(folder / "b.png", np.ascontiguousarray(astronaut_rgb[:, ::-1]))
    write_image(folder / "no_face.png", np.full((64, 64, 3), 200, np.uint8))
    out = tmp_path / "from_folder.mp4"
    # the target person chosen by a photo of her (the target's first frame)
    summary = run(SwapRequest(folder, media["target"], out, target_reference=media["photo"],
                              max_frames=4))
    # the mirrored photo has the same pose (yaw ~0): fused with the first into one view
    assert summary.source_views == 1 and summary.frames_swapped == 4
    with pytest.raises(NoFaceError, match="reference"):
        run(SwapRequest(folder, media["target"], tmp_path / "x.mp4",
                        target_reference=media["blank"], max_frames=2))


def test_resumed_job_keeps_its_run_id(media: dict[str, Path], analyzer: FaceAnalyzer,
                                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every frame of a resumed output carries the payload of the run it continues."""
    from openfsgan.jobs import make_labeler

    monkeypatch.setenv("OPENFSGAN_C2PA_DIR", str(tmp_path / "c2pa"))
    out = tmp_path / "marked.mp4"
    first = make_labeler(SwapRequest(media["source"], media["target"], out))
    cancel = threading.Event()
    with pytest.raises(JobCancelled):
        run_swap(SwapRequest(media["source"], media["target"], out), options=OPTIONS,
                 analyzer=analyzer, labeler=first, cancel=cancel,
                 progress=lambda done, total: cancel.set() if done == 5 else None)
    resumed = make_labeler(SwapRequest(media["source"], media["target"], out, resume=True))
    assert resumed.run_id == first.run_id
    fresh = make_labeler(SwapRequest(media["source"], media["target"], tmp_path / "other.mp4",
                                     resume=True))
    assert fresh.run_id != first.run_id
