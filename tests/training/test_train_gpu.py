"""``openfsgan train-gpu`` on the CPU with a tiny step count and a tiny synthetic crop set:
it unpacks the pack, warm-starts every stage from the shipped generator, trains, resumes,
exports each generator (every file < 16 MiB) and logs the losses."""

from __future__ import annotations

import csv
import tarfile
from pathlib import Path

import pytest
import torch

from openfsgan.data.prepare import PrepareConfig, prepare_synthetic
from openfsgan.inference.sessions import shipped_model_dir
from openfsgan.models.checkpoint import load_pretrained
from openfsgan.stages import STAGES
from openfsgan.training.gpu import GpuTrainOptions, train_all


@pytest.fixture(scope="module")
def crop_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crops")
    prepare_synthetic(root / "faces", identities=2, frames_per_identity=3, seed=3,
                      config=PrepareConfig(size=64, val_fraction=0.0))
    pack = root / "crops.tar.gz"
    with tarfile.open(pack, "w:gz") as archive:
        archive.add(root / "faces", arcname="faces")
    return pack


def _options(pack: Path, out: Path, steps: int) -> GpuTrainOptions:
    return GpuTrainOptions(data=pack, minutes=5.0, out=out, device="cpu", resolution=64,
                           batch_size=2, max_steps=steps, num_workers=0)


def _distance(a: torch.nn.Module, b: torch.nn.Module) -> float:
    return max(float((x.float() - y.float()).abs().max())
               for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))


def test_train_gpu_on_the_cpu(crop_pack: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = train_all(_options(crop_pack, out, 2))
    assert (out / "data" / "faces" / "index.json").is_file()  # unpacked
    assert {s: v["steps"] for s, v in summary["stages"].items()} == dict.fromkeys(STAGES, 2)
    for stage in STAGES:
        folder = out / "models" / stage
        for name in ("config.json", "model.safetensors", "model.onnx"):
            assert (folder / name).stat().st_size < 16 * 1024 * 1024, (stage, name)
        trained = load_pretrained(folder, expected_model=stage)
        shipped = load_pretrained(shipped_model_dir(stage), expected_model=stage)
        fresh = type(shipped)(shipped.config)
        # warm-started: two steps away from the shipped weights, far from a fresh network
        assert 0 < _distance(trained, shipped) < 0.1 * _distance(fresh, shipped), stage
    with (out / "losses.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {row["stage"] for row in rows} == set(STAGES)
    assert any(row["name"] == "generator" for row in rows)
    # checkpoints (optimiser state in shards) and exports: every file < 16 MiB
    written = [p for p in out.rglob("*") if p.is_file() and "data" not in p.parts]
    assert any(p.name.startswith("state-") for p in written)
    assert max(p.stat().st_size for p in written) < 16 * 1024 * 1024
    # a second run into the same folder continues every stage's run
    again = train_all(_options(crop_pack, out, 3))
    assert {s: v["steps"] for s, v in again["stages"].items()} == dict.fromkeys(STAGES, 3)


def test_time_budget_ends_a_stage(crop_pack: Path, tmp_path: Path) -> None:
    options = _options(crop_pack, tmp_path / "out", 10_000)
    options = GpuTrainOptions(**{**options.__dict__, "minutes": 0.001,
                                 "stages": ("inpainting",)})
    summary = train_all(options)
    done = summary["stages"]["inpainting"]
    assert done["status"] == "time_limit" and 1 <= done["steps"] < 10_000
