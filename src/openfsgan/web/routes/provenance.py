"""Provenance: ``POST /api/verify`` (multipart ``file`` -> the provenance report)."""

from __future__ import annotations

import shutil
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from openfsgan.web.routes import Web, WebContext, form_file, save_upload
from openfsgan.web.storage import display_name, media_extension
from openfsgan.web.uploads import sniff_media

router = APIRouter()


def verify_upload(web: WebContext, upload: UploadFile) -> dict[str, Any]:
    """The report of an uploaded file (kept in a scratch folder only while it is checked)."""
    name = display_name(upload.filename)
    ext, is_video = media_extension(upload.filename)
    folder = web.storage.new_scratch_dir()
    try:
        path = folder / f"media{ext}"
        save_upload(upload, path, web.settings.max_upload_bytes)
        sniff_media(path, is_video)
        report = web.make_report(path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"name": name, "kind": "video" if is_video else "image", "report": report}


@router.post("/api/verify")
async def verify_file(request: Request, web: Web) -> dict[str, Any]:
    upload = await form_file(request)
    try:
        return await run_in_threadpool(verify_upload, web, upload)
    finally:
        await upload.close()
