"""Where every file of a dataset goes: the FaceForensics++ layout, plus masks and metadata.

::

    DATASET/
      original_sequences/youtube/<c>/videos/<target>.mp4
      original_sequences/youtube/metadata/<target>.json
      manipulated_sequences/openfsgan-<method>/<c>/videos/<target>_<source>.mp4
      manipulated_sequences/openfsgan-<method>/masks/videos/<target>_<source>.mp4
      manipulated_sequences/openfsgan-<method>/masks/videos/alpha/<target>_<source>.mp4
      manipulated_sequences/openfsgan-<method>/metadata/<target>_<source>.json
      splits/{train,val,test}.json
      labels.csv (labels.parquet)
      dataset.json

``<c>`` is ``c0``, ``c23`` or ``c40`` (H.264 at CRF 0, 23, 40); FaceForensics++ calls the real
videos' collection ``youtube`` and so do we, whatever the inputs' origin. Mask videos are
lossless (RGB H.264 at QP 0): the binary mask is 0/255 on every channel, the soft alpha is the
blend weight x 255.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

COMPRESSIONS: dict[str, int] = {"c0": 0, "c23": 23, "c40": 40}
COLLECTION = "youtube"
METHOD_PREFIX = "openfsgan-"
WORK_FOLDER = ".openfsgan-work"


@dataclass(frozen=True)
class DatasetLayout:
    """The paths of one dataset folder (nothing is created here)."""

    root: Path

    @property
    def originals(self) -> Path:
        return self.root / "original_sequences" / COLLECTION

    def method_folder(self, method: str) -> Path:
        return self.root / "manipulated_sequences" / f"{METHOD_PREFIX}{method}"

    def original_video(self, target: str, compression: str) -> Path:
        return self.originals / compression / "videos" / f"{target}.mp4"

    def original_metadata(self, target: str) -> Path:
        return self.originals / "metadata" / f"{target}.json"

    def fake_video(self, method: str, name: str, compression: str) -> Path:
        return self.method_folder(method) / compression / "videos" / f"{name}.mp4"

    def mask_video(self, method: str, name: str) -> Path:
        return self.method_folder(method) / "masks" / "videos" / f"{name}.mp4"

    def alpha_video(self, method: str, name: str) -> Path:
        return self.method_folder(method) / "masks" / "videos" / "alpha" / f"{name}.mp4"

    def fake_metadata(self, method: str, name: str) -> Path:
        return self.method_folder(method) / "metadata" / f"{name}.json"

    def split_file(self, split: str) -> Path:
        return self.root / "splits" / f"{split}.json"

    @property
    def labels_csv(self) -> Path:
        return self.root / "labels.csv"

    @property
    def labels_parquet(self) -> Path:
        return self.root / "labels.parquet"

    @property
    def manifest(self) -> Path:
        return self.root / "dataset.json"

    def work(self, key: str) -> Path:
        """A scratch folder for one item (removed when the item is done)."""
        return self.root / WORK_FOLDER / key

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()
