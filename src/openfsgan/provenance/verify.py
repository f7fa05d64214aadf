"""Check a file for openfsgan's three provenance labels: watermark, metadata tag, C2PA manifest.

Each check reports ``found``, ``not found`` or ``tampered`` (the C2PA manifest no longer matches
the file), or ``unsupported`` (the format cannot carry that label). A file is *labelled* when
the watermark or a manifest (valid or tampered) is found; the metadata tag alone does not count,
since anyone can write one.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from openfsgan.errors import InvalidInputError
from openfsgan.io.paths import check_input_file
from openfsgan.provenance.manifest import ManifestReading, read_manifest
from openfsgan.provenance.metadata import TagReading, describe_fields, read_tag
from openfsgan.provenance.watermark import Detection, WatermarkDetector

log = logging.getLogger(__name__)

DEFAULT_MAX_FRAMES = 300


@dataclass(frozen=True)
class CheckResult:
    """One label's verdict.

    Attributes:
        status: ``found``, ``not found``, ``tampered`` or ``unsupported``.
        confidence: for the watermark, 1 - (bound on the false-alarm probability); None for
            labels whose evidence is not statistical (see ``note``).
        run_id: the run id this label carries, when readable.
        note: one line for people.
        details: everything else, for ``--json``.
    """

    status: str
    confidence: float | None = None
    run_id: str | None = None
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        return self.status in {"found", "tampered"}

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "confidence": self.confidence, "run_id": self.run_id,
                "note": self.note, "details": self.details}


@dataclass(frozen=True)
class ProvenanceReport:
    """The three checks of one file, and whether they agree."""

    path: str
    media: dict[str, Any]
    watermark: CheckResult
    metadata: CheckResult
    manifest: CheckResult
    notes: tuple[str, ...] = ()

    @property
    def labelled(self) -> bool:
        """The file carries the watermark or a C2PA manifest (valid or tampered)."""
        return self.watermark.status == "found" or self.manifest.found

    @property
    def exit_code(self) -> int:
        """``openfsgan verify``'s exit status: 0 labelled, 1 not (2 is for bad input)."""
        return 0 if self.labelled else 1

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "media": self.media, "labelled": self.labelled,
                "watermark": self.watermark.to_dict(), "metadata": self.metadata.to_dict(),
                "c2pa_manifest": self.manifest.to_dict(), "notes": list(self.notes)}


def _frames(path: Path, is_video: bool, max_frames: int) -> Any:
    from openfsgan.io.media import iter_frames, read_image

    if not is_video:
        yield read_image(path)
        return
    for count, frame in enumerate(iter_frames(path)):
        if count >= max_frames:
            break
        yield frame.rgb


def check_watermark(path: Path, is_video: bool, max_frames: int = DEFAULT_MAX_FRAMES
                    ) -> tuple[CheckResult, int]:
    """Accumulate up to ``max_frames`` frames and search for the mark."""
    detector = WatermarkDetector()
    for rgb in _frames(path, is_video, max_frames):
        detector.add(rgb)
    if detector.frames == 0:
        raise InvalidInputError(f"no frames could be decoded from {path}")
    detection: Detection = detector.result()
    details = detection.to_dict()
    if detection.found:
        payload = detection.payload
        how = []
        if detection.sync_found:
            how.append(f"sync z = {detection.z:.2f} >= {detection.threshold:.2f}")
        if detection.chroma_found:
            how.append(f"chroma sync z = {detection.chroma_z:.2f} >= "
                       f"{detection.chroma_threshold:.2f}")
        if detection.payload_verified:
            how.append("payload passed its CRC-16 + tool/version check")
        note = (f"found over {detection.frames} frame(s): {'; '.join(how)}; "
                f"false-alarm probability <= {detection.false_alarm_bound:.1e}")
        if payload is None:
            note += "; payload unreadable (too damaged to decode)"
        return CheckResult("found", detection.confidence,
                           payload.run_id_hex if payload else None, note, details), \
            detection.frames
    note = (f"not found over {detection.frames} frame(s) (best sync z = {detection.z:.2f}, "
            f"threshold {detection.threshold:.2f}; chroma sync z = {detection.chroma_z:.2f}, "
            f"threshold {detection.chroma_threshold:.2f}; payload check failed)")
    return CheckResult("not found", None, None, note, details), detection.frames


