"""The local web UI: a FastAPI app serving one static page and a small JSON API.

Routes (all JSON unless noted)::

    GET    /                             the page (static HTML/JS/CSS, no build step)
    GET    /api/info                     version, methods, limits, accepted formats
    POST   /api/uploads                  multipart ``file`` -> upload (kind, size, faces)
    GET    /api/uploads/{id}             the upload's metadata
    GET    /api/uploads/{id}/preview.jpg first frame, small (JPEG)
    GET    /api/uploads/{id}/faces/{n}.jpg  thumbnail of the n-th face found (JPEG)
    DELETE /api/uploads/{id}
    POST   /api/jobs                     start a swap (CreateJob body) -> job
    GET    /api/jobs                     every job, newest first, with progress and ETA
    GET    /api/jobs/{id}
    POST   /api/jobs/{id}/cancel
    DELETE /api/jobs/{id}                forget the job and delete its folder
    GET    /api/jobs/{id}/result         the output (``?download=1`` as an attachment)
    GET    /api/jobs/{id}/{source,target}.jpg  previews of the job's inputs
    POST   /api/verify                   multipart ``file`` -> provenance report

Safety: the server is meant for the local machine. Requests whose ``Host`` is not an allowed
name are refused (a web page cannot reach it through DNS rebinding), state-changing requests
from another origin are refused (no cross-site requests), request bodies above the upload
limit are cut off with 413, and every path on disk is built from server-made ids.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import UploadFile
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openfsgan import __version__
from openfsgan.errors import (
    InputNotFoundError,
    InputTooLargeError,
    InvalidInputError,
    NoFaceError,
    OpenFSGANError,
)
from openfsgan.web.queue import JobBusyError, JobQueue, Runner
from openfsgan.web.schemas import CreateJob, JobSpec, JobStatus
from openfsgan.web.storage import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    Storage,
    UnsupportedMediaError,
    check_id,
    display_name,
    media_extension,
    new_id,
)
from openfsgan.web.uploads import AnalyzerFaceFinder, FaceFinder, ingest, sniff_media

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
DEFAULT_MAX_UPLOAD_BYTES = 500 * 1024 * 1024
MULTIPART_OVERHEAD_BYTES = 64 * 1024  # boundaries and part headers around the one file
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
COPY_CHUNK_BYTES = 1024 * 1024
Verifier = Callable[[Path], dict[str, Any]]

_STATUS_BY_ERROR: tuple[tuple[type[OpenFSGANError], int], ...] = (
    (InputNotFoundError, 404),
    (UnsupportedMediaError, 415),
    (InputTooLargeError, 413),
    (JobBusyError, 409),
    (NoFaceError, 422),
    (InvalidInputError, 400),
)

_SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"content-security-policy",
     b"default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
     b"object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
)


@dataclass(frozen=True)
class WebSettings:
    """How the server runs.

    Attributes:
        data_dir: uploads, jobs and the job database live here.
        max_upload_bytes: the largest file accepted (uploads and files to verify).
        allowed_hosts: names the ``Host`` header may carry; None accepts any (a server bound
            to a public interface is reached by names we cannot know).
        upload_max_age_s: uploads not used for this long are deleted at start-up.
        methods: swap methods offered in the page.
    """

    data_dir: Path
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    allowed_hosts: tuple[str, ...] | None = LOOPBACK_HOSTS
    upload_max_age_s: float = 7 * 24 * 3600.0
    methods: tuple[str, ...] = field(default_factory=lambda: available_methods())

    def __post_init__(self) -> None:
        if self.max_upload_bytes < 1:
            raise ValueError(f"max_upload_bytes must be positive, got {self.max_upload_bytes}")
        if not self.methods:
            raise ValueError("at least one swap method must be offered")


def available_methods() -> tuple[str, ...]:
    """The swap methods this install can run (:data:`openfsgan.jobs.METHODS`)."""
    from openfsgan.jobs import METHODS

    return tuple(METHODS)


def default_verifier(path: Path) -> dict[str, Any]:
    """The provenance report of a file (watermark, metadata tag, C2PA manifest)."""
    from openfsgan.provenance.verify import verify

    data = verify(path).to_dict()
    data.pop("path", None)  # a scratch file of the server's, meaningless to the page
    result: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return result


class _BodyTooLargeError(Exception):
    """Raised inside ``receive`` once a request body passes the limit."""


class LocalGuard:
    """ASGI middleware: Host allow-list, same-origin writes, body size cap, security headers."""

    def __init__(self, app: ASGIApp, max_body_bytes: int,
                 allowed_hosts: tuple[str, ...] | None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.allowed_hosts = allowed_hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1"): value.decode("latin-1")
                   for key, value in scope.get("headers", [])}
        host_header = headers.get("host", "")
        if self.allowed_hosts is not None and _hostname(host_header) not in self.allowed_hosts:
            await _send_error(send, 400, f"host {host_header!r} is not allowed")
            return
        unsafe = scope["method"] not in ("GET", "HEAD", "OPTIONS")
        origin = headers.get("origin")
        if unsafe and origin is not None and urlsplit(origin).netloc != host_header:
            await _send_error(send, 403, "cross-origin requests are refused")
            return
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await _send_error(send, 413, _too_large_message(self.max_body_bytes))
            return

        received = 0
        too_large = False
        response_started = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    too_large = True
                    raise _BodyTooLargeError
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if too_large:
                return  # whatever the app answers to a cut-off body, the client gets the 413
            if message["type"] == "http.response.start":
                response_started = True
                message = dict(message)
                extra = [*_SECURITY_HEADERS]
                if scope["path"].startswith("/api/"):
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLargeError:
            pass
        except Exception:
            if not too_large:
                raise
        if too_large and not response_started:
            await _send_error(send, 413, _too_large_message(self.max_body_bytes))


def _hostname(host_header: str) -> str:
    try:
        return (urlsplit(f"//{host_header}").hostname or "").lower()
    except ValueError:
        return ""


def _too_large_message(limit: int) -> str:
    return f"the upload is too large (limit {limit / 2**20:.0f} MB)"


async def _send_error(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            *_SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": body})


def _error_response(error: OpenFSGANError) -> JSONResponse:
    status = next((code for kind, code in _STATUS_BY_ERROR if isinstance(error, kind)), 400)
    return JSONResponse({"error": str(error)}, status_code=status)


def _save_upload(upload: UploadFile, destination: Path, max_bytes: int) -> int:
    """Copy an uploaded file to ``destination``, refusing it past ``max_bytes``."""
    written = 0
    upload.file.seek(0)
    with destination.open("wb") as out:
        while chunk := upload.file.read(COPY_CHUNK_BYTES):
            written += len(chunk)
            if written > max_bytes:
                raise InputTooLargeError(_too_large_message(max_bytes))
            out.write(chunk)
    if written == 0:
        raise InvalidInputError("the file is empty (0 bytes)")
    return written


async def _form_file(request: Request) -> UploadFile:
    """The one file of a multipart form (field ``file``)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise InvalidInputError("send the file as multipart/form-data in a field named 'file'")
    form = await request.form(max_files=1, max_fields=4)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidInputError("no file in the form (expected a field named 'file')")
    return upload


