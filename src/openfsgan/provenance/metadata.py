"""A metadata tag in the file saying it is synthetic, and reading it back.

Where the tag goes (none of these re-encode the pixels):

* PNG: ``tEXt`` chunks ``Software``, ``Comment`` (a sentence), ``openfsgan`` (the tag as JSON)
  and an ``iTXt`` ``XML:com.adobe.xmp`` packet, inserted after ``IHDR``;
* JPEG: an ``APP1`` XMP segment and a ``COM`` segment (``openfsgan: {json}``), inserted after
  ``SOI``/``APP0``;
* MP4/MOV: container metadata ``comment``, ``description`` and custom keys ``openfsgan``
  (JSON) and ``synthetic``, written by a stream-copy remux with ``movflags=use_metadata_tags``.

The XMP packet carries IPTC's ``Iptc4xmpExt:DigitalSourceType`` =
``trainedAlgorithmicMedia``, the field that platforms read to show an "AI info" label.
Metadata is easy to strip; the watermark and the C2PA manifest are the robust parts.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import struct
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from openfsgan import TOOL_ID, __version__
from openfsgan.io.atomic import atomic_output, write_bytes_atomic

log = logging.getLogger(__name__)

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
TAG_KEY = "openfsgan"
XMP_NAMESPACE = "urn:openfsgan:xmp:1#"
PNG_EXTENSIONS = frozenset({".png"})
JPEG_EXTENSIONS = frozenset({".jpg", ".jpeg"})
MP4_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov"})
TAG_FORMAT_VERSION = 1


@dataclass(frozen=True)
class ProvenanceTag:
    """What the metadata tag and the C2PA manifest say about an output.

    Attributes:
        run_id: short random id of the run (8 hex digits; also in the watermark payload).
        watermark: whether the invisible watermark was embedded (``--no-watermark`` records
            False here, so its absence is declared, not hidden).
        watermark_profile: which layers the watermark has (``standard`` or ``robust``,
            :data:`openfsgan.provenance.watermark.WATERMARK_PROFILES`); None without one.
        operation: ``swap`` or ``reenact`` (or another producer's name).
        method: the method used (``classic``, ``neural``), when known.
        label: the visible caption burned into the frames, if any.
        created: UTC time of the run, ISO 8601.
        configuration: the run's resolved configuration (stage choices and every setting,
            :meth:`openfsgan.pipelines.config.SwapConfig.to_dict`), so a file says how it was
            made; None when unknown.
    """

    run_id: str
    watermark: bool = True
    watermark_profile: str | None = None
    operation: str = "swap"
    method: str | None = None
    label: str | None = None
    created: str = ""
    configuration: dict[str, Any] | None = None
    synthetic: bool = True
    tool: str = TOOL_ID
    tool_version: str = __version__
    format_version: int = TAG_FORMAT_VERSION
    digital_source_type: str = DIGITAL_SOURCE_TYPE

    def __post_init__(self) -> None:
        if not self.created:
            now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
            object.__setattr__(self, "created", now.isoformat())

    @property
    def sentence(self) -> str:
        """One human sentence for ``Comment``/``description`` fields."""
        what = "face reenactment" if self.operation == "reenact" else "face swap"
        return (f"AI-generated synthetic media ({what}) made with {self.tool} "
                f"{self.tool_version}; run {self.run_id}; invisible watermark "
                f"{'embedded' if self.watermark else 'NOT embedded (--no-watermark)'}.")

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=True,
                          separators=(",", ":"))

    @staticmethod
    def from_json(text: str) -> ProvenanceTag:
        data = json.loads(text)
        if not isinstance(data, dict) or "run_id" not in data:
            raise ValueError("not an openfsgan provenance tag")
        known = set(ProvenanceTag.__dataclass_fields__)
        return ProvenanceTag(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class TagReading:
    """What :func:`read_tag` found.

    Attributes:
        found: an openfsgan tag, or at least an IPTC "trained algorithmic media" declaration.
        tag: the parsed openfsgan tag (None when only a generic declaration was found).
        fields: the raw fields read (key -> text), for the report.
        location: where it was found (``png-text``, ``jpeg-com``, ``xmp``, ``mp4-metadata``).
        supported: whether this file type can carry the tag at all.
    """

    found: bool
    tag: ProvenanceTag | None
    fields: dict[str, str]
    location: str | None
    supported: bool = True


def xmp_packet(tag: ProvenanceTag) -> str:
    """An XMP packet declaring the file AI-generated (IPTC DigitalSourceType) and the tag."""
    attributes = {
        "Iptc4xmpExt:DigitalSourceType": tag.digital_source_type,
        "xmp:CreatorTool": f"{tag.tool} {tag.tool_version}",
        "openfsgan:RunId": tag.run_id,
        "openfsgan:Watermark": "True" if tag.watermark else "False",
        "openfsgan:Operation": tag.operation,
        "openfsgan:Tag": tag.to_json(),
    }
    rendered = "\n    ".join(f"{key}={quoteattr(value)}" for key, value in attributes.items())
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        '  <rdf:Description rdf:about=""\n'
        '    xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"\n'
        '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"\n'
        f'    xmlns:openfsgan="{XMP_NAMESPACE}"\n'
        f"    {rendered}>\n"
        "   <dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">"
        f"{escape(tag.sentence)}</rdf:li></rdf:Alt></dc:description>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )


# PNG -------------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _png_text(keyword: str, text: str) -> bytes:
    return _png_chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + text.encode("latin-1"))


def _png_itxt(keyword: str, text: str) -> bytes:
    # keyword, compression flag 0, method 0, empty language tag, empty translated keyword
    body = keyword.encode("latin-1") + b"\0\0\0\0\0" + text.encode("utf-8")
    return _png_chunk(b"iTXt", body)


def tag_png_bytes(data: bytes, tag: ProvenanceTag) -> bytes:
    """The PNG ``data`` with the tag's chunks inserted after ``IHDR``."""
    if not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    ihdr_end = 8 + 12 + struct.unpack(">I", data[8:12])[0]
    chunks = (_png_text("Software", f"{tag.tool} {tag.tool_version}")
              + _png_text("Comment", tag.sentence)
              + _png_text(TAG_KEY, tag.to_json())
              + _png_itxt("XML:com.adobe.xmp", xmp_packet(tag)))
    return data[:ihdr_end] + chunks + data[ihdr_end:]


