"""Fine-tuning G_r on a source (``--finetune``): it trains, lowers the self-reconstruction
loss, is cached and reused, and resumes from an interrupted checkpoint."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from openfsgan.face.align import estimate_alignment, transform_points, warp_to_crop
from openfsgan.inference.sessions import shipped_model_dir
from openfsgan.models.checkpoint import load_pretrained
from openfsgan.pipelines.finetune import FinetuneCache, FinetuneConfig, finetuned_reenactment
from openfsgan.training import finetune as tuning
from people import photo

# the perceptual and identity terms (dlib's network) are exercised by the end-to-end tests;
# here L1 + segmentation keep each step fast
FAST = {"lambda_perc": 0.0, "lambda_identity": 0.0, "batch_size": 2}


def _views(person: str, count: int = 1) -> list[tuple[np.ndarray, np.ndarray]]:
    from openfsgan.jobs.sources import default_analyzer

    rgb = photo(person)
    face = default_analyzer().analyze_image(rgb).faces[0]
    views = []
    for k in range(count):  # a few framings of the one photo, as a clip's frames would be
        transform = estimate_alignment(face.landmarks + np.float32([3 * k, -2 * k]), 128)
        views.append((warp_to_crop(rgb, transform),
                      transform_points(face.landmarks, transform.matrix).astype(np.float32)))
    return views


@pytest.fixture(scope="module")
def hopper_views() -> list[tuple[np.ndarray, np.ndarray]]:
    return _views("hopper", 3)


def _base() -> torch.nn.Module:
    return load_pretrained(shipped_model_dir("reenactment"), expected_model="reenactment")


def test_optimiser_steps_lower_the_self_reconstruction_loss(hopper_views) -> None:
    config = FinetuneConfig(steps=20, **FAST)
    model = _base()
    views = tuning.ViewSet(hopper_views, 128)
    views.label_with(model)
    tuner = tuning.Finetuner(model, config)
    batch = views.batch(0, config)  # one fixed batch: 20 steps must fit it better
    with torch.no_grad():
        before = float(tuner.losses(batch)["total"])
    for _ in range(20):
        tuner.train_step(batch)
    with torch.no_grad():
        after = float(tuner.losses(batch)["total"])
    assert after < 0.9 * before, (before, after)


def test_a_pair_is_moved_together(hopper_views) -> None:
    # in a swap G_r's input and the geometry it is driven to are both aligned on their own
    # face: a pair moved apart would teach G_r to move the face within its crop, and the
    # tuned G_r then leans on its synthesis head (the swap loses identity)
    one_view = tuning.ViewSet(hopper_views[:1], 128)
    config = FinetuneConfig(steps=1, batch_size=3)
    batch = one_view.batch(0, config)
    assert torch.equal(batch["source"], batch["target"])
    apart = one_view.batch(0, config.replace(move_views_together=False))
    assert not torch.equal(apart["source"], apart["target"])


def test_full_loss_has_every_term(hopper_views) -> None:
    config = FinetuneConfig(steps=1, batch_size=1)
    model = _base()
    views = tuning.ViewSet(hopper_views, 128)
    views.label_with(model)
    losses = tuning.Finetuner(model, config).losses(views.batch(0, config))
    assert set(losses) == {"pixel", "perceptual", "identity", "seg", "total"}
    assert all(torch.isfinite(v) for v in losses.values())


def test_tuned_model_is_cached_and_reused(tmp_path: Path, monkeypatch) -> None:
    source = tmp_path / "astronaut.png"
    from openfsgan.io.media import write_image

    write_image(source, photo("astronaut"))
    views = _views("astronaut")
    cache = FinetuneCache(tmp_path / "cache")
    config = FinetuneConfig(steps=2, **FAST)
    steps: list[int] = []
    folder = finetuned_reenactment(source, None, views, config,
                                   lambda done, total: steps.append(done), cache)
    assert steps == [0, 1, 2]
    assert (folder / "model.onnx").is_file() and len(cache.entries()) == 1
    tuned = load_pretrained(folder, expected_model="reenactment")
    base = _base()
    changed = [k for k, v in tuned.state_dict().items()
               if not torch.allclose(v.float(), base.state_dict()[k].float())]
    assert changed, "fine-tuning left every weight as shipped"
    # a second job with the same source: no training at all
    monkeypatch.setattr(tuning, "finetune", lambda *a, **k: pytest.fail("trained again"))
    assert finetuned_reenactment(source, None, views, config, None, cache) == folder
    # another step count is another entry
    with pytest.raises(pytest.fail.Exception):
        finetuned_reenactment(source, None, views, config.replace(steps=3), None, cache)


class _Stop(KeyboardInterrupt):
    pass


def test_interrupted_finetune_resumes_where_it_stopped(hopper_views, tmp_path: Path) -> None:
    base = shipped_model_dir("reenactment")
    config = FinetuneConfig(steps=3, checkpoint_every=100, **FAST)
    straight = tuning.finetune(base, hopper_views, config, tmp_path / "straight")

    def stop_after_two(done: int, total: int) -> None:
        if done == 2:
            raise _Stop

    work = tmp_path / "work"
    with pytest.raises(_Stop):
        tuning.finetune(base, hopper_views, config, work, stop_after_two)
    assert (work / tuning.CHECKPOINT_FILE).is_file()  # Ctrl-C kept the state
    seen: list[int] = []
    resumed = tuning.finetune(base, hopper_views, config, work, lambda d, t: seen.append(d))
    assert seen == [2, 3]  # one step left to run
    for key, value in straight.state_dict().items():
        assert torch.allclose(value, resumed.state_dict()[key], atol=1e-6), key
