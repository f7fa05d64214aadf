"""The metadata tag: written into PNG, JPEG and MP4 without touching the pixels; read back."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from openfsgan.provenance.metadata import (
    DIGITAL_SOURCE_TYPE,
    ProvenanceTag,
    read_tag,
    tag_jpeg_bytes,
    tag_png_bytes,
    write_tag,
    xmp_packet,
)

TAG = ProvenanceTag(run_id="0badcafe", watermark=False, operation="reenact", method="classic",
                    label='AI-generated "demo" <b> & more')


@pytest.fixture()
def image(astronaut_rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(astronaut_rgb[:96, :128])


def test_tag_json_round_trip_and_sentence() -> None:
    assert ProvenanceTag.from_json(TAG.to_json()) == TAG
    assert "NOT embedded" in TAG.sentence and "reenactment" in TAG.sentence
    assert TAG.created.endswith("+00:00")
    with pytest.raises(ValueError):
        ProvenanceTag.from_json('{"tool": "other"}')


def test_xmp_declares_trained_algorithmic_media() -> None:
    import xml.dom.minidom

    packet = xmp_packet(TAG)
    document = xml.dom.minidom.parseString(packet.split("?>", 1)[1].rsplit("<?xpacket", 1)[0])
    description = document.getElementsByTagName("rdf:Description")[0]
    assert description.getAttribute("Iptc4xmpExt:DigitalSourceType") == DIGITAL_SOURCE_TYPE
    assert ProvenanceTag.from_json(description.getAttribute("openfsgan:Tag")) == TAG


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_image_tag_keeps_pixels_and_reads_back(tmp_path: Path, image: np.ndarray,
                                               ext: str) -> None:
    path = tmp_path / f"out{ext}"
    cv2.imwrite(str(path), image[:, :, ::-1])
    before = cv2.imread(str(path))
    assert not read_tag(path).found
    assert write_tag(path, TAG)
    after = cv2.imread(str(path))
    assert np.array_equal(before, after)  # segments/chunks added, pixels untouched
    reading = read_tag(path)
    assert reading.found and reading.tag == TAG
    assert reading.location == ("png-text" if ext == ".png" else "jpeg-com")
    assert "trainedAlgorithmicMedia" in reading.fields["xmp"]


def test_png_chunks_are_valid(image: np.ndarray) -> None:
    from PIL import Image

    ok, encoded = cv2.imencode(".png", image)
    assert ok
    tagged = tag_png_bytes(encoded.tobytes(), TAG)
    import io

    with Image.open(io.BytesIO(tagged)) as png:
        png.load()  # verifies every chunk's CRC
        assert png.text["openfsgan"] == TAG.to_json()
        assert "AI-generated" in png.text["Comment"]
    with pytest.raises(ValueError):
        tag_png_bytes(b"not a png", TAG)


def test_jpeg_keeps_jfif_first(image: np.ndarray) -> None:
    ok, encoded = cv2.imencode(".jpg", image)
    assert ok and encoded.tobytes()[2:4] == b"\xff\xe0"
    tagged = tag_jpeg_bytes(encoded.tobytes(), TAG)
    assert tagged[2:4] == b"\xff\xe0"
    jfif_end = 4 + int.from_bytes(tagged[4:6], "big")
    assert tagged[jfif_end:jfif_end + 2] == b"\xff\xe1"
    with pytest.raises(ValueError):
        tag_jpeg_bytes(b"GIF89a", TAG)


def test_mp4_tag_by_remux_keeps_frames(tmp_path: Path, image: np.ndarray) -> None:
    import av

    from openfsgan.io.media import VideoWriter

    path = tmp_path / "clip.mp4"
    with VideoWriter(path, 10, 128, 96) as writer:
        for i in range(6):
            writer.write(np.roll(image, 4 * i, axis=1))
    with av.open(str(path)) as container:
        before = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert write_tag(path, TAG)
    with av.open(str(path)) as container:
        after = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        assert container.metadata["synthetic"] == "true"
        assert "AI-generated" in container.metadata["comment"]
    assert len(after) == len(before) == 6
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    reading = read_tag(path)
    assert reading.found and reading.tag == TAG and reading.location == "mp4-metadata"


def test_unsupported_and_unreadable_files(tmp_path: Path, image: np.ndarray) -> None:
    bmp = tmp_path / "out.bmp"
    cv2.imwrite(str(bmp), image)
    assert not write_tag(bmp, TAG)
    assert not read_tag(bmp).found and not read_tag(bmp).supported
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG garbage")
    assert not read_tag(junk).found
