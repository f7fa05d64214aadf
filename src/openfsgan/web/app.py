"""The local web UI: a FastAPI app serving one static page and a small JSON API.

This module builds the app (settings, the local-only guard, error handling); the routes are
routers of their own, one per resource (:mod:`openfsgan.web.routes`).

Routes (all JSON unless noted)::

    GET    /                             the page (static HTML/JS/CSS, no build step)
    GET    /api/info                     version, methods, limits, accepted formats
    POST   /api/uploads                  multipart ``file`` -> upload (kind, size, faces)
    GET    /api/uploads/{id}             the upload's metadata
    GET    /api/uploads/{id}/preview.jpg first frame, small (JPEG)
    GET    /api/uploads/{id}/faces/{n}.jpg  thumbnail of the n-th face found (JPEG)
    DELETE /api/uploads/{id}
    POST   /api/jobs                     start a swap (CreateJob body: method preset, stage
                                         choices, configuration options) -> job
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
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
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
from openfsgan.web.routes import (
    Verifier,
    WebContext,
    jobs,
    pages,
    provenance,
    too_large_message,
    uploads,
)
from openfsgan.web.routes.pages import STATIC_DIR
from openfsgan.web.storage import Storage, UnsupportedMediaError
from openfsgan.web.uploads import AnalyzerFaceFinder, FaceFinder

log = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_BYTES = 500 * 1024 * 1024
MULTIPART_OVERHEAD_BYTES = 64 * 1024  # boundaries and part headers around the one file
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

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
            await _send_error(send, 413, too_large_message(self.max_body_bytes))
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
            await _send_error(send, 413, too_large_message(self.max_body_bytes))


def _hostname(host_header: str) -> str:
    try:
        return (urlsplit(f"//{host_header}").hostname or "").lower()
    except ValueError:
        return ""


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


async def _on_error(_: Request, error: OpenFSGANError) -> JSONResponse:
    return _error_response(error)


async def _on_invalid(_: Request, error: RequestValidationError) -> JSONResponse:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'][1:]) or 'body'}: {problem['msg']}"
        for problem in error.errors())
    return JSONResponse({"error": f"invalid request: {problems}"}, status_code=422)


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
    app.state.context = WebContext(settings, storage, queue,
                                   face_finder or AnalyzerFaceFinder(),
                                   verifier or default_verifier)
    app.add_middleware(LocalGuard, max_body_bytes=settings.max_upload_bytes
                       + MULTIPART_OVERHEAD_BYTES, allowed_hosts=settings.allowed_hosts)
    app.add_exception_handler(OpenFSGANError, _on_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _on_invalid)  # type: ignore[arg-type]
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in (pages.router, uploads.router, jobs.router, provenance.router):
        app.include_router(router)
    return app
