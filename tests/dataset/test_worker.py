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


def test_a_robust_watermark_is_embedded_and_recorded(clips: Path, tmp_path: Path) -> None:
    """``--robust-watermark``: the fakes carry the chroma layer too, their metadata and settings
    say so; the default profile adds nothing to the settings of earlier builds."""
    import json

    from openfsgan.dataset.items import item_settings
    from openfsgan.dataset.layout import DatasetLayout
    from openfsgan.errors import ConfigError
    from openfsgan.io.media import iter_frames
    from openfsgan.provenance import watermark as wm

    config = DatasetConfig(preset="ultrafast", max_frames=6, watermark=True,
                           watermark_profile="robust")
    fake = next(i for i in build_items(read_pairs_csv(clips / "pairs.csv"), config)
                if i.kind == "fake")
    assert DatasetWorker(tmp_path / "ds", config).process(fake)["status"] == "done"
    layout = DatasetLayout(tmp_path / "ds")
    metadata = json.loads(layout.fake_metadata(fake.method, fake.name).read_text())
    assert metadata["watermark"] and metadata["watermark_profile"] == "robust"
    frames = [f.rgb for f in iter_frames(layout.fake_video(fake.method, fake.name, "c23"))]
    assert wm.detect(frames).chroma_found
    assert item_settings(fake, config)["watermark_profile"] == "robust"
    standard = DatasetConfig(preset="ultrafast", max_frames=6, watermark=True)
    assert "watermark_profile" not in item_settings(fake, standard)
    with pytest.raises(ConfigError, match="unknown watermark profile"):
        DatasetConfig(watermark_profile="loud")
