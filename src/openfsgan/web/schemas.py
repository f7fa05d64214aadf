"""Typed data of the web UI: what a job is (persisted), what the API accepts and returns.

:class:`JobSpec` is what the queue stores in SQLite and hands to the runner; it names files
inside the job's own folder only. The pydantic models validate request bodies at the HTTP edge.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from openfsgan.stages import STAGE_IMPLEMENTATIONS

MAX_LABEL_CHARS = 80


class JobStatus(str, Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.DONE, JobStatus.FAILED, JobStatus.CANCELLED)


@dataclass(frozen=True)
class JobSpec:
    """One swap or reenactment to run; mirrors :class:`openfsgan.jobs.SwapRequest`.

    Attributes:
        source, target, output: files in the job's folder.
        method: ``"classic"`` or ``"neural"``.
        mode: ``"swap"`` (source identity onto the target) or ``"reenact"``.
        source_face, target_face: track ids picked in the UI; None lets the library choose.
        watermark: embed the invisible watermark (on unless turned off; the tag and the C2PA
            manifest are written either way).
        watermark_profile: the watermark's layers, ``standard`` or ``robust``
            (:data:`openfsgan.provenance.watermark.WATERMARK_PROFILES`).
        label: text of the visible "synthetic" label; None for none.
        max_frames: stop a video after this many frames (a quick preview); None for all.
        resume: continue an interrupted video job where it stopped.
        config: the resolved swap configuration (stage choices and settings,
            :meth:`openfsgan.pipelines.config.SwapConfig.to_dict`); None: ``method``'s preset.
    """

    source: str
    target: str
    output: str
    method: str = "classic"
    mode: Literal["swap", "reenact"] = "swap"
    source_face: int | None = None
    target_face: int | None = None
    watermark: bool = True
    watermark_profile: Literal["standard", "robust"] = "standard"
    label: str | None = None
    max_frames: int | None = None
    resume: bool = False
    config: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @staticmethod
    def from_json(text: str) -> JobSpec:
        return JobSpec(**json.loads(text))

    def resumed(self) -> JobSpec:
        return replace(self, resume=True)

    def to_swap_request(self) -> Any:
        """The library's request for this job (imports the swap machinery)."""
        from openfsgan.jobs import SwapConfig, SwapRequest

        return SwapRequest(
            source=Path(self.source), target=Path(self.target), output=Path(self.output),
            method=self.method, config=None if self.config is None
            else SwapConfig.from_dict(self.config), mode=self.mode, source_face=self.source_face,
            target_face=self.target_face, resume=self.resume, overwrite=True,
            watermark=self.watermark, watermark_profile=self.watermark_profile,
            label=self.label, max_frames=self.max_frames)


@dataclass(frozen=True)
class JobRecord:
    """A job as the queue reports it (one row of the job list)."""

    id: str
    status: JobStatus
    created_at: float
    spec: JobSpec
    display: dict[str, Any]
    done: int = 0
    total: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    eta_s: float | None = None
    resumes: int = 0
    cancel_requested: bool = False
    error: str | None = None
    summary: dict[str, Any] | None = None

    def to_api(self) -> dict[str, Any]:
        """The JSON the page sees: no server paths, only names and numbers."""
        return {
            "id": self.id,
            "status": self.status.value,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "done": self.done,
            "total": self.total,
            "fraction": (self.done / self.total) if self.total else None,
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
            "resumes": self.resumes,
            "cancel_requested": self.cancel_requested,
            "error": self.error,
            "summary": self.summary,
            "method": self.spec.method,
            "stages": _stages(self.spec.config),
            "mode": self.spec.mode,
            "watermark": self.spec.watermark,
            "label": self.spec.label,
            "max_frames": self.spec.max_frames,
            **self.display,
        }


def _stages(config: dict[str, Any] | None) -> dict[str, str] | None:
    """Stage -> implementation of a job's configuration."""
    if config is None:
        return None
    return {stage: str(config.get(stage)) for stage in STAGE_IMPLEMENTATIONS}


class CreateJob(BaseModel):
    """Body of ``POST /api/jobs``: inputs, the method preset, optionally an implementation per
    stage (``reenactment`` ... ``blending``, None: the method's) and ``options`` (any part of
    the configuration tree, as in a ``--config`` YAML file)."""

    model_config = ConfigDict(extra="forbid")

    source_upload: str = Field(pattern=r"^[0-9a-f]{32}$")
    target_upload: str = Field(pattern=r"^[0-9a-f]{32}$")
    method: str = "classic"
    mode: Literal["swap", "reenact"] = "swap"
    source_face: int | None = Field(default=None, ge=0, le=10_000)
    target_face: int | None = Field(default=None, ge=0, le=10_000)
    watermark: bool = True
    watermark_profile: Literal["standard", "robust"] = "standard"
    label: str | None = Field(default=None, max_length=MAX_LABEL_CHARS)
    max_frames: int | None = Field(default=None, ge=1, le=10_000_000)
    reenactment: str | None = Field(default=None, max_length=32)
    segmentation: str | None = Field(default=None, max_length=32)
    inpainting: str | None = Field(default=None, max_length=32)
    blending: str | None = Field(default=None, max_length=32)
    options: dict[str, Any] | None = None
