"""Which rows go into each training step, per regime, deterministic in (seed, epoch).

One step holds some matched pairs plus an A set and a B set of unpaired rows:

- **bags**: every bag is visited once per epoch, in random order; whole bags are packed
  greedily while both sides fit ``unpaired_per_step``, so a step's A set and B set describe
  the same objects. A bag larger than a step gets a step of its own holding independent
  random subsets of its two sides (they reveal nothing about item identity).
- **unpaired** (disjoint): A rows and B rows are shuffled independently and chunked; the
  epoch has as many steps as the longer side needs and the shorter side cycles, reshuffled.
- **pairs**: every step gets ``min(pairs_per_step, n_pairs)`` pairs, drawn by cycling
  through shuffled permutations (never the same pair twice within a step). Without
  unpaired rows an epoch has ``ceil(n_pairs / pairs_per_step)`` steps.

For distributed training, :meth:`StepSampler.epoch` with ``rank``/``world_size`` returns each
rank's share of every global step; the shares' union is the global step without duplicates.
Pairs are split evenly, bags are kept whole when a step has at least ``world_size`` bags
(balanced greedily by size), otherwise each bag's rows are split across ranks. A rank's share
may be empty when a step has fewer rows than ranks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gentleclip.data.regimes import RegimeData, bag_sizes
from gentleclip.errors import InputError

_EMPTY = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class StepIndices:
    """Row indices of one step: into paired rows, unpaired A rows and unpaired B rows."""

    pairs: np.ndarray
    a: np.ndarray
    b: np.ndarray


@dataclass(frozen=True)
class _GlobalStep:
    """A step before sharding: unpaired rows grouped by bag (one group when disjoint)."""

    pairs: np.ndarray
    groups_a: tuple[np.ndarray, ...]
    groups_b: tuple[np.ndarray, ...]


class StepSampler:
    """Plan the steps of each epoch for the pairs, bags and unpaired regimes."""

    def __init__(
        self,
        *,
        n_pairs: int,
        n_unpaired_a: int,
        n_unpaired_b: int,
        bags_a: np.ndarray | None,
        bags_b: np.ndarray | None,
        pairs_per_step: int,
        unpaired_per_step: int,
        seed: int = 0,
    ) -> None:
        for name, value, minimum in [
            ("n_pairs", n_pairs, 0),
            ("n_unpaired_a", n_unpaired_a, 0),
            ("n_unpaired_b", n_unpaired_b, 0),
            ("pairs_per_step", pairs_per_step, 1),
            ("unpaired_per_step", unpaired_per_step, 1),
            ("seed", seed, 0),
        ]:
            _check_int(value, name, minimum)
        if (n_unpaired_a == 0) != (n_unpaired_b == 0):
            raise InputError(
                f"unpaired rows on one side only ({n_unpaired_a} A, {n_unpaired_b} B); "
                "the distribution terms need both sides"
            )
        if n_pairs == 0 and n_unpaired_a == 0:
            raise InputError("nothing to sample: no pairs and no unpaired rows")
        self.n_pairs = int(n_pairs)
        self.n_unpaired_a = int(n_unpaired_a)
        self.n_unpaired_b = int(n_unpaired_b)
        self.pairs_per_step = int(pairs_per_step)
        self.unpaired_per_step = int(unpaired_per_step)
        self.seed = int(seed)
        self._bag_rows = _group_bags(bags_a, bags_b, self.n_unpaired_a, self.n_unpaired_b)

    @classmethod
    def from_data(
        cls, data: RegimeData, *, pairs_per_step: int, unpaired_per_step: int, seed: int = 0
    ) -> StepSampler:
        """A sampler over the rows of ``data``."""
        return cls(
            n_pairs=data.n_pairs,
            n_unpaired_a=data.n_unpaired_a,
            n_unpaired_b=data.n_unpaired_b,
            bags_a=data.bags_a,
            bags_b=data.bags_b,
            pairs_per_step=pairs_per_step,
            unpaired_per_step=unpaired_per_step,
            seed=seed,
        )

    def steps_per_epoch(self, epoch: int = 0) -> int:
        """Number of steps in ``epoch`` (with bags it can vary slightly between epochs)."""
        return len(self._global_steps(epoch))

    def epoch(self, epoch: int, rank: int = 0, world_size: int = 1) -> list[StepIndices]:
        """The steps of ``epoch`` as seen by ``rank`` of ``world_size`` ranks."""
        _check_int(world_size, "world_size", 1)
        _check_int(rank, "rank", 0)
        if rank >= world_size:
            raise InputError(f"rank must be < world_size ({world_size}), got {rank}")
        return [_shard(step, rank, world_size) for step in self._global_steps(epoch)]

    def _global_steps(self, epoch: int) -> list[_GlobalStep]:
        """All steps of ``epoch`` before sharding; uses ``default_rng([seed, epoch])``."""
        _check_int(epoch, "epoch", 0)
        rng = np.random.default_rng([self.seed, int(epoch)])
        if self._bag_rows is not None:
            unpaired = _pack_bags(*self._bag_rows, self.unpaired_per_step, rng)
        elif self.n_unpaired_a > 0:
            unpaired = self._disjoint_steps(rng)
        else:
            unpaired = []
        n_steps = len(unpaired) or -(-self.n_pairs // self.pairs_per_step)
        size = min(self.pairs_per_step, self.n_pairs)
        pairs = _cycled_chunks(self.n_pairs, size, n_steps, rng)
        if not unpaired:
            return [_GlobalStep(chunk, (), ()) for chunk in pairs]
        return [_GlobalStep(chunk, ga, gb) for chunk, (ga, gb) in zip(pairs, unpaired, strict=True)]

    def _disjoint_steps(self, rng: np.random.Generator) -> list[tuple[tuple[np.ndarray, ...], ...]]:
        """Chunk each side independently; the side needing fewer steps cycles."""
        limit = self.unpaired_per_step
        own_steps = [-(-n // limit) for n in (self.n_unpaired_a, self.n_unpaired_b)]
        n_steps = max(own_steps)
        sides = []
        for n, own in zip((self.n_unpaired_a, self.n_unpaired_b), own_steps, strict=True):
            if own == n_steps:
                order = rng.permutation(n)
                sides.append([order[i * limit : (i + 1) * limit] for i in range(n_steps)])
            else:
                sides.append(_cycled_chunks(n, min(limit, n), n_steps, rng))
        return [((chunk_a,), (chunk_b,)) for chunk_a, chunk_b in zip(*sides, strict=True)]


def _check_int(value: int, name: str, minimum: int) -> None:
    """An integer parameter at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {value}")


