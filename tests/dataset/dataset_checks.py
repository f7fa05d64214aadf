"""What every built dataset of the synthetic clips must satisfy (pool and Ray alike)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from openfsgan.dataset.encode import read_masks

WIDTH, HEIGHT, FRAMES, FPS = 320, 240, 6, 25
# name -> (mirror, frames without a face)
CLIPS: dict[str, tuple[bool, frozenset[int]]] = {
    "ann": (False, frozenset({2, 4})),
    "bob": (True, frozenset()),
    "cat": (False, frozenset()),
    "dan": (True, frozenset({0})),
}
PAIRS_CSV = ("source,target,split\n"
             "bob.mp4,ann.mp4,train\n"
             "ann.mp4,bob.mp4,train\n"
             "dan.mp4,cat.mp4,test\n")

FAKES = ["ann_bob", "bob_ann", "cat_dan"]
ORIGINALS = ["ann", "bob", "cat", "dan"]
SPLIT_OF = {"ann": "train", "bob": "train", "cat": "test", "dan": "test"}


def decoded_frames(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def check_dataset(root: Path, compressions: tuple[str, ...],
                  extra_splits: dict[str, str] | None = None,
                  methods: tuple[str, ...] = ("classic",)) -> None:
    """Layout, frame counts, masks, splits, labels and metadata of a complete build
    (``extra_splits``: identities of failed items, in the splits but not in the labels)."""
    originals = root / "original_sequences" / "youtube"
    for name in ORIGINALS:
        for c in compressions:
            assert decoded_frames(originals / c / "videos" / f"{name}.mp4") == FRAMES
    for method in methods:
        names = FAKES
        folder = root / "manipulated_sequences" / f"openfsgan-{method}"
        assert sorted(p.stem for p in (folder / compressions[0] / "videos").glob("*.mp4")) \
            == names
        for name in names:
            target = name.split("_")[0]
            for c in compressions:
                fake = folder / c / "videos" / f"{name}.mp4"
                assert decoded_frames(fake) == decoded_frames(
                    originals / c / "videos" / f"{target}.mp4")
            _check_masks(folder, name, CLIPS[target][1])
            _check_metadata(folder / "metadata" / f"{name}.json", method, name, compressions)
    _check_splits(root, {**SPLIT_OF, **(extra_splits or {})})
    _check_labels(root, compressions, len(methods))


def _check_masks(folder: Path, name: str, faceless: frozenset[int]) -> None:
    binary = read_masks(folder / "masks" / "videos" / f"{name}.mp4")
    alpha = read_masks(folder / "masks" / "videos" / "alpha" / f"{name}.mp4")
    assert len(binary) == len(alpha) == FRAMES
    for index, (b, a) in enumerate(zip(binary, alpha, strict=True)):
        assert set(b.ravel().tolist()) <= {0, 255}
        if index in faceless:
            assert not b.any() and not a.any(), f"{name} frame {index} has no face"
        else:
            assert 0.01 < (b > 0).mean() < 0.6, f"{name} frame {index} was swapped"
            assert ((a > 0) == (b > 0)).all()  # the binary mask is where the blend acts


def _check_metadata(path: Path, method: str, name: str, compressions: tuple[str, ...]) -> None:
    import openfsgan

    data = json.loads(path.read_text())
    target, source = name.split("_")
    assert (data["target"], data["source"], data["method"]) == (target, source, method)
    assert data["split"] == SPLIT_OF[target] == SPLIT_OF[source]
    assert data["package_version"] == openfsgan.__version__
    assert data["watermark"] is False and len(data["run_id"]) == 8
    from openfsgan.dataset.methods import DATASET_METHODS

    assert data["stages"] == DATASET_METHODS[method].stage_choices()
    # the resolved configuration the job ran with has the same stage choices
    assert {k: data["configuration"][k] for k in data["stages"]} == data["stages"]
    assert data["model_hashes"] and all(len(h) == 64 for h in data["model_hashes"].values())
    assert data["configuration"]["method"] and data["seed"] == 0
    assert set(data["files"]) == {*compressions, "mask", "alpha"}
    faceless = sorted(CLIPS[target][1])
    assert data["unchanged_frames"] == faceless
    assert data["frames"] == FRAMES and data["frames_swapped"] == FRAMES - len(faceless)
    assert len(data["per_frame"]) == FRAMES
    for record in data["per_frame"]:
        if record["index"] in faceless:
            assert not record["swapped"] and "box" not in record
        else:
            assert record["swapped"] and len(record["box"]) == 4
            assert len(record["landmarks"]) == 68 and set(record["pose"]) == {"yaw", "pitch",
                                                                              "roll"}


def _check_splits(root: Path, split_of: dict[str, str]) -> None:
    seen: dict[str, str] = {}
    for split in ("train", "val", "test"):
        for target, source in json.loads((root / "splits" / f"{split}.json").read_text()):
            for identity in (target, source):
                assert seen.setdefault(identity, split) == split, f"{identity} in two splits"
    assert seen == split_of


def _check_labels(root: Path, compressions: tuple[str, ...], methods: int) -> None:
    with (root / "labels.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    fakes = len(FAKES) * methods
    assert len(rows) == (len(ORIGINALS) + fakes) * len(compressions)
    assert sum(r["is_fake"] == "1" for r in rows) == fakes * len(compressions)
    for row in rows:
        assert (root / row["path"]).is_file()
        assert row["split"] == SPLIT_OF[row["target"]]
        assert (row["label"] == "fake") == (row["method"] != "original")
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return
    assert pq.read_table(root / "labels.parquet").num_rows == len(rows)


def file_stamps(root: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of every output file: a rewritten file changes both."""
    return {p.relative_to(root).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for top in ("original_sequences", "manipulated_sequences")
            for p in (root / top).rglob("*") if p.is_file()}
