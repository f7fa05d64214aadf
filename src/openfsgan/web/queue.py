"""A job queue persisted to SQLite, drained by one background worker thread.

Jobs run one at a time (the swap uses every core already) in the order they were submitted.
Every state change is written to the database, so a restarted server lists the jobs it ran
before, and a job that was running when the server stopped (Ctrl-C, kill, crash) is queued again
with ``resume=True`` and continues where it stopped. Progress is kept in memory and written to
the database at most once a second.

Cancelling a queued job is immediate; cancelling a running job sets its ``threading.Event``,
which the runner checks between frames (``openfsgan.jobs.run_swap`` then raises
``JobCancelled``).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

from openfsgan.errors import InputNotFoundError, OpenFSGANError
from openfsgan.web.schemas import JobRecord, JobSpec, JobStatus

log = logging.getLogger(__name__)

ProgressFn = Callable[[int, int], None]
Runner = Callable[[JobSpec, ProgressFn, threading.Event], Any]
SCHEMA_VERSION = 1
PROGRESS_WRITE_INTERVAL_S = 1.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    spec TEXT NOT NULL,
    display TEXT NOT NULL,
    done INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    started_at REAL,
    finished_at REAL,
    resumes INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    summary TEXT
)
"""


class JobBusyError(OpenFSGANError):
    """The job is running; it must be cancelled (and stop) before it can be deleted."""


def run_swap_job(spec: JobSpec, progress: ProgressFn, cancel: threading.Event) -> Any:
    """The default runner: :func:`openfsgan.jobs.run_swap` on the job's request."""
    from openfsgan.jobs import run_swap

    return run_swap(spec.to_swap_request(), progress=progress, cancel=cancel)


def estimate_eta_s(elapsed_s: float, done: int, total: int, done_at_start: int) -> float | None:
    """Seconds left at the rate seen since this run started (None until a unit has finished).

    ``done_at_start`` is the count already done when the run began (a resumed job), so the
    rate covers only the work this run did.
    """
    finished_here = done - done_at_start
    if total <= 0 or finished_here <= 0 or elapsed_s <= 0:
        return None
    return max(0.0, (total - done) * elapsed_s / finished_here)


def summary_to_dict(summary: Any) -> dict[str, Any] | None:
    """A runner's summary as JSON-ready data (dataclass, mapping, or None)."""
    if summary is None:
        return None
    data = asdict(summary) if is_dataclass(summary) and not isinstance(summary, type) else summary
    if not isinstance(data, dict):
        data = {"value": data}
    result: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return result


@dataclass
class _Live:
    """Progress of the running job, in memory."""

    done: int = 0
    total: int = 0
    started_monotonic: float = 0.0
    done_at_start: int | None = None
    last_write: float = 0.0


