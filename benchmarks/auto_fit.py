"""`gentleclip fit --method auto --tune` on the benchmark's splits: the closed-form setting.

``train --auto`` picks among settings by their record against the recipe on the bench's
validation pairs (``benchmarks/auto_recipe.py``). This script gives that report one more
setting, the closed-form map a user gets from ``gentleclip fit DIR --method auto --tune``:
ridge, Procrustes, CCA and relative representations, each with the bench's 4 candidates,
scored by a->b R@1 on a fifth of the directory's pairs held out, the best fitted on all of
them (:func:`gentleclip.baselines.tuning.tune_methods`, with the parameters the bench sets on
the dataset's maps: molecules' ``scale=false``).

For every cell (suite, regime, pairs) of :data:`REGIMES` x :data:`PAIRS` and seed 0-4, on the
two splits the bench builds there (``bench.cell_data``): the validation split (fitted on its
training part, scored on its validation pairs: the report's validation record) and the test
split (fitted on the whole training split, scored once on the test pairs); splits with fewer
pairs than ``fit --tune`` can hold out enough of (10 pairs) get no row. Writes one JSON
line per (cell, seed, split) with the chosen method, its parameters and the headline to
``OUT/STEM.jsonl`` (a rerun replaces it). Needs every suite's data installed.

    python benchmarks/auto_fit.py --out docs/bench --stem auto-fit-afe5197
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
from gentleclip.baselines.tuning import AUTO_METHODS, min_pairs_to_tune, tune_methods
from gentleclip.data.regimes import RegimeData
from gentleclip.evaluation.report import atomic_path
from gentleclip.experiments import bench, datasets

SUITES = ("mfeat", "emoji", "proteins", "molecules")
REGIMES = ("pairs", "unpaired")  # pairs only, and disjoint sides
PAIRS = (10, 20, 50, 100, 200)
SEEDS = (0, 1, 2, 3, 4)


def fit_auto(split: dict[str, np.ndarray], suite: str) -> tuple[str, dict[str, Any], Any]:
    """What ``gentleclip fit DIR --method auto --tune`` fits on the training part of
    ``split`` (its defaults: budget 4, holdout 0.2, holdout seed 0)."""
    data = RegimeData.from_arrays({k: v for k, v in split.items() if not k.startswith("eval_")})
    given = dict(datasets.entry(suite).baseline_params)
    method, params, _, _ = tune_methods(
        AUTO_METHODS, data, budget=4, share=0.2, bag_means=False, fixed=given
    )
    params = {**given, **params}
    return method, params, get_baseline(method).fit(data, params)


def cell_rows(suite: str, regime: str, pairs: int, seed: int) -> list[dict[str, Any]]:
    """The validation and the test row of one cell and seed."""
    domain = bench.load_domain(suite)
    key = bench.headline_key(suite, domain)
    cell = bench.Cell(suite, regime, pairs, seed, "gentle")
    data = bench.cell_data(domain, cell, datasets.entry(suite).setting.test_size, False)
    rows = []
    for name, split in (("val", data.val), ("test", data.test)):
        if len(split["paired_a"]) < min_pairs_to_tune():
            continue  # fit --tune refuses: too few pairs to hold out
        method, params, embedder = fit_auto(split, suite)
        value = bench.eval_metrics(embedder, split)[key]
        where = {"suite": suite, "regime": regime, "pairs": pairs, "seed": seed}
        rows.append(where | {"split": name, "method": method, "params": params, "value": value})
    return rows


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("docs/bench"))
    p.add_argument("--stem", default="auto-fit")
    p.add_argument("--suites", default=",".join(SUITES))
    args = p.parse_args(argv)
    cells = [(s, r, n) for s in args.suites.split(",") for r in REGIMES for n in PAIRS]
    rows, start = [], time.perf_counter()
    for i, (suite, regime, pairs) in enumerate(cells, 1):
        for seed in SEEDS:
            rows += cell_rows(suite, regime, pairs, seed)
        elapsed = time.perf_counter() - start
        print(f"[{i}/{len(cells)}] {suite} {regime} {pairs} pairs ({elapsed:.0f} s)", flush=True)
    with atomic_path(args.out / f"{args.stem}.jsonl", ".jsonl") as tmp:
        tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows), "utf-8")
    print(f"{len(rows)} rows -> {args.out / f'{args.stem}.jsonl'}")


if __name__ == "__main__":
    main()
