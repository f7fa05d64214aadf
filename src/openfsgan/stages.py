"""The four trained stages of FSGAN's method, by name: the one list that the training command,
the configs, the shipped models and the benchmarks all use (kept free of imports, so that the
command line can read it without loading numpy or torch)."""

from __future__ import annotations

from typing import Literal, get_args

StageName = Literal["reenactment", "segmentation", "inpainting", "blending"]
"""G_r, G_s, G_c and G_b, in the order the swap runs them."""

STAGES: tuple[StageName, ...] = get_args(StageName)

STAGE_IMPLEMENTATIONS: dict[StageName, tuple[str, ...]] = {
    "reenactment": ("warp", "neural"),
    "segmentation": ("landmarks", "neural"),
    "inpainting": ("none", "neural"),
    "blending": ("poisson", "neural", "alpha"),
}
"""The implementations a swap may choose for each stage (``neural``: the trained generator;
the others classic geometry): :mod:`openfsgan.pipelines.config` builds them, the command line
offers them (``--reenactment warp`` ...)."""
