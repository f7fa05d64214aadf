import pytest

from openfsgan.training.distributed import DistributedContext, ShardedSampler, sample_seed
from openfsgan.training.schedule import linear_ramp


def test_linear_ramp():
    assert linear_ramp(0, 100) == 0.0
    assert linear_ramp(25, 100) == pytest.approx(0.25)
    assert linear_ramp(100, 100) == 1.0
    assert linear_ramp(500, 100) == 1.0
    assert linear_ramp(10, 20, start=1.0, end=3.0) == pytest.approx(2.0)
    assert linear_ramp(0, 0, end=0.5) == 0.5
    with pytest.raises(ValueError):
        linear_ramp(-1, 10)


def test_shards_are_disjoint_and_cover_the_epoch():
    shards = [list(ShardedSampler(10, seed=3, context=DistributedContext(r, r, 3)))
              for r in range(3)]
    indices = [i for shard in shards for i, _ in shard]
    assert len(indices) == 9 and len(set(indices)) == 9  # 10 // 3 * 3, no repeats
    seeds = [s for shard in shards for _, s in shard]
    assert len(set(seeds)) == 9


def test_epochs_differ_and_positions_resume_exactly():
    sampler = ShardedSampler(12, seed=0)
    first = list(sampler)
    sampler.set_position(1)
    second = list(sampler)
    assert [i for i, _ in first] != [i for i, _ in second]
    assert sorted(i for i, _ in second) == list(range(12))
    sampler.set_position(1, start=5)
    assert list(sampler) == second[5:]
    assert len(sampler) == 7
    assert second[0][1] == sample_seed(0, 1, 0)


def test_unshuffled_order():
    assert [i for i, _ in ShardedSampler(5, seed=9, shuffle=False)] == [0, 1, 2, 3, 4]
