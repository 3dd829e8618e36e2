"""``gentleclip fit --tune`` against the defaults and the bench's tuning (session 2af79bb).

For ridge on the pairs plus each bag's means (the bag-mean rival), on the bench's own test
splits, three ways to pick its parameters:

- ``defaults``: ``gentleclip fit``'s defaults, no tuning;
- ``fit --tune``: chosen on the training directory alone (:mod:`gentleclip.baselines.tuning`:
  by cross-validation over the pairs and the bags, bag means as validation pairs, as ``fit
  --tune`` does by default since session 501bbc2; with ``--holdout``, on one fifth of them held
  out, its default before and session 2af79bb's report);
- ``bench``: chosen on the bench's validation split, cut from training items whose pairing
  the bench knows and a user does not (the row of ``--bench-rows``).

And the method itself: ``fit --method auto --tune`` (the best of ridge, Procrustes, CCA and
relative representations on the same held-out data) against the bag-mean map with the best
test mean in each suite (the bench's rows: a choice no user can make without test pairs).

Each is fitted on the split's training part and scored once on its test pairs. Writes
``OUT/fit-tune.md``, ``.png`` and ``.jsonl`` (each cell's scores; ``fit-tune-holdout.*`` with
``--holdout``). The closed-form maps see molecules' features scaled, as the bench's rows of
session 2af79bb did.

    python benchmarks/fit_tune.py --bench-rows docs/bench/bench-ties-bagmeans-2af79bb.jsonl \\
        --bench docs/bench --out docs/bench [--holdout]
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import published_tables
from matplotlib.figure import Figure

from gentleclip.baselines import get_baseline
from gentleclip.baselines.tuning import AUTO_METHODS, default_folds, first_best, tune_methods
from gentleclip.cli import fit
from gentleclip.data.bag_means import data_with_bag_means
from gentleclip.data.regimes import RegimeData
from gentleclip.evaluation.report import atomic_path, save_figure_atomic
from gentleclip.experiments import bench, datasets

SUITES = ("mfeat", "emoji", "molecules", "proteins")
REGIME, SEEDS = "bags:8", (0, 1, 2, 3, 4)
PAIRS = (0, 10, 20, 50)
PLOT_PAIRS = 20
METHOD = "ridge-bagmeans"
WAYS = ("defaults", "fit --tune", "bench", "auto", "best map")
LABELS = {
    "defaults": "ridge, defaults",
    "fit --tune": "ridge, fit --tune",
    "bench": "ridge, the bench's tuning",
    "auto": "fit --method auto --tune",
    "best map": "best map by test mean",
}
MAPS = ("ridge-bagmeans", "procrustes-bagmeans", "cca-bagmeans", "relrep-bagmeans")


def cell_scores(
    suite: str, pairs: int, seed: int, rows: dict[tuple, dict[str, Any]], holdout: bool = False
) -> dict[str, Any]:
    """Each way's test headline (and the parameters or method it picked) in one cell; "best
    map" is filled in per suite by :func:`with_best_map`."""
    domain = bench.load_domain(suite)
    cell = bench.Cell(suite, REGIME, pairs, seed, METHOD)
    test = bench.cell_data(domain, cell, datasets.entry(suite).setting.test_size, False).test
    key = bench.headline_key(suite, domain)
    train_only = {k: v for k, v in test.items() if not k.startswith("eval_")}
    data = RegimeData.from_arrays(train_only)
    full = data_with_bag_means(data)

    def score(method: str, params: dict[str, Any]) -> float:
        embedder = get_baseline(method).fit(full, params, seed=seed)
        return bench.eval_metrics(embedder, test)[key]

    # the same folds (or holdout) for every method: ridge's --tune is the first best of ridge's
    # entries (fit --method ridge)
    folds = 0 if holdout else default_folds(data, bag_means=True)
    method, params, scored, _ = tune_methods(
        AUTO_METHODS,
        data,
        budget=fit.BUDGET,
        share=fit.HOLDOUT,
        bag_means=True,
        seed=seed,
        folds=folds,
    )
    chosen = first_best([e for e in scored if e["method"] == "ridge"])["params"]
    defaults = get_baseline("ridge").defaults
    out: dict[str, Any] = {"suite": suite, "pairs": pairs, "seed": seed, "key": key}
    out["folds"] = folds
    for way, ridge_params in (("defaults", {}), ("fit --tune", chosen)):
        out[way] = score("ridge", ridge_params)
        out[f"{way} params"] = {**defaults, **ridge_params}
    bench_row = rows[(suite, REGIME, pairs, seed, METHOD)]
    # the defaults filled in on both sides: the rows predate parameters added since (scale)
    out["bench"], out["bench params"] = bench_row["value"], {**defaults, **bench_row["params"]}
    out["auto"], out["auto method"] = score(method, params), method
    out["maps"] = {m: rows[(suite, REGIME, pairs, seed, m)]["value"] for m in MAPS}
    out["gentle"] = rows[(suite, REGIME, pairs, seed, "gentle")]["value"]
    return out


