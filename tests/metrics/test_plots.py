from __future__ import annotations

from pathlib import Path

from openfsgan.metrics.plots import write_plots


def test_write_plots_makes_two_pngs(tmp_path: Path) -> None:
    pairs = [
        {"pair_id": "a", "method": "classic", "status": "ok",
         "metrics": {"id_sim_source": 0.9, "id_retrieval": 1.0, "pose_error_deg": 3.0},
         "per_frame": {"id_sim_source": [0.9, 0.91, None], "pose_error_deg": [3.0, 2.0, 4.0]}},
        {"pair_id": "b", "method": "classic", "status": "missing", "metrics": {}},
    ]
    paths = write_plots({"pairs": pairs}, tmp_path / "report")
    assert [p.name for p in paths] == ["report_pairs.png", "report_frames.png"]
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report_frames.png",
                                                          "report_pairs.png"]
