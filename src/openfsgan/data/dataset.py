"""Prepared face datasets on disk, and the torch datasets each training stage reads.

Layout of a prepared dataset folder (written by :mod:`openfsgan.data.prepare`)::

    index.json                 format version, sizes, one record per sample, reenactment pairs
    prepare_config.yaml        the resolved preparation options
    images_256.npy             uint8 [N, 256, 256, 3]   aligned RGB crops (memory-mapped)
    images_128.npy             uint8 [N, 128, 128, 3]
    segmentation_256.npy       uint8 [N, 256, 256]      pseudo-labels 0 background, 1 face, 2 hair
    segmentation_128.npy       uint8 [N, 128, 128]
    landmarks_256.npy          float32 [N, 68, 2]       2D landmarks in crop pixels
    landmarks_128.npy          float32 [N, 68, 2]
    landmarks3d_256.npy        float32 [N, 68, 3]       3D landmarks in crop pixels (types.py)
    landmarks3d_128.npy        float32 [N, 68, 3]
    poses.npy                  float32 [N, 3]           yaw, pitch, roll (degrees) in the crop

One ``.npy`` per array keeps reading cheap (memory maps, no decoding) and lets DataLoader
workers share pages. Every torch sample is a dict of tensors: images ``[3, S, S]`` in
``[-1, 1]``, segmentations ``[S, S]`` int64, landmarks ``[68, 2]`` in crop pixels.

Randomness (flips, holes, recolouring) comes from a per-sample seed that the sampler passes with
the index (``dataset[(index, seed)]``), so data are identical whatever the number of workers, and
a resumed run sees exactly the batches an uninterrupted one would have.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from openfsgan.config import Config, check_range
from openfsgan.data import augment as transforms
from openfsgan.data import occlusion, pseudo_masks
from openfsgan.data.splits import SPLITS
from openfsgan.errors import InputNotFoundError, InvalidInputError
from openfsgan.face.pose import interpolate_landmarks
from openfsgan.types import BoundingBox, EulerAngles, Face

FORMAT_VERSION = 1
INDEX_FILE = "index.json"
CONFIG_FILE = "prepare_config.yaml"
PER_SIZE_ARRAYS = ("images", "segmentation", "landmarks", "landmarks3d")


def array_file(kind: str, size: int | None = None) -> str:
    """File name of one array of the dataset (``poses`` has no size)."""
    return f"{kind}.npy" if size is None else f"{kind}_{size}.npy"


@dataclass(frozen=True)
class SampleRecord:
    """What one sample is: which input, which frame, which person, which split."""

    identity: str
    source: str
    frame_index: int
    track_id: int
    split: str

    @property
    def group(self) -> str:
        """Samples of one group show the same face track of one video (reenactment pairs)."""
        return f"{self.identity}#{self.track_id}"

    def to_dict(self) -> dict[str, Any]:
        return {"identity": self.identity, "source": self.source,
                "frame_index": self.frame_index, "track_id": self.track_id, "split": self.split}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> SampleRecord:
        return SampleRecord(str(data["identity"]), str(data["source"]), int(data["frame_index"]),
                            int(data["track_id"]), str(data["split"]))


class PreparedDataset:
    """Read access to a prepared dataset folder (arrays memory-mapped on first use).

    Pickling (DataLoader workers) drops the open memory maps; each process maps the files again.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        index_path = self.root / INDEX_FILE
        if not index_path.is_file():
            raise InputNotFoundError(f"not a prepared dataset (no {INDEX_FILE}): {self.root}; "
                                     "make one with `openfsgan prepare`")
        try:
            index = json.loads(index_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InvalidInputError(f"unreadable dataset index {index_path}: {error}") from error
        version = index.get("format_version")
        if version != FORMAT_VERSION:
            raise InvalidInputError(f"dataset {self.root} has format version {version}; this "
                                    f"openfsgan reads version {FORMAT_VERSION} (prepare it again)")
        self.sizes: tuple[int, ...] = tuple(int(s) for s in index["sizes"])
        self.records: tuple[SampleRecord, ...] = tuple(
            SampleRecord.from_dict(r) for r in index["samples"])
        self._pairs = {split: np.asarray(index["pairs"].get(split, []), dtype=np.int64
                                         ).reshape(-1, 2) for split in SPLITS}
        self._arrays: dict[str, np.ndarray] = {}
        for kind in PER_SIZE_ARRAYS:
            for size in self.sizes:
                self._check_array(array_file(kind, size))
        self._check_array(array_file("poses"))

    def _check_array(self, name: str) -> None:
        path = self.root / name
        if not path.is_file():
            raise InvalidInputError(f"dataset {self.root} is incomplete: {name} is missing")

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_arrays"] = {}
        return state

    def __len__(self) -> int:
        return len(self.records)

    def array(self, kind: str, size: int | None = None) -> np.ndarray:
        """The memory-mapped array ``kind`` (``images``, ``segmentation``, ``landmarks``,
        ``landmarks3d`` at ``size``; ``poses``)."""
        if size is not None and size not in self.sizes:
            raise InvalidInputError(f"dataset {self.root} has crops of {list(self.sizes)} px, "
                                    f"not {size}")
        name = array_file(kind, size)
        if name not in self._arrays:
            array = np.load(self.root / name, mmap_mode="r")
            if len(array) != len(self.records):
                raise InvalidInputError(f"{name} holds {len(array)} samples, the index "
                                        f"{len(self.records)}")
            self._arrays[name] = array
        return self._arrays[name]

    def indices(self, split: str) -> np.ndarray:
        """Sample indices of ``split`` (``train`` or ``val``), ascending."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
        return np.asarray([i for i, r in enumerate(self.records) if r.split == split],
                          dtype=np.int64)

    def pairs(self, split: str) -> np.ndarray:
        """Reenactment pairs ``[P, 2]`` (source, target) of ``split``."""
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
        return self._pairs[split]

    def face(self, index: int, size: int) -> Face:
        """Sample ``index`` as a :class:`Face` in the pixels of its ``size`` crop."""
        points = np.asarray(self.array("landmarks", size)[index], dtype=np.float32)
        return Face(box=BoundingBox.around(points), score=1.0, landmarks=points,
                    landmarks_3d=np.asarray(self.array("landmarks3d", size)[index]),
                    pose=EulerAngles.from_array(self.array("poses")[index]),
                    track_id=self.records[index].track_id)


# -- torch datasets of the training stages ------------------------------------------------------


@dataclass(frozen=True)
class AugmentConfig(Config):
    """Augmentations applied to training crops (none for validation).

    Attributes:
        hflip: probability of a left-right flip (landmarks and labels follow).
        colour_jitter: strength of the random brightness/contrast/saturation change.
    """

    hflip: float = 0.5
    colour_jitter: float = 0.0

    def __post_init__(self) -> None:
        check_range(self, "hflip", 0.0, 1.0)
        check_range(self, "colour_jitter", 0.0, 0.9)


def image_to_tensor(rgb: np.ndarray) -> torch.Tensor:
    """``[H, W, 3]`` uint8 -> ``[3, H, W]`` float32 in ``[-1, 1]``."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 127.5 - 1.0


def tensor_to_image(image: torch.Tensor) -> np.ndarray:
    """``[3, H, W]`` in ``[-1, 1]`` -> ``[H, W, 3]`` uint8."""
    scaled = ((image.detach().float().cpu().clamp(-1, 1) + 1.0) * 127.5).round()
    return scaled.to(torch.uint8).permute(1, 2, 0).numpy()


def _flip_pose(pose: np.ndarray) -> np.ndarray:
    yaw, pitch, roll = pose
    return np.array([-yaw, pitch, -roll], dtype=np.float32)


def _flip_3d(points: np.ndarray, size: int) -> np.ndarray:
    from openfsgan.face.align import FLIP_PERMUTATION

    flipped = np.array(points[FLIP_PERMUTATION], dtype=np.float32)
    flipped[:, 0] = size - 1 - flipped[:, 0]
    return flipped


@dataclass(frozen=True)
class _Crop:
    rgb: np.ndarray
    labels: np.ndarray
    landmarks: np.ndarray
    landmarks_3d: np.ndarray
    pose: np.ndarray


class StageDataset(torch.utils.data.Dataset):
    """Base of the stage datasets: items are ``(position, seed)`` or a plain position.

    Args:
        prepared: the prepared dataset.
        split: ``train`` or ``val``.
        resolution: crop size to read (one of ``prepared.sizes``).
        augment: augmentations (``None``: none, as for validation).
    """

    def __init__(self, prepared: PreparedDataset, split: str, resolution: int,
                 augment: AugmentConfig | None = None) -> None:
        if resolution not in prepared.sizes:
            raise InvalidInputError(f"dataset {prepared.root} has crops of "
                                    f"{list(prepared.sizes)} px, not {resolution}; prepare it "
                                    f"with --size {resolution} or {resolution * 2}")
        self.prepared = prepared
        self.split = split
        self.resolution = resolution
        self.augment = augment
        self.items = self._items()

    def _items(self) -> np.ndarray:
        return self.prepared.indices(self.split)

    def __len__(self) -> int:
        return len(self.items)

    def _crop(self, index: int) -> _Crop:
        size = self.resolution
        data = self.prepared
        return _Crop(np.array(data.array("images", size)[index]),
                     np.array(data.array("segmentation", size)[index]),
                     np.array(data.array("landmarks", size)[index], dtype=np.float32),
                     np.array(data.array("landmarks3d", size)[index], dtype=np.float32),
                     np.array(data.array("poses")[index], dtype=np.float32))

    def _flip(self, crop: _Crop) -> _Crop:
        rgb, points, labels = transforms.hflip(crop.rgb, crop.landmarks, crop.labels)
        assert points is not None and labels is not None
        return _Crop(rgb, labels, points.astype(np.float32),
                     _flip_3d(crop.landmarks_3d, self.resolution), _flip_pose(crop.pose))

    def _augment(self, crops: Sequence[_Crop], rng: np.random.Generator) -> list[_Crop]:
        """The same flip for all ``crops`` (a pair stays consistent), jitter per crop."""
        if self.augment is None:
            return list(crops)
        out = list(crops)
        if rng.random() < self.augment.hflip:
            out = [self._flip(c) for c in out]
        if self.augment.colour_jitter > 0:
            out = [_Crop(transforms.colour_jitter(c.rgb, rng, self.augment.colour_jitter),
                         c.labels, c.landmarks, c.landmarks_3d, c.pose) for c in out]
        return out

    def __getitem__(self, key: int | tuple[int, int]) -> dict[str, torch.Tensor]:
        position, seed = (key, position_seed(key)) if isinstance(key, int | np.integer) else key
        return self.sample(int(position), np.random.default_rng(int(seed)))

    def sample(self, position: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        raise NotImplementedError


def position_seed(position: int) -> int:
    """Seed of a sample read without one (validation, inspection): fixed per position."""
    return 0x5EED_0000 + int(position)


def _face_tensors(prefix: str, crop: _Crop) -> dict[str, torch.Tensor]:
    return {f"{prefix}image": image_to_tensor(crop.rgb),
            f"{prefix}segmentation": torch.from_numpy(crop.labels.astype(np.int64)),
            f"{prefix}landmarks": torch.from_numpy(crop.landmarks)}


class SegmentationDataset(StageDataset):
    """Single crops: ``image``, ``segmentation``, ``landmarks``."""

    def sample(self, position: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        (crop,) = self._augment([self._crop(int(self.items[position]))], rng)
        return _face_tensors("", crop)


class ReenactmentDataset(StageDataset):
    """Pairs of frames of one face track (source -> target), with the intermediate landmarks of
    FSGAN's iterative reenactment.

    Items: ``source_image``, ``source_segmentation``, ``source_landmarks``, the same for
    ``target_``, and ``intermediate_landmarks`` ``[steps - 1, 68, 2]``: the source's 3D shape
    posed at Euler angles, centroid and scale interpolated towards the target
    (:func:`openfsgan.face.pose.interpolate_landmarks`), excluding the last step, which is the
    target's own landmarks.

    Args:
        stepwise_steps: number of reenactment steps from source to target (>= 1).
    """

    def __init__(self, prepared: PreparedDataset, split: str, resolution: int,
                 augment: AugmentConfig | None = None, stepwise_steps: int = 2) -> None:
        if stepwise_steps < 1:
            raise ValueError(f"stepwise_steps must be >= 1, got {stepwise_steps}")
        self.stepwise_steps = stepwise_steps
        super().__init__(prepared, split, resolution, augment)
        if len(self.items) == 0:
            raise InvalidInputError(
                f"dataset {prepared.root} has no {split} reenactment pairs (pairs need two or "
                "more frames of one video); add videos or lower --every")

    def _items(self) -> np.ndarray:
        return self.prepared.pairs(self.split)

    def sample(self, position: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        source_index, target_index = (int(i) for i in self.items[position])
        source, target = self._augment([self._crop(source_index), self._crop(target_index)], rng)
        out = _face_tensors("source_", source)
        out.update(_face_tensors("target_", target))
        steps = self.stepwise_steps
        if steps > 1:
            faces = [Face(box=BoundingBox.around(c.landmarks), score=1.0, landmarks=c.landmarks,
                          landmarks_3d=c.landmarks_3d, pose=EulerAngles.from_array(c.pose))
                     for c in (source, target)]
            path = interpolate_landmarks(faces[0], faces[1], steps)[:-1]
            out["intermediate_landmarks"] = torch.from_numpy(np.stack(path).astype(np.float32))
        else:
            out["intermediate_landmarks"] = torch.zeros(0, 68, 2)
        return out


class InpaintingDataset(StageDataset):
    """Crops with random holes: ``image`` (the complete crop), ``mask`` ``[1, S, S]`` (1 =
    fill), ``segmentation``."""

    def __init__(self, prepared: PreparedDataset, split: str, resolution: int,
                 augment: AugmentConfig | None = None,
                 holes: occlusion.OcclusionConfig | None = None) -> None:
        super().__init__(prepared, split, resolution, augment)
        self.holes = holes or occlusion.OcclusionConfig()

    def sample(self, position: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        (crop,) = self._augment([self._crop(int(self.items[position]))], rng)
        mask = occlusion.random_occlusion_mask(crop.labels == pseudo_masks.FACE, rng, self.holes)
        out = _face_tensors("", crop)
        out["mask"] = torch.from_numpy(mask)[None]
        return out


class BlendingDataset(StageDataset):
    """Self-supervised blending samples: ``target`` (the crop), ``reenacted`` (the crop with its
    face recoloured and relit) and ``mask`` ``[1, S, S]`` (the face region to blend)."""

    def __init__(self, prepared: PreparedDataset, split: str, resolution: int,
                 augment: AugmentConfig | None = None,
                 recolour: transforms.RecolourConfig | None = None) -> None:
        super().__init__(prepared, split, resolution, augment)
        self.recolour = recolour or transforms.RecolourConfig()

    def sample(self, position: int, rng: np.random.Generator) -> dict[str, torch.Tensor]:
        (crop,) = self._augment([self._crop(int(self.items[position]))], rng)
        mask = (crop.labels == pseudo_masks.FACE).astype(np.float32)
        recoloured = transforms.recolour_relight(crop.rgb, mask, rng, self.recolour)
        return {"target": image_to_tensor(crop.rgb), "reenacted": image_to_tensor(recoloured),
                "mask": torch.from_numpy(mask)[None],
                "segmentation": torch.from_numpy(crop.labels.astype(np.int64))}
