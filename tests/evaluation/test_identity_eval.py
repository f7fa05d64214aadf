"""The evaluation's identity, sequence and reenactment metrics on two real, different people
(scikit-image's astronaut and matplotlib's Grace Hopper), with stand-in swaps whose answer is
known: one that returns the target (identity not transferred), one that returns the source."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from openfsgan.benchmarking import write_astronaut_clip
from openfsgan.evaluation.pairs import EvalPair
from openfsgan.evaluation.runner import EvalConfig, Scorers, run_evaluation
from openfsgan.io.media import VideoWriter, iter_frames, read_image, write_image

W, H, FRAMES = 160, 192, 4


def _write_hopper_clip(path: Path, frames: int) -> Path:
    """Grace Hopper's portrait (matplotlib's sample data) as a short clip drifting 1 px/frame."""
    import cv2
    import matplotlib.cbook

    photo = read_image(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    small = cv2.resize(photo, (W, round(photo.shape[0] * W / photo.shape[1])),
                       interpolation=cv2.INTER_AREA)
    canvas = np.full((H, W, 3), 120, np.uint8)
    rows = min(H, small.shape[0])
    canvas[:rows] = small[:rows]
    with VideoWriter(path, fps=25, width=W, height=H) as writer:
        for index in range(frames):
            writer.write(np.roll(canvas, index, axis=1))
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("people")
    return {"astronaut": write_astronaut_clip(folder / "astronaut.mp4", W, H, 6,
                                              face_fraction=1.0),
            "hopper": _write_hopper_clip(folder / "hopper.mp4", 6)}


@pytest.fixture(scope="module")
def scorers() -> Scorers:
    return Scorers.build()


class StandIn:
    """``target``: the output is the target/driver video (nothing transferred); ``source``:
    the output shows the source (its frames, or its one photo repeated for a reenactment)."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour

    def __call__(self, pair: EvalPair, source: Path, target: Path, method: str,
                 config: EvalConfig, output: Path) -> dict[str, Any]:
        if self.behaviour == "target":
            shutil.copyfile(target, output)
        else:
            frames = [f.rgb for f in iter_frames(source)]
            with VideoWriter(output, fps=25, width=frames[0].shape[1],
                             height=frames[0].shape[0], crf=0) as writer:
                for i in range(config.frames):
                    writer.write(frames[i % len(frames)])
        return {"frames_total": config.frames, "frames_swapped": config.frames,
                "frames_passed_through": 0, "seconds": 1.0, "fps": float(config.frames)}


def _result(report: dict[str, Any], pair_id: str) -> dict[str, Any]:
    return next(p for p in report["pairs"] if p["pair_id"] == pair_id)


def test_a_swap_that_keeps_the_target_has_negative_id_gain(clips, scorers, tmp_path) -> None:
    pairs = [EvalPair("a_to_h", clips["astronaut"], clips["hopper"], "astronaut", "hopper"),
             EvalPair("h_to_a", clips["hopper"], clips["astronaut"], "hopper", "astronaut")]
    report = run_evaluation(pairs, EvalConfig(frames=FRAMES, source_frames=2), tmp_path,
                            scorers=scorers, swapper=StandIn("target"))
    for pair_id in ("a_to_h", "h_to_a"):
        result = _result(report, pair_id)
        assert result["status"] == "ok" and result["frames_scored"] == FRAMES
        gains = result["per_frame"]["id_gain"]
        assert all(g < -0.05 for g in gains), gains  # every frame nearer the target
        metrics = result["metrics"]
        assert metrics["id_gain"] == pytest.approx(metrics["id_sim_source"]
                                                   - metrics["id_sim_target"])
        # the output is the target: it follows the target's expression and pose changes
        assert metrics["expression_invariant_pct"] == pytest.approx(0.0, abs=0.05)
        assert metrics["pose_change_error_deg"] == pytest.approx(0.0, abs=0.01)
    protocol = report["protocol"]
    assert "cosine" in protocol["similarity"]
    assert protocol["trained_against_descriptor"] == {"classic": False}
    assert protocol["distractors"] is None


def test_distractors_make_retrieval_harder(clips, scorers, tmp_path) -> None:
    pairs = [EvalPair("a_to_h", clips["astronaut"], clips["hopper"], "astronaut", "hopper")]
    # distractor photos: the astronaut's own frames, filed as strangers
    distractors = tmp_path / "distractors"
    for frame in iter_frames(clips["astronaut"]):
        write_image(distractors / f"d{frame.index}.png", frame.rgb)
    config = EvalConfig(frames=FRAMES, source_frames=2, distractors=str(distractors))
    report = run_evaluation(pairs, config, tmp_path / "work", scorers=scorers,
                            swapper=StandIn("source"))
    metrics = _result(report, "a_to_h")["metrics"]
    assert metrics["id_gain"] > 0.05
    assert metrics["id_retrieval"] == 1.0  # among the run's two people: the source
    assert metrics["id_retrieval_distractors"] < 1.0  # a look-alike stranger is nearer
    assert report["protocol"]["distractors"]["photos"] == 6
    assert (tmp_path / "work" / "distractors.json").is_file()


def test_reenactment_pairs_score_identity_kept_and_motion(clips, scorers, tmp_path) -> None:
    pairs = [EvalPair("h_by_a", clips["hopper"], clips["astronaut"], "hopper", "astronaut",
                      source_start=1, mode="reenact"),
             EvalPair("a_by_a", clips["astronaut"], clips["astronaut"], "astronaut",
                      "astronaut", source_start=0, mode="reenact")]
    driver_only = run_evaluation(pairs, EvalConfig(frames=FRAMES, source_frames=2),
                                 tmp_path / "driver", scorers=scorers,
                                 swapper=StandIn("target"))
    lost = _result(driver_only, "h_by_a")
    assert lost["kind"] == "reenact-cross"
    assert lost["metrics"]["id_gain"] < -0.05  # the driver's face, not the animated photo
    assert lost["metrics"]["seam"] is None and lost["metrics"]["pose_error_deg"] is None
    assert lost["metrics"]["jitter_excess_pct"] is None
    assert (tmp_path / "driver" / "pairs" / "h_by_a" / "source_frame_1.png").is_file()
    # self-reenactment from the driver's first frame: the driver itself is the perfect answer
    perfect = _result(driver_only, "a_by_a")
    assert perfect["kind"] == "reenact-self"
    assert perfect["metrics"]["keypoint_error_pct"] == pytest.approx(0.0, abs=0.05)
    assert perfect["metrics"]["l1"] == 0.0 and perfect["metrics"]["psnr"] is None  # inf
    frozen = run_evaluation(pairs, EvalConfig(frames=FRAMES, source_frames=2),
                            tmp_path / "frozen", scorers=scorers, swapper=StandIn("source"))
    kept = _result(frozen, "h_by_a")
    assert kept["metrics"]["id_gain"] > 0.05  # the photo's identity is kept
    # a frozen photo does not follow the driver's drift: keypoints off on the self pair
    assert _result(frozen, "a_by_a")["metrics"]["keypoint_error_pct"] > 0.1
    assert "reenact-cross" in frozen["summary"]["classic"]
