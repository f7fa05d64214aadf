"""C2PA manifest: a signed statement, bound to the file's bytes, that it is AI-generated.

The manifest has three assertions:

* ``c2pa.actions``: one ``c2pa.created`` action with IPTC ``digitalSourceType``
  ``trainedAlgorithmicMedia`` and ``softwareAgent`` openfsgan <version>;
* ``cawg.training-mining``: generative-AI training on this synthetic output not allowed, other
  AI training only for detecting synthetic media, data mining and inference allowed;
* ``org.openfsgan.provenance``: the provenance tag (run id, whether the watermark was embedded
  — ``--no-watermark`` is declared here — operation, method, visible label).

c2pa-python embeds manifests in MP4/MOV, JPEG, PNG, WebP, TIFF, AVIF/HEIF and GIF. On request
(``sidecar=True``) the manifest store goes beside the file as ``<file>.c2pa`` instead, leaving
the file's bytes untouched (it travels only if copied with the file). Formats c2pa cannot hash
(BMP, MKV, WebM) get no manifest: there is nothing it could bind to. The hard binding (a hash of
the file's bytes, or of its boxes for MP4) makes any later change show as *tampered*.
No time-stamp authority is contacted (the toolkit works offline), so a manifest's validity is
tied to its certificate's validity period.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openfsgan.errors import OutputError
from openfsgan.io.atomic import atomic_output, write_bytes_atomic
from openfsgan.provenance.keys import SigningIdentity, trust_anchors_pem
from openfsgan.provenance.metadata import DIGITAL_SOURCE_TYPE, ProvenanceTag

log = logging.getLogger(__name__)

PROVENANCE_ASSERTION = "org.openfsgan.provenance"
SIDECAR_SUFFIX = ".c2pa"
_MIME_BY_EXTENSION = {
    ".mp4": "video/mp4", ".m4v": "video/mp4", ".mov": "video/quicktime",
    ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".webp": "image/webp",
    ".tif": "image/tiff", ".tiff": "image/tiff", ".gif": "image/gif", ".avif": "image/avif",
    ".heic": "image/heic", ".heif": "image/heif", ".avi": "video/avi",
}


def mime_type(path: Path) -> str | None:
    return _MIME_BY_EXTENSION.get(path.suffix.lower())


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + SIDECAR_SUFFIX)


def can_embed(path: Path) -> bool:
    """Whether c2pa-python here can embed a manifest in this file type."""
    import c2pa

    mime = mime_type(path)
    return mime is not None and mime in c2pa.Builder.get_supported_mime_types()


def build_manifest(tag: ProvenanceTag, title: str) -> dict[str, Any]:
    """The manifest definition (c2pa-python JSON) for an output described by ``tag``."""
    return {
        "claim_generator_info": [{"name": tag.tool, "version": tag.tool_version}],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [{
                "action": "c2pa.created",
                "digitalSourceType": DIGITAL_SOURCE_TYPE,
                "softwareAgent": {"name": tag.tool, "version": tag.tool_version},
                "description": tag.sentence,
            }]}},
            {"label": "cawg.training-mining", "data": {"entries": {
                "cawg.ai_generative_training": {"use": "notAllowed"},
                "cawg.ai_training": {
                    "use": "constrained",
                    "constraint_info": "only to train detectors of synthetic media"},
                "cawg.ai_inference": {"use": "allowed"},
                "cawg.data_mining": {"use": "allowed"},
            }}},
            {"label": PROVENANCE_ASSERTION, "data": json.loads(tag.to_json())},
        ],
    }


def _signer(identity: SigningIdentity) -> Any:
    import c2pa

    info = c2pa.C2paSignerInfo(identity.algorithm.encode("ascii"),
                               identity.certificate_chain_pem, identity.private_key_pem, None)
    return c2pa.Signer.from_info(info)


def sign_file(path: str | Path, tag: ProvenanceTag, identity: SigningIdentity,
              sidecar: bool = False, title: str | None = None) -> Path | None:
    """Sign ``path``: embed the manifest in place, or (``sidecar``) write ``<path>.c2pa``.

    Returns the path holding the manifest, or None when c2pa cannot bind a manifest to this
    file type at all (e.g. BMP: a warning is logged). The file must already be in its final
    form: any later change of its bytes makes the manifest report *tampered*.
    """
    import c2pa

    p = Path(path)
    if not can_embed(p):
        log.warning("%s: C2PA cannot bind a manifest to %s files; save as PNG, JPEG or MP4 to "
                    "get one (the watermark and metadata still label it)", p, p.suffix or "these")
        return None
    mime = mime_type(p)
    assert mime is not None
    builder = c2pa.Builder(build_manifest(tag, title or p.name))
    try:
        with contextlib.closing(_signer(identity)) as signer:
            if not sidecar:
                with atomic_output(p) as tmp, open(p, "rb") as source, open(tmp, "w+b") as dest:
                    builder.sign(signer, mime, source, dest)
                return p
            builder.set_no_embed()
            with open(p, "rb") as source, open(os.devnull, "w+b") as dest:
                manifest_bytes = builder.sign(signer, mime, source, dest)
            target = sidecar_path(p)
            write_bytes_atomic(target, manifest_bytes)
            return target
    except c2pa.C2paError as error:
        raise OutputError(f"could not sign a C2PA manifest into {p}: {error}") from None
    finally:
        builder.close()


@dataclass(frozen=True)
class ManifestReading:
    """What :func:`read_manifest` found.

    Attributes:
        status: ``found`` (valid), ``tampered`` (present but its hash or signature no longer
            matches the file), ``not found``, or ``error`` (unreadable manifest data).
        validation_state: c2pa's verdict: ``Trusted``, ``Valid`` or ``Invalid``.
        trusted: the signer chains to a trust anchor the verifier knows.
        failures: c2pa failure codes (``signingCredential.untrusted`` is expected for a local
            signer and does not make a manifest tampered).
        ai_generated: the manifest declares trained algorithmic media.
        tag: the openfsgan provenance assertion, when present.
        signer: issuer and common name of the signing certificate.
        location: ``embedded`` or the sidecar's path.
    """

    status: str
    validation_state: str | None = None
    trusted: bool = False
    failures: tuple[str, ...] = ()
    ai_generated: bool = False
    tag: ProvenanceTag | None = None
    signer: dict[str, str] = field(default_factory=dict)
    location: str | None = None
    detail: str | None = None


def _reader_context() -> Any:
    import c2pa

    anchors = trust_anchors_pem()
    if anchors is None:
        return None
    return c2pa.Context.from_dict({"trust": {"trust_anchors": anchors},
                                   "verify": {"verify_trust": True}})


def _summarise(reader: Any, location: str) -> ManifestReading:
    state = reader.get_validation_state()
    results = reader.get_validation_results() or {}
    failures = tuple(item.get("code", "") for item in
                     results.get("activeManifest", {}).get("failure", []))
    active = reader.get_active_manifest() or {}
    ai_generated = False
    tag: ProvenanceTag | None = None
    for assertion in active.get("assertions", []):
        label = assertion.get("label", "")
        data = assertion.get("data", {})
        if label.startswith("c2pa.actions"):
            ai_generated |= any("trainedAlgorithmicMedia" in str(a.get("digitalSourceType", ""))
                                for a in data.get("actions", []))
        elif label == PROVENANCE_ASSERTION:
            with contextlib.suppress(ValueError, TypeError):
                tag = ProvenanceTag.from_json(json.dumps(data))
    info = active.get("signature_info", {})
    signer = {key: str(info[key]) for key in ("issuer", "common_name", "alg", "time")
              if key in info}
    tampered = state == "Invalid"
    return ManifestReading(
        status="tampered" if tampered else "found",
        validation_state=state,
        trusted=state == "Trusted",
        failures=failures,
        ai_generated=ai_generated,
        tag=tag,
        signer=signer,
        location=location,
        detail=("the file changed after it was signed, or the manifest was altered: "
                + ", ".join(code for code in failures if code != "signingCredential.untrusted")
                if tampered else None),
    )


def read_manifest(path: str | Path) -> ManifestReading:
    """Find and validate the C2PA manifest embedded in ``path`` or in ``<path>.c2pa``."""
    import c2pa

    p = Path(path)
    context = _reader_context()
    kwargs = {"context": context} if context is not None else {}
    mime = mime_type(p)
    sidecar = sidecar_path(p)
    try:
        with open(p, "rb") as stream:
            if sidecar.is_file():
                reader = c2pa.Reader(mime or "c2pa", stream, sidecar.read_bytes(), **kwargs)
                location = str(sidecar)
            else:
                reader = c2pa.Reader(mime, stream, **kwargs) if mime else c2pa.Reader(
                    stream, **kwargs)
                location = "embedded"
            with contextlib.closing(reader):
                return _summarise(reader, location)
    except c2pa.C2paError as error:
        message = str(error)
        if "ManifestNotFound" in type(error).__name__ or "ManifestNotFound" in message \
                or "no JUMBF" in message or "NotSupported" in type(error).__name__:
            return ManifestReading(status="not found")
        # a manifest that is present but cannot be parsed was damaged: report it as such
        return ManifestReading(status="tampered", detail=f"manifest unreadable: {message}",
                               location="embedded")
