"""Every command that writes refuses an output below a regular file, before any work, with the
output exit code (``swap``, ``reenact``, ``analyze`` and ``eval`` are tested in their own files).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import openfsgan

from openfsgan.errors import OutputError


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "some_file"
    path.write_text("keep me")
    return path


@pytest.mark.parametrize(("args", "message"), [
    (["prepare", "--synthetic", "2", "-o", "{file}/dataset"], "is a file"),
    (["prepare", "--synthetic", "2", "-o", "{file}"], "not a folder"),
    (["train", "segmentation", "--data", "{tmp}", "--out", "{file}/run", "--max-steps", "1"],
     "is a file"),
    (["bench", "--frames", "8", "--resolutions", "240p", "-o", "{file}/bench.json"],
     "is a file"),
    (["bench", "--frames", "8", "--resolutions", "240p", "--work-dir", "{file}/work"],
     "is a file"),
    (["export-onnx", "{tmp}", "-o", "{file}/model.onnx"], "is a file"),
])
def test_commands_refuse_an_output_under_a_file(tmp_path: Path, a_file: Path, args: list[str],
                                                message: str) -> None:
    done = openfsgan(*(a.format(file=a_file, tmp=tmp_path) for a in args))
    assert done.returncode == OutputError.exit_code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines and message in lines[-1] and "internal error" not in done.stderr
    assert "Traceback" not in done.stderr and a_file.read_text() == "keep me"
