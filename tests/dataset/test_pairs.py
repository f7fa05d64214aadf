"""Pairs and splits: from a CSV (given or assigned splits) and from a folder of videos."""

from __future__ import annotations

from pathlib import Path

import pytest

from openfsgan.dataset.pairs import Pair, Video, pairs_from_folder, read_pairs_csv
from openfsgan.errors import ConfigError, InvalidInputError


def _identities_by_split(pairs: list[Pair]) -> dict[str, set[str]]:
    result: dict[str, set[str]] = {}
    for pair in pairs:
        result.setdefault(pair.split, set()).update({pair.source.identity,
                                                    pair.target.identity})
    return result


def _assert_disjoint(pairs: list[Pair]) -> None:
    groups = list(_identities_by_split(pairs).values())
    for i, first in enumerate(groups):
        for second in groups[i + 1:]:
            assert not first & second


def _touch(folder: Path, *names: str) -> None:
    for name in names:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_csv_with_splits_is_read_and_checked(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("source,target,split\na.mp4,b.mp4,train\nc.mp4,d.mp4,test\n")
    pairs = read_pairs_csv(tmp_path / "p.csv")
    assert [(p.source.name, p.target.name, p.split) for p in pairs] == [
        ("a", "b", "train"), ("c", "d", "test")]
    assert pairs[0].name == "b_a"  # FaceForensics++: <target>_<source>
    assert pairs[0].source.path == tmp_path / "a.mp4"


def test_csv_split_with_an_identity_in_two_splits_is_refused(tmp_path: Path) -> None:
    (tmp_path / "p.csv").write_text("source,target,split\na.mp4,b.mp4,train\nb.mp4,c.mp4,val\n")
    with pytest.raises(ConfigError, match="'b' is in more than one split"):
        read_pairs_csv(tmp_path / "p.csv")


def test_csv_without_splits_gets_identity_disjoint_splits(tmp_path: Path) -> None:
    rows = ["source,target"] + [f"p{i}.mp4,p{i + 1}.mp4" for i in range(0, 40, 2)]
    rows += ["p1.mp4,p2.mp4"]  # links two pairs: the four identities must share a split
    (tmp_path / "p.csv").write_text("\n".join(rows) + "\n")
    pairs = read_pairs_csv(tmp_path / "p.csv", seed=3)
    _assert_disjoint(pairs)
    assert {p.split for p in pairs} == {"train", "val", "test"}
    split_of = {p.target.name: p.split for p in pairs}
    assert split_of["p1"] == split_of["p3"]


def test_bad_csvs_fail_with_one_clear_reason(tmp_path: Path) -> None:
    (tmp_path / "noheader.csv").write_text("a.mp4,b.mp4\n")
    with pytest.raises(InvalidInputError, match="'source' and 'target'"):
        read_pairs_csv(tmp_path / "noheader.csv")
    (tmp_path / "split.csv").write_text("source,target,split\na.mp4,b.mp4,holdout\n")
    with pytest.raises(InvalidInputError, match="line 2: split must be one of"):
        read_pairs_csv(tmp_path / "split.csv")
    (tmp_path / "self.csv").write_text("source,target\na.mp4,a.mp4\n")
    with pytest.raises(ConfigError, match="same identity"):
        read_pairs_csv(tmp_path / "self.csv")
    (tmp_path / "x").mkdir()
    (tmp_path / "clash.csv").write_text("source,target\na.mp4,x/a.mp4\n")
    with pytest.raises(ConfigError, match="two videos get the dataset name 'a'"):
        read_pairs_csv(tmp_path / "clash.csv")


def test_folder_pairs_every_video_with_another_identity_of_its_split(tmp_path: Path) -> None:
    _touch(tmp_path, *(f"id{i:02d}.mp4" for i in range(20)), "notes.txt")
    pairs = pairs_from_folder(tmp_path, seed=1)
    _assert_disjoint(pairs)
    assert sorted(p.target.name for p in pairs) == [f"id{i:02d}" for i in range(20)]
    assert all(p.source.identity != p.target.identity for p in pairs)
    sizes = {s: len(ids) for s, ids in _identities_by_split(pairs).items()}
    assert set(sizes) == {"train", "val", "test"} and sizes["train"] > sizes["val"]
    assert pairs == pairs_from_folder(tmp_path, seed=1)  # the seed fixes pairs and splits
    assert pairs != pairs_from_folder(tmp_path, seed=2)


def test_clip_names_must_be_unique_across_person_folders(tmp_path: Path) -> None:
    _touch(tmp_path, *(f"person{i}/clip{j}.mp4" for i in range(8) for j in range(3)))
    with pytest.raises(ConfigError, match="dataset name"):  # every person has a clip0
        pairs_from_folder(tmp_path)


def test_folder_needs_two_identities(tmp_path: Path) -> None:
    _touch(tmp_path, "only.mp4")
    with pytest.raises(InvalidInputError, match="at least two identities"):
        pairs_from_folder(tmp_path)


def test_person_folders_with_unique_clip_names(tmp_path: Path) -> None:
    _touch(tmp_path, *(f"person{i}/p{i}-{j}.mp4" for i in range(8) for j in range(2)))
    pairs = pairs_from_folder(tmp_path, seed=0)
    _assert_disjoint(pairs)
    assert len(pairs) == 16
    assert {p.target.identity for p in pairs} == {f"person{i}" for i in range(8)}
    assert all(isinstance(p.source, Video) and p.source.identity != p.target.identity
               for p in pairs)
