"""Fixtures shared by the whole suite.

Tests that need the research-licensed face data in ``../shared/data/faces`` take the
``shared_faces`` fixture and are skipped, with the reason, where it is absent. Everything else
runs on images we synthesise or that a dependency ships (scikit-image's astronaut photo).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_FACES = Path(os.environ.get("OPENFSGAN_SHARED_FACES",
                                   REPO_ROOT.parent / "shared" / "data" / "faces"))


@pytest.fixture(scope="session", autouse=True)
def _private_user_folders(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the suite out of the user's cache, signing identity and web data folders.

    Set in ``os.environ`` so that CLI tests run in subprocesses inherit them too; tests that
    need a folder of their own still override these.
    """
    for variable, name in (("OPENFSGAN_CACHE_DIR", "cache"), ("OPENFSGAN_C2PA_DIR", "c2pa"),
                           ("OPENFSGAN_WEB_DIR", "web")):
        os.environ[variable] = str(tmp_path_factory.mktemp(name))


@pytest.fixture(scope="session")
def shared_faces() -> Path:
    """``../shared/data/faces``; skips the test when it is not beside the checkout."""
    if not SHARED_FACES.is_dir():
        pytest.skip(f"shared face data not found at {SHARED_FACES} (research data lives beside "
                    "the checkout, never in it)")
    return SHARED_FACES


@pytest.fixture
def one_torch_thread():
    """Torch on one thread for the test.

    Torch's intra-op threads fight over a small, busy CPU (a 40-step tiny training run took 7x
    longer with 2 threads than with 1 on the 2-core development machine). Folders of torch tests
    make it autouse in their own conftest.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A prepared dataset of 4 synthetic identities x 4 frames, crops of 64 and 32 px.

    2 identities for training, 2 for validation; no real face data needed.
    """
    from openfsgan.data.prepare import PrepareConfig, prepare_synthetic

    root = tmp_path_factory.mktemp("data") / "synthetic"
    prepare_synthetic(root, identities=4, frames_per_identity=4,
                      config=PrepareConfig(size=64, val_fraction=0.25))
    return root


@pytest.fixture(scope="session")
def astronaut_rgb() -> np.ndarray:
    """scikit-image's astronaut photo, 512x512 RGB uint8 (one real face)."""
    from skimage import data

    image = data.astronaut()
    image.flags.writeable = False
    return image


def write_png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width x height`` but whose pixel data is a few bytes.

    Lets tests exercise the size limit (e.g. a 20000x20000 image) without allocating it.
    """
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * 16)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture()
def huge_png(tmp_path: Path) -> Path:
    """A 20000x20000 PNG (header only) that every command must refuse cleanly."""
    return write_png_header_only(tmp_path / "huge.png", 20000, 20000)


@pytest.fixture()
def synthetic_video(tmp_path: Path) -> Path:
    """A 12-frame 64x48 H.264 clip of moving colour bars with a sine-tone audio track."""
    import av

    path = tmp_path / "synthetic.mp4"
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=12)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        audio = container.add_stream("aac", rate=16000)
        audio.layout = "mono"
        for index in range(12):
            rgb = np.zeros((48, 64, 3), np.uint8)
            rgb[:, (index * 4) % 64:, 0] = 200
            rgb[:, :, 1] = index * 20
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            for packet in video.encode(frame):
                container.mux(packet)
        samples = (0.3 * np.sin(np.arange(16000) * 2 * np.pi * 440 / 16000)).astype(np.float32)
        for start in range(0, 16000, 1024):
            chunk_samples = samples[start:start + 1024]
            if chunk_samples.size < 1024:
                chunk_samples = np.pad(chunk_samples, (0, 1024 - chunk_samples.size))
            frame = av.AudioFrame.from_ndarray(chunk_samples[None, :], format="flt", layout="mono")
            frame.sample_rate = 16000
            frame.pts = start
            for packet in audio.encode(frame):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)
    return path


@pytest.fixture(scope="session")
def two_people_photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """PNGs of the two different people of :mod:`people`: ``astronaut`` and ``hopper``."""
    from openfsgan.io.media import write_image
    from people import PEOPLE, photo

    folder = tmp_path_factory.mktemp("people")
    return {person: write_image(folder / f"{person}.png", photo(person)) for person in PEOPLE}
