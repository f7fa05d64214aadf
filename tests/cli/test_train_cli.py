"""``openfsgan prepare / train / export-onnx`` end to end.

Training runs in a subprocess as a user would start it (and is stopped with SIGTERM there);
the quicker checks call the same entry point in-process (a subprocess costs seconds of imports).
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from openfsgan.cli.main import main

TINY = """\
stage: {stage}
resolution: 32
batch_size: 2
max_steps: 100000
num_workers: 0
log_every: 1
checkpoint_every: 1000
image_every: 0
generator: {{preset: tiny}}
discriminator: {{preset: tiny}}
losses: {{perceptual: none}}
"""


def openfsgan(*args, check_rc=None, **kwargs):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "openfsgan", *map(str, args)],
                            capture_output=True, text=True, timeout=300, env=env, **kwargs)
    if check_rc is not None:
        assert result.returncode == check_rc, result.stderr
    return result


@pytest.fixture(autouse=True)
def keep_thread_count():
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)  # `--threads 1` in-process must not outlive the test


def run_main(*args):
    return main(["-q", *map(str, args)])


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    assert run_main("prepare", "--synthetic", 2, "--synthetic-frames", 3, "--size", 64,
                    "--val-fraction", 0, "-o", root / "data") == 0
    assert (root / "data" / "index.json").is_file()
    (root / "inpainting.yaml").write_text(TINY.format(stage="inpainting"))
    return root


def test_train_resume_and_export(workspace, capsys):
    run = workspace / "run"
    common = ["train", "inpainting", "--data", workspace / "data", "--out", run,
              "--config", workspace / "inpainting.yaml", "--device", "cpu", "--threads", 1]
    result = openfsgan(*common, "--max-steps", 3, check_rc=0)
    assert "step 3" in result.stdout
    assert (run / "checkpoints" / "step-000000003" / "inpainting_generator" /
            "model.safetensors").is_file()
    assert (run / "config.yaml").is_file()
    assert run_main(*common, "--max-steps", 5) == 7
    assert "--resume" in capsys.readouterr().err
    assert run_main(*common, "--max-steps", 5, "--resume") == 0
    steps = [json.loads(line)["step"] for line in
             (run / "logs" / "scalars.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4, 5]
    capsys.readouterr()
    assert run_main("export-onnx", run, "-o", workspace / "g.onnx") == 0
    assert "max |onnx - torch|" in capsys.readouterr().out
    assert (workspace / "g.onnx").stat().st_size > 1000
    assert run_main("export-onnx", run, "-o", workspace / "g.onnx") == 7


def test_sigterm_saves_a_checkpoint_and_resume_continues(workspace):
    run = workspace / "interrupted"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "openfsgan", "-q", "train", "inpainting", "--data",
         workspace / "data", "--out", run, "--config", workspace / "inpainting.yaml",
         "--device", "cpu", "--threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    scalars = run / "logs" / "scalars.jsonl"
    deadline = time.monotonic() + 120
    while not (scalars.is_file() and scalars.read_text().count("\n") >= 2):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "training did not start"
        time.sleep(0.2)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "interrupted at step" in stdout
    checkpoints = sorted((run / "checkpoints").glob("step-*"))
    assert len(checkpoints) == 1
    step = int(checkpoints[0].name.split("-")[1])
    assert step >= 2
    assert run_main("train", "inpainting", "--data", workspace / "data", "--out", run,
                    "--resume", "--device", "cpu", "--threads", 1, "--config",
                    workspace / "inpainting.yaml", "--max-steps", step + 1) == 0
    assert (run / "checkpoints" / f"step-{step + 1:09d}").is_dir()


def test_bad_invocations_fail_cleanly(workspace, tmp_path, capsys):
    assert run_main("train", "blending", "--data", workspace / "data", "--out", tmp_path / "r",
                    "--config", workspace / "inpainting.yaml") == 9
    assert "inpainting" in capsys.readouterr().err
    assert run_main("train", "blending", "--data", tmp_path / "missing", "--out",
                    tmp_path / "r") == 3
    assert run_main("prepare", "-o", tmp_path / "d") == 9
    assert "INPUT" in capsys.readouterr().err
    assert run_main("prepare", tmp_path / "nothing.mp4", "-o", tmp_path / "d") == 3
    assert run_main("export-onnx", tmp_path, "-o", tmp_path / "x.onnx") == 10
    assert not (tmp_path / "r").exists() and not (tmp_path / "d").exists()
