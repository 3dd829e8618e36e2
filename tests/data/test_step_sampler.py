"""StepSampler: bag packing, oversized bags, disjoint cycling, pair cycling, sharding."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gentleclip.data.sampler import (
    StepIndices,
    StepSampler,
    fits_step,
    largest_bag,
    rows_for_smallest_bags,
)
from gentleclip.errors import InputError


def _bag_ids(sizes: list[int], seed: int) -> np.ndarray:
    """One bag id per row for bags of the given sizes, rows in random order."""
    ids = np.repeat(np.arange(len(sizes)), sizes)
    return np.random.default_rng(seed).permutation(ids)


def _bag_sampler(
    sizes_a: list[int], sizes_b: list[int], unpaired_per_step: int, n_pairs: int = 0, seed: int = 0
) -> tuple[StepSampler, np.ndarray, np.ndarray]:
    bags_a, bags_b = _bag_ids(sizes_a, 1), _bag_ids(sizes_b, 2)
    sampler = StepSampler(
        n_pairs=n_pairs,
        n_unpaired_a=bags_a.size,
        n_unpaired_b=bags_b.size,
        bags_a=bags_a,
        bags_b=bags_b,
        pairs_per_step=4,
        unpaired_per_step=unpaired_per_step,
        seed=seed,
    )
    return sampler, bags_a, bags_b


def _disjoint(n_pairs: int, n_a: int, n_b: int, per_step: int, seed: int = 0) -> StepSampler:
    return StepSampler(
        n_pairs=n_pairs,
        n_unpaired_a=n_a,
        n_unpaired_b=n_b,
        bags_a=None,
        bags_b=None,
        pairs_per_step=3,
        unpaired_per_step=per_step,
        seed=seed,
    )


def _pairs_only(n_pairs: int, per_step: int, seed: int = 0) -> StepSampler:
    return StepSampler(
        n_pairs=n_pairs,
        n_unpaired_a=0,
        n_unpaired_b=0,
        bags_a=None,
        bags_b=None,
        pairs_per_step=per_step,
        unpaired_per_step=1,
        seed=seed,
    )


def test_every_bag_once_per_epoch_and_whole_bags_together() -> None:
    rng = np.random.default_rng(0)
    sizes_a = rng.integers(1, 9, size=60).tolist()
    sizes_b = rng.integers(1, 9, size=60).tolist()
    sampler, bags_a, bags_b = _bag_sampler(sizes_a, sizes_b, unpaired_per_step=32)
    for epoch in range(3):
        steps = sampler.epoch(epoch)
        all_a = np.concatenate([s.a for s in steps])
        all_b = np.concatenate([s.b for s in steps])
        assert sorted(all_a.tolist()) == list(range(bags_a.size))
        assert sorted(all_b.tolist()) == list(range(bags_b.size))
        seen_bags: list[int] = []
        for step in steps:
            assert step.a.size <= 32 and step.b.size <= 32
            in_step = set(bags_a[step.a].tolist())
            assert in_step == set(bags_b[step.b].tolist())
            for bag in in_step:  # every row of the bag, on both sides
                assert np.sum(bags_a[step.a] == bag) == sizes_a[bag]
                assert np.sum(bags_b[step.b] == bag) == sizes_b[bag]
            seen_bags.extend(in_step)
        assert sorted(seen_bags) == list(range(60))


def test_equal_bags_pack_greedily() -> None:
    sampler, _, _ = _bag_sampler([8] * 50, [8] * 50, unpaired_per_step=64)
    steps = sampler.epoch(0)
    assert [s.a.size for s in steps] == [64] * 6 + [16]
    assert sampler.steps_per_epoch() == 7


def test_bag_order_changes_between_epochs() -> None:
    sampler, bags_a, _ = _bag_sampler([4] * 40, [4] * 40, unpaired_per_step=16)
    first = [tuple(sorted(set(bags_a[s.a].tolist()))) for s in sampler.epoch(0)]
    second = [tuple(sorted(set(bags_a[s.a].tolist()))) for s in sampler.epoch(1)]
    assert first != second


def test_oversized_bag_gets_its_own_step_with_random_subsets() -> None:
    sizes_a, sizes_b = [100, 3, 3, 3], [30, 3, 3, 3]
    sampler, bags_a, bags_b = _bag_sampler(sizes_a, sizes_b, unpaired_per_step=16)
    subsets = []
    for epoch in range(2):
        steps = sampler.epoch(epoch)
        big = [s for s in steps if 0 in set(bags_a[s.a].tolist())]
        assert len(big) == 1
        step = big[0]
        assert set(bags_a[step.a].tolist()) == {0} and set(bags_b[step.b].tolist()) == {0}
        assert step.a.size == 16 and step.b.size == 16
        assert np.unique(step.a).size == 16 and np.unique(step.b).size == 16
        subsets.append(set(step.a.tolist()))
        small = np.concatenate([s.a for s in steps if s is not step])
        assert sorted(bags_a[small].tolist()) == [1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert subsets[0] != subsets[1]


def test_bag_oversized_on_one_side_only_keeps_the_other_side_whole() -> None:
    sampler, bags_a, bags_b = _bag_sampler([20, 2], [5, 2], unpaired_per_step=10)
    (step,) = [s for s in sampler.epoch(0) if 0 in set(bags_a[s.a].tolist())]
    assert step.a.size == 10 and step.b.size == 5
    assert sorted(step.b.tolist()) == sorted(np.flatnonzero(bags_b == 0).tolist())


def test_disjoint_longer_side_once_shorter_side_cycles() -> None:
    sampler = _disjoint(n_pairs=0, n_a=100, n_b=30, per_step=16)
    steps = sampler.epoch(0)
    assert len(steps) == 7 == sampler.steps_per_epoch()
    assert sorted(np.concatenate([s.a for s in steps]).tolist()) == list(range(100))
    assert [s.a.size for s in steps] == [16] * 6 + [4]
    for step in steps:
        assert step.b.size == 16 and np.unique(step.b).size == 16
    counts = Counter(np.concatenate([s.b for s in steps]).tolist())
    assert set(counts) == set(range(30))
    assert max(counts.values()) - min(counts.values()) <= 1


def test_disjoint_sides_are_shuffled_independently() -> None:
    steps = _disjoint(n_pairs=0, n_a=200, n_b=200, per_step=50).epoch(0)
    a = np.concatenate([s.a for s in steps])
    b = np.concatenate([s.b for s in steps])
    assert not np.array_equal(a, b) and not np.array_equal(a, np.arange(200))


def test_pairs_only_steps_cycle_through_permutations() -> None:
    sampler = _pairs_only(n_pairs=10, per_step=4)
    steps = sampler.epoch(0)
    assert len(steps) == 3
    for step in steps:
        assert step.pairs.size == 4 and np.unique(step.pairs).size == 4
        assert step.a.size == 0 and step.b.size == 0 and step.a.dtype == np.int64
    assert set(np.concatenate([s.pairs for s in steps]).tolist()) == set(range(10))


@settings(max_examples=40, deadline=None)
@given(
    n_pairs=st.integers(1, 30),
    per_step=st.integers(1, 40),
    n_unpaired=st.integers(0, 80),
    seed=st.integers(0, 5),
)
def test_pair_cycling_is_balanced_without_repeats_in_a_step(
    n_pairs: int, per_step: int, n_unpaired: int, seed: int
) -> None:
    sampler = StepSampler(
        n_pairs=n_pairs,
        n_unpaired_a=n_unpaired,
        n_unpaired_b=n_unpaired,
        bags_a=None,
        bags_b=None,
        pairs_per_step=per_step,
        unpaired_per_step=7,
        seed=seed,
    )
    steps = sampler.epoch(0)
    expected_steps = -(-n_unpaired // 7) if n_unpaired else -(-n_pairs // per_step)
    assert len(steps) == expected_steps
    drawn = []
    for step in steps:
        assert step.pairs.size == min(per_step, n_pairs)
        assert np.unique(step.pairs).size == step.pairs.size
        drawn.extend(step.pairs.tolist())
    counts = Counter(drawn)
    assert set(counts) <= set(range(n_pairs))
    low = min(counts.get(i, 0) for i in range(n_pairs))
    assert max(counts.values()) - low <= 1


def test_pairs_fewer_than_step_use_all_pairs_every_step() -> None:
    steps = _disjoint(n_pairs=2, n_a=50, n_b=50, per_step=10).epoch(0)
    assert len(steps) == 5
    assert all(sorted(s.pairs.tolist()) == [0, 1] for s in steps)


def test_zero_pairs_give_empty_pair_arrays() -> None:
    sampler, _, _ = _bag_sampler([3] * 10, [3] * 10, unpaired_per_step=9)
    for step in sampler.epoch(0):
        assert step.pairs.shape == (0,) and step.pairs.dtype == np.int64


def _as_lists(steps: list[StepIndices]) -> list[tuple[list[int], ...]]:
    return [(s.pairs.tolist(), s.a.tolist(), s.b.tolist()) for s in steps]


def test_epochs_are_deterministic_in_seed_and_epoch() -> None:
    make = lambda seed: _bag_sampler([5] * 30, [4] * 30, 20, n_pairs=9, seed=seed)[0]  # noqa: E731
    assert _as_lists(make(3).epoch(2)) == _as_lists(make(3).epoch(2))
    assert _as_lists(make(3).epoch(2)) != _as_lists(make(3).epoch(3))
    assert _as_lists(make(3).epoch(2)) != _as_lists(make(4).epoch(2))
    sampler = make(3)
    assert _as_lists(sampler.epoch(1)) == _as_lists(sampler.epoch(1))


def _check_shards(sampler: StepSampler, world_size: int) -> list[list[StepIndices]]:
    """Shares over ranks partition every global step; returns the per-rank steps."""
    global_steps = sampler.epoch(0)
    shards = [sampler.epoch(0, rank=r, world_size=world_size) for r in range(world_size)]
    for index, whole in enumerate(global_steps):
        for field in ("pairs", "a", "b"):
            parts = [getattr(shards[r][index], field) for r in range(world_size)]
            joined = np.concatenate(parts)
            assert sorted(joined.tolist()) == sorted(getattr(whole, field).tolist())
            assert np.unique(joined).size == joined.size
    return shards


@pytest.mark.parametrize("world_size", [1, 2, 3, 4])
def test_sharding_keeps_whole_bags_on_one_rank(world_size: int) -> None:
    sampler, bags_a, bags_b = _bag_sampler([4] * 40, [5] * 40, unpaired_per_step=40, n_pairs=10)
    shards = _check_shards(sampler, world_size)
    for rank_steps in shards:
        for step in rank_steps:
            assert set(bags_a[step.a].tolist()) == set(bags_b[step.b].tolist())
            assert Counter(bags_a[step.a].tolist()) == dict.fromkeys(bags_a[step.a].tolist(), 4)
            assert Counter(bags_b[step.b].tolist()) == dict.fromkeys(bags_b[step.b].tolist(), 5)
            assert step.a.size > 0  # 8 bags per step: every rank gets some
            assert abs(step.pairs.size - 4 / world_size) < 1


@pytest.mark.parametrize("world_size", [2, 3])
def test_sharding_splits_rows_of_oversized_bags_and_disjoint_steps(world_size: int) -> None:
    oversized, _, _ = _bag_sampler([50, 2], [40, 2], unpaired_per_step=12, n_pairs=5)
    _check_shards(oversized, world_size)
    _check_shards(_disjoint(n_pairs=7, n_a=50, n_b=23, per_step=8), world_size)
    _check_shards(_pairs_only(n_pairs=11, per_step=5), world_size)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"n_unpaired_b": 0}, "one side only"),
        ({"n_pairs": 0, "n_unpaired_a": 0, "n_unpaired_b": 0}, "nothing to sample"),
        ({"pairs_per_step": 0}, "pairs_per_step must be >= 1"),
        ({"unpaired_per_step": 0}, "unpaired_per_step must be >= 1"),
        ({"n_pairs": -1}, "n_pairs must be >= 0"),
        ({"seed": True}, "seed must be an integer"),
        ({"bags_a": np.zeros(6, int)}, "one side only"),
        ({"bags_a": np.zeros(5, int), "bags_b": np.zeros(6, int)}, "bags_a has 5 entries"),
        ({"bags_a": np.zeros(6), "bags_b": np.zeros(6, int)}, "bags_a must be a 1-D integer"),
        (
            {
                "bags_a": np.array([0, 0, 0, 1, 1, 4]),
                "bags_b": np.array([0, 1, 2, 0, 1, 2]),
            },
            r"bag ids differ between sides, e.g. \[2, 4\]",
        ),
    ],
)
def test_sampler_validation(kwargs: dict[str, object], pattern: str) -> None:
    params: dict[str, object] = {
        "n_pairs": 3,
        "n_unpaired_a": 6,
        "n_unpaired_b": 6,
        "bags_a": None,
        "bags_b": None,
        "pairs_per_step": 2,
        "unpaired_per_step": 4,
        **kwargs,
    }
    with pytest.raises(InputError, match=pattern):
        StepSampler(**params)  # type: ignore[arg-type]


def test_epoch_and_rank_validation() -> None:
    sampler = _pairs_only(n_pairs=4, per_step=2)
    with pytest.raises(InputError, match="rank must be < world_size"):
        sampler.epoch(0, rank=2, world_size=2)
    with pytest.raises(InputError, match="world_size must be >= 1"):
        sampler.epoch(0, rank=0, world_size=0)
    with pytest.raises(InputError, match="epoch must be >= 0"):
        sampler.epoch(-1)


def _bags_in_steps(sampler: StepSampler, bags_a: np.ndarray) -> list[tuple[int, bool]]:
    """Per step of epoch 0: how many bags its A rows touch, and whether each is whole."""
    sizes = Counter(bags_a.tolist())
    out = []
    for step in sampler.epoch(0):
        counts = Counter(bags_a[step.a].tolist())
        out.append((len(counts), all(counts[bag] == sizes[bag] for bag in counts)))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_bag_size_helpers_state_the_packing_rule(seed: int) -> None:
    """``largest_bag``, ``rows_for_smallest_bags`` and ``fits_step`` predict what the sampler
    does: below the two smallest bags no step holds 2; at twice the largest every step but
    the last holds at least 2, all whole; below the largest some step holds a subset."""
    sizes_a, sizes_b = [5, 9, 7, 12, 6], [4, 11, 7, 10, 8]
    bags_a, bags_b = _bag_ids(sizes_a, 1), _bag_ids(sizes_b, 2)
    assert largest_bag(bags_a, bags_b) == 12
    assert rows_for_smallest_bags(bags_a, bags_b, 2) == 11  # A: 5 + 6, B: 4 + 7
    assert rows_for_smallest_bags(bags_a, bags_b, 1) == 5
    assert fits_step(12, 11, 12) and not fits_step(12, 13, 12) and not fits_step(13, 1, 12)
    few, *_ = _bag_sampler(sizes_a, sizes_b, 10, seed=seed)
    assert all(n == 1 for n, _ in _bags_in_steps(few, bags_a))
    room, *_ = _bag_sampler(sizes_a, sizes_b, 2 * 12, seed=seed)
    steps = _bags_in_steps(room, bags_a)
    assert all(whole for _, whole in steps) and all(n >= 2 for n, _ in steps[:-1])
    short, *_ = _bag_sampler(sizes_a, sizes_b, 11, seed=seed)
    assert not all(whole for _, whole in _bags_in_steps(short, bags_a))
