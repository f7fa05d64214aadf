"""Output paths that can never be written are refused up front, with the output exit code.

Found by hand: ``openfsgan swap SRC TGT -o some_file/x.mp4``, where ``some_file`` is a regular
file, ended in "internal error: NotADirectoryError" after the whole swap had run; ``analyze``,
``bench``, ``eval``, ``prepare``, ``train`` and ``export-onnx`` had the same gap (their command
lines are tested in ``tests/cli/test_output_under_a_file_cli.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from openfsgan.errors import OutputError
from openfsgan.io.atomic import atomic_output, write_text_atomic
from openfsgan.io.paths import check_output_file, check_output_folder


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "some_file"
    path.write_text("keep me")
    return path


@pytest.mark.parametrize("below", ["x.mp4", "deeper/x.mp4"])
def test_an_output_under_a_regular_file_is_refused(a_file: Path, below: str) -> None:
    with pytest.raises(OutputError, match="some_file is a file"):
        check_output_file(a_file / below, [])
    with pytest.raises(OutputError, match="is a file"):
        check_output_folder(a_file / below)
    assert a_file.read_text() == "keep me"


def test_a_folder_that_is_a_file_or_a_dangling_link(tmp_path: Path, a_file: Path) -> None:
    with pytest.raises(OutputError, match="work folder is a file, expected a folder"):
        check_output_folder(a_file, "work folder")
    dangling = tmp_path / "link"
    dangling.symlink_to(tmp_path / "gone")
    with pytest.raises(OutputError, match="is a file"):
        check_output_folder(dangling / "run")
    # folders that exist, or can be made, pass
    assert check_output_folder(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert check_output_folder("") == Path(".")
    assert check_output_file(tmp_path / "new" / "x.json", []) == tmp_path / "new" / "x.json"


def test_atomic_output_turns_an_impossible_folder_into_an_output_error(a_file: Path) -> None:
    """The writers' own safety net, for callers that did not check first."""
    with pytest.raises(OutputError, match="cannot write"):
        write_text_atomic(a_file / "x.json", "{}")
    with pytest.raises(OutputError, match="cannot write"), atomic_output(a_file / "a" / "b.png"):
        pass
    assert a_file.read_text() == "keep me"
