"""Data preparation: analyse videos and photos once, store what every training stage reads.

For each kept face (the analyser's tracks in videos, every face in photos) we store the aligned
crop at two sizes (``size`` and ``size / 2``), its 2D landmarks and fitted 3D landmarks in crop
pixels, its head pose, and face/hair pseudo-labels (:mod:`openfsgan.data.pseudo_masks`). Frames
of one face track form a group whose frames are paired for reenactment; the train/validation
split is decided per input file (its identity string), never per frame.

The dataset is written into a temporary folder beside the output and renamed when complete, so
an interrupted or failed preparation never leaves a half dataset behind.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from openfsgan import __version__
from openfsgan.config import Config, check_positive, check_range
from openfsgan.data.dataset import CONFIG_FILE, FORMAT_VERSION, INDEX_FILE, array_file
from openfsgan.data.pseudo_masks import PseudoMaskConfig, pseudo_segmentation
from openfsgan.data.splits import SPLITS, reenactment_pairs, split_of
from openfsgan.errors import InputNotFoundError, InvalidInputError, NoFaceError, OutputError
from openfsgan.face.align import (
    estimate_alignment,
    rescale_points,
    transform_points,
    warp_to_crop,
)
from openfsgan.face.pose import fit_landmarks_3d, solve_pose
from openfsgan.io.atomic import write_text_atomic
from openfsgan.io.paths import check_output_folder
from openfsgan.types import Face

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]

MEDIA_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff",
                              ".mp4", ".mov", ".mkv", ".avi", ".webm", ".m4v"})


@dataclass(frozen=True)
class PrepareConfig(Config):
    """Options of data preparation (saved as ``prepare_config.yaml`` in the dataset).

    Attributes:
        size: side of the large crops; small crops are ``size / 2``. A multiple of 64.
        every: keep every N-th video frame (all frames are still tracked).
        max_frames_per_video: at most this many kept frames per video (0: no limit).
        max_faces_per_frame: keep at most this many faces per frame, largest first.
        min_inter_ocular_px: skip faces whose outer eye corners are closer than this (pixels of
            the input), too small to give a sharp crop.
        val_fraction: fraction of identities (input files) in the validation split.
        pairs_per_frame: reenactment targets drawn for each frame of a video.
        seed: seed of the reenactment pairing.
        pseudo_masks: parameters of the face/hair pseudo-labels.
    """

    size: int = 256
    every: int = 1
    max_frames_per_video: int = 0
    max_faces_per_frame: int = 1
    min_inter_ocular_px: float = 20.0
    val_fraction: float = 0.1
    pairs_per_frame: int = 4
    seed: int = 0
    pseudo_masks: PseudoMaskConfig = field(default_factory=PseudoMaskConfig)

    def __post_init__(self) -> None:
        check_positive(self, "size", "every", "max_faces_per_frame", "pairs_per_frame")
        check_positive(self, "max_frames_per_video", "min_inter_ocular_px", allow_zero=True)
        check_range(self, "val_fraction", 0.0, 0.99)
        if self.size % 64:
            raise ValueError(f"size must be a multiple of 64 (the half-size crops feed "
                             f"generators that need multiples of 32), got {self.size}")

    @property
    def sizes(self) -> tuple[int, int]:
        return (self.size, self.size // 2)


@dataclass(frozen=True)
class InputItem:
    """One input file and the identity string its split is decided by."""

    path: Path
    identity: str


@dataclass(frozen=True)
class PrepareSummary:
    """What a preparation produced."""

    root: Path
    samples: int
    identities: int
    split_samples: dict[str, int]
    split_identities: dict[str, int]
    pairs: dict[str, int]
    skipped_inputs: tuple[str, ...] = ()
    excluded_inputs: tuple[str, ...] = ()


def collect_inputs(paths: Sequence[str | os.PathLike[str]],
                   exclude: Iterable[str] = ()) -> list[InputItem]:
    """Expand files and folders into media files with identity strings.

    A file's identity is its name without extension; a file found in a folder argument gets its
    path relative to that folder (without extension), so identities do not depend on where the
    data lives on disk. Files named in ``exclude`` are left out (see :func:`exclude_inputs`).

    Raises:
        InputNotFoundError: a path does not exist.
        InvalidInputError: no media file was found (or all were excluded).
    """
    return _collect_inputs(paths, exclude)[0]


def _collect_inputs(paths: Sequence[str | os.PathLike[str]], exclude: Iterable[str]
                    ) -> tuple[list[InputItem], list[InputItem]]:
    items: list[InputItem] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise InputNotFoundError(f"input not found: {path}")
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                if file.suffix.lower() in MEDIA_EXTENSIONS:
                    items.append(InputItem(file, file.relative_to(path).with_suffix("").as_posix()))
        else:
            items.append(InputItem(path, path.with_suffix("").name))
    if not items:
        raise InvalidInputError("no images or videos found in the inputs "
                                f"(extensions: {', '.join(sorted(MEDIA_EXTENSIONS))})")
    items, dropped = exclude_inputs(items, exclude)
    if not items:
        raise InvalidInputError(f"all {len(dropped)} inputs are on the exclusion list")
    seen: dict[str, Path] = {}
    for item in items:
        if item.identity in seen and seen[item.identity] != item.path:
            raise InvalidInputError(f"two inputs share the identity {item.identity!r}: "
                                    f"{seen[item.identity]} and {item.path}; rename one")
        seen[item.identity] = item.path
    return items, dropped


def load_exclude_list(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """The file paths of an exclusion list in ``eval/heldout_identities.txt`` format.

    One ``<identity> <path>`` per line (paths relative to the data folder); ``#`` starts a
    comment.

    Raises:
        InputNotFoundError: no such file.
        ConfigError: a malformed line.
    """
    from openfsgan.evaluation.pairs import load_heldout_identities

    return tuple(p for paths in load_heldout_identities(path).values() for p in paths)


def _path_matches(path: Path, listed: str) -> bool:
    """Whether ``path`` is the file ``listed`` (relative to some data folder): its trailing
    path components equal the listed ones."""
    parts = Path(listed).parts
    return len(parts) <= len(path.parts) and path.parts[-len(parts):] == parts


def exclude_inputs(items: Sequence[InputItem], excluded: Iterable[str]
                   ) -> tuple[list[InputItem], list[InputItem]]:
    """Split ``items`` into (kept, dropped): dropped are the files named in ``excluded``.

    A listed path is relative to the data folder, so it matches any input whose absolute path
    ends with the same components (``a/b.mp4`` matches ``/data/faces/a/b.mp4``, not
    ``/data/faces/xa/b.mp4``).
    """
    listed = [p for p in excluded if p.strip()]
    kept: list[InputItem] = []
    dropped: list[InputItem] = []
    for item in items:
        path = item.path.resolve()
        (dropped if any(_path_matches(path, p) for p in listed) else kept).append(item)
    return kept, dropped


# -- storage ------------------------------------------------------------------------------------

_NPY_HEADER_BYTES = 256  # reserved at the start of each .npy; filled in when the count is known


class NpyAppendWriter:
    """Write a ``.npy`` array one item at a time, not knowing the final count in advance.

    The header is written last, into space reserved at the start of the file (the .npy v1
    format allows padding the header to any multiple of 64 bytes).
    """

    def __init__(self, path: Path, dtype: np.dtype[Any] | type, item_shape: tuple[int, ...]):
        self.path = path
        self.dtype = np.dtype(dtype)
        self.item_shape = tuple(item_shape)
        self.count = 0
        self._file: IO[bytes] = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._file.write(b"\0" * _NPY_HEADER_BYTES)

    def append(self, item: np.ndarray) -> None:
        array = np.ascontiguousarray(item, dtype=self.dtype)
        if array.shape != self.item_shape:
            raise ValueError(f"{self.path.name}: item shape {array.shape}, "
                             f"expected {self.item_shape}")
        self._file.write(array.tobytes())
        self.count += 1

    def close(self) -> None:
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
                  "shape": (self.count, *self.item_shape)}
        text = repr(header).encode("latin1")
        preamble = np.lib.format.magic(1, 0)
        length = _NPY_HEADER_BYTES - len(preamble) - 2
        body = text + b" " * (length - len(text) - 1) + b"\n"
        if len(body) != length:
            raise ValueError("npy header does not fit the reserved space")
        self._file.seek(0)
        self._file.write(preamble + length.to_bytes(2, "little") + body)
        self._file.close()


def _half_labels(labels: np.ndarray, classes: int = 3) -> np.ndarray:
    """Downsample labels by 2: the majority class of each 2x2 block."""
    height, width = labels.shape
    one_hot = np.eye(classes, dtype=np.uint8)[labels]
    votes = one_hot.reshape(height // 2, 2, width // 2, 2, classes).sum(axis=(1, 3))
    return votes.argmax(axis=-1).astype(np.uint8)


def _half_points(points: np.ndarray) -> np.ndarray:
    """Pixel coordinates at half resolution (pixel centres at integers)."""
    return rescale_points(points, 2, 1).astype(np.float32)


class DatasetWriter:
    """Appends aligned crops to the dataset arrays and writes the index when finished."""

    def __init__(self, root: Path, config: PrepareConfig) -> None:
        self.root = root
        self.config = config
        self.records: list[dict[str, Any]] = []
        self._writers: dict[str, NpyAppendWriter] = {}
        for size in config.sizes:
            self._open(array_file("images", size), np.uint8, (size, size, 3))
            self._open(array_file("segmentation", size), np.uint8, (size, size))
            self._open(array_file("landmarks", size), np.float32, (68, 2))
            self._open(array_file("landmarks3d", size), np.float32, (68, 3))
        self._open(array_file("poses"), np.float32, (3,))

    def _open(self, name: str, dtype: type, shape: tuple[int, ...]) -> None:
        self._writers[name] = NpyAppendWriter(self.root / name, dtype, shape)

    def add(self, crop: np.ndarray, landmarks: np.ndarray, identity: str, source: str,
            frame_index: int, track_id: int) -> None:
        """Store one aligned crop of ``config.size`` pixels with its landmarks (crop pixels)."""
        size, half = self.config.sizes
        if crop.shape != (size, size, 3):
            raise ValueError(f"crop must be [{size}, {size}, 3], got {crop.shape}")
        points = np.asarray(landmarks, dtype=np.float32)
        labels = pseudo_segmentation(crop, points, self.config.pseudo_masks)
        # pose and 3D landmarks are fitted in the crop, so roll is relative to the upright crop
        fit = solve_pose(points, size, size)
        points_3d, _ = fit_landmarks_3d(points, fit.rotation)
        half_3d = points_3d * 0.5
        half_3d[:, :2] = _half_points(points_3d[:, :2])
        small = cv2.resize(crop, (half, half), interpolation=cv2.INTER_AREA)
        for arrays in (
            {array_file("images", size): crop, array_file("segmentation", size): labels,
             array_file("landmarks", size): points, array_file("landmarks3d", size): points_3d},
            {array_file("images", half): small,
             array_file("segmentation", half): _half_labels(labels),
             array_file("landmarks", half): _half_points(points),
             array_file("landmarks3d", half): half_3d},
            {array_file("poses"): fit.euler.as_array()},
        ):
            for name, value in arrays.items():
                self._writers[name].append(value)
        self.records.append({"identity": identity, "source": source, "frame_index": frame_index,
                             "track_id": track_id,
                             "split": split_of(identity, self.config.val_fraction)})

    def finish(self, extra: dict[str, Any] | None = None) -> PrepareSummary:
        """Close the arrays and write ``index.json`` and ``prepare_config.yaml``."""
        for writer in self._writers.values():
            writer.close()
        groups = [f"{r['identity']}#{r['track_id']}" for r in self.records]
        all_pairs = reenactment_pairs(groups, self.config.pairs_per_frame, self.config.seed)
        splits = [r["split"] for r in self.records]
        pairs = {s: [[int(a), int(b)] for a, b in all_pairs if splits[a] == s] for s in SPLITS}
        index = {"format_version": FORMAT_VERSION, "openfsgan_version": __version__,
                 "sizes": list(self.config.sizes), "num_samples": len(self.records),
                 "samples": self.records, "pairs": pairs, **(extra or {})}
        write_text_atomic(self.root / INDEX_FILE, json.dumps(index, indent=1) + "\n")
        self.config.to_yaml(self.root / CONFIG_FILE)
        identities = {s: {r["identity"] for r in self.records if r["split"] == s} for s in SPLITS}
        return PrepareSummary(
            root=self.root, samples=len(self.records),
            identities=len({r["identity"] for r in self.records}),
            split_samples={s: splits.count(s) for s in SPLITS},
            split_identities={s: len(identities[s]) for s in SPLITS},
            pairs={s: len(pairs[s]) for s in SPLITS})

    def abort(self) -> None:
        for writer in self._writers.values():
            if not writer._file.closed:
                writer._file.close()


# -- alignment of analysed faces ----------------------------------------------------------------


def aligned_crop(rgb: np.ndarray, face: Face, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The canonical ``size`` crop of ``face`` and its landmarks in crop pixels.

    Large faces are first shrunk with area averaging, since the bilinear warp alone would alias
    when it reduces by more than 2.
    """
    landmarks = face.landmarks.astype(np.float64)
    transform = estimate_alignment(landmarks, size)
    if transform.scale < 0.5:
        factor = 2.0 * transform.scale
        height, width = rgb.shape[:2]
        small_size = (max(1, round(width * factor)), max(1, round(height * factor)))
        rgb = cv2.resize(rgb, small_size, interpolation=cv2.INTER_AREA)
        landmarks = (landmarks + 0.5) * np.array([small_size[0] / width,
                                                  small_size[1] / height]) - 0.5
        transform = estimate_alignment(landmarks, size)
    crop = warp_to_crop(rgb, transform)
    return crop, transform_points(landmarks, transform.matrix).astype(np.float32)


