"""The SQLite job queue without HTTP: recovery after a hard stop, ETA, summaries."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from openfsgan.errors import InputNotFoundError
from openfsgan.web.queue import JobQueue, estimate_eta_s, summary_to_dict
from openfsgan.web.schemas import JobSpec, JobStatus


def spec_in(folder: Path, source: Path, target: Path) -> JobSpec:
    return JobSpec(source=str(source), target=str(target), output=str(folder / "out.png"))


def test_a_job_left_running_by_a_killed_server_is_resumed(web, tmp_path, source_png, target_png):
    database = tmp_path / "jobs.sqlite3"
    queue = JobQueue(database, runner=web.FakeRunner())
    queue.submit("a" * 32, spec_in(tmp_path, source_png, target_png), {})
    queue._db.close()
    with sqlite3.connect(database) as db:  # what a SIGKILL mid-job leaves behind
        db.execute("UPDATE jobs SET status = 'running', done = 5, total = 9")

    runner = web.FakeRunner()
    queue = JobQueue(database, runner=runner)
    assert queue.recovered == ["a" * 32]
    record = queue.get("a" * 32)
    assert record.status is JobStatus.QUEUED and record.spec.resume and record.resumes == 1
    queue.start()
    assert queue.wait_idle(10)
    queue.close()
    assert runner.calls[0].resume is True
    assert JobQueue(database).get("a" * 32).status is JobStatus.DONE


def test_queue_state_survives_reopening(web, tmp_path, source_png, target_png):
    database = tmp_path / "jobs.sqlite3"
    queue = JobQueue(database, runner=web.FakeRunner())
    queue.submit("b" * 32, spec_in(tmp_path, source_png, target_png), {"source_name": "s.png"})
    queue.cancel("b" * 32)
    queue.close()
    reopened = JobQueue(database)
    record = reopened.get("b" * 32)
    assert record.status is JobStatus.CANCELLED and record.display == {"source_name": "s.png"}
    assert record.finished_at is not None
    with pytest.raises(InputNotFoundError):
        reopened.get("c" * 32)


def test_progress_of_the_running_job_is_live_and_has_an_eta(web, tmp_path, source_png, target_png):
    gate = threading.Event()
    queue = JobQueue(tmp_path / "q.sqlite3", runner=web.FakeRunner(steps=4, gate=gate))
    queue.submit("d" * 32, spec_in(tmp_path, source_png, target_png), {})
    queue.start()
    try:
        for _ in range(500):
            record = queue.get("d" * 32)
            if record.status is JobStatus.RUNNING and record.total:
                break
            threading.Event().wait(0.01)
        assert (record.done, record.total) == (1, 4)
        assert record.eta_s is None  # the first report sets the baseline; no rate yet
    finally:
        gate.set()
        assert queue.wait_idle(10)
        queue.close()


def test_eta_uses_only_the_work_done_in_this_run():
    assert estimate_eta_s(10.0, done=20, total=100, done_at_start=0) == pytest.approx(40.0)
    # resumed at 50: 10 frames in 5 s since the restart, 40 left -> 20 s
    assert estimate_eta_s(5.0, done=60, total=100, done_at_start=50) == pytest.approx(20.0)
    assert estimate_eta_s(5.0, done=50, total=100, done_at_start=50) is None
    assert estimate_eta_s(0.0, done=1, total=2, done_at_start=0) is None
    assert estimate_eta_s(3.0, done=2, total=0, done_at_start=0) is None
    assert estimate_eta_s(3.0, done=4, total=4, done_at_start=0) == 0.0


def test_summaries_become_json_data():
    @dataclass(frozen=True)
    class Summary:
        frames: int
        output: Path

    assert summary_to_dict(Summary(3, Path("/x/y.mp4"))) == {"frames": 3, "output": "/x/y.mp4"}
    assert summary_to_dict({"a": 1}) == {"a": 1}
    assert summary_to_dict(None) is None
    assert summary_to_dict(7) == {"value": 7}
