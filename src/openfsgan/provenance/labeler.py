"""Labels every output of ``swap``/``reenact`` as synthetic, by default.

:func:`make_labeler` turns a request into an :class:`OutputLabeler`, which the job runner uses
twice: ``label_frame(rgb, index)`` on every frame before it is encoded (visible caption if
asked, then the invisible watermark), and ``finalize(path, media_kind)`` once the file is
written (metadata tag, then the C2PA manifest, which binds the final bytes).

Request fields read (all optional, so any request-like object works):
``watermark`` (default True), ``watermark_profile`` (default ``standard``), ``label``
(caption text, default none), ``mode`` (``swap`` or ``reenact``), ``method``,
``c2pa_cert`` / ``c2pa_key`` (an organisation's chain and key),
``c2pa_sidecar`` (write ``<file>.c2pa`` instead of embedding), ``run_id`` (8 hex digits; give
the first run's id when resuming a job so that every segment carries the same payload),
``resolved_config()`` (the run's configuration, recorded in the tag and the manifest).
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openfsgan.errors import ConfigError
from openfsgan.provenance.caption import Caption
from openfsgan.provenance.keys import SigningIdentity, load_signing_identity
from openfsgan.provenance.manifest import sign_file
from openfsgan.provenance.metadata import ProvenanceTag, write_tag
from openfsgan.provenance.watermark import (
    DEFAULT_WATERMARK_PROFILE,
    Payload,
    WatermarkEmbedder,
    embedding_config,
)

log = logging.getLogger(__name__)


_RUN_ID = re.compile(r"^[0-9a-f]{8}$")
# atomic_output's temporary names: ".<stem>.<random>.partial<ext>"
_ATOMIC_NAME = re.compile(r"^\.(?P<stem>.+)\.[^.]+\.partial(?P<ext>\.[^.]+)$")


def final_name(path: Path) -> str:
    """The name a file will have once :func:`openfsgan.io.atomic.atomic_output` renames it."""
    match = _ATOMIC_NAME.match(path.name)
    return f"{match['stem']}{match['ext']}" if match else path.name


def new_run_id() -> str:
    """A short random run id: 8 hex digits (32 bits, the watermark payload's run field)."""
    return secrets.token_hex(4)


@dataclass(frozen=True)
class LabelResult:
    """What :meth:`OutputLabeler.finalize` did to one output file."""

    path: Path
    run_id: str
    watermark: bool
    metadata_tag: bool
    manifest: Path | None

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "run_id": self.run_id, "watermark": self.watermark,
                "metadata_tag": self.metadata_tag,
                "c2pa_manifest": str(self.manifest) if self.manifest else None}


class OutputLabeler:
    """Marks frames and files of one run (see the module docstring)."""

    def __init__(self, tag: ProvenanceTag, identity: SigningIdentity,
                 caption: Caption | None = None, sidecar: bool = False) -> None:
        self.tag = tag
        self.identity = identity
        self.caption = caption
        self.sidecar = sidecar
        self.embedder = (
            WatermarkEmbedder(Payload.from_hex(tag.run_id),
                              embedding_config(tag.watermark_profile or DEFAULT_WATERMARK_PROFILE))
            if tag.watermark else None)

    @property
    def run_id(self) -> str:
        return self.tag.run_id

    def label_frame(self, rgb: np.ndarray, index: int) -> np.ndarray:
        """``[H, W, 3]`` uint8 RGB -> the frame to encode (caption, then watermark)."""
        del index  # the mark is the same on every frame: the detector sums frames
        if self.caption is not None:
            rgb = self.caption.apply(rgb)
        if self.embedder is not None:
            rgb = self.embedder.embed(rgb)
        return rgb

    def finalize(self, path: str | Path, media_kind: str | None = None) -> LabelResult:
        """Tag and sign the written file at ``path`` (in place, atomically)."""
        p = Path(path)
        tagged = write_tag(p, self.tag)
        manifest = sign_file(p, self.tag, self.identity, sidecar=self.sidecar,
                             title=final_name(p))
        log.info("labelled %s %s: run %s, watermark %s, metadata %s, C2PA %s",
                 media_kind or "output", p, self.run_id, "on" if self.embedder else "OFF",
                 "yes" if tagged else "no", manifest or "none")
        return LabelResult(p, self.run_id, self.embedder is not None, tagged, manifest)

    def describe(self) -> dict[str, Any]:
        """For run summaries and saved configs (never includes key material)."""
        return {"run_id": self.run_id, "watermark": self.embedder is not None,
                "watermark_profile": self.tag.watermark_profile,
                "label": self.caption.text if self.caption else None,
                "c2pa_signer": self.identity.source, "c2pa_local_signer": self.identity.is_local,
                "c2pa_sidecar": self.sidecar}


def _configuration(request: Any) -> dict[str, Any] | None:
    """The request's resolved configuration as plain data, when it has one."""
    resolve = getattr(request, "resolved_config", None)
    if resolve is None:
        return None
    data: dict[str, Any] = resolve().to_dict()
    return data


def make_labeler(request: Any) -> OutputLabeler:
    """The labeler for a swap/reenact request (fails early on a bad C2PA key or certificate)."""
    watermark = bool(getattr(request, "watermark", True))
    profile = getattr(request, "watermark_profile", None) or DEFAULT_WATERMARK_PROFILE
    try:
        embedding_config(profile)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    label = getattr(request, "label", None)
    run_id = getattr(request, "run_id", None) or new_run_id()
    if not _RUN_ID.match(run_id):
        raise ConfigError(f"run id must be 8 lowercase hex digits, got {run_id!r}")
    tag = ProvenanceTag(
        run_id=run_id,
        watermark=watermark,
        watermark_profile=profile if watermark else None,
        operation=str(getattr(request, "mode", None) or "swap"),
        method=getattr(request, "method", None),
        label=label,
        configuration=_configuration(request),
    )
    identity = load_signing_identity(getattr(request, "c2pa_cert", None),
                                     getattr(request, "c2pa_key", None))
    if not watermark:
        log.warning("invisible watermark OFF for run %s (recorded in the metadata tag and the "
                    "C2PA manifest)", tag.run_id)
    return OutputLabeler(tag, identity, Caption(label) if label else None,
                         sidecar=bool(getattr(request, "c2pa_sidecar", False)))