def _group_bags(
    bags_a: np.ndarray | None, bags_b: np.ndarray | None, n_a: int, n_b: int
) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
    """Row indices of every bag on each side, bags in the same (sorted id) order."""
    if bags_a is None and bags_b is None:
        return None
    if bags_a is None or bags_b is None:
        raise InputError("bag ids given for one side only; give both or neither")
    rows_a, ids_a = _rows_by_bag(bags_a, n_a, "bags_a")
    rows_b, ids_b = _rows_by_bag(bags_b, n_b, "bags_b")
    if not np.array_equal(ids_a, ids_b):
        differing = np.setxor1d(ids_a, ids_b)[:5].tolist()
        raise InputError(f"bag ids differ between sides, e.g. {differing}")
    return rows_a, rows_b


def fits_step(rows_a: int, rows_b: int, limit: int) -> bool:
    """Whether ``rows_a`` A rows and ``rows_b`` B rows fit one step of ``limit`` unpaired rows
    a side: the packing rule for a bag, and for the bags a step gathers."""
    return rows_a <= limit and rows_b <= limit


def largest_bag(bags_a: np.ndarray, bags_b: np.ndarray) -> int:
    """Rows of the largest bag on either side (0 without rows). A step smaller than this
    gives that bag independent random subsets of its sides instead of the whole bag."""
    return max(
        (int(sizes[-1]) for sizes in map(bag_sizes, (bags_a, bags_b)) if sizes.size), default=0
    )


def rows_for_smallest_bags(bags_a: np.ndarray, bags_b: np.ndarray, count: int) -> int:
    """The smallest ``unpaired_per_step`` in which the ``count`` smallest bags of each side
    fit together: below it no step ever holds ``count`` whole bags."""
    return max(int(bag_sizes(bags)[:count].sum()) for bags in (bags_a, bags_b))


