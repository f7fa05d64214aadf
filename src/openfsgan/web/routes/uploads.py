"""Uploads: ``POST /api/uploads``, ``GET /api/uploads/{id}`` (+ preview and face thumbnails),
``DELETE /api/uploads/{id}``."""

from __future__ import annotations

import logging
import shutil
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from starlette.datastructures import UploadFile

from openfsgan.errors import InputNotFoundError
from openfsgan.web.routes import Web, WebContext, form_file, save_upload
from openfsgan.web.storage import display_name, media_extension
from openfsgan.web.uploads import ingest

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/uploads")


def upload_api(upload_id: str, meta: dict[str, Any]) -> dict[str, Any]:
    """An upload as the page sees it (no server paths)."""
    base = f"/api/uploads/{upload_id}"
    return {
        "id": upload_id,
        **{key: value for key, value in meta.items() if key != "ext"},
        "preview_url": f"{base}/preview.jpg",
        "faces": [{**face, "thumbnail_url": f"{base}/faces/{face['number']}.jpg"}
                  for face in meta["faces"]],
    }


def ingest_upload(web: WebContext, upload: UploadFile) -> dict[str, Any]:
    """Store an uploaded file, find its faces, write its metadata (all or nothing)."""
    name = display_name(upload.filename)
    ext, is_video = media_extension(upload.filename)
    upload_id, folder = web.storage.new_upload_dir()
    try:
        media_path = folder / f"media{ext}"
        size = save_upload(upload, media_path, web.settings.max_upload_bytes)
        meta = {"name": name, "ext": ext, "bytes": size, "uploaded_at": time.time(),
                **ingest(folder, media_path, is_video, web.find_faces)}
        web.storage.write_upload_meta(upload_id, meta)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    log.info("upload %s: %s (%s, %d bytes, %d faces)", upload_id, name, meta["kind"], size,
             len(meta["faces"]))
    return upload_api(upload_id, meta)


@router.post("", status_code=201)
async def create_upload(request: Request, web: Web) -> dict[str, Any]:
    upload = await form_file(request)
    try:
        return await run_in_threadpool(ingest_upload, web, upload)
    finally:
        await upload.close()


@router.get("/{upload_id}")
def get_upload(upload_id: str, web: Web) -> dict[str, Any]:
    return upload_api(upload_id, web.storage.upload_meta(upload_id))


@router.get("/{upload_id}/preview.jpg")
def upload_preview(upload_id: str, web: Web) -> FileResponse:
    return FileResponse(web.storage.upload_dir(upload_id) / "preview.jpg",
                        media_type="image/jpeg")


@router.get("/{upload_id}/faces/{number}.jpg")
def upload_face(upload_id: str, number: int, web: Web) -> FileResponse:
    path = web.storage.upload_dir(upload_id) / "faces" / f"{number}.jpg"
    if number < 0 or not path.is_file():
        raise InputNotFoundError(f"no face {number} in upload {upload_id}")
    return FileResponse(path, media_type="image/jpeg")


@router.delete("/{upload_id}")
def delete_upload(upload_id: str, web: Web) -> dict[str, Any]:
    web.storage.delete_upload(upload_id)
    return {"deleted": upload_id}
