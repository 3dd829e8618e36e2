"""Is MMD redundant next to SDD? The MMD of gentle's embeddings trained with and without it.

The ablations (docs/results.md, "Ablations and references") found gentle without its MMD term
the same as gentle in every row measured. One reading: SDD, which asks every sample to have the
same kernel density among both sides, already matches the two distributions, so the coarser MMD
is small whether it is optimised or not. This script measures that reading on one bench cell's
validation split (the test pairs are never read): gentle's recipe trained on the validation
split's training rows, once as is and once with ``loss.w_mmd`` 0, and after each of
``--steps`` it records, on step-sized random subsets of the unpaired rows of each side (the
recipe's ``sampler.unpaired_per_step`` rows, ``--draws`` draws, the same draws for every
model), the mean of:

- ``mmd``: the recipe's multi-kernel MMD^2 (median-heuristic bandwidths, biased), as trained;
- ``sdd``: the recipe's SDD term;
- ``mmd_floor``: the same MMD^2 between two disjoint subsets of one side (the A side's and
  the B side's, averaged), what the estimator gives for two samples of one distribution;
- the validation headline (a->b class P@1; proteins R@10).

Appends one JSON line per (suite, seed, variant, step) to ``--out``; ``--report ROWS`` then
writes ``mmd-redundancy.md`` (means over seeds per suite and step) and ``mmd-redundancy.png``
(MMD^2 against steps, both variants and the floor, one panel per suite) beside ``--out``:

    for suite in mfeat emoji molecules proteins; do
      python benchmarks/mmd_redundancy.py --suite $suite --seeds 0,1,2 \\
          --steps 0,250,500,1000,2000 --out docs/bench/mmd-redundancy-878d371.jsonl
    done
    python benchmarks/mmd_redundancy.py --report docs/bench/mmd-redundancy-878d371.jsonl \\
        --out docs/bench/mmd-redundancy.md

At 200 pairs (session a9305a7): the same loop with ``--pairs 200 --out
docs/bench/mmd-redundancy-200pairs-a9305a7.jsonl``, then ``--report`` of those rows with
``--out docs/bench/mmd-redundancy-200pairs.md``. The report names the rows' setting.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure

from gentleclip.data.regimes import RegimeData
from gentleclip.evaluation.report import atomic_path, save_figure_atomic
from gentleclip.experiments import bench, datasets
from gentleclip.losses.functional import sdd_and_mmd
from gentleclip.training.config import TrainConfig, config_from_dict
from gentleclip.training.inprocess import InProcessRun
from gentleclip.training.objective import mmd_options, sdd_options

VARIANTS = {"gentle": {}, "gentle-no-mmd": {"loss": {"w_mmd": 0.0}}}


def distribution_terms(
    model: Any, data: RegimeData, config: TrainConfig, draws: list[tuple[np.ndarray, ...]]
) -> dict[str, float]:
    """Mean SDD, MMD^2 (the recipe's options) and the MMD^2 floor over ``draws`` of unpaired
    row indices (:func:`disjoint_draws`)."""
    sdd, mmd = sdd_options(config.loss), mmd_options(config.loss)
    with torch.no_grad():
        za = model.encode("a", torch.from_numpy(data.unpaired_a))
        zb = model.encode("b", torch.from_numpy(data.unpaired_b))
        terms = [sdd_and_mmd(za[i], zb[j], sdd=sdd, mmd=mmd) for i, j, _, _ in draws]
        floor = [
            float(sdd_and_mmd(z[i], z[k], mmd=mmd)["mmd"])
            for i, j, i2, j2 in draws
            for z, i, k in ((za, i, i2), (zb, j, j2))
        ]
    out = {name: float(np.mean([float(t[name]) for t in terms])) for name in ("sdd", "mmd")}
    return {**out, "mmd_floor": float(np.mean(floor))}


def disjoint_draws(
    rng: np.random.Generator, rows_a: int, rows_b: int, size: int, count: int
) -> list[tuple[np.ndarray, ...]]:
    """``count`` draws of (A rows, B rows, other A rows, other B rows), ``size`` each, the
    other rows disjoint from the first of their side."""
    draws = []
    for _ in range(count):
        a, b = rng.permutation(rows_a), rng.permutation(rows_b)
        draws.append((a[:size], b[:size], a[size : 2 * size], b[size : 2 * size]))
    return draws


def check_unpaired(cell: bench.Cell, arrays: dict) -> None:
    """Refuse a validation split with under 4 unpaired rows a side: a draw and its disjoint
    floor draw need 2 rows each (proteins at 200 pairs keeps 1)."""
    rows = min(len(arrays["unpaired_a"]), len(arrays["unpaired_b"]))
    if rows < 4:
        raise SystemExit(
            f"{cell.suite}, {cell.regime}, {cell.pairs} pairs, seed {cell.seed}: the validation "
            f"split has {rows} unpaired row(s) a side; the MMD floor needs at least 4"
        )


def run_variant(
    cell: bench.Cell, spec: bench.Trained, arrays: dict, variant: str, steps: list[int], draws: int
) -> list[dict[str, Any]]:
    """Rows of one variant: the distribution terms and the headline after each of ``steps``."""
    override = VARIANTS[variant]
    config = bench.base_config(cell.suite, spec, None, cell.seed, override or None)
    config["optim"].update(steps=max(steps), epochs=None)
    train = {k: v for k, v in arrays.items() if not k.startswith("eval_")}
    run = InProcessRun(RegimeData.from_arrays(train), config_from_dict(config))
    data, cfg = run.module.data, run.module.config
    rows_a, rows_b = len(data.unpaired_a), len(data.unpaired_b)
    size = min(cfg.sampler.unpaired_per_step, rows_a // 2, rows_b // 2)
    picks = disjoint_draws(np.random.default_rng(cell.seed), rows_a, rows_b, size, draws)
    key = bench.headline_key(cell.suite, bench.load_domain(cell.suite))
    rows = []

    def record(step: int, model: Any) -> None:
        terms = distribution_terms(model, data, cfg, picks)
        headline = bench._headline(bench.eval_metrics(model, arrays), key)
        rows.append(
            {
                "suite": cell.suite,
                "regime": cell.regime,
                "pairs": cell.pairs,
                "seed": cell.seed,
                "variant": variant,
                "step": step,
                **{k: round(v, 6) for k, v in terms.items()},
                "val": round(headline, 4),
            }
        )
        print(json.dumps(rows[-1]), flush=True)

    if 0 in steps:
        record(0, run.model.eval())
    run.advance(max(steps), snapshots=[s for s in steps if s > 0], on_snapshot=record)
    return rows


MEASURES = ("mmd", "mmd_floor", "sdd", "val")


def means(rows: list[dict[str, Any]]) -> dict[tuple[str, str, int], dict[str, float]]:
    """(suite, variant, step) -> the mean over seeds of each measure, and the seed count."""
    groups: dict[tuple[str, str, int], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["suite"], r["variant"], r["step"]), []).append(r)
    return {
        key: {**{m: float(np.mean([r[m] for r in rs])) for m in MEASURES}, "seeds": len(rs)}
        for key, rs in groups.items()
    }


REGIME_WORDS = {"unpaired": "Disjoint data", "natural": "Natural bags"}


def setting_words(rows: list[dict[str, Any]]) -> str:
    """ "Bags of 8, 20 pairs" (or "Disjoint data, ...") for the rows' one bench cell."""
    settings = {(r["regime"], r["pairs"]) for r in rows}
    if len(settings) != 1:
        raise SystemExit(
            f"--report takes rows of one regime and pair count, got {sorted(settings)}"
        )
    text, pairs = settings.pop()
    regime = bench.parse_regime(text)
    words = REGIME_WORDS.get(regime.kind, f"Bags of {regime.bag_size}")
    return f"{words}, {pairs} pairs"


def report(rows: list[dict[str, Any]]) -> str:
    """mmd-redundancy.md: one table row per (suite, step): both variants side by side."""
    found = means(rows)
    lines = [
        "# MMD of gentle's embeddings, trained with and without the MMD term",
        "",
        f"{setting_words(rows)}, each suite's validation split (test pairs never read), mean over "
        "seeds. MMD^2 and SDD as the recipe computes them, on step-sized random subsets of the "
        "unpaired rows of each side (the same subsets for both models); the floor is MMD^2 "
        "between two disjoint subsets of one side. Validation headline: a->b class P@1 "
        "(proteins R@10).",
        "",
        "| suite | step | seeds | MMD^2 gentle | MMD^2 without MMD | floor | SDD gentle | "
        "SDD without MMD | val gentle | val without MMD |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for suite, variant, step in sorted(found, key=lambda k: (SUITE_ORDER.index(k[0]), k[2])):
        if variant != "gentle" or (suite, "gentle-no-mmd", step) not in found:
            continue
        g, n = found[(suite, variant, step)], found[(suite, "gentle-no-mmd", step)]
        lines.append(
            f"| {suite} | {step} | {g['seeds']} | {g['mmd']:.4f} | {n['mmd']:.4f} | "
            f"{(g['mmd_floor'] + n['mmd_floor']) / 2:.4f} | {g['sdd']:.3f} | {n['sdd']:.3f} | "
            f"{g['val']:.3f} | {n['val']:.3f} |"
        )
    return "\n".join(lines) + "\n"


SUITE_ORDER = ("mfeat", "emoji", "molecules", "proteins")


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """MMD^2 against training steps per suite: gentle, gentle without MMD and the floor."""
    found = means(rows)
    suites = [s for s in SUITE_ORDER if any(k[0] == s for k in found)]
    fig = Figure(figsize=(3.2 * max(len(suites), 1), 3.2), layout="constrained")
    axes = fig.subplots(1, max(len(suites), 1), squeeze=False)[0]
    for ax, suite in zip(axes, suites, strict=False):
        for variant, colour in (("gentle", "tab:blue"), ("gentle-no-mmd", "tab:orange")):
            steps = sorted(k[2] for k in found if k[:2] == (suite, variant))
            ax.plot(
                steps,
                [found[(suite, variant, t)]["mmd"] for t in steps],
                "o-",
                color=colour,
                label=variant,
            )
            ax.plot(
                steps,
                [found[(suite, variant, t)]["mmd_floor"] for t in steps],
                ":",
                color=colour,
                label=f"floor ({variant})",
            )
        ax.set_yscale("log")
        ax.set_xlabel("training step")
        ax.set_title(suite)
    axes[0].set_ylabel("MMD^2 (mean over seeds)")
    axes[0].legend(fontsize=7)
    save_figure_atomic(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="mfeat")
    parser.add_argument("--regime", default="bags:8")
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--steps", default="0,250,500,1000,2000")
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--report", type=Path, help="rows to summarise (trains nothing)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.report:
        rows = [json.loads(line) for line in args.report.read_text().splitlines()]
        with atomic_path(args.out, ".md") as tmp:
            tmp.write_text(report(rows), encoding="utf-8")
        plot(rows, args.out.with_suffix(".png"))
        print(report(rows))
        return
    steps = bench.parse_int_list(args.steps, "step")
    torch.set_flush_denormal(True)
    domain = bench.load_domain(args.suite)
    for seed in bench.parse_int_list(args.seeds, "seed"):
        cell = bench.Cell(args.suite, args.regime, args.pairs, seed, "gentle")
        test_size = datasets.entry(args.suite).setting.test_size
        spec, data, _ = bench._method_splits(domain, cell, test_size)
        check_unpaired(cell, data.val)
        for variant in VARIANTS:
            with bench.one_torch_thread():
                rows = run_variant(cell, spec, data.val, variant, steps, args.draws)
            with args.out.open("a", encoding="utf-8") as out:
                out.writelines(json.dumps(r, sort_keys=True) + "\n" for r in rows)


if __name__ == "__main__":
    main()
