"""The units of work of a dataset build, and how to tell that one is already done.

An item is either a real video (``original``: re-encoded at every requested compression) or one
(pair, method) (``fake``: swapped once, then encoded at every compression, with its masks and
metadata). Items read and write their own files and return a small :class:`ItemRecord`, so
they can run in any process or on any node that sees the dataset folder. An item is complete
when its metadata JSON (written last, atomically) exists and every file it lists is there with
the recorded size; a rerun skips complete items and redoes the rest from the start.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from openfsgan.dataset.layout import COMPRESSIONS, DatasetLayout
from openfsgan.dataset.methods import DATASET_METHODS
from openfsgan.dataset.pairs import Pair, Video
from openfsgan.errors import ConfigError

ITEM_KINDS: tuple[str, ...] = ("original", "fake")
METADATA_FORMAT = 1


@dataclass(frozen=True)
class DatasetConfig:
    """How every item of a build is made.

    Attributes:
        methods: dataset method names (:data:`openfsgan.dataset.methods.DATASET_METHODS`).
        compressions: ``c0``, ``c23`` and/or ``c40`` (H.264 at CRF 0, 23, 40).
        watermark: embed the invisible watermark in the fakes (off by default: a detector
            trained on marked fakes learns the mark; the metadata tag and C2PA manifest always
            label them).
        watermark_profile: the mark's layers when ``watermark`` is on: ``standard`` or
            ``robust`` (:data:`openfsgan.provenance.watermark.WATERMARK_PROFILES`).
        seed: for the pairs and splits from a folder, and recorded with every video.
        preset: x264 preset of every encode (real and fake alike).
        max_frames: only the first N frames of each target (quick datasets); None for all.
        retries: how many times an item is retried after its worker crashed.
    """

    methods: tuple[str, ...] = ("classic",)
    compressions: tuple[str, ...] = ("c23",)
    watermark: bool = False
    watermark_profile: str = "standard"
    seed: int = 0
    preset: str = "veryfast"
    max_frames: int | None = None
    retries: int = 2

    def __post_init__(self) -> None:
        from openfsgan.provenance.watermark import embedding_config

        try:
            embedding_config(self.watermark_profile)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        for method in self.methods:
            if method not in DATASET_METHODS:
                raise ConfigError(f"unknown method {method!r}; available: "
                                  f"{', '.join(DATASET_METHODS)}")
        for compression in self.compressions:
            if compression not in COMPRESSIONS:
                raise ConfigError(f"unknown compression {compression!r}; valid: "
                                  f"{', '.join(COMPRESSIONS)}")
        if not self.methods or not self.compressions:
            raise ConfigError("a dataset needs at least one method and one compression")
        if self.max_frames is not None and self.max_frames < 1:
            raise ConfigError(f"max-frames must be >= 1, got {self.max_frames}")
        if self.retries < 0:
            raise ConfigError(f"retries must be >= 0, got {self.retries}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Item:
    """One unit of work: a real video, or one (pair, method) at every compression."""

    kind: str
    target: Video
    split: str
    source: Video | None = None
    method: str | None = None

    @property
    def name(self) -> str:
        """The file stem: ``<target>`` for a real video, ``<target>_<source>`` for a fake."""
        if self.source is None:
            return self.target.name
        return Pair(self.source, self.target, self.split).name

    @property
    def key(self) -> str:
        """Unique in a build: ``original/<target>`` or ``<method>/<target>_<source>``."""
        return f"{self.method or 'original'}/{self.name}"

    def metadata_path(self, layout: DatasetLayout) -> Path:
        if self.kind == "original":
            return layout.original_metadata(self.name)
        assert self.method is not None
        return layout.fake_metadata(self.method, self.name)


@dataclass(frozen=True)
class ItemRecord:
    """What an item did, small enough for any queue: no frames, only counts and paths.

    ``status`` is ``done``, ``skipped`` (already complete) or ``failed`` (``reason`` says why).
    """

    key: str
    status: str
    reason: str = ""
    frames: int = 0
    frames_swapped: int = 0
    seconds: float = 0.0
    attempts: int = 1
    worker: str = ""
    peak_rss_mb: float = 0.0
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_dict(data: dict[str, Any]) -> ItemRecord:
        return ItemRecord(**data)


def build_items(pairs: list[Pair], config: DatasetConfig) -> list[Item]:
    """Every real video once (targets and sources: both are real in their split), then every
    (pair, method); fakes of one pair are adjacent so that a worker's caches stay warm."""
    originals: dict[str, Item] = {}
    for pair in pairs:
        for video in (pair.target, pair.source):
            originals.setdefault(video.name, Item("original", video, pair.split))
    fakes = [Item("fake", pair.target, pair.split, pair.source, method)
             for pair in pairs for method in config.methods]
    return list(originals.values()) + fakes


def expected_files(item: Item, layout: DatasetLayout, config: DatasetConfig) -> dict[str, Path]:
    """The files an item writes besides its metadata, by role."""
    if item.kind == "original":
        return {c: layout.original_video(item.name, c) for c in config.compressions}
    assert item.method is not None
    files = {c: layout.fake_video(item.method, item.name, c) for c in config.compressions}
    files["mask"] = layout.mask_video(item.method, item.name)
    files["alpha"] = layout.alpha_video(item.method, item.name)
    return files


def item_settings(item: Item, config: DatasetConfig) -> dict[str, Any]:
    """The settings an item's files depend on: a rerun with other settings redoes it."""
    settings: dict[str, Any] = {"preset": config.preset, "max_frames": config.max_frames}
    if item.kind == "fake":
        settings["watermark"] = config.watermark
        if config.watermark and config.watermark_profile != "standard":
            # recorded only off the default, so builds made before profiles existed stay done
            settings["watermark_profile"] = config.watermark_profile
    return settings


def read_metadata(path: Path) -> dict[str, Any] | None:
    """A metadata JSON, or None when it is missing or unreadable (a torn write cannot happen:
    it is written atomically, but a user may have edited it)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_complete(item: Item, layout: DatasetLayout, config: DatasetConfig) -> bool:
    """True when the item's metadata exists and lists every expected file at its size."""
    metadata = read_metadata(item.metadata_path(layout))
    if metadata is None or metadata.get("format") != METADATA_FORMAT:
        return False
    if metadata.get("settings") != item_settings(item, config):
        return False
    recorded = metadata.get("files", {})
    for role, path in expected_files(item, layout, config).items():
        entry = recorded.get(role)
        if not entry or entry.get("path") != layout.relative(path):
            return False
        try:
            if path.stat().st_size != entry.get("bytes"):
                return False
        except OSError:
            return False
    return True
