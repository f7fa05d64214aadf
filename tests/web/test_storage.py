"""Names and ids: what a client sends never becomes a path."""

from __future__ import annotations

import pytest

from openfsgan.errors import InputNotFoundError
from openfsgan.web.storage import (
    Storage,
    UnsupportedMediaError,
    check_id,
    default_data_dir,
    display_name,
    media_extension,
    new_id,
)


@pytest.mark.parametrize(("original", "shown"), [
    ("photo.jpg", "photo.jpg"),
    ("../../etc/passwd", "passwd"),
    ("..\\..\\boot.ini", "boot.ini"),
    ("/abs/path/clip.MP4", "clip.MP4"),
    ("a\x00b\r\n.png", "ab.png"),
    ("\u202egnp.exe", "gnp.exe"),  # right-to-left override dropped
    ("..", "unnamed"),
    ("", "unnamed"),
    (None, "unnamed"),
    ("   .hidden.png", "hidden.png"),
])
def test_display_names_keep_only_a_printable_last_component(original, shown):
    assert display_name(original) == shown


def test_long_names_are_cut_keeping_the_extension():
    name = display_name("x" * 500 + ".webm")
    assert len(name) <= 120 and name.endswith(".webm")


@pytest.mark.parametrize(("original", "expected"), [
    ("a.PNG", (".png", False)), ("b.jpeg", (".jpeg", False)), ("c.webp", (".webp", False)),
    ("d.mp4", (".mp4", True)), ("e.MOV", (".mov", True)), ("dir/../f.mkv", (".mkv", True)),
])
def test_accepted_extensions(original, expected):
    assert media_extension(original) == expected


@pytest.mark.parametrize("original", ["a.txt", "b.png.exe", "c", "d.svg", "e.html", "x.png/",
                                      "../../etc/passwd", ".png"])
def test_refused_extensions(original):
    with pytest.raises(UnsupportedMediaError):
        media_extension(original)


def test_ids_are_random_hex_and_anything_else_is_refused():
    first, second = new_id(), new_id()
    assert first != second and check_id(first) == first and len(first) == 32
    for bad in ["..", "../" + first, first.upper(), first + "/", first[:-1], "", "a" * 33]:
        with pytest.raises(InputNotFoundError):
            check_id(bad)


def test_storage_folders_and_job_copies(tmp_path):
    storage = Storage(tmp_path / "web")
    assert storage.database_path.parent == storage.root
    upload_id, folder = storage.new_upload_dir()
    (folder / "media.png").write_bytes(b"png")
    storage.write_upload_meta(upload_id, {"ext": ".png", "name": "x.png"})
    job_folder = storage.new_job_dir(new_id())
    copied = storage.copy_upload_into_job(upload_id, job_folder, "source")
    assert copied.name == "source.png" and copied.read_bytes() == b"png"
    storage.delete_upload(upload_id)
    assert copied.read_bytes() == b"png"  # the job keeps its own copy
    with pytest.raises(InputNotFoundError):
        storage.upload_meta(upload_id)


def test_scratch_is_emptied_at_start(tmp_path):
    storage = Storage(tmp_path / "web")
    (storage.new_scratch_dir() / "left.png").write_bytes(b"x")
    assert list(Storage(tmp_path / "web").scratch_dir.iterdir()) == []


def test_default_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENFSGAN_WEB_DIR", str(tmp_path / "custom"))
    assert default_data_dir() == tmp_path / "custom"
    monkeypatch.delenv("OPENFSGAN_WEB_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "openfsgan" / "web"
