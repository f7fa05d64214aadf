"""Jobs: ``POST /api/jobs`` (start a swap), ``GET /api/jobs`` (every job, newest first, with
progress and ETA), ``GET /api/jobs/{id}``, ``POST /api/jobs/{id}/cancel``,
``DELETE /api/jobs/{id}``, ``GET /api/jobs/{id}/result`` and the previews of its inputs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from openfsgan.errors import InputNotFoundError, InvalidInputError
from openfsgan.stages import STAGE_IMPLEMENTATIONS
from openfsgan.web.routes import Web, WebContext
from openfsgan.web.schemas import CreateJob, JobSpec, JobStatus
from openfsgan.web.storage import check_id, display_name, new_id

router = APIRouter(prefix="/api/jobs")

CONFIG_FILE = "config.yaml"
"""The resolved configuration of a job, in the job's folder."""


def check_face(upload_id: str, meta: dict[str, Any], track_id: int | None) -> None:
    known = {face["track_id"] for face in meta["faces"]}
    if track_id is not None and track_id not in known:
        raise InvalidInputError(f"upload {upload_id} has no face with track id {track_id} "
                                f"(found: {sorted(known) or 'none'})")


def face_shown(meta: dict[str, Any], track_id: int | None) -> int | None:
    """The picked face's number as the page showed it (1, 2, ... left to right), when the
    upload had several faces to choose from."""
    if track_id is None or len(meta["faces"]) < 2:
        return None
    return next(face["number"] + 1 for face in meta["faces"] if face["track_id"] == track_id)


def job_config(body: CreateJob, web: WebContext) -> Any:
    """The job's resolved configuration: the method's preset, ``options`` (a configuration
    tree, as in a YAML file), then the stage choices (ConfigError, one line, on a bad name)."""
    from openfsgan.pipelines.config import resolve_config

    if body.method not in web.settings.methods:
        raise InvalidInputError(f"unknown method {body.method!r}; "
                                f"available: {', '.join(web.settings.methods)}")
    return resolve_config(body.method, config=body.options,
                          **{stage: getattr(body, stage) for stage in STAGE_IMPLEMENTATIONS})


def job_api(record: Any) -> dict[str, Any]:
    """A job as the page sees it (no server paths)."""
    data: dict[str, Any] = record.to_api()
    base = f"/api/jobs/{record.id}"
    data["source_preview_url"] = f"{base}/source.jpg"
    data["target_preview_url"] = f"{base}/target.jpg"
    ready = record.status is JobStatus.DONE and Path(record.spec.output).is_file()
    data["result_url"] = f"{base}/result" if ready else None
    return data


@router.post("", status_code=201)
def create_job(body: CreateJob, web: Web) -> dict[str, Any]:
    config = job_config(body, web)  # before anything is written
    storage = web.storage
    source_meta = storage.upload_meta(body.source_upload)
    target_meta = storage.upload_meta(body.target_upload)
    check_face(body.source_upload, source_meta, body.source_face)
    check_face(body.target_upload, target_meta, body.target_face)
    job_id = new_id()
    folder = storage.new_job_dir(job_id)
    try:
        source = storage.copy_upload_into_job(body.source_upload, folder, "source")
        target = storage.copy_upload_into_job(body.target_upload, folder, "target")
        for role, upload_id in (("source", body.source_upload), ("target", body.target_upload)):
            shutil.copyfile(storage.upload_dir(upload_id) / "preview.jpg", folder / f"{role}.jpg")
        config.to_yaml(folder / CONFIG_FILE)
        result_kind = target_meta["kind"]
        output = folder / ("result.mp4" if result_kind == "video" else "result.png")
        spec = JobSpec(
            source=str(source), target=str(target), output=str(output),
            method=body.method, mode=body.mode, source_face=body.source_face,
            target_face=body.target_face, watermark=body.watermark,
            watermark_profile=body.watermark_profile,
            label=body.label or None, max_frames=body.max_frames, config=config.to_dict())
        stem = Path(target_meta["name"]).stem or "result"
        display = {
            "source_name": source_meta["name"], "target_name": target_meta["name"],
            "source_kind": source_meta["kind"], "result_kind": result_kind,
            "download_name": display_name(f"{stem}-{body.mode}{output.suffix}"),
            "source_face_shown": face_shown(source_meta, body.source_face),
            "target_face_shown": face_shown(target_meta, body.target_face),
        }
        record = web.queue.submit(job_id, spec, display)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return job_api(record)


@router.get("")
def list_jobs(web: Web) -> dict[str, Any]:
    return {"jobs": [job_api(record) for record in web.queue.list()]}


@router.get("/{job_id}")
def get_job(job_id: str, web: Web) -> dict[str, Any]:
    return job_api(web.queue.get(check_id(job_id, "job")))


@router.post("/{job_id}/cancel")
def cancel_job(job_id: str, web: Web) -> dict[str, Any]:
    return job_api(web.queue.cancel(check_id(job_id, "job")))


@router.delete("/{job_id}")
def delete_job(job_id: str, web: Web) -> dict[str, Any]:
    web.queue.delete(check_id(job_id, "job"))
    return {"deleted": job_id}


@router.get("/{job_id}/result")
def job_result(job_id: str, web: Web, download: bool = False) -> FileResponse:
    record = web.queue.get(check_id(job_id, "job"))
    output = Path(record.spec.output)
    if record.status is not JobStatus.DONE or not output.is_file():
        raise InputNotFoundError(f"job {job_id} has no result ({record.status.value})")
    media_type = "video/mp4" if output.suffix == ".mp4" else "image/png"
    return FileResponse(output, media_type=media_type,
                        filename=record.display.get("download_name", output.name),
                        content_disposition_type="attachment" if download else "inline")


@router.get("/{job_id}/{role}.jpg")
def job_preview(job_id: str, role: str, web: Web) -> FileResponse:
    if role not in ("source", "target"):
        raise InputNotFoundError(f"no such preview: {role}")
    path = web.storage.job_dir(check_id(job_id, "job")) / f"{role}.jpg"
    if not path.is_file():
        raise InputNotFoundError(f"no such job: {job_id}")
    return FileResponse(path, media_type="image/jpeg")
