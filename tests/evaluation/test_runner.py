"""The evaluation loop on tiny synthetic clips, with stand-in swaps whose answer is known."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from openfsgan.errors import ConfigError, ModelError
from openfsgan.evaluation.pairs import EvalPair
from openfsgan.evaluation.runner import EvalConfig, Scorers, run_evaluation, score_frame
from openfsgan.io.media import VideoWriter, iter_frames
from people import write_person_clip

W, H, FRAMES = 160, 192, 4


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    # two different people: ann is the astronaut, bob is Grace Hopper
    ann = write_person_clip(folder / "ann.mp4", "astronaut", W, H, 6)
    bob = write_person_clip(folder / "bob.mp4", "hopper", W, H, 6)
    blank = folder / "blank.mp4"
    with VideoWriter(blank, fps=25, width=W, height=H) as writer:
        for _ in range(4):
            writer.write(np.full((H, W, 3), 90, np.uint8))
    return {"ann": ann, "bob": bob, "blank": blank, "missing": folder / "nope.mp4"}


@pytest.fixture(scope="module")
def scorers() -> Scorers:
    return Scorers.build()


def _copy_frames(frames_from: Path, output: Path, count: int, like: Path) -> dict[str, Any]:
    first = next(iter_frames(like)).rgb
    source = [f.rgb for f in iter_frames(frames_from)]
    with VideoWriter(output, fps=25, width=first.shape[1], height=first.shape[0],
                     crf=0) as writer:  # lossless, like the real swap in an evaluation
        for i in range(count):
            writer.write(source[i % len(source)])
    return {"frames_total": count, "frames_swapped": count, "frames_passed_through": 0,
            "seconds": 0.5, "fps": count / 0.5}


class Recorder:
    """Stand-in swap: ``passthrough`` returns the target unchanged (a swap that does nothing),
    ``source`` returns the source frames (a perfect identity transfer, ignoring the target).
    It plays an installation without the neural models (they ship, so only a stand-in can):
    the real neural pipeline is evaluated in :func:`test_the_real_swaps_are_evaluated`."""

    def __init__(self, behaviour: str) -> None:
        self.behaviour = behaviour
        self.calls: list[tuple[str, str]] = []

    def __call__(self, pair: EvalPair, source: Path, target: Path, method: str,
                 config: EvalConfig, output: Path) -> dict[str, Any]:
        self.calls.append((pair.pair_id, method))
        if method == "neural":
            raise ModelError("stand-in: no neural models in this installation")
        if self.behaviour == "passthrough":  # bit-identical frames: the exact answer is known
            shutil.copyfile(target, output)
            return {"frames_total": config.frames, "frames_swapped": 0,
                    "frames_passed_through": config.frames, "seconds": 0.5,
                    "fps": config.frames / 0.5}
        return _copy_frames(source, output, config.frames, target)


def _by_id(report: dict[str, Any], pair_id: str, method: str = "classic") -> dict[str, Any]:
    return next(p for p in report["pairs"] if p["pair_id"] == pair_id and p["method"] == method)


def test_passthrough_swap_scores_as_the_target(clips, scorers, tmp_path) -> None:
    pairs = [EvalPair("ann_to_bob", clips["ann"], clips["bob"], "ann", "bob"),
             EvalPair("bob_to_ann", clips["bob"], clips["ann"], "bob", "ann")]
    report = run_evaluation(pairs, EvalConfig(frames=FRAMES, source_frames=2), tmp_path,
                            scorers=scorers, swapper=Recorder("passthrough"))
    result = _by_id(report, "ann_to_bob")
    assert result["status"] == "ok" and result["frames_scored"] == FRAMES
    metrics = result["metrics"]
    # The output is the target: its pose and expression, its identity, no jitter, no seam.
    assert metrics["pose_error_deg"] == pytest.approx(0.0, abs=0.002)  # poses kept to 0.001°
    assert metrics["expression_error_pct"] == pytest.approx(0.0, abs=0.05)  # landmarks to 0.01 px
    assert metrics["id_sim_target"] > 0.99
    assert metrics["id_sim_target"] > metrics["id_sim_source"]
    assert metrics["jitter_excess_pct"] == pytest.approx(0.0, abs=0.05)
    assert metrics["seam"] is None
    # Swapped identities: the target is retrieved, never the source.
    assert metrics["id_retrieval"] == 0.0
    assert metrics["ssim"] is None  # cross pair: no ground truth
    assert report["summary"]["classic"]["cross"]["pairs"] == 2
    assert report["protocol"]["watermark"] is False
    assert len(result["per_frame"]["pose_error_deg"]) == FRAMES


def test_source_swap_is_retrieved_as_the_source(clips, scorers, tmp_path) -> None:
    pairs = [EvalPair("ann_to_bob", clips["ann"], clips["bob"], "ann", "bob")]
    report = run_evaluation(pairs, EvalConfig(frames=FRAMES, source_frames=2), tmp_path,
                            scorers=scorers, swapper=Recorder("source"))
    metrics = _by_id(report, "ann_to_bob")["metrics"]
    assert metrics["id_retrieval"] == 1.0
    assert metrics["id_sim_source"] > 0.99
    assert metrics["id_sim_source"] > metrics["id_sim_target"]


def test_self_reenactment_fidelity_and_trimmed_ranges(clips, scorers, tmp_path) -> None:
    pairs = [EvalPair("ann_self", clips["ann"], clips["ann"], "ann", "ann", source_start=0,
                      source_end=2, target_start=2)]
    report = run_evaluation(pairs, EvalConfig(frames=FRAMES, source_frames=2), tmp_path,
                            scorers=scorers, swapper=Recorder("passthrough"))
    result = _by_id(report, "ann_self")
    assert result["kind"] == "self"
    assert result["metrics"]["ssim"] == pytest.approx(1.0)
    assert result["metrics"]["l1"] == 0.0
    folder = tmp_path / "pairs" / "ann_self"
    assert (folder / "source_0-2.mp4").exists()
    # Target frames 2..5 of a 6-frame clip: 4 frames evaluated.
    assert result["frames_total"] == FRAMES


def test_missing_faceless_and_unavailable_are_reported_not_fatal(clips, scorers,
                                                                 tmp_path) -> None:
    pairs = [EvalPair("gone", clips["missing"], clips["ann"], "x", "ann"),
             EvalPair("faceless", clips["ann"], clips["blank"], "ann", "blank"),
             EvalPair("fine", clips["ann"], clips["bob"], "ann", "bob")]
    recorder = Recorder("passthrough")
    report = run_evaluation(pairs, EvalConfig(methods=("classic", "neural"), frames=FRAMES,
                                              source_frames=2),
                            tmp_path, scorers=scorers, swapper=recorder)
    assert _by_id(report, "gone")["status"] == "missing"
    assert "not found" in _by_id(report, "gone")["reason"]
    assert _by_id(report, "faceless")["status"] == "no_face"
    assert _by_id(report, "fine")["status"] == "ok"
    assert _by_id(report, "fine", "neural")["status"] == "skipped"
    assert any("neural" in note and "not available" in note for note in report["notes"])
    # The neural swap was tried once, then skipped for the remaining pairs.
    assert [c for c in recorder.calls if c[1] == "neural"] == [("fine", "neural")]
    assert list(report["summary"]) == ["classic"]


def test_unavailable_required_method_is_an_error(clips, scorers, tmp_path) -> None:
    pairs = [EvalPair("fine", clips["ann"], clips["bob"], "ann", "bob")]
    config = EvalConfig(methods=("neural",), frames=FRAMES, source_frames=2,
                        strict_methods=("neural",))
    with pytest.raises(ModelError, match="cannot evaluate method 'neural'"):
        run_evaluation(pairs, config, tmp_path, scorers=scorers, swapper=Recorder("source"))


def test_resume_reuses_cached_pairs_and_runs_are_deterministic(clips, scorers,
                                                               tmp_path) -> None:
    pairs = [EvalPair("ann_to_bob", clips["ann"], clips["bob"], "ann", "bob")]
    first = Recorder("source")
    config = EvalConfig(frames=FRAMES, source_frames=2, seed=3)
    report = run_evaluation(pairs, config, tmp_path, scorers=scorers, swapper=first)
    again = Recorder("source")
    resumed = run_evaluation(pairs, EvalConfig(frames=FRAMES, source_frames=2, seed=3,
                                               resume=True),
                             tmp_path, scorers=scorers, swapper=again)
    assert first.calls == [("ann_to_bob", "classic")]
    assert again.calls == []
    fresh = run_evaluation(pairs, config, tmp_path / "other", scorers=scorers,
                           swapper=Recorder("source"))
    for left, right in ((report, resumed), (report, fresh)):
        assert left["summary"] == right["summary"]
        assert [p["per_frame"] for p in left["pairs"]] == [p["per_frame"] for p in right["pairs"]]
    # A different frame count is a different evaluation: the cache is not reused.
    other = Recorder("source")
    run_evaluation(pairs, EvalConfig(frames=3, source_frames=2, seed=3, resume=True), tmp_path,
                   scorers=scorers, swapper=other)
    assert other.calls == [("ann_to_bob", "classic")]


def test_the_real_swaps_are_evaluated(clips, scorers, tmp_path) -> None:
    """The default swapper is the library's job runner: classic and the shipped neural models."""
    pairs = [EvalPair("ann_to_bob", clips["ann"], clips["bob"], "ann", "bob")]
    config = EvalConfig(methods=("classic", "neural"), frames=2, source_frames=2,
                        strict_methods=("classic", "neural"))
    report = run_evaluation(pairs, config, tmp_path, scorers=scorers)
    for method in ("classic", "neural"):
        result = _by_id(report, "ann_to_bob", method)
        assert result["status"] == "ok", result.get("reason")
        assert result["frames_scored"] == 2
        assert (tmp_path / "pairs" / "ann_to_bob" / f"{method}.mp4").exists()
        metrics = result["metrics"]
        # a real swap of two different people: nearer the source person than the target
        assert metrics["id_sim_source"] > metrics["id_sim_target"], metrics
        assert metrics["id_sim_target"] < 0.99
        assert metrics["pose_error_deg"] < 15.0
    assert list(report["summary"]) == ["classic", "neural"]


