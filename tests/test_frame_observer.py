"""``JobOptions.frame_observer``: every output frame, in order, before labelling, with the alpha
the face was composited with; photo and video targets, swap and reenact, both methods, and a
resumed job (which does not observe the frames it takes over)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from openfsgan.errors import OpenFSGANError
from openfsgan.face.analyzer import FaceAnalyzer
from openfsgan.io.media import VideoWriter, iter_frames, write_image
from openfsgan.jobs import FrameObserver, JobOptions, SwapRequest, run_swap

WIDTH, HEIGHT, FRAMES = 320, 240, 6


class Recorder:
    """A labeler that labels nothing and an observer, keeping what each was handed."""

    run_id = None

    def __init__(self) -> None:
        self.labelled: dict[int, np.ndarray] = {}
        self.observed: list[tuple[int, np.ndarray, np.ndarray | None]] = []

    def label_frame(self, rgb: np.ndarray, index: int) -> np.ndarray:
        self.labelled[index] = rgb.copy()
        return rgb

    def finalize(self, path: Path, media_kind: str) -> None:
        return None

    def observe(self, index: int, rgb: np.ndarray, alpha: np.ndarray | None) -> None:
        self.observed.append((index, rgb.copy(), None if alpha is None else alpha.copy()))


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from skimage.data import astronaut

    from openfsgan.benchmarking import astronaut_frame

    folder = tmp_path_factory.mktemp("observer")
    frames = [astronaut_frame(WIDTH, HEIGHT, i, FRAMES, mirror=True, face_fraction=0.9)
              for i in range(FRAMES)]
    frames[2] = np.full_like(frames[2], 90)  # no face: passes through
    clip = folder / "clip.mp4"
    with VideoWriter(clip, 25, WIDTH, HEIGHT, preset="ultrafast") as writer:
        for frame in frames:
            writer.write(frame)
    return {"source": write_image(folder / "source.png", astronaut()),
            "clip": clip, "photo": write_image(folder / "photo.png", frames[0])}


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


def _run(request: SwapRequest, recorder: Recorder, analyzer: FaceAnalyzer,
         **kwargs: object) -> None:
    observer: FrameObserver = recorder.observe
    run_swap(request, options=JobOptions(segment_frames=2, preset="ultrafast",
                                         use_cache=False, frame_observer=observer),
             labeler=recorder, analyzer=analyzer, **kwargs)  # type: ignore[arg-type]


def _check_alpha(rgb: np.ndarray, alpha: np.ndarray | None, before: np.ndarray | None) -> None:
    assert alpha is not None and alpha.dtype == np.float32 and alpha.shape == rgb.shape[:2]
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0 and alpha.max() > 0.5
    assert alpha[:10, :10].max() == 0.0  # a corner far from the face
    if before is not None:  # the frame is unchanged exactly where alpha is 0
        outside = alpha == 0.0
        assert np.array_equal(rgb[outside], before[outside])
        assert np.abs(rgb.astype(int) - before)[alpha > 0.9].mean() > 3


@pytest.mark.parametrize("method", ["classic", "neural"])
@pytest.mark.parametrize("mode", ["swap", "reenact"])
def test_video_frames_observed_in_order_before_labelling(media: dict[str, Path],
                                                         analyzer: FaceAnalyzer, tmp_path: Path,
                                                         method: str, mode: str) -> None:
    recorder = Recorder()
    _run(SwapRequest(media["source"], media["clip"], tmp_path / "out.mp4", method=method,
                     mode=mode, watermark=False), recorder, analyzer)
    assert [index for index, _, _ in recorder.observed] == list(range(FRAMES))
    targets = [frame.rgb for frame in iter_frames(media["clip"])]
    for index, rgb, alpha in recorder.observed:
        assert np.array_equal(rgb, recorder.labelled[index])
        if index == 2:
            assert alpha is None
        else:
            # a swap keeps the target's pixels outside the alpha; a reenactment drives the source
            _check_alpha(rgb, alpha, targets[index] if mode == "swap" else None)


@pytest.mark.parametrize("method", ["classic", "neural"])
def test_photo_frame_observed(media: dict[str, Path], analyzer: FaceAnalyzer, tmp_path: Path,
                              method: str) -> None:
    from openfsgan.io.media import read_image

    recorder = Recorder()
    _run(SwapRequest(media["source"], media["photo"], tmp_path / "out.png", method=method,
                     watermark=False), recorder, analyzer)
    assert [index for index, _, _ in recorder.observed] == [0]
    _, rgb, alpha = recorder.observed[0]
    assert np.array_equal(rgb, recorder.labelled[0])
    _check_alpha(rgb, alpha, read_image(media["photo"]))


def test_resumed_job_observes_only_the_frames_it_computes(media: dict[str, Path],
                                                          analyzer: FaceAnalyzer,
                                                          tmp_path: Path) -> None:
    out = tmp_path / "resumed.mp4"
    first, cancel = Recorder(), threading.Event()
    with pytest.raises(OpenFSGANError):
        _run(SwapRequest(media["source"], media["clip"], out, watermark=False), first,
             analyzer, cancel=cancel,
             progress=lambda done, total: cancel.set() if done == 3 else None)
    resumed = Recorder()
    _run(SwapRequest(media["source"], media["clip"], out, watermark=False, resume=True),
         resumed, analyzer)
    # the first segment (frames 0-1) was finished before the cancel and is taken over
    assert [index for index, _, _ in first.observed] == [0, 1, 2]
    assert [index for index, _, _ in resumed.observed] == list(range(2, FRAMES))


@pytest.mark.parametrize("method", ["classic", "neural"])
@pytest.mark.parametrize("mode", ["swap", "reenact"])
def test_alpha_is_the_mask_the_face_was_pasted_with(media: dict[str, Path],
                                                    analyzer: FaceAnalyzer, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    method: str, mode: str) -> None:
    import openfsgan.jobs.processors as processors
    import openfsgan.pipelines.reenact as reenact
    from openfsgan.face.align import paste_alpha

    pasted: list[np.ndarray] = []
    module = processors if mode == "swap" else reenact
    real_paste = module.paste_back

    def recording_paste(frame: np.ndarray, crop: np.ndarray, mask: np.ndarray,
                        transform: object) -> np.ndarray:
        pasted.append(paste_alpha(mask, transform, frame.shape))  # type: ignore[arg-type]
        return real_paste(frame, crop, mask, transform)  # type: ignore[arg-type]

    monkeypatch.setattr(module, "paste_back", recording_paste)
    recorder = Recorder()
    # at identity strength 0 the swap changes the frame only through the paste; at the
    # default it also moves the target's outline (the alpha then covers that too, below)
    _run(SwapRequest(media["source"], media["photo"], tmp_path / "out.png", method=method,
                     mode=mode, watermark=False, identity_strength=0.0), recorder, analyzer)
    (_, _, alpha), = recorder.observed
    assert len(pasted) == 1 and np.array_equal(alpha, pasted[0])


@pytest.mark.parametrize("method", ["classic", "neural"])
def test_alpha_covers_what_the_identity_transfer_moved(media: dict[str, Path],
                                                      analyzer: FaceAnalyzer, tmp_path: Path,
                                                      method: str) -> None:
    from openfsgan.io.media import read_image

    recorder = Recorder()
    _run(SwapRequest(media["source"], media["photo"], tmp_path / "out.png", method=method,
                     watermark=False), recorder, analyzer)
    (_, rgb, alpha), = recorder.observed
    target = read_image(media["photo"])
    assert alpha is not None
    assert np.array_equal(rgb[alpha == 0], target[alpha == 0])
