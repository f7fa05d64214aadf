"""Analysis cache: face analysis results on disk, so a video is analysed once.

An entry is keyed by the SHA-256 of the input file's *content* (not its name or date), the
SHA-256 of the analyzer config and the package version; it is a gzip-compressed JSON file under
``$OPENFSGAN_CACHE_DIR`` or ``~/.cache/openfsgan/analysis``, written atomically. A corrupt or
foreign entry is ignored (and removed), never trusted.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openfsgan import __version__
from openfsgan.io.atomic import write_bytes_atomic
from openfsgan.types import FrameFaces

if TYPE_CHECKING:
    from openfsgan.face.analyzer import FaceAnalyzer

log = logging.getLogger(__name__)

CACHE_FORMAT = "openfsgan-analysis-cache"
CACHE_FORMAT_VERSION = 1
CACHE_SUFFIX = ".json.gz"
ENV_CACHE_DIR = "OPENFSGAN_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$OPENFSGAN_CACHE_DIR`` if set, else ``~/.cache/openfsgan/analysis``."""
    configured = os.environ.get(ENV_CACHE_DIR)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "openfsgan" / "analysis"


def file_sha256(path: str | os.PathLike[str], chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 (hex) of a file's content, read in chunks (memory stays flat)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class CacheKey:
    """What an analysis depends on: input content, analyzer config, package version."""

    content_sha256: str
    config_sha256: str
    package_version: str = __version__

    @property
    def filename(self) -> str:
        version = self.package_version.replace("/", "_")
        return f"{self.content_sha256[:32]}-{self.config_sha256[:16]}-v{version}{CACHE_SUFFIX}"


@dataclass(frozen=True)
class CacheInfo:
    """Where the cache is, how many entries it holds and their total size."""

    directory: Path
    entries: int
    total_bytes: int


class AnalysisCache:
    """Face analysis results keyed by :class:`CacheKey`, stored as ``.json.gz`` files."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()

    def key_for(self, path: str | os.PathLike[str], config_sha256: str) -> CacheKey:
        return CacheKey(file_sha256(path), config_sha256)

    def path_for(self, key: CacheKey) -> Path:
        return self.directory / key.filename

    def load(self, key: CacheKey) -> list[FrameFaces] | None:
        """The cached frames for ``key``, or None (missing, corrupt or from another key)."""
        path = self.path_for(key)
        if not path.is_file():
            return None
        try:
            with gzip.open(path, "rt", encoding="utf-8") as handle:
                data = json.load(handle)
            if (data.get("format") != CACHE_FORMAT
                    or data.get("format_version") != CACHE_FORMAT_VERSION
                    or data.get("content_sha256") != key.content_sha256
                    or data.get("config_sha256") != key.config_sha256
                    or data.get("package_version") != key.package_version):
                raise ValueError("entry does not match its key")
            return [FrameFaces.from_dict(frame) for frame in data["frames"]]
        except (OSError, EOFError, ValueError, KeyError, TypeError) as error:
            log.warning("ignoring unreadable analysis cache entry %s (%s)", path, error)
            path.unlink(missing_ok=True)
            return None

    def store(self, key: CacheKey, frames: list[FrameFaces],
              extra: dict[str, Any] | None = None) -> Path:
        """Write ``frames`` under ``key`` atomically; returns the entry's path."""
        data = {
            "format": CACHE_FORMAT,
            "format_version": CACHE_FORMAT_VERSION,
            "content_sha256": key.content_sha256,
            "config_sha256": key.config_sha256,
            "package_version": key.package_version,
            **(extra or {}),
            "frames": [frame.to_dict() for frame in frames],
        }
        payload = gzip.compress(json.dumps(data, separators=(",", ":")).encode("utf-8"),
                                compresslevel=6, mtime=0)
        path = self.path_for(key)
        write_bytes_atomic(path, payload)
        return path

    def entries(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir()
                      if p.is_file() and p.name.endswith(CACHE_SUFFIX))

    def info(self) -> CacheInfo:
        entries = self.entries()
        return CacheInfo(self.directory, len(entries), sum(p.stat().st_size for p in entries))

    def clear(self) -> int:
        """Delete every entry (and leftover temporary files); returns how many entries went."""
        entries = self.entries()
        for path in entries:
            path.unlink(missing_ok=True)
        if self.directory.is_dir():
            for leftover in self.directory.glob(".*.partial*"):
                leftover.unlink(missing_ok=True)
        return len(entries)


def analyze_cached(path: str | os.PathLike[str], analyzer: FaceAnalyzer,
                   cache: AnalysisCache | None = None,
                   progress: Callable[[int, int], None] | None = None
                   ) -> tuple[list[FrameFaces], bool]:
    """``analyzer.analyze_path(path)`` through the cache.

    Returns:
        The frames and whether they came from the cache. Cached landmarks are rounded to
        0.01 px (the JSON precision of :meth:`openfsgan.types.Face.to_dict`).
    """
    cache = cache or AnalysisCache()
    key = cache.key_for(path, analyzer.config.digest())
    cached = cache.load(key)
    if cached is not None:
        log.info("analysis of %s read from the cache (%s)", path, cache.path_for(key))
        if progress is not None:
            progress(len(cached), len(cached))
        return cached, True
    frames = analyzer.analyze_path(path, progress)
    try:
        cache.store(key, frames, {"config": analyzer.config.to_dict()})
    except OSError as error:  # a read-only or full cache must not fail the analysis
        log.warning("could not write the analysis cache in %s: %s", cache.directory, error)
    return frames, False
