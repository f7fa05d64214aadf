"""The web UI's routes, one router per resource (:mod:`.pages`, :mod:`.uploads`, :mod:`.jobs`,
:mod:`.provenance`), and what they share: the :class:`WebContext` of the running app (reached
through the :func:`context` dependency) and the upload helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import UploadFile

from openfsgan.errors import InputTooLargeError, InvalidInputError

if TYPE_CHECKING:
    from openfsgan.web.app import WebSettings
    from openfsgan.web.queue import JobQueue
    from openfsgan.web.storage import Storage
    from openfsgan.web.uploads import FaceFinder

COPY_CHUNK_BYTES = 1024 * 1024
Verifier = Callable[[Path], dict[str, Any]]


@dataclass(frozen=True)
class WebContext:
    """What the routes of one app work with."""

    settings: WebSettings
    storage: Storage
    queue: JobQueue
    find_faces: FaceFinder
    make_report: Verifier


def context(request: Request) -> WebContext:
    """FastAPI dependency: the app's :class:`WebContext`."""
    found: WebContext = request.app.state.context
    return found


Web = Annotated[WebContext, Depends(context)]
"""A route's parameter ``web: Web`` receives the app's :class:`WebContext`."""


def too_large_message(limit: int) -> str:
    return f"the upload is too large (limit {limit / 2**20:.0f} MB)"


def save_upload(upload: UploadFile, destination: Path, max_bytes: int) -> int:
    """Copy an uploaded file to ``destination``, refusing it past ``max_bytes``."""
    written = 0
    upload.file.seek(0)
    with destination.open("wb") as out:
        while chunk := upload.file.read(COPY_CHUNK_BYTES):
            written += len(chunk)
            if written > max_bytes:
                raise InputTooLargeError(too_large_message(max_bytes))
            out.write(chunk)
    if written == 0:
        raise InvalidInputError("the file is empty (0 bytes)")
    return written


async def form_file(request: Request) -> UploadFile:
    """The one file of a multipart form (field ``file``)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise InvalidInputError("send the file as multipart/form-data in a field named 'file'")
    form = await request.form(max_files=1, max_fields=4)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInputError("no file in the form (expected a field named 'file')")
    return upload