@dataclass(frozen=True)
class _AnalysedFrame:
    index: int
    rgb: np.ndarray
    faces: tuple[Face, ...]


def _analysed_frames(item: InputItem, analyzer: Any, cache: Any = None
                     ) -> Iterator[_AnalysedFrame]:
    """Frames of one input with their faces (videos tracked, images detected).

    With an analysis ``cache`` (:class:`openfsgan.io.cache.AnalysisCache`) the whole input is
    analysed once (or read back from the cache) and the frames are decoded afterwards; without
    one, frames are analysed while decoding, and reading stops as soon as enough are kept.
    """
    from openfsgan.io.media import is_video, iter_frames, read_image

    if cache is not None:
        from openfsgan.io.cache import analyze_cached

        analysis, _ = analyze_cached(item.path, analyzer, cache)
        faces_by_index = {frame.index: frame.faces for frame in analysis}
        if not is_video(item.path):
            yield _AnalysedFrame(0, read_image(item.path), faces_by_index.get(0, ()))
            return
        for frame in iter_frames(item.path):
            yield _AnalysedFrame(frame.index, frame.rgb, faces_by_index.get(frame.index, ()))
        return
    if not is_video(item.path):
        rgb = read_image(item.path)
        yield _AnalysedFrame(0, rgb, analyzer.analyze_image(rgb).faces)
        return
    # the tracker consumes frames one at a time; keep the pixels of the frame it is on
    current: list[Any] = []

    def frames() -> Iterator[Any]:
        for frame in iter_frames(item.path):
            current[:] = [frame]
            yield frame

    for frame_faces in analyzer.track_frames(frames()):
        yield _AnalysedFrame(frame_faces.index, current[0].rgb, frame_faces.faces)


