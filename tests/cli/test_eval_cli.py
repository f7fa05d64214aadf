"""``openfsgan eval`` in a subprocess, on tiny synthetic clips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from people import write_person_clip

W, H = 160, 192


def _run(*args: str, cwd: Path, quiet: bool = True,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "openfsgan", *(["-q"] if quiet else []),
                           "eval", *args], cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def _one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("openfsgan: error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("text,message", [
    ("source,target\n", "no pair rows"),
    ("src,dst\na.mp4,b.mp4\n", "lacks column"),
    ("source,target,source_start\na.mp4,b.mp4,many\n", "whole number"),
])
def test_bad_pairs_file_is_one_line_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "pairs.csv").write_text(text)
    result = _run("--pairs", "pairs.csv", "-o", "report.json", cwd=tmp_path)
    assert result.returncode == 9
    assert message in _one_line_error(result)
    assert not (tmp_path / "report.json").exists()


def test_missing_pairs_file_and_bad_output_name(tmp_path: Path) -> None:
    result = _run("--pairs", "none.csv", "-o", "report.json", cwd=tmp_path)
    assert result.returncode == 3
    assert "pairs file not found" in _one_line_error(result)
    (tmp_path / "pairs.csv").write_text("source,target\na.mp4,b.mp4\n")
    result = _run("--pairs", "pairs.csv", "-o", "report.txt", cwd=tmp_path)
    assert result.returncode == 7
    assert ".json" in _one_line_error(result)
    result = _run("--source-dir", str(tmp_path), "-o", "report.json", cwd=tmp_path)
    assert result.returncode == 9
    assert "no video files" in _one_line_error(result)
    # a regular file where the report's folder or the work folder should be
    (tmp_path / "a_file").write_text("keep")
    result = _run("--pairs", "pairs.csv", "-o", "a_file/report.json", cwd=tmp_path)
    assert result.returncode == 7
    assert "a_file is a file" in _one_line_error(result)
    result = _run("--pairs", "pairs.csv", "-o", "report.json", "--work-dir", "a_file/work",
                  cwd=tmp_path)
    assert result.returncode == 7
    assert "a_file is a file" in _one_line_error(result)
    assert (tmp_path / "a_file").read_text() == "keep"


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("eval_clips")
    # two different people: ann is the astronaut, bob is Grace Hopper
    write_person_clip(folder / "ann.mp4", "astronaut", W, H, 6)
    write_person_clip(folder / "bob.mp4", "hopper", W, H, 6)
    return folder


def test_eval_end_to_end_with_the_classic_swap(clip_dir: Path, tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"pair_id,source,target,source_identity,target_identity\n"
                     f"ann_to_bob,{clip_dir}/ann.mp4,{clip_dir}/bob.mp4,ann,bob\n"
                     f"ghost,{clip_dir}/nobody.mp4,{clip_dir}/bob.mp4,ghost,bob\n")
    args = ("--pairs", str(pairs), "-o", "out/report_s0.5.json", "--frames", "3",
            "--source-frames", "2")
    result = _run(*args, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "out" / "report_s0.5.json").read_text())
    by_id = {p["pair_id"]: p for p in report["pairs"]}
    assert by_id["ann_to_bob"]["status"] == "ok"
    assert by_id["ghost"]["status"] == "missing"
    assert report["protocol"]["watermark"] is False
    # a name with a dot of its own keeps it ("report_s0.5.md", not "report_s0.md")
    assert "| classic (all) | 1 |" in (tmp_path / "out" / "report_s0.5.md").read_text()
    assert not (tmp_path / "out" / "report_s0.md").exists()
    assert (tmp_path / "out" / "report_s0.5_pairs.png").stat().st_size > 0
    assert (tmp_path / "out" / "report_s0.5_work" / "pairs" / "ann_to_bob" / "classic.mp4").exists()
    assert result.stdout == ""  # -q: nothing but errors
    # An existing report is refused without --overwrite/--resume; --resume reuses the work.
    again = _run(*args, cwd=tmp_path)
    assert again.returncode == 7
    resumed = _run(*args, "--resume", cwd=tmp_path, quiet=False)
    assert resumed.returncode == 0, resumed.stderr
    assert "| classic (cross) | 1 |" in resumed.stdout
    second = json.loads((tmp_path / "out" / "report_s0.5.json").read_text())
    assert second["summary"] == report["summary"]


def test_eval_neural_runs_the_shipped_generators(clip_dir: Path, tmp_path: Path) -> None:
    """``eval --method neural`` and ``--method both`` swap with the real neural pipeline."""
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"pair_id,source,target,source_identity,target_identity\n"
                     f"ann_to_bob,{clip_dir}/ann.mp4,{clip_dir}/bob.mp4,ann,bob\n"
                     f"bob_to_ann,{clip_dir}/bob.mp4,{clip_dir}/ann.mp4,bob,ann\n")
    common = ("--pairs", str(pairs), "--frames", "2", "--source-frames", "2", "--no-plots")
    neural = _run(*common, "-o", "neural.json", "--method", "neural", cwd=tmp_path)
    assert neural.returncode == 0, neural.stderr
    report = json.loads((tmp_path / "neural.json").read_text())
    assert {(p["pair_id"], p["method"], p["status"]) for p in report["pairs"]} == {
        ("ann_to_bob", "neural", "ok"), ("bob_to_ann", "neural", "ok")}
    assert all(p["frames_scored"] == 2 for p in report["pairs"])
    assert (tmp_path / "neural_work" / "pairs" / "ann_to_bob" / "neural.mp4").exists()
    assert list(report["summary"]) == ["neural"]
    both = _run(*common, "-o", "both.json", "--method", "both", cwd=tmp_path)
    assert both.returncode == 0, both.stderr
    report = json.loads((tmp_path / "both.json").read_text())
    statuses = {(p["pair_id"], p["method"]): p["status"] for p in report["pairs"]}
    assert set(statuses.values()) == {"ok"} and len(statuses) == 4
    assert list(report["summary"]) == ["classic", "neural"]


def test_eval_finetune_tunes_each_source_once_and_records_it(clip_dir: Path,
                                                             tmp_path: Path) -> None:
    """``eval --method neural --finetune N``: G_r is tuned on the source (once for the two
    pairs that share it), the swaps use it and the report records the steps and the time."""
    import numpy as np

    from openfsgan.io.media import iter_frames

    pairs = tmp_path / "pairs.csv"
    pairs.write_text("pair_id,source,target,source_identity,target_identity,source_start,"
                     "source_end,target_start\n"
                     f"ann_to_bob,{clip_dir}/ann.mp4,{clip_dir}/bob.mp4,ann,bob,,,\n"
                     f"ann_to_bob_later,{clip_dir}/ann.mp4,{clip_dir}/bob.mp4,ann,bob,,,2\n")
    env = {"OPENFSGAN_CACHE_DIR": str(tmp_path / "cache")}
    common = ("--pairs", str(pairs), "--frames", "2", "--source-frames", "2", "--no-plots",
              "--method", "neural")
    plain = _run(*common, "-o", "plain.json", cwd=tmp_path, env=env)
    assert plain.returncode == 0, plain.stderr
    assert json.loads((tmp_path / "plain.json").read_text())["finetune"] is None
    tuned = _run(*common, "-o", "tuned.json", "--finetune", "2", cwd=tmp_path, env=env)
    assert tuned.returncode == 0, tuned.stderr
    report = json.loads((tmp_path / "tuned.json").read_text())
    assert report["protocol"]["finetune_steps"] == 2
    assert {p["status"] for p in report["pairs"]} == {"ok"}
    (source,) = report["finetune"]["sources"]  # one source, tuned once for both pairs
    assert source["steps"] == 2 and source["complete"] is True
    assert source["pairs"] == ["ann_to_bob", "ann_to_bob_later"]
    assert source["train_s"] > 0 and report["finetune"]["train_s_total"] == source["train_s"]
    assert len(list((tmp_path / "cache" / "finetune").glob("*/entry.json"))) == 1
    assert "G_r fine-tuned on each source" in (tmp_path / "tuned.md").read_text()

    def frames(report_name: str) -> np.ndarray:
        video = tmp_path / f"{report_name}_work" / "pairs" / "ann_to_bob" / "neural.mp4"
        return np.stack([f.rgb for f in iter_frames(video)]).astype(int)

    # the tuned G_r made the faces: the swap differs from the shipped G_r's
    assert np.abs(frames("tuned") - frames("plain")).max() > 0


@pytest.mark.parametrize("args,message", [
    (("--method", "neural", "--finetune", "-1"), "finetune steps must be in [0, 100000]"),
    (("--method", "neural", "--finetune", "100001"), "finetune steps must be in [0, 100000]"),
    (("--method", "classic", "--finetune", "3"), "it needs the neural reenactment stage"),
])
def test_eval_bad_finetune_is_one_line_error(clip_dir: Path, tmp_path: Path,
                                             args: tuple[str, ...], message: str) -> None:
    result = _run("--source-dir", str(clip_dir), "-o", "report.json", *args, cwd=tmp_path)
    assert result.returncode == 9  # ConfigError
    assert message in _one_line_error(result)
    assert not (tmp_path / "report.json").exists() and not (tmp_path / "report_work").exists()
