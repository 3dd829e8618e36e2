"""Tune the demo recipes on a validation split carved from the demo's TRAINING items only.

The demo's 400 test rows (same split seed as `gentleclip demo`) are removed first; from the
remaining 1,600 items each tuning seed holds out 400 validation pairs, keeps 20 training pairs
and cuts the rest into bags of 8. Every candidate of every method gets the same seeds.

    python benchmarks/tune_demo.py grid.json [--seeds 0,1] [--workers 2]

grid.json: {"name": {"method": "gentle", ...nested overrides...}, ...}. Prints one line per
candidate (mean and std of validation a->b class P@1 over seeds) and writes tune_results.jsonl.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
from pathlib import Path

import numpy as np

from gentleclip.data.datasets.mfeat import load_mfeat
from gentleclip.data.split import split_full, test_rows
from gentleclip.experiments.bench import fit_trained, merge_nested
from gentleclip.experiments.demo import DemoSetting


def training_items(setting: DemoSetting) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """mfeat rows that are NOT in the demo's test set (the rows `gentleclip split` holds out)."""
    a, b, labels = load_mfeat("pix", "fou")
    held = test_rows(len(a), test_size=setting.test_size, seed=setting.seed)
    keep = np.setdiff1d(np.arange(len(a)), held)
    return a[keep], b[keep], labels[keep]


def run_trial(args: tuple[str, dict, int, dict[str, np.ndarray]]) -> dict:
    import torch

    torch.set_num_threads(1)
    name, overrides, seed, arrays = args
    config = merge_nested({"trainer": {"progress": False}, "seed": seed}, overrides)
    metrics = fit_trained(config, arrays)
    return {"name": name, "seed": seed, **metrics}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("grid")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--regime", default="bags")
    parser.add_argument("--out", default="tune_results.jsonl")
    args = parser.parse_args()
    grid = json.loads(Path(args.grid).read_text())
    seeds = [int(s) for s in args.seeds.split(",")]
    a, b, labels = training_items(DemoSetting())
    splits = {
        seed: split_full(
            a,
            b,
            labels,
            pairs=args.pairs,
            regime=args.regime,
            bag_size=8,
            test_size=400,
            seed=100 + seed,
        )
        for seed in seeds
    }
    jobs = [(name, ov, seed, splits[seed]) for name, ov in grid.items() for seed in seeds]
    with mp.get_context("spawn").Pool(args.workers) as pool:
        results = pool.map(run_trial, jobs)
    with open(args.out, "a") as handle:
        for row in results:
            handle.write(json.dumps(row) + "\n")
    for name in grid:
        vals = [r["a_to_b_class_P@1"] for r in results if r["name"] == name]
        r10 = [r["a_to_b_R@10"] for r in results if r["name"] == name]
        print(f"{name:40s} P@1 {np.mean(vals):.3f} +- {np.std(vals):.3f}   R@10 {np.mean(r10):.3f}")


if __name__ == "__main__":
    main()