def _kept(frames: Iterable[_AnalysedFrame], config: PrepareConfig) -> Iterator[_AnalysedFrame]:
    kept = 0
    for frame in frames:
        if frame.index % config.every:
            continue
        faces = tuple(f for f in sorted(frame.faces, key=lambda f: f.box.area, reverse=True)
                      if f.inter_ocular >= config.min_inter_ocular_px)
        faces = faces[:config.max_faces_per_frame]
        if not faces:
            continue
        yield _AnalysedFrame(frame.index, frame.rgb, faces)
        kept += 1
        if config.max_frames_per_video and kept >= config.max_frames_per_video:
            return


# -- entry points -------------------------------------------------------------------------------


def _check_output(output: Path, overwrite: bool) -> None:
    if output.exists():
        if not output.is_dir():
            raise OutputError(f"output exists and is not a folder: {output}")
        if any(output.iterdir()):
            if not overwrite:
                raise OutputError(f"output folder is not empty: {output} (pass --overwrite to "
                                  "replace it)")
            if not (output / INDEX_FILE).is_file():
                raise OutputError(f"refusing to replace {output}: it is not a prepared dataset "
                                  f"(no {INDEX_FILE}); choose another output folder")
    parent = check_output_folder(output.parent, "dataset's folder")
    parent.mkdir(parents=True, exist_ok=True)


