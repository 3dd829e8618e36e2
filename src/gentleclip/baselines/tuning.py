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
:func:`tune_methods` does the same over several baselines on one holdout (``--method auto``),
or, with ``folds`` (``--folds``), by cross-validation over the pairs: every pair is held out
once, and a candidate scores its mean a->b R@1 over the folds. ``fit --tune`` cross-validates
by default (:func:`default_folds`: up to 5 folds of 4 validation pairs or more) and holds one
share out only when asked (``--holdout``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from gentleclip.data.bag_means import bag_mean_rows, data_with_bag_means
from gentleclip.data.regimes import RegimeData
from gentleclip.errors import InputError

SCORE = "a_to_b_R@1"
MIN_VALIDATION_PAIRS = 4
MOST_FOLDS = 5  # cross-validation's folds where the pairs allow (auto_folds)
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
    folds: int = 1  # > 1: cross-validation, every pair held out once (val_* hold them all)


def spread(grid: Sequence[dict[str, Any]], budget: int) -> list[dict[str, Any]]:
    """``budget`` evenly spaced entries of ``grid`` (all of it when it is smaller)."""
    if not grid:
        return [{}]
    if len(grid) <= budget:
        return list(grid)
    picks = np.unique(np.round(np.linspace(0, len(grid) - 1, budget)).astype(int))
    return [grid[i] for i in picks]


def auto_folds(n_pairs: int, n_bags: int = 0) -> int:
    """The folds cross-validation uses on ``n_pairs`` pairs and, with bag means, ``n_bags``
    bags (each bag's means one validation pair): the most, up to :data:`MOST_FOLDS`, whose
    every fold holds at least :data:`MIN_VALIDATION_PAIRS` validation pairs (0 where not even
    2 folds do)."""
    for folds in range(MOST_FOLDS, 1, -1):
        if n_pairs // folds + n_bags // folds >= MIN_VALIDATION_PAIRS:
            return folds
    return 0


def default_folds(data: RegimeData, *, bag_means: bool) -> int:
    """``fit --tune``'s folds on ``data`` (:func:`auto_folds`; with ``bag_means`` the bags
    count too); 0 where they make fewer than 2 folds (``fit --tune`` then names the problem)."""
    return auto_folds(data.n_pairs, len(_bag_ids(data)) if bag_means else 0)


def cross_folds(
    data: RegimeData, *, folds: int, seed: int, bag_means: bool = False
) -> list[Holdout]:
    """``folds`` splits of the pairs (shuffled by ``seed``, as even as they divide) and, with
    ``bag_means``, of the bags: each holds one part out as validation pairs (the held bags'
    mean rows among them) and keeps the rest, with the other bags' means and every other
    unpaired row, to fit on.

    Raises InputError for fewer than 2 folds, or folds of fewer than
    :data:`MIN_VALIDATION_PAIRS` validation pairs."""
    if folds < 2:
        raise InputError(f"--folds must be at least 2, got {folds}")
    rng = np.random.default_rng(seed)
    pair_parts = np.array_split(rng.permutation(data.n_pairs), folds)
    bag_parts = np.array_split(rng.permutation(_bag_ids(data)), folds) if bag_means else None
    smallest = data.n_pairs // folds + (len(bag_parts[-1]) if bag_parts else 0)
    if smallest < MIN_VALIDATION_PAIRS:
        what = "pairs and bags" if bag_means else "pairs"
        raise InputError(
            f"--folds {folds}: the {what} make folds of {smallest} validation pairs; each "
            f"needs at least {MIN_VALIDATION_PAIRS} (use fewer folds)"
        )
    splits = []
    for i, held in enumerate(pair_parts):
        kept = np.setdiff1d(np.arange(data.n_pairs), held)
        train = replace(data, paired_a=data.paired_a[kept], paired_b=data.paired_b[kept])
        val_a, val_b, held_bags = [data.paired_a[held]], [data.paired_b[held]], 0
        if bag_parts is not None:
            train, bag_a, bag_b = _without_bags(train, bag_parts[i])
            val_a.append(bag_a)
            val_b.append(bag_b)
            held_bags = len(bag_parts[i])
        splits.append(
            Holdout(train, np.concatenate(val_a), np.concatenate(val_b), len(held), held_bags)
        )
    return splits


def check_share(share: float) -> None:
    """InputError unless ``share`` (``--holdout``) lies strictly between 0 and 1."""
    if not 0 < share < 1:
        raise InputError(f"--holdout is a share of the pairs: between 0 and 1, got {share}")


def holdout(data: RegimeData, *, share: float, bag_means: bool, seed: int) -> Holdout:
    """Hold out ``share`` of the pairs and, with ``bag_means``, of the bags (see module).

    Raises InputError when fewer than ``MIN_VALIDATION_PAIRS`` validation pairs result."""
    check_share(share)
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


def _bag_ids(data: RegimeData) -> np.ndarray:
    """The bag ids of ``data`` (InputError where it has no bags)."""
    if data.bags_a is None or data.bags_b is None:
        raise InputError("--bag-means needs bags (unpaired_*_bags files); these data have none")
    return np.unique(data.bags_a)


def _hold_bags(
    data: RegimeData, share: float, rng: np.random.Generator
) -> tuple[RegimeData, np.ndarray, np.ndarray, int]:
    """The data without ``share`` of its bags (their means appended to its pairs as the other
    bags' means), and the held-out bags' mean rows."""
    ids = _bag_ids(data)
    held = rng.permutation(ids)[: round(share * len(ids))]
    rest, val_a, val_b = _without_bags(data, held)
    return rest, val_a, val_b, len(held)


def _without_bags(data: RegimeData, held: np.ndarray) -> tuple[RegimeData, np.ndarray, np.ndarray]:
    """The data without the bags ``held`` (the other bags' means appended to its pairs), and
    the held bags' mean rows."""
    assert data.bags_a is not None and data.bags_b is not None
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
    return data_with_bag_means(rest), val_a, val_b


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
    folds: int = 0,
) -> tuple[str, dict[str, Any], list[dict[str, Any]], Holdout]:
    """:func:`tune` over several baselines on one holdout: the method and parameters with the
    best validation score (the first of equals, in the order of ``names``), and every
    candidate's score (``{"method", "params", "val"}``). ``fixed`` is set on every candidate
    (a parameter every baseline has, such as ``scale``).

    ``folds`` >= 2: cross-validation instead of the holdout of ``share`` (:func:`cross_folds`,
    bags folded too with ``bag_means``): a candidate's score is its mean a->b R@1 over the
    folds, and the returned :class:`Holdout` holds every validation pair of every fold
    (``folds`` set)."""
    from gentleclip.baselines import get_baseline

    splits = (
        cross_folds(data, folds=folds, seed=seed, bag_means=bag_means)
        if folds
        else [holdout(data, share=share, bag_means=bag_means, seed=seed)]
    )
    per_split = [
        [
            {"method": name, **entry}
            for name in names
            for entry in score_candidates(
                get_baseline(name), split, budget=budget, seed=seed, fixed=fixed
            )
        ]
        for split in splits
    ]
    # fsum: candidates whose fold scores have the same exact sum tie exactly, so the first of
    # them wins, whatever order the scores come in
    scored = [
        {**entries[0], "val": math.fsum(e["val"] for e in entries) / len(entries)}
        for entries in zip(*per_split, strict=True)
    ]
    best = first_best(scored)
    return best["method"], best["params"], scored, _pooled(splits, data)


def _pooled(splits: list[Holdout], data: RegimeData) -> Holdout:
    """The one holdout, or the folds as one record: all the data, every held-out pair."""
    if len(splits) == 1:
        return splits[0]
    val_a = np.concatenate([s.val_a for s in splits])
    val_b = np.concatenate([s.val_b for s in splits])
    pairs, bags = (sum(getattr(s, k) for s in splits) for k in ("held_pairs", "held_bags"))
    return Holdout(data, val_a, val_b, pairs, bags, folds=len(splits))
