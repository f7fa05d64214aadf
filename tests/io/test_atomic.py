from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from openfsgan.io.atomic import atomic_output, write_text_atomic


def test_file_appears_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    with pytest.raises(ValueError), atomic_output(target) as tmp:
        tmp.write_text("half")
        assert not target.exists()
        raise ValueError("boom")
    assert list(tmp_path.iterdir()) == []
    write_text_atomic(target, "whole")
    assert target.read_text() == "whole"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_result_has_ordinary_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_temporary_name_keeps_extension(tmp_path: Path) -> None:
    with atomic_output(tmp_path / "clip.mp4") as tmp:
        assert tmp.suffix == ".mp4" and tmp.parent == tmp_path
        tmp.write_bytes(b"x")
