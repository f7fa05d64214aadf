"""Loss-weight schedules: pure functions of the global step (so a resumed run is exact)."""

from __future__ import annotations


def linear_ramp(step: int, ramp_steps: int, start: float = 0.0, end: float = 1.0) -> float:
    """``start`` at step 0, ``end`` from ``ramp_steps`` on, linear in between.

    FSGAN ramps λ_reenact of the segmentation stage this way (0 -> 1); ``ramp_steps = 0``
    gives ``end`` from the first step.
    """
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if ramp_steps <= 0 or step >= ramp_steps:
        return float(end)
    return float(start + (end - start) * step / ramp_steps)
