"""The page and what it needs to know: ``GET /`` and ``GET /api/info``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from openfsgan import __version__
from openfsgan.stages import STAGE_IMPLEMENTATIONS
from openfsgan.web.routes import Web
from openfsgan.web.storage import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter()


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html")


@router.get("/api/info")
def info(web: Web) -> dict[str, Any]:
    from openfsgan.pipelines.config import METHOD_STAGES

    return {
        "version": __version__,
        "methods": list(web.settings.methods),
        "modes": ["swap", "reenact"],
        # each stage's implementations, and the choices each method stands for
        "stages": {stage: list(choices) for stage, choices in STAGE_IMPLEMENTATIONS.items()},
        "presets": {method: METHOD_STAGES[method] for method in web.settings.methods
                    if method in METHOD_STAGES},
        "max_upload_bytes": web.settings.max_upload_bytes,
        "image_extensions": sorted(IMAGE_EXTENSIONS),
        "video_extensions": sorted(VIDEO_EXTENSIONS),
    }
