"""Labelled deepfake datasets at scale (``openfsgan dataset``), in the FaceForensics++ layout.

Not to be confused with :mod:`openfsgan.data`, the training data of the generators. Here every
item runs a swap job (:func:`openfsgan.jobs.run_swap`) and writes detector training data: real
and fake videos encoded alike at CRF 0/23/40, lossless masks, per-video metadata,
identity-disjoint splits and a labels table (docs/dataset.md).

Modules, each importing only those above it:

* :mod:`.pairs`: PAIRS.csv or a folder of videos -> pairs with identity-disjoint splits.
* :mod:`.layout`: where every file goes.
* :mod:`.methods`: the dataset's methods (pipeline presets and stage choices).
* :mod:`.encode`: the one H.264 chain for real and fake, and the lossless mask writer.
* :mod:`.items`: the units of work, the build settings, and when an item is complete.
* :mod:`.worker`: makes one item (models loaded once per worker).
* :mod:`.pool` and :mod:`.cluster`: run items on local processes or on Ray.
* :mod:`.build`: :func:`build_dataset`, splits, labels and the dataset manifest.
"""

from openfsgan.dataset.build import BuildSummary, build_dataset
from openfsgan.dataset.items import DatasetConfig, Item, ItemRecord
from openfsgan.dataset.layout import COMPRESSIONS, DatasetLayout
from openfsgan.dataset.methods import DATASET_METHODS
from openfsgan.dataset.pairs import Pair, Video, pairs_from_folder, read_pairs_csv

__all__ = [
    "COMPRESSIONS",
    "DATASET_METHODS",
    "BuildSummary",
    "DatasetConfig",
    "DatasetLayout",
    "Item",
    "ItemRecord",
    "Pair",
    "Video",
    "build_dataset",
    "pairs_from_folder",
    "read_pairs_csv",
]