def create_app(settings: WebSettings, runner: Runner | None = None,
               face_finder: FaceFinder | None = None,
               verifier: Verifier | None = None) -> FastAPI:
    """Build the app; the job worker starts with the app's lifespan.

    Args:
        settings: where data lives and the limits.
        runner: runs one job (default: :func:`openfsgan.web.queue.run_swap_job`).
        face_finder: finds faces on an upload (default: the library's face analyser).
        verifier: makes the provenance report of a file (default: the library's verifier).
    """
    storage = Storage(settings.data_dir)
    pruned = storage.prune_uploads(settings.upload_max_age_s)
    if pruned:
        log.info("deleted %d uploads older than %.0f days", pruned,
                 settings.upload_max_age_s / 86400)
    queue = JobQueue(storage.database_path, runner=runner, on_delete=storage.delete_job)
    find_faces: FaceFinder = face_finder or AnalyzerFaceFinder()
    make_report: Verifier = verifier or default_verifier

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        queue.start()
        try:
            yield
        finally:
            await run_in_threadpool(queue.close)

    app = FastAPI(title="openfsgan", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.storage = storage
    app.state.queue = queue
    app.add_middleware(LocalGuard, max_body_bytes=settings.max_upload_bytes
                       + MULTIPART_OVERHEAD_BYTES, allowed_hosts=settings.allowed_hosts)

    @app.exception_handler(OpenFSGANError)
    async def _on_error(_: Request, error: OpenFSGANError) -> JSONResponse:
        return _error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _on_invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'][1:]) or 'body'}: {problem['msg']}"
            for problem in error.errors())
        return JSONResponse({"error": f"invalid request: {problems}"}, status_code=422)

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @app.get("/api/info")
    def info() -> dict[str, Any]:
        return {
            "version": __version__,
            "methods": list(settings.methods),
            "modes": ["swap", "reenact"],
            "max_upload_bytes": settings.max_upload_bytes,
            "image_extensions": sorted(IMAGE_EXTENSIONS),
            "video_extensions": sorted(VIDEO_EXTENSIONS),
        }

    # uploads -------------------------------------------------------------------------------
    def upload_api(upload_id: str, meta: dict[str, Any]) -> dict[str, Any]:
        base = f"/api/uploads/{upload_id}"
        return {
            "id": upload_id,
            **{key: value for key, value in meta.items() if key != "ext"},
            "preview_url": f"{base}/preview.jpg",
            "faces": [{**face, "thumbnail_url": f"{base}/faces/{face['number']}.jpg"}
                      for face in meta["faces"]],
        }

    def ingest_upload(upload: UploadFile) -> dict[str, Any]:
        name = display_name(upload.filename)
        ext, is_video = media_extension(upload.filename)
        upload_id, folder = storage.new_upload_dir()
        try:
            media_path = folder / f"media{ext}"
            size = _save_upload(upload, media_path, settings.max_upload_bytes)
            meta = {"name": name, "ext": ext, "bytes": size, "uploaded_at": time.time(),
                    **ingest(folder, media_path, is_video, find_faces)}
            storage.write_upload_meta(upload_id, meta)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        log.info("upload %s: %s (%s, %d bytes, %d faces)", upload_id, name, meta["kind"], size,
                 len(meta["faces"]))
        return upload_api(upload_id, meta)

    @app.post("/api/uploads", status_code=201)
    async def create_upload(request: Request) -> dict[str, Any]:
        upload = await _form_file(request)
        try:
            return await run_in_threadpool(ingest_upload, upload)
        finally:
            await upload.close()

    @app.get("/api/uploads/{upload_id}")
    def get_upload(upload_id: str) -> dict[str, Any]:
        return upload_api(upload_id, storage.upload_meta(upload_id))

    @app.get("/api/uploads/{upload_id}/preview.jpg")
    def upload_preview(upload_id: str) -> FileResponse:
        return FileResponse(storage.upload_dir(upload_id) / "preview.jpg",
                            media_type="image/jpeg")

    @app.get("/api/uploads/{upload_id}/faces/{number}.jpg")
    def upload_face(upload_id: str, number: int) -> FileResponse:
        path = storage.upload_dir(upload_id) / "faces" / f"{number}.jpg"
        if number < 0 or not path.is_file():
            raise InputNotFoundError(f"no face {number} in upload {upload_id}")
        return FileResponse(path, media_type="image/jpeg")

    @app.delete("/api/uploads/{upload_id}")
    def delete_upload(upload_id: str) -> dict[str, Any]:
        storage.delete_upload(upload_id)
        return {"deleted": upload_id}

    # jobs ----------------------------------------------------------------------------------
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
        return next(face["number"] + 1 for face in meta["faces"]
                    if face["track_id"] == track_id)

    @app.post("/api/jobs", status_code=201)
    def create_job(body: CreateJob) -> dict[str, Any]:
        if body.method not in settings.methods:
            raise InvalidInputError(f"unknown method {body.method!r}; "
                                    f"available: {', '.join(settings.methods)}")
        source_meta = storage.upload_meta(body.source_upload)
        target_meta = storage.upload_meta(body.target_upload)
        check_face(body.source_upload, source_meta, body.source_face)
        check_face(body.target_upload, target_meta, body.target_face)
        job_id = new_id()
        folder = storage.new_job_dir(job_id)
        try:
            source = storage.copy_upload_into_job(body.source_upload, folder, "source")
            target = storage.copy_upload_into_job(body.target_upload, folder, "target")
            for role, upload_id in (("source", body.source_upload),
                                    ("target", body.target_upload)):
                shutil.copyfile(storage.upload_dir(upload_id) / "preview.jpg",
                                folder / f"{role}.jpg")
            result_kind = target_meta["kind"]
            output = folder / ("result.mp4" if result_kind == "video" else "result.png")
            spec = JobSpec(
                source=str(source), target=str(target), output=str(output),
                method=body.method, mode=body.mode, source_face=body.source_face,
                target_face=body.target_face, watermark=body.watermark,
                label=body.label or None, max_frames=body.max_frames)
            stem = Path(target_meta["name"]).stem or "result"
            display = {
                "source_name": source_meta["name"], "target_name": target_meta["name"],
                "source_kind": source_meta["kind"], "result_kind": result_kind,
                "download_name": display_name(f"{stem}-{body.mode}{output.suffix}"),
                "source_face_shown": face_shown(source_meta, body.source_face),
                "target_face_shown": face_shown(target_meta, body.target_face),
            }
            record = queue.submit(job_id, spec, display)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return job_api(record)

    def job_api(record: Any) -> dict[str, Any]:
        data: dict[str, Any] = record.to_api()
        base = f"/api/jobs/{record.id}"
        data["source_preview_url"] = f"{base}/source.jpg"
        data["target_preview_url"] = f"{base}/target.jpg"
        ready = record.status is JobStatus.DONE and Path(record.spec.output).is_file()
        data["result_url"] = f"{base}/result" if ready else None
        return data

    @app.get("/api/jobs")
    def list_jobs() -> dict[str, Any]:
        return {"jobs": [job_api(record) for record in queue.list()]}

    @app.get("/api/jobs/{job_id}")
    def get_job(job_id: str) -> dict[str, Any]:
        return job_api(queue.get(check_id(job_id, "job")))

    @app.post("/api/jobs/{job_id}/cancel")
    def cancel_job(job_id: str) -> dict[str, Any]:
        return job_api(queue.cancel(check_id(job_id, "job")))

    @app.delete("/api/jobs/{job_id}")
    def delete_job(job_id: str) -> dict[str, Any]:
        queue.delete(check_id(job_id, "job"))
        return {"deleted": job_id}

    @app.get("/api/jobs/{job_id}/result")
    def job_result(job_id: str, download: bool = False) -> FileResponse:
        record = queue.get(check_id(job_id, "job"))
        output = Path(record.spec.output)
        if record.status is not JobStatus.DONE or not output.is_file():
            raise InputNotFoundError(f"job {job_id} has no result ({record.status.value})")
        media_type = "video/mp4" if output.suffix == ".mp4" else "image/png"
        return FileResponse(output, media_type=media_type,
                            filename=record.display.get("download_name", output.name),
                            content_disposition_type="attachment" if download else "inline")

    @app.get("/api/jobs/{job_id}/{role}.jpg")
    def job_preview(job_id: str, role: str) -> FileResponse:
        if role not in ("source", "target"):
            raise InputNotFoundError(f"no such preview: {role}")
        path = storage.job_dir(check_id(job_id, "job")) / f"{role}.jpg"
        if not path.is_file():
            raise InputNotFoundError(f"no such job: {job_id}")
        return FileResponse(path, media_type="image/jpeg")

    # provenance ----------------------------------------------------------------------------
    def verify_upload(upload: UploadFile) -> dict[str, Any]:
        name = display_name(upload.filename)
        ext, is_video = media_extension(upload.filename)
        folder = storage.new_scratch_dir()
        try:
            path = folder / f"media{ext}"
            _save_upload(upload, path, settings.max_upload_bytes)
            sniff_media(path, is_video)
            report = make_report(path)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return {"name": name, "kind": "video" if is_video else "image", "report": report}

    @app.post("/api/verify")
    async def verify_file(request: Request) -> dict[str, Any]:
        upload = await _form_file(request)
        try:
            return await run_in_threadpool(verify_upload, upload)
        finally:
            await upload.close()

    return app
