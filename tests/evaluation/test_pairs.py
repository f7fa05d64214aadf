from __future__ import annotations

from pathlib import Path

import pytest

from openfsgan.errors import ConfigError, InputNotFoundError
from openfsgan.evaluation.pairs import EvalPair, load_pairs, pairs_from_dirs, parse_pairs

HEADER = ("pair_id,source,target,source_identity,target_identity,source_start,source_end,"
          "target_start")


def test_parse_full_rows_and_comments(tmp_path: Path) -> None:
    text = "\n".join([
        "# held out: obama",
        HEADER,
        "a_to_b,a.mp4,/abs/b.mp4,ann,bob,,,",
        "",
        "ann_self,a.mp4,a.mp4,ann,ann,0,60,80",
    ])
    pairs = parse_pairs(text, tmp_path)
    assert [p.pair_id for p in pairs] == ["a_to_b", "ann_self"]
    assert pairs[0].source == tmp_path / "a.mp4"
    assert pairs[0].target == Path("/abs/b.mp4")
    assert pairs[0].kind == "cross" and not pairs[0].trims_source
    assert pairs[1].kind == "self"
    assert (pairs[1].source_start, pairs[1].source_end, pairs[1].target_start) == (0, 60, 80)
    assert pairs[1].trims_source
    assert pairs[1].to_dict()["kind"] == "self"


def test_minimal_columns_get_default_ids_and_identities(tmp_path: Path) -> None:
    pairs = parse_pairs("source,target\nx/d0.mp4,y/obama.mp4\n", tmp_path)
    assert pairs[0].source_identity == "x/d0"
    assert pairs[0].target_identity == "y/obama"
    assert pairs[0].pair_id == "d0_to_obama"


@pytest.mark.parametrize("text,message", [
    ("", "no header"),
    ("source,target\n", "no pair rows"),
    ("src,target\na,b\n", "lacks column"),
    ("source,target,colour\na,b,red\n", "unknown column"),
    ("source,target\na,\n", "must not be empty"),
    ("source,target,source_start\na,b,x\n", "whole number"),
    ("source,target,source_start\na,b,-3\n", ">= 0"),
    ("source,target,source_start,source_end\na,b,10,5\n", "greater than"),
    ("pair_id,source,target\np,a,b\np,c,d\n", "duplicate pair_id"),
    ("pair_id,source,target\nbad id,a,b\n", "pair_id"),
    ("source,target\na,b,c\n", "cells"),
])
def test_bad_pairs_text_names_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_pairs(text, tmp_path, tmp_path / "pairs.csv")


def test_load_pairs_resolves_against_csv_folder_or_root(tmp_path: Path) -> None:
    csv_path = tmp_path / "pairs.csv"
    csv_path.write_text("source,target\na.mp4,b.mp4\n")
    assert load_pairs(csv_path)[0].source == tmp_path / "a.mp4"
    assert load_pairs(csv_path, "/data")[0].target == Path("/data/b.mp4")
    with pytest.raises(InputNotFoundError):
        load_pairs(tmp_path / "none.csv")
    (tmp_path / "bin.csv").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ConfigError, match="UTF-8"):
        load_pairs(tmp_path / "bin.csv")


def test_pairs_from_one_folder_are_all_ordered_pairs(tmp_path: Path) -> None:
    for name in ("a.mp4", "b.mov", "c.mp4", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    pairs = pairs_from_dirs(tmp_path)
    assert len(pairs) == 6
    assert {(p.source.name, p.target.name) for p in pairs} == {
        (s, t) for s in ("a.mp4", "b.mov", "c.mp4") for t in ("a.mp4", "b.mov", "c.mp4") if s != t}
    assert all(p.kind == "cross" for p in pairs)
    assert len({p.pair_id for p in pairs}) == 6


def test_pairs_from_two_folders_are_the_cross_product(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "t").mkdir()
    for name in ("a.mp4", "b.mp4"):
        (tmp_path / "s" / name).write_bytes(b"x")
    (tmp_path / "t" / "a.mp4").write_bytes(b"x")
    pairs = pairs_from_dirs(tmp_path / "s", tmp_path / "t")
    assert len(pairs) == 2
    assert all(p.kind == "cross" for p in pairs)
    with pytest.raises(ConfigError, match="no video"):
        pairs_from_dirs(tmp_path / "s", tmp_path)
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "a.mp4").write_bytes(b"x")
    with pytest.raises(ConfigError, match="two videos"):
        pairs_from_dirs(tmp_path / "one")


def test_eval_pair_validates() -> None:
    with pytest.raises(ValueError):
        EvalPair("p", Path("a"), Path("b"), "a", "b", source_start=5, source_end=5)
