"""Speed and memory figures: frames per second per stage and end to end, peak resident memory.

Times are wall-clock (``time.perf_counter``). Per-stage figures are medians of per-call times,
because other processes on a shared machine add long outliers; fps = 1000 / median ms.
"""

from __future__ import annotations

import contextlib
import resource
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np


def throughput_fps(frames: int, seconds: float) -> float:
    """Frames per second; NaN for a zero or negative duration."""
    return float(frames) / seconds if seconds > 0 else float("nan")


def summarize_durations(seconds: list[float] | np.ndarray) -> dict[str, float]:
    """``{calls, total_s, median_ms, p90_ms, fps, fps_mean}`` of per-call durations.

    ``fps`` comes from the median call (robust to other processes' interference, right when
    every call does the same work); ``fps_mean`` = calls / total time (right when the work
    varies by design, e.g. detection every K frames and tracking in between).
    """
    values = np.asarray(seconds, dtype=np.float64)
    if values.size == 0:
        nan = float("nan")
        return {"calls": 0, "total_s": 0.0, "median_ms": nan, "p90_ms": nan, "fps": nan,
                "fps_mean": nan}
    median = float(np.median(values))
    return {
        "calls": int(values.size),
        "total_s": float(values.sum()),
        "median_ms": 1000.0 * median,
        "p90_ms": 1000.0 * float(np.percentile(values, 90)),
        "fps": 1.0 / median if median > 0 else float("nan"),
        "fps_mean": throughput_fps(int(values.size), float(values.sum())),
    }


@dataclass
class StageTimer:
    """Accumulates per-call durations by stage name::

        timer = StageTimer()
        with timer.stage("analysis"):
            analyzer.analyze_image(rgb)
        timer.summary()  # {"analysis": {"calls": 1, "median_ms": ..., "fps": ...}}
    """

    durations: dict[str, list[float]] = field(default_factory=dict)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.durations.setdefault(name, []).append(time.perf_counter() - start)

    def add(self, name: str, seconds: float) -> None:
        self.durations.setdefault(name, []).append(float(seconds))

    def summary(self) -> dict[str, dict[str, float]]:
        return {name: summarize_durations(values) for name, values in self.durations.items()}


def current_rss_mb() -> float:
    """Resident memory of this process now, MiB (Linux /proc; the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except (OSError, ValueError, IndexError):
        return peak_rss_mb()


def peak_rss_mb() -> float:
    """Peak resident memory of this process image so far, MiB.

    Linux: ``VmHWM`` of ``/proc/self/status``, which starts afresh at ``exec``. Not
    ``ru_maxrss``: Linux carries it across ``exec``, so a child started by ``fork + exec``
    from a big parent would report at least the parent's size. Elsewhere: ``ru_maxrss``.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except (OSError, ValueError, IndexError):
        pass
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return maxrss / 2**20 if sys.platform == "darwin" else maxrss / 2**10
