"""A dataset build: plan the items, run them on a pool or on Ray, write the tables.

:func:`build_dataset` is the whole of ``openfsgan dataset``: it writes the splits first (they
follow from the pairs alone), hands the items that are not yet complete to a runner
(:mod:`.pool` or :mod:`.cluster`), and writes the labels table and ``dataset.json`` from the
items' metadata at the end. A rerun after an interruption skips complete items.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openfsgan import __version__
from openfsgan.dataset.items import (
    DatasetConfig,
    Item,
    ItemRecord,
    build_items,
    expected_files,
    is_complete,
    read_metadata,
)
from openfsgan.dataset.layout import COMPRESSIONS, METHOD_PREFIX, WORK_FOLDER, DatasetLayout
from openfsgan.dataset.pairs import SPLITS, Pair
from openfsgan.io.atomic import write_text_atomic

log = logging.getLogger(__name__)

# called with each finished record, the number finished and the number planned
RecordCallback = Callable[[ItemRecord, int, int], None]
LABEL_COLUMNS: tuple[str, ...] = (
    "path", "label", "is_fake", "method", "compression", "crf", "video", "target", "source",
    "split", "frames", "frames_swapped", "mask", "alpha", "metadata",
)


@dataclass(frozen=True)
class BuildSummary:
    """What a build did: items done now, skipped (complete before) and failed (with reasons)."""

    done: int
    skipped: int
    failed: int
    seconds: float
    frames: int
    records: tuple[ItemRecord, ...] = field(default=(), repr=False)

    @property
    def failures(self) -> list[ItemRecord]:
        return [r for r in self.records if r.status == "failed"]

    def worker_peak_rss_mb(self) -> dict[str, float]:
        """The peak resident memory of each worker that made an item, in MiB."""
        peaks: dict[str, float] = {}
        for record in self.records:
            if record.worker:
                peaks[record.worker] = max(peaks.get(record.worker, 0.0), record.peak_rss_mb)
        return {name: round(peak, 1) for name, peak in sorted(peaks.items())}

    def to_dict(self) -> dict[str, Any]:
        return {"done": self.done, "skipped": self.skipped, "failed": self.failed,
                "seconds": round(self.seconds, 3), "frames": self.frames,
                "fakes_done": sum(r.status == "done" and not r.key.startswith("original/")
                                  for r in self.records),
                "worker_peak_rss_mb": self.worker_peak_rss_mb(),
                "failures": [{"item": r.key, "reason": r.reason} for r in self.failures]}


def write_splits(layout: DatasetLayout, pairs: list[Pair]) -> None:
    """``splits/<split>.json``: the FaceForensics++ format, a list of ``[target, source]``
    names; the fake is ``<target>_<source>.mp4``, both names' originals are real videos."""
    for split in SPLITS:
        entries = [[p.target.name, p.source.name] for p in pairs if p.split == split]
        write_text_atomic(layout.split_file(split), json.dumps(entries, indent=1) + "\n")


def remove_leftovers(layout: DatasetLayout) -> int:
    """Remove what an interrupted run left: item scratch folders and partial files (atomic
    writes leave ``.<name>.<random>.partial.<ext>`` when killed); returns how many."""
    import shutil

    removed = 0
    if (layout.root / WORK_FOLDER).is_dir():
        shutil.rmtree(layout.root / WORK_FOLDER, ignore_errors=True)
        removed += 1
    for top in ("original_sequences", "manipulated_sequences"):
        for leftover in (layout.root / top).rglob(".*.partial*"):
            leftover.unlink(missing_ok=True)
            removed += 1
    return removed


