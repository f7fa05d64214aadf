"""``openfsgan dataset`` refuses bad arguments with one line and a distinct exit code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "openfsgan", "dataset", *map(str, args)],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.parametrize(("args", "code", "message"), [
    ((), 9, "give PAIRS.csv or --from-folder DIR"),
    (("--methods", "deepfakes"), 9, "unknown method 'deepfakes'; available: classic, neural"),
    (("--compression", "c30"), 9, "unknown compression 'c30'; valid: c0, c23, c40"),
    (("--workers", "0"), 9, "--workers must be >= 1"),
    (("--from-folder", "missing-folder"), 3, "videos folder not found"),
])
def test_bad_arguments_fail_with_one_line(args: tuple[str, ...], code: int, message: str,
                                          clips: Path, tmp_path: Path) -> None:
    pairs = () if not args or args[0] == "--from-folder" else (clips / "pairs.csv",)
    done = _run(*pairs, *args, "-o", tmp_path / "ds")
    assert done.returncode == code, done.stderr
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "ds").exists()  # nothing written


def test_a_missing_pairs_csv_and_a_bad_one(tmp_path: Path) -> None:
    done = _run(tmp_path / "nope.csv", "-o", tmp_path / "ds")
    assert done.returncode == 3 and "pairs CSV not found" in done.stderr
    (tmp_path / "bad.csv").write_text("video\nx.mp4\n")
    done = _run(tmp_path / "bad.csv", "-o", tmp_path / "ds")
    assert done.returncode == 4 and "'source' and 'target' columns" in done.stderr


def test_from_folder_pairs_every_video_as_a_target(clips: Path, tmp_path: Path) -> None:
    import json

    folder = tmp_path / "videos"
    folder.mkdir()
    for name in ("ann", "bob", "cat", "dan"):
        (folder / f"{name}.mp4").write_bytes((clips / f"{name}.mp4").read_bytes())
    done = _run("--from-folder", folder, "-o", tmp_path / "ds", "--max-frames", "1",
                "--workers", "2", "--preset", "ultrafast")
    assert done.returncode == 0, done.stderr
    assert "8 done, 0 skipped, 0 failed" in done.stdout
    pairs = json.loads((tmp_path / "ds" / "splits" / "train.json").read_text())
    # four identities are too few for three splits of two: all in train, each a target once
    assert sorted(target for target, _ in pairs) == ["ann", "bob", "cat", "dan"]
    assert all(target != source for target, source in pairs)
    fakes = sorted(p.stem for p in (tmp_path / "ds").glob("manipulated_sequences/*/c23/videos/*"))
    assert fakes == sorted(f"{t}_{s}" for t, s in pairs)
