"""A dataset worker loads the models once for all its items."""

from __future__ import annotations

from pathlib import Path

import pytest

from openfsgan.dataset import DatasetConfig, read_pairs_csv
from openfsgan.dataset.items import build_items
from openfsgan.dataset.worker import DatasetWorker


def test_the_generators_load_once_per_worker(clips: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from openfsgan.inference import NeuralModels

    loads = []
    real_load = NeuralModels.load

    def counting_load(*args: object, **kwargs: object) -> NeuralModels:
        loads.append(1)
        return real_load(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(NeuralModels, "load", staticmethod(counting_load))
    config = DatasetConfig(methods=("neural",), preset="ultrafast", max_frames=2)
    pairs = read_pairs_csv(clips / "pairs.csv")
    fakes = [i for i in build_items(pairs, config) if i.kind == "fake"][:2]
    worker = DatasetWorker(tmp_path / "ds", config)
    records = [worker.process(item) for item in fakes]
    assert [r["status"] for r in records] == ["done", "done"], records
    assert [r["frames"] for r in records] == [2, 2]  # --max-frames
    assert len(loads) == 1