class _StagingFolder:
    """A temporary folder beside ``output`` that replaces it on success."""

    def __init__(self, output: Path, overwrite: bool) -> None:
        _check_output(output, overwrite)
        self.output = output
        parent = output.parent if str(output.parent) else Path(".")
        self.path = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".partial",
                                          dir=parent))

    def commit(self) -> None:
        umask = os.umask(0)
        os.umask(umask)
        self.path.chmod(0o777 & ~umask)  # mkdtemp makes it private
        if self.output.exists():
            shutil.rmtree(self.output)
        os.replace(self.path, self.output)

    def discard(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def prepare_dataset(inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str],
                    config: PrepareConfig | None = None, analyzer: Any = None,
                    cache: Any = None, overwrite: bool = False,
                    progress: Progress | None = None,
                    exclude: Iterable[str] = ()) -> PrepareSummary:
    """Analyse ``inputs`` (files or folders of images and videos) into a dataset at ``output``.

    Args:
        inputs: media files and folders (searched recursively).
        output: dataset folder to create.
        config: preparation options.
        analyzer: a :class:`openfsgan.face.analyzer.FaceAnalyzer` (a default one if None).
        cache: an :class:`openfsgan.io.cache.AnalysisCache` to keep and reuse analyses (None:
            analyse while reading, stopping early when ``max_frames_per_video`` is reached).
        overwrite: replace an existing non-empty output folder.
        progress: called with ``(inputs done, inputs total)``.
        exclude: paths (relative to a data folder) never to use, e.g. the held-out identities
            of the evaluation (:func:`load_exclude_list`); see :func:`exclude_inputs`.

    Raises:
        InputNotFoundError, InvalidInputError: bad inputs (or every input excluded).
        NoFaceError: no usable face in any input.
        OutputError: the output cannot be written.
    """
    config = config or PrepareConfig()
    items, dropped = _collect_inputs(inputs, exclude)
    for item in dropped:
        log.info("excluded: %s", item.path)
    if analyzer is None:
        from openfsgan.face.analyzer import FaceAnalyzer

        analyzer = FaceAnalyzer()
    staging = _StagingFolder(Path(output), overwrite)
    writer = DatasetWriter(staging.path, config)
    skipped: list[str] = []
    try:
        for done, item in enumerate(items, start=1):
            before = len(writer.records)
            try:
                for frame in _kept(_analysed_frames(item, analyzer, cache), config):
                    for face in frame.faces:
                        crop, points = aligned_crop(frame.rgb, face, config.size)
                        writer.add(crop, points, item.identity, item.path.name, frame.index,
                                   face.track_id)
            except InvalidInputError as error:
                log.warning("skipping %s: %s", item.path, error)
                skipped.append(str(item.path))
            if len(writer.records) == before and str(item.path) not in skipped:
                log.warning("no usable face in %s", item.path)
            if progress is not None:
                progress(done, len(items))
        if not writer.records:
            raise NoFaceError("no usable face found in any input (faces must have the outer eye "
                              f"corners at least {config.min_inter_ocular_px:g} px apart)")
        summary = writer.finish({"inputs": [i.identity for i in items],
                                 "excluded_inputs": [i.identity for i in dropped]})
        staging.commit()
    except BaseException:
        writer.abort()
        staging.discard()
        raise
    summary = PrepareSummary(Path(output), summary.samples, summary.identities,
                             summary.split_samples, summary.split_identities, summary.pairs,
                             tuple(skipped), tuple(str(i.path) for i in dropped))
    _log_summary(summary)
    return summary