def check_metadata(path: Path) -> CheckResult:
    reading: TagReading = read_tag(path)
    details: dict[str, Any] = {"location": reading.location,
                               "fields": describe_fields(reading.fields)}
    if not reading.found:
        if not reading.supported:
            return CheckResult("unsupported", note=f"{path.suffix or 'this'} files carry no "
                               "openfsgan metadata tag", details=details)
        return CheckResult("not found", note="no synthetic-media tag in the file's metadata",
                           details=details)
    tag = reading.tag
    if tag is None:
        return CheckResult("found", note=f"generic AI-generated declaration in {reading.location}"
                           " (not openfsgan's tag)", details=details)
    details["tag"] = asdict(tag)
    details["configuration"] = describe_configuration(tag.configuration)
    watermark = "embedded" if tag.watermark else "NOT embedded (--no-watermark)"
    if tag.watermark and tag.watermark_profile:
        watermark += f" ({tag.watermark_profile} profile)"
    return CheckResult("found", None, tag.run_id,
                       f"{reading.location}: {tag.tool} {tag.tool_version} {tag.operation}, run "
                       f"{tag.run_id}, watermark {watermark} (metadata is easy to forge or strip)",
                       details)


def describe_configuration(configuration: dict[str, Any] | None) -> str | None:
    """One line for people: the method preset and each stage's implementation of a tag's
    configuration (None when the tag records none)."""
    if not isinstance(configuration, dict):
        return None
    stages = ("reenactment", "segmentation", "inpainting", "blending")
    chosen = ", ".join(f"{stage} {configuration.get(stage, '?')}" for stage in stages)
    return f"method {configuration.get('method', '?')}: {chosen}"


def check_manifest(path: Path) -> CheckResult:
    reading: ManifestReading = read_manifest(path)
    details: dict[str, Any] = {
        "validation_state": reading.validation_state, "trusted": reading.trusted,
        "failures": list(reading.failures), "ai_generated": reading.ai_generated,
        "signer": reading.signer, "location": reading.location,
        "tag": asdict(reading.tag) if reading.tag else None,
        "configuration": describe_configuration(reading.tag.configuration
                                                if reading.tag else None),
    }
    run_id = reading.tag.run_id if reading.tag else None
    if reading.status == "not found":
        return CheckResult("not found", note="no C2PA manifest (embedded or .c2pa sidecar)",
                           details=details)
    if reading.status == "tampered":
        return CheckResult("tampered", None, run_id,
                           f"C2PA manifest present but invalid: {reading.detail}", details)
    signer = reading.signer.get("common_name") or reading.signer.get("issuer") or "unknown"
    trust = "trusted signer" if reading.trusted else (
        "signer not in the trust list (normal for a local openfsgan key)")
    declared = ("declares AI-generated (trainedAlgorithmicMedia)" if reading.ai_generated
                else "does not declare AI generation")
    return CheckResult("found", None, run_id,
                       f"valid C2PA manifest ({reading.location}), {declared}; signed by "
                       f"{signer}, {trust}", details)


def _agreement(*checks: CheckResult) -> tuple[str, ...]:
    ids = {check.run_id for check in checks if check.run_id}
    return (f"run ids differ between labels: {', '.join(sorted(ids))} (re-labelled or mixed "
            "content?)",) if len(ids) > 1 else ()


def verify(path: str | Path, max_frames: int = DEFAULT_MAX_FRAMES) -> ProvenanceReport:
    """Run the three checks on ``path``.

    Raises:
        InputNotFoundError, InvalidInputError, PermissionDeniedError, InputTooLargeError: the
            file is missing, empty, unreadable, too large, or not an image or video.
    """
    from openfsgan.io.media import probe

    p = check_input_file(path)
    info = probe(p)
    watermark, frames = check_watermark(p, info.is_video, max_frames)
    metadata = check_metadata(p)
    manifest = check_manifest(p)
    notes = list(_agreement(watermark, metadata, manifest))
    declared_off = any((check.details.get("tag") or {}).get("watermark") is False
                       for check in (metadata, manifest))
    if declared_off and watermark.status != "found":
        notes.append("the labels say the watermark was turned off for this run (--no-watermark)")
    media = {"kind": "video" if info.is_video else "image", "width": info.width,
             "height": info.height, "frames_analysed": frames}
    return ProvenanceReport(str(p), media, watermark, metadata, manifest, tuple(notes))
