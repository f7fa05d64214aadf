"""Distractor identities for ID retrieval: descriptors of photos of other people.

Top-1 retrieval among the dozen people of a run says only that an output is nearer its source
than those few others. Adding a few hundred photos of strangers (e.g. the 300-W photos of the
shared data) asks more: is the output nearer its source than anyone else in the crowd? Each
photo is its own identity; none can be the right answer.

The photos' faces come from 300-W-style ``.pts`` files beside them (68 annotated points) where
present, else from the face analyser (largest face). The descriptors are computed once and
cached as JSON in the evaluation's work folder, keyed by the photo files (path, size, mtime),
the photo limit and the descriptor's name.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openfsgan.errors import ConfigError, OpenFSGANError
from openfsgan.io.atomic import write_text_atomic
from openfsgan.types import NUM_LANDMARKS

log = logging.getLogger(__name__)

PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png"})
CACHE_FORMAT = "openfsgan-distractors"
# (rgb) -> [68, 2] landmarks of its largest face, or None
Landmarker = Callable[[np.ndarray], "np.ndarray | None"]
# (rgb, [68, 2] landmarks) -> [D] descriptor
Describer = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class DistractorSet:
    """Distractor descriptors and where they came from.

    Attributes:
        descriptors: ``[K, D]``, one per photo whose face could be found.
        photos: the K photos, relative to the distractor folder.
        skipped: photos without a usable face (no ``.pts`` and no detection).
        folder: the distractor folder.
    """

    descriptors: np.ndarray
    photos: tuple[str, ...]
    skipped: int
    folder: str

    def summary(self) -> dict[str, Any]:
        return {"folder": self.folder, "photos": len(self.photos), "skipped": self.skipped}


def list_photos(folder: str | Path, limit: int) -> list[Path]:
    """Up to ``limit`` photos under ``folder`` (recursively), evenly spaced over the sorted list
    so that every sub-folder (e.g. 300-W's AFW and HELEN) is represented; deterministic."""
    if limit < 1:
        raise ConfigError(f"the distractor limit must be at least 1, got {limit}")
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"distractor folder not found: {root}")
    photos = sorted(p for p in root.rglob("*")
                    if p.is_file() and p.suffix.lower() in PHOTO_EXTENSIONS)
    if not photos:
        raise ConfigError(f"no photos ({', '.join(sorted(PHOTO_EXTENSIONS))}) under {root}")
    if len(photos) <= limit:
        return photos
    picks = sorted({int(i) for i in np.linspace(0, len(photos) - 1, limit).round()})
    return [photos[i] for i in picks]


def read_pts(path: str | Path) -> np.ndarray | None:
    """The 68 points of a 300-W ``.pts`` file (with or without its ``version``/``{ }`` header),
    ``[68, 2]`` in pixels (300-W counts from 1; shifted to 0-based), or None when it is not
    one."""
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    rows = []
    for line in lines:
        fields = line.split()
        if len(fields) == 2:
            try:
                rows.append((float(fields[0]), float(fields[1])))
            except ValueError:
                continue  # "n_points: 68"
    if len(rows) != NUM_LANDMARKS:
        return None
    return np.asarray(rows, dtype=np.float64) - 1.0


def _stamp(paths: list[Path], root: Path) -> list[list[Any]]:
    stamps = []
    for path in paths:
        stat = path.stat()
        stamps.append([str(path.relative_to(root)), stat.st_size, stat.st_mtime_ns])
    return stamps


def distractor_descriptors(folder: str | Path, limit: int, describe: Describer,
                           landmarks_of: Landmarker, descriptor_name: str,
                           cache_file: str | Path | None = None) -> DistractorSet:
    """Descriptors of up to ``limit`` distractor photos (see the module docstring).

    Args:
        folder: photos, with optional ``.pts`` landmark files beside them.
        limit: most photos used.
        describe: the identity descriptor, ``(rgb, [68, 2]) -> [D]``.
        landmarks_of: face landmarks of a photo without ``.pts`` (None: no face).
        descriptor_name: part of the cache key (another descriptor means other vectors).
        cache_file: JSON cache; reused when its key matches, else (re)written.
    """
    from openfsgan.io.media import read_image

    root = Path(folder)
    photos = list_photos(root, limit)
    key_text = json.dumps([CACHE_FORMAT, descriptor_name, limit, _stamp(photos, root)])
    key = hashlib.sha256(key_text.encode()).hexdigest()[:20]
    cache = Path(cache_file) if cache_file is not None else None
    if cache is not None and cache.is_file():
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            if data.get("key") == key:
                return DistractorSet(np.asarray(data["descriptors"], dtype=np.float64),
                                     tuple(data["photos"]), int(data["skipped"]), str(root))
        except (OSError, ValueError, KeyError):
            log.warning("ignoring unreadable distractor cache %s", cache)
    vectors, used, skipped = [], [], 0
    for photo in photos:
        try:
            rgb = read_image(photo)
        except OpenFSGANError as error:
            log.warning("distractor %s skipped: %s", photo, error)
            skipped += 1
            continue
        points = read_pts(photo.with_suffix(".pts"))
        if points is None:
            points = landmarks_of(rgb)
        if points is None:
            skipped += 1
            continue
        vectors.append(describe(rgb, points))
        used.append(str(photo.relative_to(root)))
    if not vectors:
        raise ConfigError(f"no face found in any of the {len(photos)} distractor photos "
                          f"under {root}")
    result = DistractorSet(np.stack(vectors), tuple(used), skipped, str(root))
    if cache is not None:
        write_text_atomic(cache, json.dumps({"format": CACHE_FORMAT, "key": key,
                                             "descriptors": result.descriptors.tolist(),
                                             "photos": list(used), "skipped": skipped}))
    log.info("%d distractor descriptors from %s (%d photos skipped)", len(used), root, skipped)
    return result
