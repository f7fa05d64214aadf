import json
from fractions import Fraction

import numpy as np
import pytest

from openfsgan.data.dataset import FORMAT_VERSION, PreparedDataset
from openfsgan.data.prepare import (
    InputItem,
    NpyAppendWriter,
    PrepareConfig,
    collect_inputs,
    exclude_inputs,
    load_exclude_list,
    prepare_dataset,
    prepare_synthetic,
)
from openfsgan.errors import (
    ConfigError,
    InputNotFoundError,
    InvalidInputError,
    NoFaceError,
    OutputError,
)


def test_npy_append_writer_round_trip(tmp_path):
    path = tmp_path / "a.npy"
    writer = NpyAppendWriter(path, np.float32, (2, 3))
    items = [np.full((2, 3), i, np.float32) for i in range(5)]
    for item in items:
        writer.append(item)
    writer.close()
    loaded = np.load(path, mmap_mode="r")
    assert loaded.shape == (5, 2, 3)
    assert np.array_equal(loaded, np.stack(items))
    empty = NpyAppendWriter(tmp_path / "b.npy", np.uint8, (4,))
    empty.close()
    assert np.load(tmp_path / "b.npy").shape == (0, 4)
    with pytest.raises(ValueError):
        NpyAppendWriter(tmp_path / "c.npy", np.uint8, (4,)).append(np.zeros(3))


def test_synthetic_dataset_index_is_valid(synthetic_dataset):
    index = json.loads((synthetic_dataset / "index.json").read_text())
    assert index["format_version"] == FORMAT_VERSION
    assert index["sizes"] == [64, 32]
    data = PreparedDataset(synthetic_dataset)
    assert len(data) == 16
    for size in (64, 32):
        assert data.array("images", size).shape == (16, size, size, 3)
        labels = data.array("segmentation", size)
        assert set(np.unique(labels)) == {0, 1, 2}
        points = data.array("landmarks", size)
        assert points.shape == (16, 68, 2)
        assert (points > 0).all() and (points < size).all()
        assert data.array("landmarks3d", size).shape == (16, 68, 3)
    # small landmarks are the large ones at half resolution
    np.testing.assert_allclose(data.array("landmarks", 32),
                               (data.array("landmarks", 64) + 0.5) / 2 - 0.5, atol=1e-5)
    assert np.abs(data.array("poses")).max() < 60
    # split by identity: every identity on one side
    by_identity = {}
    for record in data.records:
        by_identity.setdefault(record.identity, set()).add(record.split)
    assert all(len(sides) == 1 for sides in by_identity.values())
    assert {s for sides in by_identity.values() for s in sides} == {"train", "val"}
    for split in ("train", "val"):
        for source, target in data.pairs(split):
            assert data.records[source].group == data.records[target].group
            assert data.records[source].split == split
    assert (synthetic_dataset / "prepare_config.yaml").is_file()


def test_preparation_is_deterministic(tmp_path, synthetic_dataset):
    again = tmp_path / "again"
    prepare_synthetic(again, identities=4, frames_per_identity=4,
                      config=PrepareConfig(size=64, val_fraction=0.25))
    assert (again / "index.json").read_text() == (synthetic_dataset / "index.json").read_text()
    for name in ("images_64.npy", "segmentation_32.npy", "landmarks3d_64.npy", "poses.npy"):
        assert (again / name).read_bytes() == (synthetic_dataset / name).read_bytes()


def test_output_folder_is_protected(tmp_path):
    config = PrepareConfig(size=64)
    other = tmp_path / "not-a-dataset"
    other.mkdir()
    (other / "keep.txt").write_text("precious")
    with pytest.raises(OutputError):
        prepare_synthetic(other, 1, 1, config)
    with pytest.raises(OutputError):
        prepare_synthetic(other, 1, 1, config, overwrite=True)
    assert (other / "keep.txt").read_text() == "precious"
    dataset = tmp_path / "ds"
    prepare_synthetic(dataset, 1, 2, config)
    prepare_synthetic(dataset, 2, 2, config, overwrite=True)
    assert len(PreparedDataset(dataset)) == 4
    assert not list(tmp_path.glob(".*partial"))


def test_config_validation():
    with pytest.raises(ConfigError):
        PrepareConfig.from_dict({"size": 100})
    with pytest.raises(ConfigError):
        PrepareConfig.from_dict({"every": 0})


