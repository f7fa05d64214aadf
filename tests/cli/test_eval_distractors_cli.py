"""``openfsgan eval --distractors``: bad folders and limits fail at once, in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "openfsgan", "-q", "eval", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    (tmp_path / "a.mp4").write_bytes(b"")
    (tmp_path / "pairs.csv").write_text("source,target\na.mp4,a.mp4\n")
    (tmp_path / "empty").mkdir()
    return tmp_path


@pytest.mark.parametrize("extra,code,message", [
    (("--distractors", "nowhere"), 3, "--distractors not found"),
    (("--distractors", "empty"), 9, "no photos"),
    (("--distractors", "empty", "--max-distractors", "0"), 9, "at least 1"),
])
def test_bad_distractors_are_one_line_errors(pairs: Path, extra: tuple[str, ...], code: int,
                                             message: str) -> None:
    result = _run("--pairs", "pairs.csv", "-o", "report.json", *extra, cwd=pairs)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == code, result.stderr
    assert len(lines) == 1 and lines[0].startswith("openfsgan: error: "), result.stderr
    assert message in lines[0]
    assert not (pairs / "report.json").exists()
    assert not (pairs / "report_work").exists()
