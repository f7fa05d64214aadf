"""``openfsgan bench`` in a subprocess, on a tiny synthetic clip."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "openfsgan", "-q", "bench", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def test_bench_measures_analysis_in_subprocesses(tmp_path: Path) -> None:
    result = _run("--resolutions", "320x240", "--frames", "3", "--stages",
                  "analysis,descriptor", "-o", "bench.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "| stage | 320x240 |"
    report = json.loads((tmp_path / "bench.json").read_text())
    stages = {r["stage"]: r for r in report["results"]}
    assert stages["analysis"]["calls"] == 2
    assert stages["analysis"]["peak_rss_mb"] > 0
    assert stages["descriptor"]["resolution"] == "any"


def test_bench_bad_arguments_are_one_line_errors(tmp_path: Path) -> None:
    result = _run("--resolutions", "4k", cwd=tmp_path)
    assert result.returncode == 9
    assert result.stderr.strip().startswith("openfsgan: error: unknown resolution")
    assert len(result.stderr.strip().splitlines()) == 1
    result = _run("--video", "missing.mp4", cwd=tmp_path)
    assert result.returncode == 3
    (tmp_path / "fake.mp4").write_text("not a video")
    result = _run("--video", "fake.mp4", cwd=tmp_path)
    assert result.returncode == 4
    assert "Traceback" not in result.stderr
