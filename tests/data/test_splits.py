import numpy as np
import pytest

from openfsgan.data.splits import reenactment_pairs, split_of, stable_seed


def test_split_is_a_pure_function_of_the_identity():
    identities = [f"person/{i:03d}" for i in range(400)]
    first = [split_of(i, 0.2) for i in identities]
    again = [split_of(i, 0.2) for i in reversed(identities)][::-1]
    assert first == again
    fraction = first.count("val") / len(first)
    assert 0.14 < fraction < 0.26


def test_split_extremes_and_bad_fraction():
    assert {split_of(f"x{i}", 0.0) for i in range(50)} == {"train"}
    with pytest.raises(ValueError):
        split_of("x", 1.0)


def test_stable_seed_differs_by_part_and_repeats():
    assert stable_seed("a", 1) == stable_seed("a", 1)
    assert stable_seed("a", 1) != stable_seed("a", 2)
    assert 0 <= stable_seed("anything") < 2**63


def test_pairs_stay_inside_groups_and_do_not_depend_on_other_groups():
    groups = ["v1"] * 5 + ["photo"] + ["v2"] * 3
    pairs = reenactment_pairs(groups, pairs_per_frame=2, seed=0)
    assert pairs.shape == (5 * 2 + 3 * 2, 2)
    for source, target in pairs:
        assert source != target
        assert groups[source] == groups[target]
    assert 5 not in pairs  # a lone photo has no partner
    # adding a video in front shifts indices but not the pairs drawn inside v1
    more = reenactment_pairs(["v0"] * 4 + groups, pairs_per_frame=2, seed=0)
    v1_before = {tuple(p) for p in pairs if groups[p[0]] == "v1"}
    v1_after = {(a - 4, b - 4) for a, b in more if a >= 4 and groups[a - 4] == "v1"}
    assert v1_before == v1_after
    assert np.array_equal(pairs, reenactment_pairs(groups, pairs_per_frame=2, seed=0))


def test_pairs_capped_by_group_size():
    pairs = reenactment_pairs(["a", "a"], pairs_per_frame=5)
    assert sorted(map(tuple, pairs)) == [(0, 1), (1, 0)]
