import json
import pickle

import numpy as np
import pytest
import torch

from openfsgan.data.dataset import (
    AugmentConfig,
    BlendingDataset,
    InpaintingDataset,
    PreparedDataset,
    ReenactmentDataset,
    SegmentationDataset,
    image_to_tensor,
    tensor_to_image,
)
from openfsgan.data.pseudo_masks import FACE
from openfsgan.errors import InputNotFoundError, InvalidInputError


def _same(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_image_tensor_round_trip():
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    tensor = image_to_tensor(rgb)
    assert tensor.shape == (3, 5, 7) and tensor.min() >= -1 and tensor.max() <= 1
    assert np.array_equal(tensor_to_image(tensor), rgb)


def test_items_are_reproducible_from_their_seed(synthetic_dataset):
    data = PreparedDataset(synthetic_dataset)
    dataset = SegmentationDataset(data, "train", 32, AugmentConfig(hflip=0.5, colour_jitter=0.2))
    assert len(dataset) == 8
    assert _same(dataset[(3, 11)], dataset[(3, 11)])
    differs = [not torch.equal(dataset[(3, s)]["image"], dataset[(3, 11)]["image"])
               for s in range(12)]
    assert any(differs)
    item = dataset[0]
    assert item["image"].shape == (3, 32, 32) and item["segmentation"].dtype == torch.int64


def test_flipped_pairs_stay_consistent(synthetic_dataset):
    data = PreparedDataset(synthetic_dataset)
    plain = ReenactmentDataset(data, "train", 64, None, stepwise_steps=3)
    flipped = ReenactmentDataset(data, "train", 64, AugmentConfig(hflip=1.0), stepwise_steps=3)
    a, b = plain[(0, 1)], flipped[(0, 1)]
    assert a["intermediate_landmarks"].shape == (2, 68, 2)
    for prefix in ("source_", "target_"):
        assert torch.equal(b[prefix + "image"], a[prefix + "image"].flip(-1))
        assert torch.equal(b[prefix + "segmentation"], a[prefix + "segmentation"].flip(-1))
    # the interpolated path runs from near the source to near the target
    path = a["intermediate_landmarks"]
    source, target = a["source_landmarks"], a["target_landmarks"]
    assert (path[0] - source).norm(dim=-1).mean() < (target - source).norm(dim=-1).mean() + 1
    direct = ReenactmentDataset(data, "train", 64, None, stepwise_steps=1)
    assert direct[0]["intermediate_landmarks"].shape == (0, 68, 2)


def test_inpainting_and_blending_samples(synthetic_dataset):
    data = PreparedDataset(synthetic_dataset)
    item = InpaintingDataset(data, "train", 64)[(2, 5)]
    assert item["mask"].shape == (1, 64, 64) and item["mask"].sum() > 0
    blend = BlendingDataset(data, "val", 64)[(1, 9)]
    outside = blend["mask"][0] == 0
    assert torch.equal(blend["reenacted"][:, outside], blend["target"][:, outside])
    inside = blend["segmentation"] == FACE
    assert torch.equal(inside, blend["mask"][0] > 0)
    assert (blend["reenacted"][:, inside] - blend["target"][:, inside]).abs().mean() > 0.01


def test_prepared_dataset_pickles_without_its_arrays(synthetic_dataset):
    data = PreparedDataset(synthetic_dataset)
    data.array("images", 64)
    copy = pickle.loads(pickle.dumps(data))
    assert len(pickle.dumps(data)) < 20_000
    assert np.array_equal(copy.array("images", 64)[3], data.array("images", 64)[3])


def test_bad_datasets_are_refused(tmp_path, synthetic_dataset):
    with pytest.raises(InputNotFoundError):
        PreparedDataset(tmp_path)
    broken = tmp_path / "broken"
    broken.mkdir()
    index = json.loads((synthetic_dataset / "index.json").read_text())
    (broken / "index.json").write_text(json.dumps(index))
    with pytest.raises(InvalidInputError, match="missing"):
        PreparedDataset(broken)
    index["format_version"] = 999
    (broken / "index.json").write_text(json.dumps(index))
    with pytest.raises(InvalidInputError, match="version"):
        PreparedDataset(broken)
    with pytest.raises(InvalidInputError, match="128"):
        SegmentationDataset(PreparedDataset(synthetic_dataset), "train", 128)
