"""Sharding of every global step across ranks: no row duplicated, none lost, for all regimes.

The reference is the ``world_size=1`` plan of the same (seed, epoch); the shares of ranks
``0..W-1`` must partition each of its steps (pairs, A rows, B rows), pairs in rank order so
the gathered CLIP batch equals the single-process one, and every rank sees the same number
of steps (DDP needs them in lockstep).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gentleclip.data.sampler import StepIndices, StepSampler


def _bag_ids(sizes: list[int], seed: int) -> np.ndarray:
    """One bag id per row for bags of the given sizes, rows shuffled."""
    return np.random.default_rng(seed).permutation(np.repeat(np.arange(len(sizes)), sizes))


def _sampler(regime: str, n_pairs: int, n_rows: int, per_step: int, seed: int) -> StepSampler:
    """A sampler for ``regime`` in {"bags", "unpaired", "pairs"} over ``n_rows`` per side."""
    bags_a = bags_b = None
    n_a = n_b = 0
    if regime == "bags":
        sizes = [1 + (i * 7 + seed) % 5 for i in range(max(1, n_rows // 3))]
        bags_a, bags_b = _bag_ids(sizes, seed), _bag_ids([s + 1 for s in sizes], seed + 1)
        n_a, n_b = bags_a.size, bags_b.size
    elif regime == "unpaired":
        n_a, n_b = n_rows, n_rows // 2 + 1
    return StepSampler(
        n_pairs=n_pairs,
        n_unpaired_a=n_a,
        n_unpaired_b=n_b,
        bags_a=bags_a,
        bags_b=bags_b,
        pairs_per_step=5,
        unpaired_per_step=per_step,
        seed=seed,
    )


def _assert_partition(whole: StepIndices, shares: list[StepIndices], where: str) -> None:
    """Shares are disjoint and their union is exactly ``whole``, field by field."""
    for field in ("pairs", "a", "b"):
        parts = [getattr(share, field) for share in shares]
        joined = np.concatenate(parts)
        reference = getattr(whole, field)
        assert all(p.dtype == np.int64 for p in parts), f"{where} {field}"
        assert np.unique(joined).size == joined.size, f"{where}: duplicated {field} rows"
        assert sorted(joined.tolist()) == sorted(reference.tolist()), f"{where}: lost {field}"
    pairs = np.concatenate([share.pairs for share in shares])
    assert pairs.tolist() == whole.pairs.tolist(), f"{where}: pairs out of rank order"


def _check_epoch(sampler: StepSampler, epoch: int, world_size: int) -> None:
    whole = sampler.epoch(epoch)
    ranks = [sampler.epoch(epoch, rank=r, world_size=world_size) for r in range(world_size)]
    assert all(len(steps) == len(whole) for steps in ranks), "ranks must step in lockstep"
    for index, step in enumerate(whole):
        where = f"epoch {epoch} step {index} world {world_size}"
        _assert_partition(step, [steps[index] for steps in ranks], where)


@pytest.mark.parametrize("regime", ["bags", "unpaired", "pairs"])
@pytest.mark.parametrize("world_size", [1, 2, 3, 4])
def test_every_global_step_is_partitioned(regime: str, world_size: int) -> None:
    sampler = _sampler(regime, n_pairs=13, n_rows=40, per_step=12, seed=2)
    for epoch in range(3):
        _check_epoch(sampler, epoch, world_size)


@settings(max_examples=40, deadline=None)
@given(
    regime=st.sampled_from(["bags", "unpaired", "pairs"]),
    n_pairs=st.integers(0, 12),
    n_rows=st.integers(2, 30),
    per_step=st.integers(1, 10),
    world_size=st.integers(1, 4),
    epoch=st.integers(0, 3),
    seed=st.integers(0, 5),
)
def test_partition_holds_for_any_sizes(
    regime: str, n_pairs: int, n_rows: int, per_step: int, world_size: int, epoch: int, seed: int
) -> None:
    if regime == "pairs" and n_pairs == 0:
        n_pairs = 1  # a pairs-only sampler needs pairs
    sampler = _sampler(regime, n_pairs, n_rows, per_step, seed)
    _check_epoch(sampler, epoch, world_size)


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_bags_stay_whole_when_a_step_has_enough_bags(world_size: int) -> None:
    sizes = [3] * 24
    bags_a, bags_b = _bag_ids(sizes, 0), _bag_ids(sizes, 1)
    sampler = StepSampler(
        n_pairs=8,
        n_unpaired_a=bags_a.size,
        n_unpaired_b=bags_b.size,
        bags_a=bags_a,
        bags_b=bags_b,
        pairs_per_step=4,
        unpaired_per_step=12,  # 4 bags per step >= world_size
        seed=0,
    )
    for index in range(sampler.steps_per_epoch(0)):
        owners: dict[int, set[int]] = {}
        for rank in range(world_size):
            share = sampler.epoch(0, rank=rank, world_size=world_size)[index]
            for bag in (*bags_a[share.a].tolist(), *bags_b[share.b].tolist()):
                owners.setdefault(bag, set()).add(rank)
        assert all(len(ranks) == 1 for ranks in owners.values()), f"step {index}: split bag"


def test_more_ranks_than_rows_gives_empty_shares_not_duplicates() -> None:
    sampler = _sampler("pairs", n_pairs=2, n_rows=0, per_step=1, seed=0)
    shares = [sampler.epoch(0, rank=r, world_size=4)[0] for r in range(4)]
    sizes = [share.pairs.size for share in shares]
    assert sorted(sizes) == [0, 0, 1, 1]
    _assert_partition(sampler.epoch(0)[0], shares, "2 pairs over 4 ranks")
