"""The metric registry, aggregation per pair and overall, and the JSON / Markdown report.

Per-frame values are averaged per pair; the overall figure of a method is the mean of its
pairs' means (every pair weighs the same, however many frames it has), with the standard
deviation across pairs. Missing values (NaN / None: a frame without a face, a metric that does
not apply to the pair) are left out and counted.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openfsgan.io.atomic import write_text_atomic


@dataclass(frozen=True)
class MetricSpec:
    """How a metric is named, scaled and read."""

    key: str
    label: str
    unit: str
    higher_is_better: bool
    per_frame: bool = True
    self_reenactment_only: bool = False
    percent: bool = False  # stored as a fraction in [0, 1], shown x100
    reference: bool = False  # a baseline to read another metric against, not a score

    @property
    def arrow(self) -> str:
        if self.reference:
            return ""
        return "↑" if self.higher_is_better else "↓"


# One explicit registry; the order is the column order of the tables.
METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("id_sim_source", "ID sim. to source", "cos", True),
    MetricSpec("id_sim_target", "ID sim. to target", "cos", False),
    MetricSpec("id_gain", "ID gain", "cos", True),
    MetricSpec("id_gain_ceiling", "ID gain of the source's own frames", "cos", True,
               per_frame=False, reference=True),
    MetricSpec("id_gain_floor", "ID gain of the target's own frames", "cos", True,
               per_frame=False, reference=True),
    MetricSpec("id_retrieval", "ID retrieval top-1", "%", True, percent=True),
    MetricSpec("id_retrieval_distractors", "ID top-1 with distractors", "%", True,
               percent=True),
    MetricSpec("pose_error_deg", "pose error", "deg", False),
    MetricSpec("pose_change_error_deg", "pose change error", "deg", False),
    MetricSpec("expression_error_pct", "expression error", "% IOD", False),
    MetricSpec("expression_invariant_pct", "expression error, identity-invariant", "% IOD",
               False),
    MetricSpec("ssim", "SSIM (self)", "", True, self_reenactment_only=True),
    MetricSpec("l1", "L1 (self)", "", False, self_reenactment_only=True),
    MetricSpec("psnr", "PSNR (self)", "dB", True, self_reenactment_only=True),
    MetricSpec("keypoint_error_pct", "keypoint distance (self)", "% IOD", False,
               self_reenactment_only=True),
    MetricSpec("jitter_excess_pct", "jitter", "% IOD/frame", False, per_frame=False),
    MetricSpec("seam", "seam", "ratio", False),
    MetricSpec("seam_target", "seam of input frame", "ratio", False, reference=True),
    MetricSpec("swap_fps", "job fps", "fps", True, per_frame=False),
)
METRIC_KEYS = tuple(spec.key for spec in METRICS)


def metric_spec(key: str) -> MetricSpec:
    """The spec of ``key``; raises KeyError listing the valid keys."""
    for spec in METRICS:
        if spec.key == key:
            return spec
    raise KeyError(f"unknown metric {key!r}; valid: {', '.join(METRIC_KEYS)}")


def _finite(values: Iterable[Any]) -> np.ndarray:
    numbers = [float(v) for v in values if v is not None]
    array = np.asarray(numbers, dtype=np.float64)
    return array[np.isfinite(array)]


def aggregate(values: Iterable[Any]) -> dict[str, float | int | None]:
    """``{mean, std, median, n}`` over the finite values (None/NaN left out; all None when n=0)."""
    array = _finite(values)
    if array.size == 0:
        return {"mean": None, "std": None, "median": None, "n": 0}
    return {
        "mean": float(array.mean()),
        "std": float(array.std()),
        "median": float(np.median(array)),
        "n": int(array.size),
    }


PAIR_KINDS = ("cross", "self", "reenact-cross", "reenact-self")


def _summary_entry(results: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    entry: dict[str, Any] = {"pairs": len(results)}
    for key in METRIC_KEYS:
        entry[key] = aggregate(r["metrics"].get(key) for r in results)
    return entry


def summarize_methods(pair_results: Sequence[Mapping[str, Any]]
                      ) -> dict[str, dict[str, dict[str, Any]]]:
    """Overall figures per method and pair kind from the ``ok`` pair results.

    Identity swaps (``cross``), swaps onto the same person (``self``) and reenactments
    (``reenact-cross``, ``reenact-self``) answer different questions (ID transfer, fidelity to
    the real frame, identity kept under another's motion), so they are summarised apart, plus
    ``all``.
    Each pair result has ``method``, ``kind``, ``status`` and ``metrics`` (key -> pair mean or
    None). Returns ``{method: {kind: {"pairs": n_ok, metric_key: aggregate(...)}}}``.
    """
    by_method: dict[str, list[Mapping[str, Any]]] = {}
    for result in pair_results:
        if result.get("status") == "ok":
            by_method.setdefault(str(result["method"]), []).append(result)
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for method, results in sorted(by_method.items()):
        summary[method] = {}
        for kind in PAIR_KINDS:
            of_kind = [r for r in results if r.get("kind") == kind]
            if of_kind:
                summary[method][kind] = _summary_entry(of_kind)
        summary[method]["all"] = _summary_entry(results)
    return summary


def _format(value: float | None, spec: MetricSpec) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if spec.percent:
        return f"{100.0 * value:.1f}"
    if spec.unit in {"cos", ""} or spec.key == "l1":
        return f"{value:.3f}"
    return f"{value:.2f}"


def _header(spec: MetricSpec) -> str:
    unit = f" ({spec.unit})" if spec.unit else ""
    return f"{spec.label}{unit} {spec.arrow}".rstrip()


def markdown_summary_table(summary: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """One row per method and pair kind: the mean over pairs of every metric (± std across
    pairs)."""
    lines = ["| method | pairs | " + " | ".join(_header(s) for s in METRICS) + " |",
             "|---|---:|" + "---:|" * len(METRICS)]
    for method, kinds in summary.items():
        for kind, entry in kinds.items():
            cells = []
            for spec in METRICS:
                stats = entry.get(spec.key) or {}
                mean = stats.get("mean")
                cell = _format(mean, spec)
                if mean is not None and (stats.get("n") or 0) > 1 and stats.get("std") is not None:
                    cell += f" ± {_format(stats['std'], spec)}"
                cells.append(cell)
            lines.append(f"| {method} ({kind}) | {entry.get('pairs', 0)} | "
                         + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_pairs_table(pair_results: Sequence[Mapping[str, Any]]) -> str:
    """One row per (pair, method): status, frames scored and the pair means."""
    lines = ["| pair | method | kind | status | frames | "
             + " | ".join(_header(s) for s in METRICS) + " |",
             "|---|---|---|---|---:|" + "---:|" * len(METRICS)]
    for result in pair_results:
        metrics = result.get("metrics") or {}
        cells = [_format(metrics.get(spec.key), spec) for spec in METRICS]
        status = str(result.get("status"))
        if status != "ok" and result.get("reason"):
            status = f"{status}: {result['reason']}"
        status = status.replace("|", "/")
        frames = f"{result.get('frames_scored', 0)}/{result.get('frames_total', 0)}"
        lines.append(f"| {result['pair_id']} | {result['method']} | {result.get('kind', '')} | "
                     f"{status} | {frames} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _pair_cell(values: Sequence[float | None], spec: MetricSpec) -> str:
    return " / ".join(_format(v, spec) for v in values)


def markdown_side_by_side(summary: Mapping[str, Mapping[str, Mapping[str, Any]]],
                          pair_results: Sequence[Mapping[str, Any]], keys: Sequence[str],
                          methods: Sequence[str]) -> str:
    """Methods side by side: one column per metric, each cell ``method1 / method2 / ...``.

    Two tables: overall (one row per pair kind; mean over the ``ok`` pairs of that kind) and
    per pair (the pair means). Returns Markdown with both, overall first.
    """
    specs = [metric_spec(key) for key in keys]
    header = " | ".join(_header(spec) for spec in specs)
    rule = "---:|" * len(specs)
    kinds = [k for k in (*PAIR_KINDS, "all")
             if any(k in summary.get(m, {}) for m in methods)]
    lines = [f"Cells: {' / '.join(methods)}.", "",
             f"| pairs | n | {header} |", f"|---|---:|{rule}"]
    for kind in kinds:
        entries = [summary.get(m, {}).get(kind, {}) for m in methods]
        counts = "/".join(str(e.get("pairs", 0)) for e in entries)
        cells = [_pair_cell([(e.get(spec.key) or {}).get("mean") for e in entries], spec)
                 for spec in specs]
        lines.append(f"| {kind} | {counts} | " + " | ".join(cells) + " |")
    lines += ["", f"| pair | kind | {header} |", f"|---|---|{rule}"]
    by_pair: dict[str, dict[str, Mapping[str, Any]]] = {}
    for result in pair_results:
        by_pair.setdefault(str(result["pair_id"]), {})[str(result["method"])] = result
    for pair_id, results in by_pair.items():
        kind = next(iter(results.values())).get("kind", "")
        cells = [_pair_cell([(results.get(m, {}).get("metrics") or {}).get(spec.key)
                             for m in methods], spec) for spec in specs]
        lines.append(f"| {pair_id} | {kind} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_finetune_table(finetune: Mapping[str, Any]) -> str:
    """One row per fine-tuned source (a run's ``finetune`` section): steps, views, the pairs
    that used it and its fine-tuning and export times, then the total."""
    lines = ["| source | steps | views | pairs | fine-tuning s | export s |",
             "|---|---:|---:|---|---:|---:|"]

    def seconds(value: Any) -> str:
        return "n/a" if value is None else f"{value:.1f}"

    for row in finetune.get("sources", []):
        source = Path(row["source"])  # its folder too: several sources are named 1.mp4, 2.mp4
        lines.append(f"| {source.parent.name}/{source.name} | {row['steps']} | "
                     f"{row.get('views') if row.get('views') is not None else 'n/a'} | "
                     f"{', '.join(row['pairs'])} | {seconds(row.get('train_s'))} | "
                     f"{seconds(row.get('export_s'))} |")
    lines.append(f"| all ({len(finetune.get('sources', []))} sources) | | | | "
                 f"{seconds(finetune.get('train_s_total'))} | |")
    return "\n".join(lines)


def markdown_report(report: Mapping[str, Any]) -> str:
    """The whole Markdown report: protocol line, notes, overall table, per-pair table."""
    protocol = report.get("protocol", {})
    parts = ["# openfsgan evaluation", ""]
    parts.append(f"Methods: {', '.join(protocol.get('methods', []))}; frames per pair: "
                 f"{protocol.get('frames')}; seed: {protocol.get('seed')}; watermark: "
                 f"{'on' if protocol.get('watermark') else 'off (measurement only)'}.")
    parts.append("")
    for note in report.get("notes", []):
        parts.append(f"- {note}")
    if report.get("notes"):
        parts.append("")
    parts += ["## Overall (mean over pairs ± std across pairs)", "",
              markdown_summary_table(report.get("summary", {})), "",
              "## Per pair", "", markdown_pairs_table(report.get("pairs", [])), ""]
    if report.get("finetune"):
        parts += ["## G_r fine-tuned on each source", "",
                  markdown_finetune_table(report["finetune"]), ""]
    return "\n".join(parts)


def _jsonable(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, np.ndarray):
        return [_jsonable(v) for v in value.tolist()]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def to_json_text(data: Mapping[str, Any]) -> str:
    """Stable JSON text (NaN/inf become null, NumPy scalars plain numbers)."""
    return json.dumps(_jsonable(data), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(path: str | os.PathLike[str], data: Mapping[str, Any]) -> None:
    """Write ``data`` as JSON atomically."""
    write_text_atomic(path, to_json_text(data))