class JobQueue:
    """Submit, list, cancel and delete jobs; one worker thread runs them in order.

    Args:
        database: the SQLite file (created when missing).
        runner: ``runner(spec, progress, cancel)`` runs one job; it raises when it fails and
            raises (any exception) once ``cancel`` is set and it has stopped.
        on_delete: called with a job id after its row is deleted (removes the job's folder).
    """

    def __init__(self, database: str | Path, runner: Runner | None = None,
                 on_delete: Callable[[str], None] | None = None) -> None:
        self.database = Path(database)
        self.runner: Runner = runner or run_swap_job
        self.on_delete = on_delete
        self._lock = threading.RLock()
        self._wakeup = threading.Condition(self._lock)
        self._db = sqlite3.connect(str(self.database), check_same_thread=False,
                                   isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._running: tuple[str, threading.Event] | None = None
        self._user_cancelled: set[str] = set()
        self._live = _Live()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.recovered = self._recover_interrupted()

    # life cycle ----------------------------------------------------------------------------
    def _recover_interrupted(self) -> list[str]:
        """Jobs left "running" by a server that stopped: queue them again, resuming."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, spec FROM jobs WHERE status = ?", (JobStatus.RUNNING.value,)
            ).fetchall()
            for row in rows:
                spec = JobSpec.from_json(row["spec"]).resumed()
                self._db.execute(
                    "UPDATE jobs SET status = ?, spec = ?, resumes = resumes + 1 WHERE id = ?",
                    (JobStatus.QUEUED.value, spec.to_json(), row["id"]))
                log.info("job %s was interrupted; queued again to resume", row["id"])
        return [row["id"] for row in rows]

    def start(self) -> None:
        """Start the worker thread (idempotent)."""
        with self._lock:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._work, name="openfsgan-web-worker",
                                            daemon=True)
            self._thread.start()

    def close(self, timeout_s: float = 30.0) -> None:
        """Stop the worker: a running job is asked to stop and is resumed at the next start."""
        with self._lock:
            self._stopping = True
            if self._running is not None:
                self._running[1].set()
            self._wakeup.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                log.warning("the running job did not stop within %.0f s; it will be resumed "
                            "at the next start", timeout_s)
                return  # the worker still uses the connection; the process exit closes it
        with self._lock:
            self._thread = None
            self._db.close()

    # public API ----------------------------------------------------------------------------
    def submit(self, job_id: str, spec: JobSpec, display: dict[str, Any]) -> JobRecord:
        with self._lock:
            self._db.execute(
                "INSERT INTO jobs (id, status, created_at, spec, display) VALUES (?, ?, ?, ?, ?)",
                (job_id, JobStatus.QUEUED.value, time.time(), spec.to_json(),
                 json.dumps(display)))
            self._wakeup.notify_all()
            return self.get(job_id)

    def get(self, job_id: str) -> JobRecord:
        with self._lock:
            row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise InputNotFoundError(f"no such job: {job_id}")
            return self._record(row)

    def list(self) -> list[JobRecord]:
        """Every job, newest first."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM jobs ORDER BY seq DESC").fetchall()
            return [self._record(row) for row in rows]

    def cancel(self, job_id: str) -> JobRecord:
        """Cancel a queued job now, or ask a running one to stop; finished jobs are unchanged."""
        with self._lock:
            record = self.get(job_id)
            if record.status is JobStatus.QUEUED:
                self._db.execute(
                    "UPDATE jobs SET status = ?, finished_at = ? WHERE id = ?",
                    (JobStatus.CANCELLED.value, time.time(), job_id))
            elif self._running is not None and self._running[0] == job_id:
                self._user_cancelled.add(job_id)
                self._running[1].set()
            return self.get(job_id)

    def delete(self, job_id: str) -> None:
        """Forget a job that is not running and remove its files."""
        with self._lock:
            record = self.get(job_id)
            if record.status is JobStatus.RUNNING:
                raise JobBusyError(f"job {job_id} is running; cancel it first")
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        if self.on_delete is not None:
            self.on_delete(job_id)

    def wait_idle(self, timeout_s: float) -> bool:
        """Block until no job is queued or running (for tests and scripts)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                busy = self._db.execute(
                    "SELECT COUNT(*) FROM jobs WHERE status IN (?, ?)",
                    (JobStatus.QUEUED.value, JobStatus.RUNNING.value)).fetchone()[0]
            if not busy:
                return True
            time.sleep(0.05)
        return False

    # worker --------------------------------------------------------------------------------
    def _record(self, row: sqlite3.Row) -> JobRecord:
        status = JobStatus(row["status"])
        done, total, eta = int(row["done"]), int(row["total"]), None
        running_here = self._running is not None and self._running[0] == row["id"]
        if running_here and status is JobStatus.RUNNING:
            live = self._live
            done, total = live.done, live.total
            eta = estimate_eta_s(time.monotonic() - live.started_monotonic, done, total,
                                 live.done_at_start if live.done_at_start is not None else done)
        return JobRecord(
            id=row["id"], status=status, created_at=row["created_at"],
            spec=JobSpec.from_json(row["spec"]), display=json.loads(row["display"]),
            done=done, total=total, started_at=row["started_at"],
            finished_at=row["finished_at"], eta_s=eta, resumes=int(row["resumes"]),
            cancel_requested=row["id"] in self._user_cancelled and status is JobStatus.RUNNING,
            error=row["error"], summary=json.loads(row["summary"]) if row["summary"] else None)

    def _next_job(self) -> tuple[str, JobSpec] | None:
        row = self._db.execute(
            "SELECT id, spec FROM jobs WHERE status = ? ORDER BY seq LIMIT 1",
            (JobStatus.QUEUED.value,)).fetchone()
        return None if row is None else (row["id"], JobSpec.from_json(row["spec"]))

    def _work(self) -> None:
        while True:
            with self._lock:
                picked = None if self._stopping else self._next_job()
                while picked is None and not self._stopping:
                    self._wakeup.wait(timeout=5.0)
                    picked = None if self._stopping else self._next_job()
                if picked is None:
                    return
                job_id, spec = picked
                cancel = threading.Event()
                self._running = (job_id, cancel)
                self._live = _Live(started_monotonic=time.monotonic())
                self._db.execute(
                    "UPDATE jobs SET status = ?, started_at = COALESCE(started_at, ?), "
                    "error = NULL WHERE id = ?",
                    (JobStatus.RUNNING.value, time.time(), job_id))
            self._run_one(job_id, spec, cancel)

    def _progress(self, job_id: str) -> ProgressFn:
        def report(done: int, total: int) -> None:
            with self._lock:
                live = self._live
                if live.done_at_start is None:
                    # the first report of a resumed run says how much was already done
                    live.done_at_start = int(done)
                    live.started_monotonic = time.monotonic()
                live.done, live.total = int(done), int(total)
                now = time.monotonic()
                if now - live.last_write >= PROGRESS_WRITE_INTERVAL_S or done >= total:
                    live.last_write = now
                    self._db.execute("UPDATE jobs SET done = ?, total = ? WHERE id = ?",
                                     (live.done, live.total, job_id))
        return report

    def _run_one(self, job_id: str, spec: JobSpec, cancel: threading.Event) -> None:
        status, error, summary = JobStatus.DONE, None, None
        log.info("job %s started (%s, %s)", job_id, spec.method, spec.mode)
        try:
            summary = summary_to_dict(self.runner(spec, self._progress(job_id), cancel))
        except Exception as failure:
            if cancel.is_set():
                status = JobStatus.CANCELLED
            elif isinstance(failure, OpenFSGANError):
                status, error = JobStatus.FAILED, str(failure)
            else:
                log.exception("job %s failed", job_id)
                status, error = JobStatus.FAILED, f"internal error: {type(failure).__name__}: " \
                    f"{failure}"
        with self._lock:
            live = self._live
            self._running = None
            user_cancelled = job_id in self._user_cancelled
            self._user_cancelled.discard(job_id)
            if status is JobStatus.CANCELLED and not user_cancelled and self._stopping:
                # the server is shutting down: leave the job to be resumed at the next start
                self._db.execute(
                    "UPDATE jobs SET status = ?, spec = ?, done = ?, total = ?, "
                    "resumes = resumes + 1 WHERE id = ?",
                    (JobStatus.QUEUED.value, spec.resumed().to_json(), live.done, live.total,
                     job_id))
                log.info("job %s interrupted by shutdown; it resumes at the next start", job_id)
                return
            self._db.execute(
                "UPDATE jobs SET status = ?, finished_at = ?, done = ?, total = ?, error = ?, "
                "summary = ? WHERE id = ?",
                (status.value, time.time(), live.done, live.total, error,
                 json.dumps(summary) if summary is not None else None, job_id))
        log.info("job %s %s%s", job_id, status.value, f": {error}" if error else "")
