"""The shipped generators: they load, match their torch weights, and fail clearly when absent."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from openfsgan.errors import ModelError
from openfsgan.inference import STAGES, NeuralModels, load_session, shipped_model_dir
from openfsgan.inference.sessions import ONNX_FILE, default_threads

MAX_FILE_BYTES = 16 * 1024 * 1024


@pytest.mark.parametrize("stage", STAGES)
def test_every_shipped_model_is_there_and_small(stage: str) -> None:
    folder = shipped_model_dir(stage)
    for name in (ONNX_FILE, "config.json", "model.safetensors"):
        path = folder / name
        assert path.is_file(), f"{path} missing"
        assert path.stat().st_size < MAX_FILE_BYTES


def test_shipped_models_load_at_one_resolution() -> None:
    models = NeuralModels.load(threads=1)
    assert models.resolution == 128
    assert {models.reenactment.resolution, models.segmentation.resolution,
            models.inpainting.resolution, models.blending.resolution} == {128}


@pytest.mark.parametrize("stage", STAGES)
def test_shipped_onnx_matches_the_shipped_torch_weights(stage: str) -> None:
    """ONNX Runtime on model.onnx vs torch on model.safetensors (the fine-tuning copy)."""
    import torch

    from openfsgan.export.onnx import example_inputs, exported_module
    from openfsgan.models import load_pretrained

    session = load_session(stage, threads=1)
    model = exported_module(
        load_pretrained(shipped_model_dir(stage), expected_model=stage).float().eval())
    inputs = example_inputs(stage, session.resolution, batch=2, seed=3)
    with torch.no_grad():
        want = model(*inputs)
    want = [want] if isinstance(want, torch.Tensor) else list(want)
    got = session(*(x.numpy() for x in inputs))
    for g, w in zip(got, want, strict=True):
        assert g.shape == tuple(w.shape)
        assert np.abs(g - w.numpy()).max() < 1e-3


def test_session_checks_shapes() -> None:
    session = load_session("segmentation", threads=1)
    with pytest.raises(ValueError, match=r"segmentation\.image"):
        session(np.zeros((1, 3, 64, 64), np.float32))
    with pytest.raises(ValueError, match="takes 1 inputs"):
        session(np.zeros((1, 3, 128, 128), np.float32), np.zeros((1, 1, 128, 128), np.float32))


def test_missing_or_wrong_models_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no reenactment model"):
        load_session("reenactment", tmp_path)
    with pytest.raises(ModelError, match="no reenactment model"):
        NeuralModels.load(tmp_path)
    (tmp_path / "blending").mkdir()
    (tmp_path / "blending" / ONNX_FILE).write_bytes(b"not a graph")
    with pytest.raises(ModelError, match="cannot load"):
        load_session("blending", tmp_path / "blending")
    # a valid graph of another stage
    other = tmp_path / "other"
    other.mkdir()
    (other / ONNX_FILE).write_bytes((shipped_model_dir("segmentation") / ONNX_FILE).read_bytes())
    with pytest.raises(ModelError, match="not a inpainting model"):
        load_session("inpainting", other)
    with pytest.raises(ModelError, match="unknown stage"):
        shipped_model_dir("upscaler")


def test_sessions_do_not_busy_wait_and_use_the_allowed_cores() -> None:
    """ORT's workers spin for work by default, doubling a 128-px generator's CPU time and taking
    the cores from the job's decoder, tracker and encoder threads."""
    import os

    options = load_session("reenactment").session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == default_threads() == len(os.sched_getaffinity(0))
    assert load_session("segmentation", threads=1).session.get_session_options(
    ).intra_op_num_threads == 1
