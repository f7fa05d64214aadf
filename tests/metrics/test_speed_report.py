from __future__ import annotations

import json
import math

import numpy as np
import pytest

from openfsgan.metrics.report import (
    METRIC_KEYS,
    aggregate,
    markdown_report,
    markdown_summary_table,
    metric_spec,
    summarize_methods,
    to_json_text,
    write_json,
)
from openfsgan.metrics.speed import (
    StageTimer,
    current_rss_mb,
    peak_rss_mb,
    summarize_durations,
    throughput_fps,
)


def test_throughput_and_duration_summary() -> None:
    assert throughput_fps(50, 2.0) == 25.0
    assert math.isnan(throughput_fps(5, 0.0))
    summary = summarize_durations([0.1, 0.1, 0.2, 0.1, 5.0])  # one outlier from a busy machine
    assert summary["calls"] == 5
    assert summary["median_ms"] == pytest.approx(100.0)
    assert summary["fps"] == pytest.approx(10.0)
    assert summary["total_s"] == pytest.approx(5.5)
    assert summary["fps_mean"] == pytest.approx(5 / 5.5)
    assert summarize_durations([])["calls"] == 0


def test_stage_timer_records_each_call() -> None:
    timer = StageTimer()
    for _ in range(3):
        with timer.stage("analysis"):
            pass
    timer.add("swap", 0.5)
    summary = timer.summary()
    assert summary["analysis"]["calls"] == 3
    assert summary["swap"]["fps"] == pytest.approx(2.0)


def test_peak_memory_is_the_process_own_not_the_forking_parents() -> None:
    import subprocess
    import sys

    ballast = np.ones(200 * 2**20 // 8)  # the parent holds 200 MiB when it forks
    code = "from openfsgan.metrics.speed import peak_rss_mb; print(peak_rss_mb())"
    child_peak = float(subprocess.run([sys.executable, "-c", code], capture_output=True,
                                      text=True, check=True).stdout)
    assert child_peak < 150
    del ballast


def test_memory_readings_are_plausible() -> None:
    before = peak_rss_mb()
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
    assert current_rss_mb() > 10
    assert peak_rss_mb() >= before
    assert peak_rss_mb() >= current_rss_mb() - 1
    del block


def test_aggregate_skips_missing_values() -> None:
    stats = aggregate([1.0, None, float("nan"), 3.0])
    assert stats == {"mean": 2.0, "std": 1.0, "median": 2.0, "n": 2}
    assert aggregate([None])["n"] == 0


def _pair(pair_id: str, method: str, status: str, kind: str = "cross",
          **metrics: float) -> dict:
    return {"pair_id": pair_id, "method": method, "status": status, "kind": kind,
            "frames_scored": 4, "frames_total": 4, "metrics": metrics}


def test_summary_is_mean_of_pair_means_over_ok_pairs() -> None:
    results = [
        _pair("a", "classic", "ok", id_sim_source=0.9, pose_error_deg=2.0),
        _pair("b", "classic", "ok", id_sim_source=0.7, pose_error_deg=None),
        _pair("s", "classic", "ok", "self", id_sim_source=1.0, ssim=0.9),
        _pair("c", "classic", "no_face"),
        _pair("a", "neural", "ok", id_sim_source=0.95),
    ]
    summary = summarize_methods(results)
    assert list(summary) == ["classic", "neural"]
    assert list(summary["classic"]) == ["cross", "self", "all"]
    cross = summary["classic"]["cross"]
    assert cross["pairs"] == 2
    assert cross["id_sim_source"]["mean"] == pytest.approx(0.8)
    assert cross["pose_error_deg"]["n"] == 1
    assert summary["classic"]["self"]["ssim"]["mean"] == pytest.approx(0.9)
    assert summary["classic"]["all"]["pairs"] == 3
    assert summary["classic"]["all"]["id_sim_source"]["mean"] == pytest.approx(0.8667, abs=1e-4)
    assert list(summary["neural"]) == ["cross", "all"]
    assert set(METRIC_KEYS) <= set(summary["neural"]["all"])


def test_markdown_tables_and_json() -> None:
    results = [_pair("a|b", "classic", "ok", id_sim_source=0.9, id_retrieval=0.5),
               {**_pair("x", "classic", "missing"), "reason": "file not found: x.mp4"}]
    report = {"protocol": {"methods": ["classic"], "frames": 4, "seed": 0, "watermark": False},
              "notes": ["a note"], "summary": summarize_methods(results), "pairs": results}
    text = markdown_report(report)
    assert "| classic (cross) | 1 |" in text
    assert "| classic (all) | 1 |" in text
    assert "50.0" in text  # retrieval shown in percent
    assert "missing: file not found" in text
    assert "a note" in text
    table = markdown_summary_table(report["summary"])
    assert table.count("\n") == 3  # header, rule, cross, all
    data = json.loads(to_json_text({"x": float("nan"), "y": np.float32(1.5), "z": np.arange(2)}))
    assert data == {"x": None, "y": 1.5, "z": [0, 1]}
    with pytest.raises(KeyError, match="valid"):
        metric_spec("nope")


def test_write_json_is_atomic(tmp_path) -> None:
    path = tmp_path / "r.json"
    write_json(path, {"a": 1})
    assert json.loads(path.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]