# JPEG ------------------------------------------------------------------------------------

_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\0"


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    if len(payload) + 2 > 0xFFFF:
        raise ValueError("JPEG segment too long")
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def tag_jpeg_bytes(data: bytes, tag: ProvenanceTag) -> bytes:
    """The JPEG ``data`` with an XMP ``APP1`` and a ``COM`` segment after ``SOI``/``APP0``."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG file")
    insert_at = 2
    # keep a leading JFIF APP0 first, as its specification requires
    if data[2:4] == b"\xff\xe0":
        insert_at = 4 + struct.unpack(">H", data[4:6])[0]
    segments = (_jpeg_segment(0xE1, _XMP_HEADER + xmp_packet(tag).encode("utf-8"))
                + _jpeg_segment(0xFE, f"{TAG_KEY}: {tag.to_json()}".encode("ascii")))
    return data[:insert_at] + segments + data[insert_at:]


# MP4 -------------------------------------------------------------------------------------

def mp4_metadata(tag: ProvenanceTag) -> dict[str, str]:
    return {
        "comment": tag.sentence,
        "description": tag.sentence,
        "synthetic": "true",
        TAG_KEY: tag.to_json(),
    }


def tag_mp4(path: Path, tag: ProvenanceTag) -> None:
    """Rewrite ``path`` (stream copy, no re-encoding) with the tag in its metadata."""
    import av

    with atomic_output(path) as tmp, av.open(str(path)) as source, av.open(
            str(tmp), "w", format="mp4" if path.suffix.lower() != ".mov" else "mov",
            options={"movflags": "use_metadata_tags"}) as target:
        for key, value in source.metadata.items():
            if key not in {"major_brand", "minor_version", "compatible_brands", "encoder"}:
                target.metadata[key] = value
        target.metadata.update(mp4_metadata(tag))
        mapping = {}
        for stream in source.streams:
            if stream.type not in ("video", "audio", "subtitle"):
                continue
            mapping[stream.index] = target.add_stream_from_template(stream)
        for packet in source.demux(*[s for s in source.streams if s.index in mapping]):
            if packet.dts is None:
                continue
            packet.stream = mapping[packet.stream.index]
            target.mux(packet)


# write / read ----------------------------------------------------------------------------

def can_tag(path: Path) -> bool:
    return path.suffix.lower() in PNG_EXTENSIONS | JPEG_EXTENSIONS | MP4_EXTENSIONS


def write_tag(path: str | Path, tag: ProvenanceTag) -> bool:
    """Add the tag to the file at ``path`` in place (atomically). False if the format cannot
    carry it (a warning is logged; the C2PA manifest and watermark still label the file)."""
    p = Path(path)
    ext = p.suffix.lower()
    if ext in PNG_EXTENSIONS:
        write_bytes_atomic(p, tag_png_bytes(p.read_bytes(), tag))
    elif ext in JPEG_EXTENSIONS:
        write_bytes_atomic(p, tag_jpeg_bytes(p.read_bytes(), tag))
    elif ext in MP4_EXTENSIONS:
        tag_mp4(p, tag)
    else:
        log.warning("%s: no metadata tag for %s files (the watermark and C2PA manifest still "
                    "label it)", p, ext or "extension-less")
        return False
    return True


def _parse_tag(text: str) -> ProvenanceTag | None:
    with contextlib.suppress(ValueError, TypeError):
        return ProvenanceTag.from_json(text)
    return None


def _tag_from_xmp(xmp: str) -> tuple[ProvenanceTag | None, bool]:
    """(openfsgan tag from XMP, whether XMP declares trained algorithmic media)."""
    import re
    from html import unescape

    declared = "trainedAlgorithmicMedia" in xmp
    match = re.search(r'openfsgan:Tag=(["\'])(.*?)\1', xmp, flags=re.S)
    return (_parse_tag(unescape(match.group(2))) if match else None), declared


def _read_image_fields(path: Path) -> dict[str, str]:
    from PIL import Image

    with Image.open(path) as image:
        fields: dict[str, str] = {}
        for key, value in getattr(image, "text", {}).items():
            fields[f"png:{key}"] = str(value)
        info = image.info
        if "comment" in info:
            comment = info["comment"]
            fields["jpeg:COM"] = (comment.decode("latin-1") if isinstance(comment, bytes)
                                  else str(comment))
        if "xmp" in info:
            xmp = info["xmp"]
            fields["xmp"] = xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else xmp
        if "png:XML:com.adobe.xmp" in fields:
            fields["xmp"] = fields.pop("png:XML:com.adobe.xmp")
    return fields


def _read_mp4_fields(path: Path) -> dict[str, str]:
    import av

    with av.open(str(path)) as container:
        return {f"mp4:{key}": str(value) for key, value in container.metadata.items()}


def read_tag(path: str | Path) -> TagReading:
    """Look for the tag (or a generic IPTC AI declaration) in ``path``'s metadata."""
    p = Path(path)
    ext = p.suffix.lower()
    try:
        fields = _read_mp4_fields(p) if ext in MP4_EXTENSIONS else _read_image_fields(p)
    except Exception as error:  # unreadable metadata is "not found", not a crash
        log.debug("no metadata read from %s: %s", p, error)
        return TagReading(False, None, {}, None, supported=can_tag(p))
    candidates = [("png-text", fields.get(f"png:{TAG_KEY}")),
                  ("mp4-metadata", fields.get(f"mp4:{TAG_KEY}"))]
    com = fields.get("jpeg:COM", "")
    if com.startswith(f"{TAG_KEY}: "):
        candidates.append(("jpeg-com", com[len(TAG_KEY) + 2:]))
    for location, text in candidates:
        if text:
            tag = _parse_tag(text)
            if tag is not None:
                return TagReading(True, tag, fields, location)
    if "xmp" in fields:
        tag, declared = _tag_from_xmp(fields["xmp"])
        if tag is not None or declared:
            return TagReading(True, tag, fields, "xmp")
    if fields.get("mp4:synthetic") == "true":
        return TagReading(True, None, fields, "mp4-metadata")
    return TagReading(False, None, fields, None, supported=can_tag(p))


def describe_fields(fields: dict[str, Any], limit: int = 200) -> dict[str, str]:
    """Fields shortened for a report."""
    return {key: (str(value)[:limit] + ("..." if len(str(value)) > limit else ""))
            for key, value in fields.items()}
