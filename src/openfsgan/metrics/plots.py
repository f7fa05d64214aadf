"""Figures of an evaluation report: per-pair bars and per-frame curves (matplotlib, optional).

matplotlib comes with the ``eval`` extra (``pip install 'openfsgan[eval]'``); it is imported
here only, so that evaluation without plots needs nothing beyond the core dependencies.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from openfsgan.io.atomic import atomic_output
from openfsgan.metrics.report import metric_spec

BAR_METRICS = ("id_gain", "id_retrieval_distractors", "pose_error_deg", "expression_error_pct",
               "expression_invariant_pct", "jitter_excess_pct", "seam")
CURVE_METRICS = ("id_gain", "pose_error_deg", "expression_invariant_pct", "seam")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


def _title(key: str) -> str:
    spec = metric_spec(key)
    unit = " (%)" if spec.percent else (f" ({spec.unit})" if spec.unit else "")
    return f"{spec.label}{unit} {spec.arrow}"


def _save(figure: Any, path: Path) -> Path:
    with atomic_output(path) as tmp:
        figure.savefig(tmp, dpi=110, format=path.suffix.lstrip(".") or "png")
    return path


def plot_pair_bars(pairs: Sequence[Mapping[str, Any]], path: str | os.PathLike[str]) -> Path:
    """One panel per metric; one group of bars per pair, one bar per method (``ok`` pairs)."""
    plt = _pyplot()
    ok = [p for p in pairs if p.get("status") == "ok"]
    pair_ids = list(dict.fromkeys(p["pair_id"] for p in ok))
    methods = list(dict.fromkeys(p["method"] for p in ok))
    figure, axes = plt.subplots(len(BAR_METRICS), 1, squeeze=False,
                                figsize=(max(6.0, 0.5 * len(pair_ids) * len(methods) + 2),
                                         2.2 * len(BAR_METRICS)))
    width = 0.8 / max(len(methods), 1)
    x = np.arange(len(pair_ids))
    for axis, key in zip(axes[:, 0], BAR_METRICS, strict=True):
        scale = 100.0 if metric_spec(key).percent else 1.0
        plotted: list[float] = []
        for m, method in enumerate(methods):
            values = []
            for pair_id in pair_ids:
                found = next((p for p in ok if p["pair_id"] == pair_id and p["method"] == method),
                             None)
                value = (found or {}).get("metrics", {}).get(key)
                values.append(np.nan if value is None else scale * value)
            axis.bar(x + (m - (len(methods) - 1) / 2) * width, values, width, label=method)
            plotted += [v for v in values if np.isfinite(v)]
        axis.set_title(_title(key), fontsize=9)
        if key.startswith("id_sim") and plotted:  # descriptor cosines sit near 1
            axis.set_ylim(max(0.0, min(plotted) - 0.05), 1.0)
        axis.set_xticks(x)
        axis.set_xticklabels(pair_ids if key == BAR_METRICS[-1] else [], rotation=60,
                             ha="right", fontsize=7)
        if key == "id_gain":
            axis.axhline(0.0, color="black", linewidth=0.8)  # below: nearer the target
        axis.grid(axis="y", alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    figure.tight_layout()
    try:
        return _save(figure, Path(path))
    finally:
        plt.close(figure)


def plot_frame_curves(pairs: Sequence[Mapping[str, Any]],
                      path: str | os.PathLike[str]) -> Path:
    """One panel per metric; one line per (pair, method) over the frame index."""
    plt = _pyplot()
    ok = [p for p in pairs if p.get("status") == "ok" and p.get("per_frame")]
    figure, axes = plt.subplots(len(CURVE_METRICS), 1, squeeze=False, sharex=True,
                                figsize=(8.0, 2.2 * len(CURVE_METRICS)))
    for axis, key in zip(axes[:, 0], CURVE_METRICS, strict=True):
        for result in ok:
            values = [np.nan if v is None else v for v in result["per_frame"].get(key, [])]
            if values:
                axis.plot(np.arange(len(values)), values, linewidth=1,
                          label=f"{result['pair_id']} ({result['method']})")
        axis.set_title(_title(key), fontsize=9)
        axis.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("frame")
    if ok and len(ok) <= 12:
        axes[0, 0].legend(fontsize=6, ncol=2)
    figure.tight_layout()
    try:
        return _save(figure, Path(path))
    finally:
        plt.close(figure)


def write_plots(report: Mapping[str, Any], stem: str | os.PathLike[str]) -> list[Path]:
    """``<stem>_pairs.png`` and ``<stem>_frames.png``; raises ImportError without matplotlib."""
    base = Path(stem)
    pairs = report.get("pairs", [])
    return [plot_pair_bars(pairs, base.with_name(base.name + "_pairs.png")),
            plot_frame_curves(pairs, base.with_name(base.name + "_frames.png"))]