def _rows_by_bag(bags: np.ndarray, n_rows: int, name: str) -> tuple[list[np.ndarray], np.ndarray]:
    """Split row indices by bag id; returns the groups and the sorted unique ids."""
    bags = np.asarray(bags)
    if bags.ndim != 1 or bags.dtype.kind not in "iu":
        raise InputError(f"{name} must be a 1-D integer array, got {bags.dtype} {bags.shape}")
    if bags.shape[0] != n_rows:
        raise InputError(f"{name} has {bags.shape[0]} entries but there are {n_rows} rows")
    order = np.argsort(bags, kind="stable")
    ids, counts = np.unique(bags, return_counts=True)
    groups = np.split(order.astype(np.int64), np.cumsum(counts)[:-1])
    return groups, ids


def _pack_bags(
    rows_a: list[np.ndarray], rows_b: list[np.ndarray], limit: int, rng: np.random.Generator
) -> list[tuple[tuple[np.ndarray, ...], ...]]:
    """Pack whole bags greedily into steps; an oversized bag gets its own subset step."""
    steps: list[tuple[tuple[np.ndarray, ...], ...]] = []
    current_a: list[np.ndarray] = []
    current_b: list[np.ndarray] = []
    fill_a = fill_b = 0
    for bag in rng.permutation(len(rows_a)):
        bag_a, bag_b = rows_a[bag], rows_b[bag]
        if not fits_step(bag_a.size, bag_b.size, limit):
            subset_a = rng.choice(bag_a, min(limit, bag_a.size), replace=False)
            subset_b = rng.choice(bag_b, min(limit, bag_b.size), replace=False)
            steps.append(((subset_a,), (subset_b,)))
            continue
        if not fits_step(fill_a + bag_a.size, fill_b + bag_b.size, limit):
            steps.append((tuple(current_a), tuple(current_b)))
            current_a, current_b, fill_a, fill_b = [], [], 0, 0
        current_a.append(rng.permutation(bag_a))
        current_b.append(rng.permutation(bag_b))
        fill_a, fill_b = fill_a + bag_a.size, fill_b + bag_b.size
    if current_a:
        steps.append((tuple(current_a), tuple(current_b)))
    return steps


def _cycled_chunks(n: int, size: int, count: int, rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` chunks of ``size`` from back-to-back permutations of ``range(n)``.

    A chunk that crosses into a fresh permutation is filled with items not already in it,
    so no chunk repeats an index; each permutation is still visited completely.
    """
    if size == 0:
        return [_EMPTY] * count
    chunks: list[np.ndarray] = []
    queue = rng.permutation(n)
    for _ in range(count):
        if queue.size >= size:
            chunk, queue = queue[:size], queue[size:]
        else:
            fresh = rng.permutation(n)
            fill = fresh[~np.isin(fresh, queue)][: size - queue.size]
            chunk = np.concatenate([queue, fill])
            queue = fresh[~np.isin(fresh, fill)]
        chunks.append(chunk.astype(np.int64))
    return chunks


def _shard(step: _GlobalStep, rank: int, world_size: int) -> StepIndices:
    """This rank's share of a global step; shares over all ranks partition the step."""
    pairs = np.array_split(step.pairs, world_size)[rank]
    if len(step.groups_a) >= world_size:
        mine = _balance(
            [a.size + b.size for a, b in zip(step.groups_a, step.groups_b, strict=True)], world_size
        )[rank]
        a = _concat([step.groups_a[i] for i in mine])
        b = _concat([step.groups_b[i] for i in mine])
    else:
        a = _concat([np.array_split(group, world_size)[rank] for group in step.groups_a])
        b = _concat([np.array_split(group, world_size)[rank] for group in step.groups_b])
    return StepIndices(pairs=pairs.astype(np.int64), a=a, b=b)


def _balance(sizes: list[int], world_size: int) -> list[list[int]]:
    """Assign items to ranks, largest first to the least-loaded rank (ties: lowest rank)."""
    loads = [0] * world_size
    assigned: list[list[int]] = [[] for _ in range(world_size)]
    for item in sorted(range(len(sizes)), key=lambda i: (-sizes[i], i)):
        target = loads.index(min(loads))
        assigned[target].append(item)
        loads[target] += sizes[item]
    return [sorted(items) for items in assigned]


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    """Concatenate index arrays as int64; empty input gives an empty array."""
    return np.concatenate(parts).astype(np.int64) if parts else _EMPTY.copy()
