"""`gentleclip fit --method auto --tune` on the benchmark's splits: the closed-form setting.

``train --auto`` picks among settings by their record against the recipe on the bench's
validation pairs (``benchmarks/auto_recipe.py``). This script gives that report one more
setting, the closed-form map a user gets from ``gentleclip fit DIR --method auto --tune
--folds K`` (what ``train --auto`` runs): ridge, Procrustes, CCA and relative
representations, each with the bench's 4 candidates, scored by their mean a->b R@1 over K-fold
cross-validation on the directory's pairs (K up to 5, folds of 4 pairs or more), the best
fitted on all of them (:func:`gentleclip.baselines.tuning.tune_methods`, with the parameters
the bench sets on the dataset's maps: molecules' ``scale=false``). ``--holdout`` rows (one
fifth held out, ``fit --tune``'s way before session 501bbc2) come from ``--holdout``;
``--budget N`` scores N candidates of each map instead of the bench's 4.

For every cell (suite, regime, pairs) of :data:`REGIMES` x :data:`PAIRS` and seed 0-4, on the
two splits the bench builds there (``bench.cell_data``): the validation split (fitted on its
training part, scored on its validation pairs: the report's validation record) and the test
split (fitted on the whole training split, scored once on the test pairs); splits with fewer
than 8 pairs (2 folds of 4) get no row (with ``--holdout``: fewer than 18, where a fifth is
not 4 pairs). Writes one JSON
line per (cell, seed, split) with the chosen method, its parameters and the headline to
``OUT/STEM.jsonl`` (a rerun replaces it). Needs every suite's data installed.

    python benchmarks/auto_fit.py --out docs/bench --stem auto-fit-afe5197
    python benchmarks/auto_fit.py --out docs/bench --stem auto-fit-holdout-afe5197 --holdout
    python benchmarks/auto_fit.py --out docs/bench --stem auto-fit-bagmeans-afe5197 --bag-means
    python benchmarks/auto_fit.py --out docs/bench --stem auto-fit-bagmeans-holdout-afe5197 \
        --bag-means --holdout
    python benchmarks/auto_fit.py --out docs/bench --stem auto-fit-budget8-501bbc2 --budget 8
    python benchmarks/auto_fit.py --out docs/bench --stem auto-fit-bagmeans32-501bbc2 \
        --bag-means --regimes bags:32 --pairs 0,10,20,50,100,200
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gentleclip.baselines import get_baseline
from gentleclip.baselines.tuning import (
    AUTO_METHODS,
    MIN_VALIDATION_PAIRS,
    auto_folds,
    tune_methods,
)
from gentleclip.cli import fit
from gentleclip.data.bag_means import data_with_bag_means
from gentleclip.data.regimes import RegimeData
from gentleclip.evaluation.report import atomic_path
from gentleclip.experiments import bench, datasets

SUITES = ("mfeat", "emoji", "proteins", "molecules")
REGIMES = ("pairs", "unpaired")  # pairs only, and disjoint sides
PAIRS = (10, 20, 50, 100, 200)
SEEDS = (0, 1, 2, 3, 4)


def folds_for(n_pairs: int, holdout: bool, bag_means: bool = False, n_bags: int = 0) -> int | None:
    """The folds ``fit_auto`` uses on ``n_pairs`` (0: the holdout of a fifth), None where it
    cannot choose (2 folds of 4 do not fit; with the holdout, 4 pairs are not a fifth). With
    bag means the ``n_bags`` bags are validation pairs too (``fit --tune``'s default folds)."""
    if bag_means:
        return 0 if holdout else (auto_folds(n_pairs, n_bags) or None)
    if holdout:
        return 0 if round(fit.HOLDOUT * n_pairs) >= MIN_VALIDATION_PAIRS else None
    return auto_folds(n_pairs) or None


def fit_auto(
    split: dict[str, np.ndarray],
    suite: str,
    folds: int,
    bag_means: bool = False,
    budget: int = fit.BUDGET,
) -> tuple[str, dict[str, Any], Any]:
    """What ``gentleclip train DIR --auto`` fits on the training part of ``split``: ``fit
    --method auto --tune --folds K`` (K = ``auto_folds``: up to 5 folds of 4 pairs or more;
    ``budget`` candidates per map, 4 by default, seed 0)."""
    data = RegimeData.from_arrays({k: v for k, v in split.items() if not k.startswith("eval_")})
    given = dict(datasets.entry(suite).baseline_params)
    method, params, _, _ = tune_methods(
        AUTO_METHODS,
        data,
        budget=budget,
        share=fit.HOLDOUT,
        bag_means=bag_means,
        fixed=given,
        folds=folds,
    )
    params = {**given, **params}
    fitted = data_with_bag_means(data) if bag_means else data
    return method, params, get_baseline(method).fit(fitted, params)


def cell_rows(
    suite: str,
    regime: str,
    pairs: int,
    seed: int,
    holdout: bool = False,
    bag_means: bool = False,
    budget: int = fit.BUDGET,
) -> list[dict[str, Any]]:
    """The validation and the test row of one cell and seed."""
    domain = bench.load_domain(suite)
    key = bench.headline_key(suite, domain)
    cell = bench.Cell(suite, regime, pairs, seed, "gentle")
    data = bench.cell_data(domain, cell, datasets.entry(suite).setting.test_size, False)
    rows = []
    for name, split in (("val", data.val), ("test", data.test)):
        n_bags = len(np.unique(split["unpaired_a_bags"])) if bag_means else 0
        folds = folds_for(len(split["paired_a"]), holdout, bag_means, n_bags)
        if folds is None:
            continue  # too few pairs to choose on
        method, params, embedder = fit_auto(split, suite, folds, bag_means, budget)
        value = bench.eval_metrics(embedder, split)[key]
        where = {"suite": suite, "regime": regime, "pairs": pairs, "seed": seed}
        rows.append(where | {"split": name, "method": method, "params": params, "value": value})
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("docs/bench"))
    p.add_argument("--stem", default="auto-fit")
    p.add_argument("--suites", default=",".join(SUITES))
    p.add_argument(
        "--holdout", action="store_true", help="choose on one fifth held out, not by folds"
    )
    p.add_argument(
        "--bag-means",
        action="store_true",
        help="the bag-mean maps instead (fit --bag-means: each bag's means one more pair) on "
        "bags of 8 with 0, 10, 20 and 50 pairs, as benchmarks/fit_tune.py (--regimes and "
        "--pairs for others)",
    )
    p.add_argument("--budget", type=int, default=fit.BUDGET, help="candidates per map")
    p.add_argument("--regimes", help="comma-separated regimes instead of the defaults")
    p.add_argument("--pairs", help="comma-separated pair counts instead of the defaults")
    args = p.parse_args(argv)
    regimes, counts = (("bags:8",), (0, 10, 20, 50)) if args.bag_means else (REGIMES, PAIRS)
    regimes = args.regimes.split(",") if args.regimes else regimes
    counts = tuple(int(n) for n in args.pairs.split(",")) if args.pairs else counts
    cells = [(s, r, n) for s in args.suites.split(",") for r in regimes for n in counts]
    rows, start = [], time.perf_counter()
    for i, (suite, regime, pairs) in enumerate(cells, 1):
        for seed in SEEDS:
            rows += cell_rows(suite, regime, pairs, seed, args.holdout, args.bag_means, args.budget)
        elapsed = time.perf_counter() - start
        print(f"[{i}/{len(cells)}] {suite} {regime} {pairs} pairs ({elapsed:.0f} s)", flush=True)
    with atomic_path(args.out / f"{args.stem}.jsonl", ".jsonl") as tmp:
        tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows), "utf-8")
    print(f"{len(rows)} rows -> {args.out / f'{args.stem}.jsonl'}")


if __name__ == "__main__":
    main()
