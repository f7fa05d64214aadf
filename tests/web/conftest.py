"""Media and app fixtures of the web UI tests: small images and clips cut from the astronaut."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optional_tools import require_module

require_module("fastapi", "the web UI needs the [web] extra (fastapi)")
require_module("multipart", "the web UI needs the [web] extra (python-multipart)")

from fastapi.testclient import TestClient  # noqa: E402

from openfsgan.web.app import WebSettings, create_app  # noqa: E402
from openfsgan.web.schemas import JobSpec  # noqa: E402
from openfsgan.web.uploads import AnalyzerFaceFinder  # noqa: E402

BASE_URL = "http://127.0.0.1:7860"


def face_crop(astronaut: np.ndarray) -> np.ndarray:
    """240x240 around the astronaut's face (dlib's HOG finds it at this size)."""
    return np.ascontiguousarray(astronaut[10:250, 110:350])


def write_png(path: Path, rgb: np.ndarray) -> Path:
    from openfsgan.io.media import write_image

    write_image(path, rgb)
    return path


@pytest.fixture()
def source_png(tmp_path: Path, astronaut_rgb: np.ndarray) -> Path:
    return write_png(tmp_path / "source.png", face_crop(astronaut_rgb))


@pytest.fixture()
def target_png(tmp_path: Path, astronaut_rgb: np.ndarray) -> Path:
    """The face mirrored, warmer and shifted: a different picture of the same size."""
    crop = face_crop(astronaut_rgb)[:, ::-1].astype(np.int16)
    crop[..., 0] += 25
    crop[..., 2] -= 25
    return write_png(tmp_path / "target.png", np.clip(crop, 0, 255).astype(np.uint8))


@pytest.fixture()
def two_faces_png(tmp_path: Path, astronaut_rgb: np.ndarray) -> Path:
    crop = face_crop(astronaut_rgb)
    return write_png(tmp_path / "two_faces.png", np.hstack([crop, crop[:, ::-1]]))


def write_face_clip(path: Path, astronaut: np.ndarray, frames: int) -> Path:
    """A clip of the face drifting a few pixels per frame, 240x240 at 12 fps."""
    from openfsgan.io.media import VideoWriter

    with VideoWriter(path, fps=12, width=240, height=240) as writer:
        for index in range(frames):
            shift = round(6 * np.sin(index / 3))
            writer.write(np.ascontiguousarray(astronaut[10 + shift:250 + shift, 110:350]))
    return path


@pytest.fixture()
def face_mp4(tmp_path: Path, astronaut_rgb: np.ndarray) -> Path:
    return write_face_clip(tmp_path / "clip.mp4", astronaut_rgb, frames=8)


@pytest.fixture()
def make_face_clip(tmp_path: Path, astronaut_rgb: np.ndarray) -> Callable[[str, int], Path]:
    """``make_face_clip(name, frames)`` -> a face clip of that many frames in tmp_path."""
    return lambda name, frames: write_face_clip(tmp_path / name, astronaut_rgb, frames)


class FakeRunner:
    """A runner that copies the target to the output in ``steps`` progress steps.

    It stands in for the swap where a test is about the queue itself (order, cancel, restart),
    so that it is deterministic: ``gate`` (when given) holds it after its first step until set.
    """

    def __init__(self, steps: int = 3, gate: threading.Event | None = None,
                 fail_with: Exception | None = None) -> None:
        self.steps, self.gate, self.fail_with = steps, gate, fail_with
        self.calls: list[JobSpec] = []
        self.running = 0
        self.max_running = 0
        self.started = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, spec: JobSpec, progress: Callable[[int, int], None],
                 cancel: threading.Event) -> dict[str, Any]:
        from openfsgan.io.media import read_image, write_image

        with self._lock:
            self.calls.append(spec)
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            self.started.set()
            for step in range(1, self.steps + 1):
                progress(step, self.steps)
                if step == 1 and self.gate is not None:
                    while not self.gate.wait(0.01):
                        if cancel.is_set():
                            break
                if cancel.is_set():
                    raise RuntimeError("cancelled")
                time.sleep(0.01)
            if self.fail_with is not None:
                raise self.fail_with
            write_image(spec.output, read_image(spec.target))
            return {"frames": self.steps, "output": spec.output}
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture(scope="session")
def face_finder() -> AnalyzerFaceFinder:
    """One face analyser for the session (its dlib models take a second to load)."""
    return AnalyzerFaceFinder()


class WebHarness:
    """Helpers of the API tests: started clients on one data folder, uploads, jobs."""

    FakeRunner = FakeRunner

    def __init__(self, data_dir: Path, face_finder: AnalyzerFaceFinder) -> None:
        self.data_dir = data_dir
        self.face_finder = face_finder
        self._clients: list[TestClient] = []

    def client(self, data_dir: Path | None = None, runner: Any = None, verifier: Any = None,
               **settings: Any) -> TestClient:
        """A started TestClient (its worker runs) on ``data_dir`` (default: the test's)."""
        settings.setdefault("methods", ("classic",))
        app = create_app(WebSettings(data_dir=data_dir or self.data_dir, **settings),
                         runner=runner, verifier=verifier, face_finder=self.face_finder)
        client = TestClient(app, base_url=BASE_URL)
        client.__enter__()
        self._clients.append(client)
        return client

    def stop(self, client: TestClient) -> None:
        """Shut a client's app down (its worker stops; a running job is left to resume)."""
        if client in self._clients:
            self._clients.remove(client)
            client.__exit__(None, None, None)

    def close(self) -> None:
        for client in reversed(list(self._clients)):
            self.stop(client)

    @staticmethod
    def upload(client: TestClient, path: Path, name: str | None = None,
               content: bytes | None = None) -> Any:
        data = path.read_bytes() if content is None else content
        return client.post("/api/uploads",
                           files={"file": (path.name if name is None else name, data)})

    def start_job(self, client: TestClient, source: Path, target: Path,
                  **options: Any) -> dict[str, Any]:
        source_id = self.upload(client, source).json()["id"]
        target_id = self.upload(client, target).json()["id"]
        response = client.post("/api/jobs", json={"source_upload": source_id,
                                                  "target_upload": target_id, **options})
        assert response.status_code == 201, response.text
        job: dict[str, Any] = response.json()
        return job

    @staticmethod
    def wait(client: TestClient, job_id: str, statuses: set[str],
             timeout_s: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            job: dict[str, Any] = client.get(f"/api/jobs/{job_id}").json()
            if job["status"] in statuses:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(f"job {job_id} stayed {job['status']} (wanted {statuses})")
            time.sleep(0.02)


@pytest.fixture()
def web(tmp_path: Path, face_finder: AnalyzerFaceFinder) -> Iterator[WebHarness]:
    harness = WebHarness(tmp_path / "data", face_finder)
    yield harness
    harness.close()
