"""The reader and writer threads of a video job.

Decoding with face analysis and H.264 encoding release the GIL for most of their time, so
running them beside the swap keeps the CPU cores busy; the thread plumbing (bounded queues,
error hand-over, clean shutdown of generators) lives here, apart from the job logic.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from openfsgan.jobs.request import OutputLabeler

_END = object()


def close_iterator(iterator: Any) -> None:
    """Close a generator (its ``finally`` blocks release decoders) when it has ``close``."""
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


class Prefetch:
    """Runs an iterator in a background thread, ``depth`` items ahead (decoding and face
    analysis release the GIL for most of their time, so they overlap with the swap).

    Exceptions of the iterator are re-raised by ``next``; ``close`` stops the thread, which
    then closes the iterator (a generator must be closed by the thread running it).
    """

    def __init__(self, iterator: Iterator[Any], depth: int) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(iterator,), daemon=True,
                                        name="openfsgan-reader")
        self._thread.start()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, iterator: Iterator[Any]) -> None:
        try:
            for item in iterator:
                if not self._put(item):
                    break
        except BaseException as error:  # handed to the consumer thread
            self._error = error
        finally:
            close_iterator(iterator)
            self._put(_END)

    def __iter__(self) -> Prefetch:
        return self

    def __next__(self) -> Any:
        item = self._queue.get()
        if item is _END:
            self._queue.put(_END)  # later calls end too
            if self._error is not None:
                raise self._error
            raise StopIteration
        return item

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()


class BackgroundWriter:
    """Labels and encodes frames in a background thread (x264 releases the GIL), in order.

    ``write`` hands a frame over (blocking while ``depth`` frames wait); leaving the block
    waits until every frame is encoded and re-raises the writer's error, if any. On an
    exception in the block, frames still queued are dropped.
    """

    def __init__(self, writer: Any, labeler: OutputLabeler, depth: int) -> None:
        self._writer = writer
        self._labeler = labeler
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._abort = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="openfsgan-writer")

    def __enter__(self) -> BackgroundWriter:
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if self._error is not None or self._abort.is_set():
                continue
            rgb, index = item
            try:
                self._writer.write(self._labeler.label_frame(rgb, index))
            except BaseException as error:  # re-raised in the producing thread
                self._error = error

    def write(self, rgb: np.ndarray, index: int) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((rgb, index))

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self._abort.set()
        self._queue.put(_END)
        self._thread.join()
        if exc_type is None and self._error is not None:
            raise self._error