def test_score_frame_without_faces_keeps_only_pixel_metrics() -> None:
    frame = np.zeros((40, 40, 3), np.uint8)
    pasted = frame.copy()
    pasted[10:30, 10:30] = 200
    row = score_frame(pasted, frame, None, None, None, np.ones(128), np.ones(128), False)
    assert row["pose_error_deg"] is None
    assert row["seam"] is not None and row["seam"] > 1.0


def test_config_validation() -> None:
    with pytest.raises(ConfigError):
        EvalConfig(methods=("fancy",))
    with pytest.raises(ConfigError):
        EvalConfig(frames=1)
    with pytest.raises(ConfigError):
        EvalConfig(methods=())


def test_finetune_steps_tune_only_the_neural_reenactment() -> None:
    both = EvalConfig(methods=("classic", "neural"), finetune_steps=200)
    assert both.swap_config("neural").finetune.steps == 200
    # the classic rows are the classic preset as it is (same configuration, same cache key)
    assert both.swap_config("classic") == EvalConfig().swap_config("classic")
    # a classic preset given the neural reenactment stage is tuned too
    mixed = EvalConfig(methods=("classic",), finetune_steps=5,
                       swap_options={"reenactment": "neural"})
    assert mixed.swap_config("classic").finetune.steps == 5
    assert EvalConfig(methods=("neural",)).swap_config("neural").finetune.steps == 0
    with pytest.raises(ConfigError, match="needs the neural reenactment stage"):
        EvalConfig(methods=("classic",), finetune_steps=5)
    with pytest.raises(ConfigError, match=r"finetune steps must be in \[0, 100000\]"):
        EvalConfig(methods=("neural",), finetune_steps=-1)