def _label_rows(item: Item, layout: DatasetLayout, config: DatasetConfig
                ) -> list[dict[str, Any]]:
    metadata = read_metadata(item.metadata_path(layout)) or {}
    files = expected_files(item, layout, config)
    fake = item.kind == "fake"
    rows = []
    for compression in config.compressions:
        rows.append({
            "path": layout.relative(files[compression]),
            "label": "fake" if fake else "real", "is_fake": int(fake),
            "method": f"{METHOD_PREFIX}{item.method}" if fake else "original",
            "compression": compression, "crf": COMPRESSIONS[compression], "video": item.name,
            "target": item.target.name, "source": item.source.name if item.source else "",
            "split": item.split, "frames": int(metadata.get("frames", 0)),
            "frames_swapped": int(metadata.get("frames_swapped", 0)),
            "mask": layout.relative(files["mask"]) if fake else "",
            "alpha": layout.relative(files["alpha"]) if fake else "",
            "metadata": layout.relative(item.metadata_path(layout)),
        })
    return rows


def write_labels(layout: DatasetLayout, items: list[Item], config: DatasetConfig) -> int:
    """``labels.csv`` (and ``labels.parquet`` when pyarrow is installed): one row per video
    file of every complete item; returns the number of rows."""
    import csv
    import io

    rows = [row for item in items if is_complete(item, layout, config)
            for row in _label_rows(item, layout, config)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(LABEL_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(layout.labels_csv, buffer.getvalue())
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        layout.labels_parquet.unlink(missing_ok=True)  # never leave a stale table beside
        return len(rows)
    from openfsgan.io.atomic import atomic_output

    table = pa.Table.from_pylist(rows, schema=pa.schema(
        [(c, pa.int64() if c in {"is_fake", "crf", "frames", "frames_swapped"} else pa.string())
         for c in LABEL_COLUMNS]))
    with atomic_output(layout.labels_parquet) as tmp:
        pq.write_table(table, tmp)
    return len(rows)


def _write_manifest(layout: DatasetLayout, pairs: list[Pair], config: DatasetConfig,
                    summary: BuildSummary, runner: str) -> None:
    data = {
        "format": "openfsgan-dataset/1", "package_version": __version__,
        "layout": "FaceForensics++ (original_sequences / manipulated_sequences)",
        "config": config.to_dict(), "runner": runner,
        "methods": [f"{METHOD_PREFIX}{m}" for m in config.methods],
        "pairs": [{"target": p.target.name, "source": p.source.name, "split": p.split}
                  for p in pairs],
        "last_run": summary.to_dict(),
    }
    write_text_atomic(layout.manifest, json.dumps(data, indent=1) + "\n")


def build_dataset(root: Path, pairs: list[Pair], config: DatasetConfig, *, workers: int = 1,
                  ray_address: str | None = None, use_ray: bool = False,
                  on_record: RecordCallback | None = None) -> BuildSummary:
    """Build (or complete) the dataset at ``root`` from ``pairs``.

    Args:
        root: the dataset folder (created; on a cluster, a path every node sees).
        pairs: from :func:`openfsgan.dataset.pairs.read_pairs_csv` or ``pairs_from_folder``.
        config: how every item is made.
        workers: worker processes (pool) or actors (Ray).
        use_ray: run the items as Ray tasks; ``ray_address`` (None: a local Ray).
        on_record: called after each item (progress bars).
    """
    started = time.perf_counter()
    layout = DatasetLayout(root)
    root.mkdir(parents=True, exist_ok=True)
    remove_leftovers(layout)
    write_splits(layout, pairs)
    items = build_items(pairs, config)
    if use_ray:
        from openfsgan.dataset.cluster import run_on_ray

        records = run_on_ray(items, root, config, ray_address, workers, on_record)
        runner = f"ray ({ray_address or 'local'}, {workers} actors)"
    else:
        from openfsgan.dataset.pool import run_on_pool

        records = run_on_pool(items, root, config, workers, on_record)
        runner = f"pool ({workers} workers)"
    count = {s: sum(r.status == s for r in records) for s in ("done", "skipped", "failed")}
    summary = BuildSummary(count["done"], count["skipped"], count["failed"],
                           time.perf_counter() - started,
                           sum(r.frames for r in records if r.status == "done"), tuple(records))
    remove_leftovers(layout)  # the items' emptied scratch folders
    write_labels(layout, items, config)
    _write_manifest(layout, pairs, config, summary, runner)
    return summary