def prepare_synthetic(output: str | os.PathLike[str], identities: int = 4,
                      frames_per_identity: int = 4, config: PrepareConfig | None = None,
                      overwrite: bool = False, seed: int = 0) -> PrepareSummary:
    """A dataset of synthetic cartoon faces (:mod:`openfsgan.data.synthetic`), written exactly
    like a real one: for tests and smoke runs that must not need real face data."""
    from openfsgan.data.synthetic import synthetic_video

    config = config or PrepareConfig()
    if identities < 1 or frames_per_identity < 1:
        raise ValueError("need at least one identity and one frame")
    staging = _StagingFolder(Path(output), overwrite)
    writer = DatasetWriter(staging.path, config)
    try:
        for person in range(identities):
            identity = f"synthetic/{seed}-{person:04d}"
            frames = synthetic_video(seed * 100_003 + person, frames_per_identity, config.size)
            for index, frame in enumerate(frames):
                writer.add(frame.rgb, frame.landmarks, identity, f"{identity}.synthetic", index,
                           0)
        summary = writer.finish({"synthetic": True})
        staging.commit()
    except BaseException:
        writer.abort()
        staging.discard()
        raise
    return PrepareSummary(Path(output), summary.samples, summary.identities,
                          summary.split_samples, summary.split_identities, summary.pairs)


def _log_summary(summary: PrepareSummary) -> None:
    log.info("prepared %d samples of %d identities (train %d / val %d samples; pairs train %d, "
             "val %d) in %s", summary.samples, summary.identities,
             summary.split_samples["train"], summary.split_samples["val"],
             summary.pairs["train"], summary.pairs["val"], summary.root)
