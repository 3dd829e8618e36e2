"""Choosing a closed-form baseline's parameters on a dataset directory alone (``fit --tune``).

The bench picks each method's parameters on a validation split cut from items whose pairing
it knows. A user's directory has no such items: besides its few pairs it holds unpaired rows,
perhaps in bags. So the validation pairs here are cut from what the directory knows:

- a share (``holdout``) of the matched pairs, and
- with ``bag_means``, the same share of the bags: each held-out bag's mean A row and mean B
  row form one validation pair (they correspond exactly under a linear map, as in
  :mod:`gentleclip.data.bag_means`).

Every candidate (the same evenly spread entries of the baseline's grid as the bench's
``--tune-budget``) is fitted on the rest, with the remaining bags' means as extra pairs when
``bag_means``, and scored by a->b R@1 over the validation pairs (ties counted by their
expectation); the first of the best is chosen. The held-out rows never enter a fit.
:func:`tune_methods` does the same over several baselines on one holdout (``--method auto``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gentleclip.data.bag_means import bag_mean_rows, data_with_bag_means
from gentleclip.data.regimes import RegimeData
from gentleclip.errors import InputError

SCORE = "a_to_b_R@1"
MIN_VALIDATION_PAIRS = 4
# the baselines ``fit --method auto`` chooses from (scikit-learn's CCA duplicates ours)
AUTO_METHODS: tuple[str, ...] = ("ridge", "procrustes", "cca", "relrep")


@dataclass(frozen=True)
class Holdout:
    """The rows candidates are fitted on and the validation pairs they are scored on."""

    train: RegimeData
    val_a: np.ndarray
    val_b: np.ndarray
    held_pairs: int
    held_bags: int


def spread(grid: Sequence[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """``budget`` evenly spaced entries of ``grid`` (all of it when it is smaller)."""
    if not grid:
        return [{}]
    if len(grid) <= budget:
        return list(grid)
    picks = np.unique(np.round(np.linspace(0, len(grid) - 1, budget)).astype(int))
    return [grid[i] for i in picks]


def min_pairs_to_tune(share: float = 0.2) -> int:
    """The fewest pairs from which holding out ``share`` (rounded) leaves
    :data:`MIN_VALIDATION_PAIRS` validation pairs (no bags): 18 at the default 0.2."""
    if not 0 < share < 1:
        raise InputError(f"the held-out share must be between 0 and 1, got {share}")
    n = MIN_VALIDATION_PAIRS
    while round(share * n) < MIN_VALIDATION_PAIRS:
        n += 1
    return n


def holdout(data: RegimeData, *, share: float, bag_means: bool, seed: int) -> Holdout:
    """Hold out ``share`` of the pairs and, with ``bag_means``, of the bags (see module).

    Raises InputError when fewer than ``MIN_VALIDATION_PAIRS`` validation pairs result."""
    if not 0 < share < 1:
        raise InputError(f"the held-out share must be between 0 and 1, got {share}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(data.n_pairs)
    held = order[: round(share * data.n_pairs)]
    kept = np.setdiff1d(order, held)
    val_a, val_b = [data.paired_a[held]], [data.paired_b[held]]
    train = replace(data, paired_a=data.paired_a[kept], paired_b=data.paired_b[kept])
    held_bags = 0
    if bag_means:
        train, bag_a, bag_b, held_bags = _hold_bags(train, share, rng)
        val_a.append(bag_a)
        val_b.append(bag_b)
    n_val = sum(len(rows) for rows in val_a)
    if n_val < MIN_VALIDATION_PAIRS:
        what = "pairs and bags" if bag_means else "pairs (add --bag-means if you have bags)"
        raise InputError(
            f"--tune: holding out {share:.0%} of the {what} leaves {n_val} validation pairs; "
            f"it needs at least {MIN_VALIDATION_PAIRS}"
        )
    return Holdout(train, np.concatenate(val_a), np.concatenate(val_b), len(held), held_bags)


def _hold_bags(
    data: RegimeData, share: float, rng: np.random.Generator
) -> tuple[RegimeData, np.ndarray, np.ndarray, int]:
    """The data without the held-out bags (their means appended to its pairs as the other
    bags' means), and the held-out bags' mean rows."""
    if data.bags_a is None or data.bags_b is None:
        raise InputError("--bag-means needs bags (unpaired_*_bags files); these data have none")
    ids = np.unique(data.bags_a)
    held = rng.permutation(ids)[: round(share * len(ids))]
    out_a, out_b = np.isin(data.bags_a, held), np.isin(data.bags_b, held)
    val_a, val_b = data.unpaired_a[:0], data.unpaired_b[:0]
    if len(held):
        val_a, val_b = bag_mean_rows(
            data.unpaired_a[out_a], data.bags_a[out_a], data.unpaired_b[out_b], data.bags_b[out_b]
        )
    rest = replace(
        data,
        unpaired_a=data.unpaired_a[~out_a],
        unpaired_b=data.unpaired_b[~out_b],
        bags_a=data.bags_a[~out_a],
        bags_b=data.bags_b[~out_b],
    )
    return data_with_bag_means(rest), val_a, val_b, len(held)


def score_candidates(
    baseline: Any,
    split: Holdout,
    *,
    budget: int,
    seed: int = 0,
    fixed: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Every spread candidate of ``baseline`` (with ``fixed`` set on each) fitted on
    ``split.train``, with its a->b R@1 on the validation pairs (``{"params", "val"}``)."""
    from gentleclip.evaluation.retrieval import retrieval_metrics

    scored: list[dict[str, Any]] = []
    for grid_params in spread(list(baseline.param_grid()), budget):
        params = {**grid_params, **(fixed or {})}
        embedder = baseline.fit(split.train, params, seed=seed)
        za, zb = embedder.encode("a", split.val_a), embedder.encode("b", split.val_b)
        scored.append({"params": params, "val": retrieval_metrics(za, zb, ks=(1,))[SCORE]})
    return scored


def first_best(scored: list[dict[str, Any]]) -> dict[str, Any]:
    """The entry of ``scored`` with the highest ``val``, the first of equals."""
    return scored[max(range(len(scored)), key=lambda i: float(scored[i]["val"]))]


def tune(
    baseline: Any, data: RegimeData, *, budget: int, share: float, bag_means: bool, seed: int = 0
) -> tuple[dict[str, Any], list[dict[str, Any]], Holdout]:
    """The chosen parameters, every candidate's validation score and the holdout used."""
    split = holdout(data, share=share, bag_means=bag_means, seed=seed)
    scored = score_candidates(baseline, split, budget=budget, seed=seed)
    return first_best(scored)["params"], scored, split


def tune_methods(
    names: Sequence[str],
    data: RegimeData,
    *,
    budget: int,
    share: float,
    bag_means: bool,
    seed: int = 0,
    fixed: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any], list[dict[str, Any]], Holdout]:
    """:func:`tune` over several baselines on one holdout: the method and parameters with the
    best validation score (the first of equals, in the order of ``names``), and every
    candidate's score (``{"method", "params", "val"}``). ``fixed`` is set on every candidate
    (a parameter every baseline has, such as ``scale``)."""
    from gentleclip.baselines import get_baseline

    split = holdout(data, share=share, bag_means=bag_means, seed=seed)
    scored = [
        {"method": name, **entry}
        for name in names
        for entry in score_candidates(
            get_baseline(name), split, budget=budget, seed=seed, fixed=fixed
        )
    ]
    best = first_best(scored)
    return best["method"], best["params"], scored, split
