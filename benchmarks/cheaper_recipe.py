"""A cheaper molecules recipe: what narrower towers and fewer gentle steps would save on the
default grid, and what they would cost on validation splits.

Molecules' default grid misses the runtime target (30 minutes of 2 cores: 3,600
worker-seconds), and ``step_bound.py``, ``grid_bound.py`` and ``stacked_runs.py`` found no
implementation of the same model that meets it. What is left is a cheaper model. This script
puts numbers on the two knobs of the recipe that cut the work a step or the steps:

- **time**: the step of gentle, clip and sclip (each its bench recipe, the sparse first layer
  on, one torch thread, molecules' shapes from ``step_bound.molecules_arrays``) at 20 and 200
  pairs, at the recipe's width (512) and at each of ``--widths``;
- **estimate**: a grid's rows (``--grid``; default session e3f3a5a's molecules grid, run
  with the sparse first layer) with each trained method's worker-seconds scaled by its step's
  ratio to the recipe's width (the mean over the two pair counts; the oracle by clip's), and
  gentle's also by ``steps / 2,000`` for a recipe of fewer steps (the bench's candidates are
  fractions of the recipe's steps, so a cell's training scales with them); the closed-form
  cells as they were;
- **validation**: probe rows (``--probes``, written by ``validation_probe.py``: the recipe's
  own candidate with the variant as override, trained on a validation split, its test pairs
  never read): each variant's mean validation headline by pair count and its mean
  difference from the recipe over the same (pairs, seed) cells.

A variant is ``WIDTH:STEPS`` (gentle's steps). ``OUT/STEM.md`` and ``.json``, with a plot of
each variant's estimated grid against the budget and its validation difference
(``.png``). docs/results.md, "Runtime", session 25594be::

    python benchmarks/cheaper_recipe.py --probes docs/bench/molecules-cheaper-val-25594be.jsonl \\
        --out docs/bench --stem cheaper-recipe-molecules
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from matplotlib.figure import Figure
from records import write_record
from step_bound import cell_seconds, molecules_arrays, trained_spec

from gentleclip.data.regimes import RegimeData
from gentleclip.evaluation.report import save_figure_atomic
from gentleclip.experiments import bench
from gentleclip.experiments.speed import WARMUP_STEPS, cpu_name, mean_step_ms, one_torch_thread
from gentleclip.training.config import config_from_dict
from gentleclip.training.inprocess import InProcessRun

GRID = Path("docs/bench/bench-molecules-sparse-e3f3a5a.jsonl")
BUDGET = 3600.0  # worker-seconds in 30 minutes of 2 cores
RECIPE_WIDTH, RECIPE_STEPS = 512, 2000
TIMED = ("gentle", "clip", "sclip")  # the oracle steps as clip does
PAIRS = (20, 200)
GENTLE_STEPS = (2000, 1000)  # the recipe's, and half


def step_ms(method: str, width: int, pairs: int, steps: int) -> float:
    """Milliseconds per step of ``method``'s molecules recipe at ``width``, sparse first
    layer, after the warm-up (call inside :func:`one_torch_thread`)."""
    spec = trained_spec(method)
    config = bench.base_config("molecules", spec, WARMUP_STEPS + steps, seed=0)
    config["model"].update(sparse_inputs="a", embed_dim=width)
    arrays = molecules_arrays(pairs)
    if not spec.sees_bags:
        arrays = {k: v for k, v in arrays.items() if not k.endswith("_bags")}
    run = InProcessRun(RegimeData.from_arrays(arrays), config_from_dict(config))
    return mean_step_ms(run, steps)


def time_widths(widths: Sequence[int], steps: int) -> dict[str, dict[str, list[float]]]:
    """``ms[method][width]``: the step at each of :data:`PAIRS`."""
    with one_torch_thread():
        return {
            m: {str(w): [step_ms(m, w, p, steps) for p in PAIRS] for w in widths} for m in TIMED
        }


def width_ratio(ms: dict[str, dict[str, list[float]]], method: str, width: int) -> float:
    """A method's step at ``width`` over the recipe's, the mean over the pair counts."""
    own = ms["clip" if method == "oracle" else method]
    pairs = zip(own[str(width)], own[str(RECIPE_WIDTH)], strict=True)
    return statistics.mean(n / r for n, r in pairs)


def grid_by_method(path: Path) -> dict[str, float]:
    """Worker-seconds of a grid's cells by method."""
    spent: dict[str, float] = {}
    for (method, _), seconds in cell_seconds(path)[0].items():
        spent[method] = spent.get(method, 0.0) + seconds
    return spent


def estimate(
    spent: dict[str, float], ms: dict[str, dict[str, list[float]]], width: int, steps: int
) -> dict[str, float]:
    """Each method's estimated worker-seconds for a variant, and ``grid`` (their sum)."""
    out = {}
    for method, seconds in spent.items():
        scale = width_ratio(ms, method, width) if method in (*TIMED, "oracle") else 1.0
        if method == "gentle":
            scale *= steps / RECIPE_STEPS
        out[method] = seconds * scale
    out["grid"] = sum(out.values())
    return out


def variant_of(override: dict[str, Any]) -> tuple[int, int]:
    """(width, gentle steps) of a probe row's override."""
    width = int(override.get("model.embed_dim", RECIPE_WIDTH))
    return width, int(override.get("optim.steps", RECIPE_STEPS))