def test_collect_inputs_identities(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "clip.mp4").write_bytes(b"x")
    (tmp_path / "a" / "photo.jpg").write_bytes(b"x")
    (tmp_path / "a" / "notes.txt").write_text("x")
    items = collect_inputs([tmp_path / "a"])
    assert sorted(i.identity for i in items) == ["b/clip", "photo"]
    assert collect_inputs([tmp_path / "a" / "photo.jpg"])[0].identity == "photo"
    with pytest.raises(InputNotFoundError):
        collect_inputs([tmp_path / "missing.mp4"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidInputError):
        collect_inputs([tmp_path / "empty"])


def test_exclude_list_drops_listed_paths(tmp_path):
    data = tmp_path / "faces"
    for name in ("x/obama.mp4", "x/obama.jpg", "x/other.mp4", "yx/obama.mp4", "z/d1.mp4",
                 "z/d1.jpg"):
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_bytes(b"x")
    listing = tmp_path / "heldout.txt"
    listing.write_text("# held out\nobama x/obama.mp4\nobama x/obama.jpg  # photo\n\n"
                       "dup z/d1.jpg\n")
    excluded = load_exclude_list(listing)
    assert excluded == ("x/obama.mp4", "x/obama.jpg", "z/d1.jpg")
    # z/d1.jpg and z/d1.mp4 share an identity: excluding one makes the folder usable
    with pytest.raises(InvalidInputError, match="share the identity"):
        collect_inputs([data])
    items = collect_inputs([data], exclude=excluded)
    assert sorted(i.identity for i in items) == ["x/other", "yx/obama", "z/d1"]
    # a listed path matches whole trailing components only, and single files too
    kept, dropped = exclude_inputs([InputItem(data / "x" / "obama.mp4", "a"),
                                    InputItem(data / "yx" / "obama.mp4", "b")], excluded)
    assert [i.path.parent.name for i in kept] == ["yx"]
    assert [i.path.parent.name for i in dropped] == ["x"]
    with pytest.raises(InvalidInputError, match="exclusion list"):
        collect_inputs([data / "x" / "obama.mp4"], exclude=excluded)
    listing.write_text("obama\n")
    with pytest.raises(ConfigError):
        load_exclude_list(listing)
    with pytest.raises(InputNotFoundError):
        load_exclude_list(tmp_path / "missing.txt")


@pytest.fixture(scope="module")
def astronaut_media(tmp_path_factory):
    """A 6-frame clip of the astronaut drifting sideways, and two photos."""
    from skimage import data

    from openfsgan.io.media import VideoWriter, write_image

    folder = tmp_path_factory.mktemp("media")
    image = np.ascontiguousarray(data.astronaut()[:320, 64:384])
    with VideoWriter(folder / "clip.mp4", Fraction(10), 320, 320) as writer:
        for shift in range(6):
            writer.write(np.ascontiguousarray(np.roll(image, 3 * shift, axis=1)))
    write_image(folder / "photo.png", image)
    write_image(folder / "mirror.png", np.ascontiguousarray(image[:, ::-1]))
    write_image(folder / "blank.png", np.full((64, 64, 3), 128, np.uint8))
    return folder


def test_prepare_real_media(tmp_path, astronaut_media):
    from openfsgan.face.analyzer import FaceAnalyzer

    output = tmp_path / "ds"
    inputs = [astronaut_media / n for n in ("clip.mp4", "photo.png", "mirror.png", "blank.png")]
    config = PrepareConfig(size=64, every=2, val_fraction=0.0, pairs_per_frame=4)
    summary = prepare_dataset(inputs, output, config, analyzer=FaceAnalyzer())
    data = PreparedDataset(output)
    assert summary.samples == len(data) == 3 + 2  # frames 0, 2, 4 and the two photos
    assert [r.identity for r in data.records] == ["clip"] * 3 + ["photo", "mirror"]
    assert [r.frame_index for r in data.records[:3]] == [0, 2, 4]
    assert sorted(map(tuple, data.pairs("train"))) == [(a, b) for a in range(3) for b in range(3)
                                                       if a != b]
    # the face is aligned: eyes near the canonical positions in every crop
    eyes = data.array("landmarks", 64)[:, 36:48].mean(axis=1)
    assert np.abs(eyes - eyes.mean(axis=0)).max() < 2.0
    limited = tmp_path / "limited"
    prepare_dataset([astronaut_media / "clip.mp4"], limited,
                    PrepareConfig(size=64, max_frames_per_video=2), analyzer=FaceAnalyzer())
    assert [r.frame_index for r in PreparedDataset(limited).records] == [0, 1]
    # an exclusion list (paths relative to the data folder) drops inputs before analysis
    listing = tmp_path / "heldout.txt"
    listing.write_text(f"astro {astronaut_media.name}/photo.png\n")
    excluded = tmp_path / "excluded"
    summary = prepare_dataset([astronaut_media / "photo.png", astronaut_media / "mirror.png"],
                              excluded, config, analyzer=FaceAnalyzer(),
                              exclude=load_exclude_list(listing))
    assert [r.identity for r in PreparedDataset(excluded).records] == ["mirror"]
    assert summary.excluded_inputs == (str(astronaut_media / "photo.png"),)


def test_prepare_without_faces_leaves_nothing(tmp_path, astronaut_media):
    from openfsgan.face.analyzer import FaceAnalyzer

    output = tmp_path / "none"
    with pytest.raises(NoFaceError):
        prepare_dataset([astronaut_media / "blank.png"], output, PrepareConfig(size=64),
                        analyzer=FaceAnalyzer())
    assert not output.exists()
    assert not list(tmp_path.iterdir())


@pytest.mark.shared_data
def test_prepare_a_real_video(tmp_path, shared_faces):
    video = shared_faces / "LivePortrait" / "assets" / "examples" / "driving" / "d0.mp4"
    if not video.is_file():
        pytest.skip(f"{video} not in the shared data")
    summary = prepare_dataset([video], tmp_path / "ds",
                              PrepareConfig(size=128, every=5, max_frames_per_video=3))
    data = PreparedDataset(tmp_path / "ds")
    assert summary.samples == 3
    labels = data.array("segmentation", 128)
    assert ((labels == 1).mean(axis=(1, 2)) > 0.15).all()
