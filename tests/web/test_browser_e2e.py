"""End to end in a real browser: ``openfsgan serve`` in a subprocess, driven by headless Chromium.

Debian's Chromium (``apt-get install chromium``) is driven with Playwright for Python; no browser
is downloaded. Where either is missing the tests skip, saying why, and under ``CI=true`` they
fail instead (CI installs both: ``.ci/run``). They upload two files, pick
a face, run the real classic swap, download and check the result, verify it, watch a video job's
progress and ETA, cancel a job, and restart the server (with Ctrl-C and with SIGKILL) to see
the job list again and the interrupted job resume.

Set ``OPENFSGAN_WEB_SCREENSHOT=docs/screenshot.png`` to save the page as the docs show it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from optional_tools import skip_or_fail

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SERVER_START_TIMEOUT_S = 60.0
JOB_TIMEOUT_MS = 240_000
CLIP_FRAMES = 240  # long enough to be cancelled while it runs
RESUME_FRAMES = 120
SEGMENT_FRAMES = 60  # openfsgan.jobs.JobOptions.segment_frames: the unit a resume keeps

pytestmark = pytest.mark.slow

if not CHROMIUM.is_file():
    skip_or_fail(f"{CHROMIUM} is not installed (apt-get install chromium)")
if importlib.util.find_spec("playwright") is None:
    skip_or_fail("playwright for Python is not installed (pip install playwright)")

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

# the 2 cores are shared: a first upload loads dlib's models while other work runs
expect.set_options(timeout=60_000)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServerProcess:
    """``python -m openfsgan serve`` on a free loopback port, restartable on the same port."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        self.data_dir, self.log_path = data_dir, log_path
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "openfsgan", "serve", "--port", str(self.port),
                 "--data-dir", str(self.data_dir)],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"the server exited ({self.proc.returncode}):\n{self.log()}")
            with contextlib.suppress(OSError), urllib.request.urlopen(
                    self.url + "api/info", timeout=2) as response:
                if response.status == 200:
                    return
            time.sleep(0.1)
        pytest.fail(f"the server did not answer within {SERVER_START_TIMEOUT_S} s:\n{self.log()}")

    def stop(self, kill: bool = False) -> None:
        """Ctrl-C (a running job is left to resume), or SIGKILL (a crash)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGINT)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            pytest.fail(f"the server did not stop on Ctrl-C:\n{self.log()}")

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=10) as response:
            return json.loads(response.read())

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path / "web-data", tmp_path / "server.log")
    process.start()
    yield process
    process.stop()


@pytest.fixture()
def page(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1200, "height": 900},
                                  accept_downloads=True)
    opened = context.new_page()
    opened.set_default_timeout(60_000)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def upload_both(page: Page, source: Path, target: Path) -> None:
    page.set_input_files("#source-file", str(source))
    expect(page.locator("#source-picker .face")).to_have_count(1)
    page.set_input_files("#target-file", str(target))
    expect(page.locator("#target-picker .upload-status")).to_contain_text(target.name)


def job_card(page: Page, nth: int = 0) -> Any:
    """The nth job card from the top (the newest is first)."""
    return page.locator("#jobs .job").nth(nth)


def face_region_change(before: np.ndarray, after: np.ndarray, box: list[float]) -> float:
    x0, y0, x1, y1 = (round(v) for v in box)
    region = (slice(y0, y1), slice(x0, x1))
    return float(np.abs(after[region].astype(np.float32) - before[region]).mean())


def test_photo_swap_with_a_picked_face_download_and_verify(page, server, source_png,
                                                            two_faces_png, tmp_path):
    from openfsgan.io.media import read_image

    page.goto(server.url)
    expect(page.locator("#method option")).not_to_have_count(0)
    upload_both(page, source_png, two_faces_png)
    faces = page.locator("#target-picker .face")
    expect(faces).to_have_count(2)
    faces.nth(1).click()  # the right-hand face
    expect(faces.nth(1)).to_have_attribute("aria-checked", "true")
    expect(faces.nth(0)).to_have_attribute("aria-checked", "false")
    page.click("#start")

    card = job_card(page)
    expect(card.locator(".badge")).to_have_text("done", timeout=JOB_TIMEOUT_MS)
    expect(card.locator(".meta")).to_contain_text("target face #2")
    result_image = card.locator("img.result-media")
    expect(result_image).to_be_visible()
    expect(result_image).to_have_js_property("naturalWidth", 480)
    screenshot = os.environ.get("OPENFSGAN_WEB_SCREENSHOT")
    if screenshot:
        page.wait_for_timeout(3000)  # let the "Queued." note fade
        page.screenshot(path=screenshot, full_page=True)

    with page.expect_download() as download_info:
        card.locator("a.download").click()
    download = download_info.value
    assert download.suggested_filename == "two_faces-swap.png"
    saved = tmp_path / "downloaded.png"
    download.save_as(saved)
    result, target = read_image(saved), read_image(two_faces_png)
    assert result.shape == target.shape
    upload = server.get_json("/api/jobs")["jobs"][0]
    assert upload["status"] == "done"
    boxes = sorted((face["box"] for face in _target_faces(server)), key=lambda box: box[0])
    # the picked (right) face changed far more than the other one
    assert face_region_change(target, result, boxes[1]) > \
        3 * face_region_change(target, result, boxes[0]) + 2

    page.click("#tab-verify")
    page.set_input_files("#verify-file", str(saved))
    report = page.locator("#verify-report table.report")
    expect(report).to_be_visible()
    expect(report.locator("tr[data-key*='watermark'] .badge")).to_have_text("found")


def _target_faces(server: ServerProcess) -> list[dict[str, Any]]:
    """The faces of the most recent two-face upload, read back through the API."""
    uploads = sorted((server.data_dir / "uploads").iterdir(), key=lambda p: p.stat().st_mtime)
    for folder in reversed(uploads):
        meta = json.loads((folder / "meta.json").read_text())
        if len(meta["faces"]) == 2:
            return list(meta["faces"])
    raise AssertionError("no upload with two faces")


def test_video_progress_cancel_restart_and_resume(page, server, source_png, make_face_clip):
    from openfsgan.io.media import probe

    clip = make_face_clip("clip.mp4", CLIP_FRAMES)
    page.goto(server.url)
    upload_both(page, source_png, clip)
    expect(page.locator("#target-picker .upload-status")).to_contain_text(
        f"{CLIP_FRAMES} frames")

    # 1. a job we cancel while it runs, after seeing its progress and ETA
    page.click("#start")
    first = job_card(page)
    progress_text = first.locator(".progress-text")
    expect(progress_text).to_have_text(re.compile(rf"\d+ / {CLIP_FRAMES} \(\d+ %\)"),
                                       timeout=JOB_TIMEOUT_MS)
    expect(progress_text).to_contain_text("left", timeout=JOB_TIMEOUT_MS)
    expect(first.locator("progress")).not_to_have_js_property("value", 0)
    first.locator("button.cancel").click()
    expect(first.locator(".badge")).to_have_text("cancelled", timeout=JOB_TIMEOUT_MS)
    expect(first.locator("button.delete")).to_be_visible()

    # 2. a preview of the first RESUME_FRAMES frames, killed (SIGKILL) once its first segment
    # is written: the restarted server resumes it from there
    page.fill("#max-frames", str(RESUME_FRAMES))
    page.click("#start")
    second = job_card(page)
    expect(second.locator(".meta")).to_contain_text(f"first {RESUME_FRAMES} frames")
    job_id = second.get_attribute("data-job-id")
    deadline = time.monotonic() + JOB_TIMEOUT_MS / 1000
    while server.get_json(f"/api/jobs/{job_id}")["done"] <= SEGMENT_FRAMES + 1:
        assert time.monotonic() < deadline, "the job made no progress"
        time.sleep(0.05)
    server.stop(kill=True)
    server.start()
    page.reload()
    resumed = page.locator(f"#jobs .job[data-job-id='{job_id}']")
    expect(resumed.locator(".badge")).to_have_text("done", timeout=JOB_TIMEOUT_MS)
    expect(resumed.locator(".meta")).to_contain_text("resumed 1×")
    summary = server.get_json(f"/api/jobs/{job_id}")["summary"]
    assert summary["frames_resumed"] == SEGMENT_FRAMES  # not recomputed
    assert summary["frames_total"] == RESUME_FRAMES
    # the page's <video> plays the H.264 result: Chromium reads its size from the metadata
    expect(resumed.locator("video.result-media")).to_have_js_property("videoWidth", 240)
    info = probe(server.data_dir / "jobs" / job_id / "result.mp4")
    assert info.is_video and info.frame_count == RESUME_FRAMES

    # 3. a clean restart (Ctrl-C) lists both jobs as they were
    server.stop()
    server.start()
    page.reload()
    cards = page.locator("#jobs .job")
    expect(cards).to_have_count(2)
    expect(cards.nth(0).locator(".badge")).to_have_text("done")
    expect(cards.nth(1).locator(".badge")).to_have_text("cancelled")
    listed = server.get_json("/api/jobs")["jobs"]
    assert [job["status"] for job in listed] == ["done", "cancelled"]

    # 4. deleting a job removes its card and its folder
    cards.nth(1).locator("button.delete").click()
    expect(cards).to_have_count(1)
    assert [p.name for p in (server.data_dir / "jobs").iterdir()] == [job_id]


def test_a_bad_upload_shows_its_error_and_start_waits_for_both(page, server, source_png,
                                                                tmp_path):
    page.goto(server.url)
    text_file = tmp_path / "notes.png"
    text_file.write_text("not an image")
    page.set_input_files("#source-file", str(text_file))
    status = page.locator("#source-picker .upload-status")
    expect(status).to_have_class(re.compile("error"))
    expect(status).to_contain_text("not a readable image")
    page.set_input_files("#target-file", str(source_png))
    expect(page.locator("#target-picker .face")).to_have_count(1)
    expect(page.locator("#start")).to_be_disabled()  # no source yet



def test_a_file_without_provenance_in_the_verify_tab(page, server, source_png):
    page.goto(server.url)
    page.click("#tab-verify")
    expect(page.locator("#panel-swap")).to_be_hidden()
    page.set_input_files("#verify-file", str(source_png))
    report = page.locator("#verify-report table.report")
    expect(report).to_be_visible()
    expect(report.locator("tr[data-key*='watermark'] .badge")).not_to_have_text("found")