def validation(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """By variant ``WIDTH:STEPS``: mean validation headline by pair count, and the mean,
    least and largest difference from the recipe over the (pairs, seed) cells both have."""
    values: dict[tuple[int, int], dict[tuple[int, int], float]] = {}
    for row in rows:
        cell = (int(row["pairs"]), int(row["seed"]))
        values.setdefault(variant_of(row["override"]), {})[cell] = float(row["val"])
    recipe = values.get((RECIPE_WIDTH, RECIPE_STEPS), {})
    out = {}
    for (width, steps), cells in sorted(values.items(), reverse=True):
        by_pairs: dict[int, list[float]] = {}
        for (pairs, _), value in cells.items():
            by_pairs.setdefault(pairs, []).append(value)
        diffs = [value - recipe[cell] for cell, value in cells.items() if cell in recipe]
        out[f"{width}:{steps}"] = {
            "val_by_pairs": {str(p): statistics.mean(v) for p, v in sorted(by_pairs.items())},
            "diff": [statistics.mean(diffs), min(diffs), max(diffs)] if diffs else None,
            "cells": len(diffs),
        }
    return out


def measure(grid: Path, probes: Path | None, widths: Sequence[int], steps: int) -> dict[str, Any]:
    ms = time_widths(sorted({RECIPE_WIDTH, *widths}), steps)
    spent = grid_by_method(grid)
    rows = [json.loads(line) for line in probes.read_text().splitlines()] if probes else []
    variants = [(w, s) for w in sorted({RECIPE_WIDTH, *widths}, reverse=True) for s in GENTLE_STEPS]
    return {
        "cpu": cpu_name(),
        "torch": torch.__version__,
        "grid": str(grid),
        "steps": steps,
        "ms": ms,
        "estimates": {f"{w}:{s}": estimate(spent, ms, w, s) for w, s in variants},
        "validation": validation(rows),
    }


def report(record: dict[str, Any]) -> str:
    """The steps by width, then each variant's estimated grid beside its validation cost."""
    widths = sorted(record["ms"]["gentle"], key=int, reverse=True)  # the recipe's first
    lines = [
        f"molecules, one torch thread, sparse first layer: {record['cpu']}, torch "
        f"{record['torch']}; grid scaled: {record['grid']}",
        "",
        "| ms a step | " + " | ".join(f"width {w}" for w in widths) + " |",
        "|---|" + "---:|" * len(widths),
    ]
    for method, by_width in record["ms"].items():
        for i, pairs in enumerate(PAIRS):
            cells = " | ".join(f"{by_width[w][i]:.2f}" for w in widths)
            lines.append(f"| {method}, {pairs} pairs | {cells} |")
    lines += [
        "",
        "| width:gentle steps | gentle | other trained | closed form | grid | of 3,600 | "
        "validation: mean difference (least, largest; cells) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, est in record["estimates"].items():
        other = sum(v for m, v in est.items() if m in ("clip", "sclip", "oracle"))
        closed = est["grid"] - other - est.get("gentle", 0.0)
        val = record["validation"].get(name)
        diff = val and val["diff"]
        cost = f"{diff[0]:+.4f} ({diff[1]:+.4f}, {diff[2]:+.4f}; {val['cells']})" if diff else ""
        lines.append(
            f"| {name} | {est.get('gentle', 0.0):,.0f} | {other:,.0f} | {closed:,.0f} | "
            f"{est['grid']:,.0f} | {est['grid'] / BUDGET:.2f}x | {cost} |"
        )
    counts = _pair_counts(record)
    header = " | ".join(f"{p} pairs" for p in counts)
    lines += ["", f"| mean validation headline, width:gentle steps | {header} |"]
    lines.append("|---|" + "---:|" * len(counts))
    for name, val in record["validation"].items():
        cells = " | ".join(f"{val['val_by_pairs'].get(p, float('nan')):.4f}" for p in counts)
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines) + "\n"


def _pair_counts(record: dict[str, Any]) -> list[str]:
    found = {p for val in record["validation"].values() for p in val["val_by_pairs"]}
    return sorted(found, key=int)


def plot(record: dict[str, Any], path: Path) -> None:
    """Each variant's estimated grid (of the budget) against its validation difference."""
    fig = Figure(figsize=(5.2, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    for name, est in record["estimates"].items():
        val = record["validation"].get(name)
        if not (val and val["diff"]):
            continue
        ax.scatter(est["grid"] / BUDGET, val["diff"][0])
        ax.annotate(name, (est["grid"] / BUDGET, val["diff"][0]), fontsize=8)
    ax.axvline(1.0, color="k", ls="--", lw=1, label="30 minutes of 2 cores")
    ax.axhline(0.0, color="grey", lw=0.5)
    ax.set_xlabel("estimated default grid / budget")
    ax.set_ylabel("validation headline - recipe's")
    ax.set_title(f"molecules, cheaper recipes: {record['cpu']}", fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure_atomic(fig, path)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--grid", type=Path, default=GRID, help="the grid's rows to scale")
    p.add_argument("--probes", type=Path, help="validation_probe.py rows of the variants")
    p.add_argument("--widths", default="384,256", help="comma-separated widths besides 512")
    p.add_argument("--steps", type=int, default=300, help="steps timed after the warm-up")
    p.add_argument("--out", type=Path, default=Path("docs/bench"))
    p.add_argument("--stem", default="cheaper-recipe-molecules")
    args = p.parse_args(argv)
    widths = [int(w) for w in args.widths.split(",") if w]
    if args.steps < 1 or any(w < 1 for w in widths):
        raise SystemExit("--steps and every width must be >= 1")
    for path in (args.grid, args.probes):
        if path is not None and not path.is_file():
            raise SystemExit(f"no such file: {path}")
    record = measure(args.grid, args.probes, widths, args.steps)
    write_record(args.out, args.stem, report(record), record, plot)


if __name__ == "__main__":
    main()
