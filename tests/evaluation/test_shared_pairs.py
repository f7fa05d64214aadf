"""The shipped pair list of the shared videos and the held-out identity list agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from openfsgan.errors import ConfigError
from openfsgan.evaluation.pairs import load_heldout_identities, load_pairs

EVAL_DIR = Path(__file__).resolve().parents[2] / "eval"


def test_shared_pairs_use_only_heldout_identities() -> None:
    pairs = load_pairs(EVAL_DIR / "pairs_shared.csv", "/shared-faces")
    heldout = load_heldout_identities(EVAL_DIR / "heldout_identities.txt")
    used = {identity for p in pairs for identity in (p.source_identity, p.target_identity)}
    assert used <= set(heldout)
    files = {path for paths in heldout.values() for path in paths}
    for pair in pairs:
        for path in (pair.source, pair.target):
            assert str(path.relative_to("/shared-faces")) in files
    assert sum(p.kind == "self" for p in pairs) >= 3
    assert sum(p.kind == "cross" for p in pairs) >= 10
    # Every file of a pair is listed under the identity the pair gives it.
    for pair in pairs:
        assert str(pair.source.relative_to("/shared-faces")) in heldout[pair.source_identity]
        assert str(pair.target.relative_to("/shared-faces")) in heldout[pair.target_identity]


def test_shared_pair_files_exist(shared_faces: Path) -> None:
    pairs = load_pairs(EVAL_DIR / "pairs_shared.csv", shared_faces)
    missing = [str(p) for pair in pairs for p in (pair.source, pair.target) if not p.exists()]
    assert not missing
    heldout = load_heldout_identities(EVAL_DIR / "heldout_identities.txt")
    listed = [path for paths in heldout.values() for path in paths]
    assert not [p for p in listed if not (shared_faces / p).exists()]


def test_heldout_list_format_errors(tmp_path: Path) -> None:
    bad = tmp_path / "h.txt"
    bad.write_text("# fine\nann a.mp4 # a comment\nbob\n")
    with pytest.raises(ConfigError, match=":3:"):
        load_heldout_identities(bad)
    bad.write_text("ann a.mp4\nann b.jpg\n")
    assert load_heldout_identities(bad) == {"ann": ("a.mp4", "b.jpg")}
