"""The local runner: a pool of worker processes, each loading the face models once.

At most one item per worker is in flight, so when a worker process dies (killed, out of
memory, a crash in native code) the items in flight are exactly the ones to retry: the pool is
rebuilt and they go again, up to ``DatasetConfig.retries`` times, before they count as failed.
Workers die with the parent (Linux), so a killed run leaves no process writing behind it.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from openfsgan.dataset.items import DatasetConfig, Item, ItemRecord, is_complete
from openfsgan.dataset.layout import DatasetLayout

log = logging.getLogger(__name__)

# the worker of this process (set once by the pool's initializer, one per worker process)
_worker = None


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the parent dies (no orphan keeps writing)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


def _init_worker(root: str, config: DatasetConfig) -> None:
    global _worker
    from openfsgan.dataset.worker import DatasetWorker

    _die_with_parent()
    # Ctrl-C goes to the parent, which stops the pool; a worker must not die mid-write of its
    # own accord (its outputs are atomic anyway)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _configure_threads()
    _worker = DatasetWorker(root, config)
    _worker.warm_up()


def _configure_threads() -> None:
    """One worker per core: keep each worker's native libraries on one thread."""
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")


def _process(item: Item, attempt: int) -> dict:
    assert _worker is not None, "the pool's initializer did not run"
    return _worker.process(item, attempt)


def pending_items(items: list[Item], root: Path, config: DatasetConfig
                  ) -> tuple[list[Item], list[ItemRecord]]:
    """Split items into those to run and skip records for the complete ones."""
    layout = DatasetLayout(root)
    todo, skipped = [], []
    for item in items:
        if is_complete(item, layout, config):
            skipped.append(ItemRecord(item.key, "skipped", attempts=0))
        else:
            todo.append(item)
    return todo, skipped


def crashed_record(item: Item, attempts: int, what: str) -> ItemRecord:
    return ItemRecord(item.key, "failed", attempts=attempts,
                      reason=f"{what} crashed {attempts} time(s) on this item")


def run_on_pool(items: list[Item], root: Path, config: DatasetConfig, workers: int,
                on_record=None) -> list[ItemRecord]:
    """Run ``items`` on ``workers`` processes; returns one record per item."""
    todo, records = pending_items(items, root, config)
    planned = len(items)
    for record in records:
        if on_record is not None:
            on_record(record, len(records), planned)
    queue = [(item, 1) for item in todo]
    queue.reverse()  # pop() from the end keeps the planned order
    context = multiprocessing.get_context("spawn")
    while queue:
        executor = ProcessPoolExecutor(max_workers=max(1, workers), mp_context=context,
                                       initializer=_init_worker, initargs=(str(root), config))
        in_flight: dict[Future, tuple[Item, int]] = {}
        broken = False
        try:
            while queue or in_flight:
                while queue and len(in_flight) < max(1, workers) and not broken:
                    item, attempt = queue.pop()
                    in_flight[executor.submit(_process, item, attempt)] = (item, attempt)
                if not in_flight:
                    break
                finished, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    item, attempt = in_flight.pop(future)
                    try:
                        record = ItemRecord.from_dict(future.result())
                    except BrokenProcessPool:
                        broken = True
                        if attempt > config.retries:
                            record = crashed_record(item, attempt, "a worker")
                        else:
                            log.warning("a worker died during %s (attempt %d); retrying",
                                        item.key, attempt)
                            queue.append((item, attempt + 1))
                            continue
                    records.append(record)
                    if on_record is not None:
                        on_record(record, len(records), planned)
                if broken:
                    # every future of a broken pool fails: requeue the rest of the in-flight
                    for future, (item, attempt) in list(in_flight.items()):
                        in_flight.pop(future)
                        if attempt > config.retries:
                            records.append(crashed_record(item, attempt, "a worker"))
                            if on_record is not None:
                                on_record(records[-1], len(records), planned)
                        else:
                            queue.append((item, attempt + 1))
                    break
        except BaseException:
            # Ctrl-C or a kill of the parent: stop now, finished items stay on disk
            for process in multiprocessing.active_children():
                process.kill()
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        executor.shutdown(wait=not broken, cancel_futures=True)
    return records
