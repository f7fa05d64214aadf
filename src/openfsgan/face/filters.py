"""Temporal smoothing: the 1-euro filter (Casiez, Roussel, Vogel, CHI 2012).

A first-order low-pass whose cutoff rises with the signal's speed: still faces get a low cutoff
(jitter removed), fast head turns a high one (little lag). Applied per track to the landmarks
(speed measured per landmark, in inter-ocular distances per second, so that one setting suits
faces of any size) and to the Euler angles (degrees per second).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from openfsgan.errors import ConfigError


@dataclass(frozen=True)
class OneEuroConfig:
    """1-euro filter settings.

    Attributes:
        min_cutoff_hz: cutoff when the signal is still (lower: smoother, more lag when slow).
        beta: cutoff increase per unit of speed (higher: less lag on fast motion).
        derivative_cutoff_hz: cutoff of the low-pass on the speed estimate itself.
    """

    min_cutoff_hz: float = 1.0
    beta: float = 0.5
    derivative_cutoff_hz: float = 1.0

    def __post_init__(self) -> None:
        if self.min_cutoff_hz <= 0 or self.derivative_cutoff_hz <= 0 or self.beta < 0:
            raise ConfigError(f"invalid 1-euro filter settings: {self}")


def _alpha(dt_s: float, cutoff_hz: np.ndarray | float) -> np.ndarray:
    tau = 1.0 / (2.0 * math.pi * np.asarray(cutoff_hz, dtype=np.float64))
    return 1.0 / (1.0 + tau / dt_s)


class OneEuroFilter:
    """1-euro filter on arrays of any fixed shape.

    With ``vector_axis=-1`` the speed of each row (e.g. one landmark's ``(x, y)``) is its
    Euclidean norm, so both coordinates of a point share one cutoff.
    """

    def __init__(self, config: OneEuroConfig | None = None, vector_axis: int | None = None,
                 default_dt_s: float = 1.0 / 30.0) -> None:
        self.config = config or OneEuroConfig()
        self.vector_axis = vector_axis
        self.default_dt_s = default_dt_s
        self._value: np.ndarray | None = None
        self._speed: np.ndarray | None = None
        self._time_s = 0.0

    def reset(self) -> None:
        self._value = None
        self._speed = None

    def __call__(self, value: np.ndarray, time_s: float, unit: float = 1.0) -> np.ndarray:
        """Filtered ``value`` at ``time_s``; speeds are measured in ``unit``s per second."""
        x = np.asarray(value, dtype=np.float64)
        if self._value is None or self._speed is None:
            self._value, self._speed, self._time_s = x.copy(), np.zeros_like(x), time_s
            return x.copy()
        dt = time_s - self._time_s
        if not dt > 0:
            dt = self.default_dt_s
        cfg = self.config
        speed = (x - self._value) / dt
        a_d = _alpha(dt, cfg.derivative_cutoff_hz)
        self._speed = a_d * speed + (1.0 - a_d) * self._speed
        magnitude = np.abs(self._speed)
        if self.vector_axis is not None:
            magnitude = np.linalg.norm(self._speed, axis=self.vector_axis, keepdims=True)
        cutoff = cfg.min_cutoff_hz + cfg.beta * magnitude / max(unit, 1e-9)
        a = _alpha(dt, cutoff)
        self._value = a * x + (1.0 - a) * self._value
        self._time_s = time_s
        return self._value.copy()
