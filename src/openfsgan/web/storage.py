"""Where the web UI keeps files: one folder per upload and per job, under server-made names.

Layout of the data folder::

    DATA_DIR/
      jobs.sqlite3                 the job queue (see :mod:`openfsgan.web.queue`)
      uploads/<upload_id>/         media<ext>, meta.json, preview.jpg, faces/<n>.jpg
      jobs/<job_id>/               source<ext>, target<ext>, result<ext>
      scratch/<random>/            files being verified, removed once the report is made

A client never chooses a path: ids are 32 random hex digits made here and checked against
:data:`ID_PATTERN` before any path is built from them, and a file keeps only its (checked)
extension from the name it was uploaded under. The original name is kept, sanitised, for
display only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import secrets
import shutil
import time
import unicodedata
from pathlib import Path
from typing import Any

from openfsgan.errors import InputNotFoundError, InvalidInputError
from openfsgan.io.atomic import write_text_atomic

log = logging.getLogger(__name__)

ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
# Formats a browser can show back and PyAV/OpenCV can read; anything else is refused.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"})
MAX_DISPLAY_NAME_CHARS = 120
ENV_DATA_DIR = "OPENFSGAN_WEB_DIR"


class UnsupportedMediaError(InvalidInputError):
    """An upload whose extension or content is not an accepted image or video format."""


def default_data_dir() -> Path:
    """``$OPENFSGAN_WEB_DIR``, else ``$XDG_DATA_HOME/openfsgan/web`` (``~/.local/share/...``)."""
    configured = os.environ.get(ENV_DATA_DIR)
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "openfsgan" / "web"


def new_id() -> str:
    """A fresh random id (128 bits as 32 lowercase hex digits)."""
    return secrets.token_hex(16)


def check_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is a well-formed id; anything else (``..``, ``/``) is refused."""
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise InputNotFoundError(f"no such {what}: {value!r}")
    return value


def display_name(original: str | None) -> str:
    """The last component of an uploaded file's name, printable and short; display only.

    Both ``/`` and ``\\`` separate components (a Windows browser may send either), control and
    formatting characters are dropped, and the result is at most 120 characters.
    """
    name = unicodedata.normalize("NFC", original or "")
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " ")
    name = name.strip().lstrip(".").strip()
    if len(name) > MAX_DISPLAY_NAME_CHARS:
        stem, ext = os.path.splitext(name)
        name = stem[: MAX_DISPLAY_NAME_CHARS - len(ext[:10])] + ext[:10]
    return name or "unnamed"


def media_extension(original: str | None) -> tuple[str, bool]:
    """``(extension, is_video)`` from an uploaded name, or UnsupportedMediaError.

    Only the extension of the sanitised last component counts, so ``../../etc/passwd`` has none.
    """
    ext = os.path.splitext(display_name(original))[1].lower()
    if ext in IMAGE_EXTENSIONS:
        return ext, False
    if ext in VIDEO_EXTENSIONS:
        return ext, True
    accepted = " ".join(sorted(IMAGE_EXTENSIONS | VIDEO_EXTENSIONS))
    raise UnsupportedMediaError(
        f"unsupported file type {ext or '(no extension)'!r}; accepted: {accepted}")


class Storage:
    """Per-upload and per-job folders under one data folder."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.uploads_dir = self.root / "uploads"
        self.jobs_dir = self.root / "jobs"
        self.scratch_dir = self.root / "scratch"
        for folder in (self.root, self.uploads_dir, self.jobs_dir, self.scratch_dir):
            folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            self.root.chmod(0o700)  # other local users need not read what is uploaded here
        self._clear_scratch()

    @property
    def database_path(self) -> Path:
        return self.root / "jobs.sqlite3"

    def _clear_scratch(self) -> None:
        for entry in self.scratch_dir.iterdir():
            shutil.rmtree(entry, ignore_errors=True)

    # uploads -------------------------------------------------------------------------------
    def new_upload_dir(self) -> tuple[str, Path]:
        upload_id = new_id()
        folder = self.uploads_dir / upload_id
        folder.mkdir()
        return upload_id, folder

    def upload_dir(self, upload_id: str) -> Path:
        folder = self.uploads_dir / check_id(upload_id, "upload")
        if not folder.is_dir():
            raise InputNotFoundError(f"no such upload: {upload_id}")
        return folder

    def write_upload_meta(self, upload_id: str, meta: dict[str, Any]) -> None:
        write_text_atomic(self.upload_dir(upload_id) / "meta.json", json.dumps(meta, indent=1))

    def upload_meta(self, upload_id: str) -> dict[str, Any]:
        path = self.upload_dir(upload_id) / "meta.json"
        if not path.is_file():
            raise InputNotFoundError(f"no such upload: {upload_id}")
        meta: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return meta

    def upload_media(self, upload_id: str) -> Path:
        meta = self.upload_meta(upload_id)
        return self.upload_dir(upload_id) / f"media{meta['ext']}"

    def delete_upload(self, upload_id: str) -> None:
        shutil.rmtree(self.upload_dir(upload_id))

    def prune_uploads(self, max_age_s: float) -> int:
        """Delete uploads not touched for ``max_age_s`` seconds; returns how many went."""
        now = time.time()
        removed = 0
        for folder in self.uploads_dir.iterdir():
            if ID_PATTERN.match(folder.name) and now - folder.stat().st_mtime > max_age_s:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        return removed

    # jobs ----------------------------------------------------------------------------------
    def new_job_dir(self, job_id: str) -> Path:
        folder = self.jobs_dir / check_id(job_id, "job")
        folder.mkdir()
        return folder

    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / check_id(job_id, "job")

    def delete_job(self, job_id: str) -> None:
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def copy_upload_into_job(self, upload_id: str, job_dir: Path, role: str) -> Path:
        """Link (or copy) an upload's media into a job folder as ``<role><ext>``.

        The job owns its copy, so deleting the job (or the upload) leaves the other intact.
        """
        source = self.upload_media(upload_id)
        target = job_dir / f"{role}{source.suffix}"
        try:
            os.link(source, target)
        except OSError:
            shutil.copyfile(source, target)
        return target

    # scratch -------------------------------------------------------------------------------
    def new_scratch_dir(self) -> Path:
        folder = self.scratch_dir / new_id()
        folder.mkdir()
        return folder
