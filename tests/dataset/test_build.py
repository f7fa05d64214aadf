"""Building a dataset end to end on the synthetic clips: pool, Ray, resume, faults."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from dataset_checks import FAKES, check_dataset, file_stamps

from openfsgan.dataset import DatasetConfig, build_dataset, read_pairs_csv

ITEMS = 4 + len(FAKES)  # four real videos, three fakes


def decoded_rgb(path: Path) -> np.ndarray:
    from openfsgan.io.media import iter_frames

    return np.stack([frame.rgb for frame in iter_frames(path)])


def _cli(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "openfsgan", "dataset", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _complete_items(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("metadata/*.json")}


def test_pool_builds_the_dataset_and_a_rerun_redoes_nothing(clips: Path, tmp_path: Path
                                                            ) -> None:
    pairs = read_pairs_csv(clips / "pairs.csv")
    config = DatasetConfig(compressions=("c0", "c23"), preset="ultrafast")
    summary = build_dataset(tmp_path / "ds", pairs, config, workers=2)
    assert (summary.done, summary.skipped, summary.failed) == (ITEMS, 0, 0)
    check_dataset(tmp_path / "ds", ("c0", "c23"))
    assert not (tmp_path / "ds" / ".openfsgan-work").exists()
    stamps = file_stamps(tmp_path / "ds")
    again = build_dataset(tmp_path / "ds", pairs, config, workers=2)
    assert (again.done, again.skipped, again.failed) == (0, ITEMS, 0)
    assert file_stamps(tmp_path / "ds") == stamps
    # other settings make other files: the items are redone, not skipped
    redone = build_dataset(tmp_path / "ds", pairs, DatasetConfig(compressions=("c23",)),
                           workers=2)
    assert redone.done == ITEMS


def test_ray_builds_the_same_dataset(clips: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    pairs = read_pairs_csv(clips / "pairs.csv")
    config = DatasetConfig(compressions=("c23",), preset="ultrafast")
    summary = build_dataset(tmp_path / "ds", pairs, config, workers=2, use_ray=True)
    assert (summary.done, summary.skipped, summary.failed) == (ITEMS, 0, 0)
    assert all(r.worker for r in summary.records)
    check_dataset(tmp_path / "ds", ("c23",))


def test_named_stage_combinations_are_methods_of_their_own(clips: Path, tmp_path: Path
                                                          ) -> None:
    pairs = read_pairs_csv(clips / "pairs.csv")
    methods = ("classic", "classic-alpha")
    config = DatasetConfig(methods=methods, preset="ultrafast")
    summary = build_dataset(tmp_path / "ds", pairs, config, workers=2)
    assert (summary.done, summary.failed) == (4 + 2 * len(FAKES), 0)
    check_dataset(tmp_path / "ds", ("c23",), methods=methods)
    fakes = tmp_path / "ds" / "manipulated_sequences"
    poisson = decoded_rgb(fakes / "openfsgan-classic" / "c23" / "videos" / "bob_ann.mp4")
    alpha = decoded_rgb(fakes / "openfsgan-classic-alpha" / "c23" / "videos" / "bob_ann.mp4")
    assert np.abs(poisson.astype(int) - alpha).mean() > 0.5  # another blending, another fake


def test_a_killed_build_resumes_without_losing_or_redoing_an_item(clips: Path, tmp_path: Path
                                                                  ) -> None:
    root = tmp_path / "ds"
    args = (clips / "pairs.csv", "-o", root, "--workers", "1", "--preset", "ultrafast")
    run = _cli(*args)
    deadline = time.monotonic() + 240
    while not list(root.glob("manipulated_sequences/*/metadata/*.json")):
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()
        time.sleep(0.02)
    run.send_signal(signal.SIGKILL)
    run.communicate(timeout=60)  # hangs (and fails) if a worker outlives the run: it holds
    # the pipes
    complete = _complete_items(root)
    assert 0 < len(complete) < ITEMS
    stamps = file_stamps(root)
    time.sleep(2)  # the workers died with the run: nothing is written behind it
    assert file_stamps(root) == stamps and _complete_items(root) == complete
    rerun = _cli(*args)
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    assert f"{ITEMS - len(complete)} done, {len(complete)} skipped, 0 failed" in stdout
    check_dataset(root, ("c23",))
    after = file_stamps(root)
    assert all(after[name] == stamp for name, stamp in stamps.items()
               if any(name.endswith(f"/{Path(m).stem}.mp4") for m in complete)
               and not name.startswith("."))
    assert not list(root.rglob(".*.partial*")) and not (root / ".openfsgan-work").exists()


def test_a_corrupt_input_fails_only_its_items(clips: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    shutil.copytree(clips, folder)
    (folder / "eve.mp4").write_bytes(b"not a video at all " * 64)
    with (folder / "pairs.csv").open("a") as handle:
        handle.write("cat.mp4,eve.mp4,test\n")
    run = _cli(folder / "pairs.csv", "-o", tmp_path / "ds", "--workers", "2",
               "--preset", "ultrafast")
    stdout, stderr = run.communicate(timeout=300)
    assert run.returncode == 11, stderr
    assert f"{ITEMS} done, 0 skipped, 2 failed" in stdout
    assert "failed original/eve: not a readable image or video" in stderr
    assert "failed classic/eve_cat: not a readable image or video" in stderr
    assert "Traceback" not in stderr
    # every other item is complete and labelled; eve is only in her split
    check_dataset(tmp_path / "ds", ("c23",), extra_splits={"eve": "test"})


def test_a_crashed_worker_is_replaced_and_its_item_retried(clips: Path, tmp_path: Path) -> None:
    import multiprocessing

    pairs = read_pairs_csv(clips / "pairs.csv")
    root = tmp_path / "ds"
    result = {}
    build = threading.Thread(target=lambda: result.update(summary=build_dataset(
        root, pairs, DatasetConfig(preset="ultrafast", retries=1), workers=1)))
    build.start()
    deadline = time.monotonic() + 240
    while not list((root / ".openfsgan-work" / "classic").glob("*")):
        assert build.is_alive() and time.monotonic() < deadline
        time.sleep(0.01)
    victims = multiprocessing.active_children()
    assert len(victims) == 1
    os.kill(victims[0].pid, signal.SIGKILL)  # the worker dies in the middle of a fake
    build.join(300)
    summary = result["summary"]
    assert (summary.done, summary.failed) == (ITEMS, 0)
    retried = [r for r in summary.records if r.attempts == 2]
    assert len(retried) == 1 and retried[0].key.startswith("classic/")
    check_dataset(root, ("c23",))