def with_best_map(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each cell with "best map": the bag-mean map of the best test mean in its suite and
    pair count."""
    for where in dict.fromkeys((c["suite"], c["pairs"]) for c in cells):
        mine = [c for c in cells if (c["suite"], c["pairs"]) == where]
        best = max(MAPS, key=lambda m: np.mean([c["maps"][m] for c in mine]))
        for c in mine:
            c["best map"], c["best map method"] = c["maps"][best], best
    return cells


def markdown(cells: list[dict[str, Any]], holdout: bool = False) -> str:
    """Per pair count and suite: mean ± std over seeds of each way, how often --tune picked
    the bench's parameters, which methods auto picked, and gentle (the published tables)."""
    how = (
        f"one fifth of the pairs and bags held out (`--holdout {fit.HOLDOUT}`)"
        if holdout
        else "cross-validation over the pairs and bags (`fit --tune`'s default; folds: "
        + ", ".join(
            f"{k} in {n} cells" for k, n in sorted(Counter(c["folds"] for c in cells).items())
        )
        + ")"
    )
    lines = [
        f"# `gentleclip fit --tune` and `--method auto`: maps on the bag means, {REGIME}, "
        f"{len(SEEDS)} seeds",
        "",
        "Test headline (a->b class P@1; proteins a->b R@10), mean ± std over seeds. ridge: "
        "its defaults, `fit --tune`, and the bench's tuning (hidden validation pairs). "
        f"`--tune` chooses by {how}.",
    ]
    for pairs in dict.fromkeys(c["pairs"] for c in cells):
        lines += ["", f"## {pairs} pairs", ""]
        lines += _table([c for c in cells if c["pairs"] == pairs])
    totals = {way: np.mean([c[way] for c in cells]) for way in (*WAYS, "gentle")}
    lines += ["", "Mean over all cells: " + ", ".join(f"{w} {v:.3f}" for w, v in totals.items())]
    return "\n".join(lines) + "\n"


def _table(cells: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| suite | ridge, defaults | ridge, --tune | ridge, bench | --tune = bench's choice "
        "| --method auto --tune (methods chosen) | best map by test mean | gentle |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for suite in dict.fromkeys(c["suite"] for c in cells):
        mine = [c for c in cells if c["suite"] == suite]
        cols = [suite]
        for way in WAYS:
            values = np.array([c[way] for c in mine])
            cols.append(f"{values.mean():.3f} ± {values.std():.3f}")
        same = sum(c["fit --tune params"] == c["bench params"] for c in mine)
        auto, best = cols[4], cols[5]
        picked = ", ".join(
            f"{m} {n}" for m, n in Counter(c["auto method"] for c in mine).most_common()
        )
        cols[4:] = [f"{same} of {len(mine)}", f"{auto} ({picked})"]
        cols.append(f"{best} ({mine[0]['best map method']})")
        gentle = np.array([c["gentle"] for c in mine])
        cols.append(f"{gentle.mean():.3f} ± {gentle.std():.3f}")
        lines.append("| " + " | ".join(cols) + " |")
    return lines


def plot(cells: list[dict[str, Any]], out: Path, stem: str) -> Path:
    """Grouped bars at ``PLOT_PAIRS`` pairs: each suite's mean per way, seed std as error
    bars."""
    cells = [c for c in cells if c["pairs"] == PLOT_PAIRS]
    fig = Figure(figsize=(8, 4.5))
    ax = fig.add_subplot()
    suites = list(dict.fromkeys(c["suite"] for c in cells))
    width = 0.16
    for i, way in enumerate(WAYS):
        values = [[c[way] for c in cells if c["suite"] == s] for s in suites]
        xs = np.arange(len(suites)) + (i - 2) * width
        ax.bar(
            xs,
            [np.mean(v) for v in values],
            width,
            yerr=[np.std(v) for v in values],
            label=LABELS[way],
            capsize=3,
        )
    ax.set_xticks(np.arange(len(suites)), suites)
    ax.set_ylabel("test headline")
    ax.set_title(
        f"maps on the bag means: how parameters and method were chosen "
        f"({REGIME}, {PLOT_PAIRS} pairs)",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    path = out / f"{stem}.png"
    save_figure_atomic(fig, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-rows", type=Path, required=True)
    parser.add_argument("--bench", type=Path, default=Path("docs/bench"), help="gentle's rows")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--holdout", action="store_true", help="tune on one fifth held out (before: 2af79bb)"
    )
    args = parser.parse_args()
    stem = "fit-tune-holdout" if args.holdout else "fit-tune"
    rows = {bench._row_key(r): r for r in published_tables.read(args.bench_rows)}
    rows.update(
        {
            bench._row_key(r): r
            for r in published_tables.grid_rows(
                args.bench, sources=published_tables.SOURCES_MLP_MOLECULES
            )
        }
    )
    cells = []
    for pairs in PAIRS:
        for suite in SUITES:
            for seed in SEEDS:
                cells.append(cell_scores(suite, pairs, seed, rows, args.holdout))
                done = ", ".join(f"{w} {cells[-1][w]:.3f}" for w in WAYS[:-1])
                chose = cells[-1]["auto method"]
                print(f"{suite} {pairs} pairs seed {seed}: {done}, auto chose {chose}")
    text = markdown(with_best_map(cells), args.holdout)
    with atomic_path(args.out / f"{stem}.md", ".md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    with atomic_path(args.out / f"{stem}.jsonl", ".jsonl") as tmp:
        tmp.write_text("".join(json.dumps(c, sort_keys=True) + "\n" for c in cells), "utf-8")
    print(text)
    print(plot(cells, args.out, stem))


if __name__ == "__main__":
    main()
