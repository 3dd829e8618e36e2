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
  difference from the recipe over the same (pairs, seed) cells;
- **two checks on the estimate**: gentle's cells scaled by the ratio of the variant's probes'
  seconds to the recipe's instead (a cell's fixed costs do not shrink with its steps), and
  the grid with only gentle's towers narrowed (clip, sclip and the oracle at 512).

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
from step_bound import cell_seconds, molecules_run, trains

from gentleclip.evaluation.report import save_figure_atomic
from gentleclip.experiments.speed import WARMUP_STEPS, cpu_name, mean_step_ms, one_torch_thread

GRID = Path("docs/bench/bench-molecules-sparse-e3f3a5a.jsonl")
BUDGET = 3600.0  # worker-seconds in 30 minutes of 2 cores
RECIPE_WIDTH, RECIPE_STEPS = 512, 2000
TIMED = ("gentle", "clip", "sclip")  # the oracle steps as clip does
SCALED = (*TIMED, "oracle")  # the methods that train the towers a variant narrows
PAIRS = (20, 200)
GENTLE_STEPS = (2000, 1000)  # the recipe's, and half


def step_ms(method: str, width: int, pairs: int, steps: int) -> float:
    """Milliseconds per step of ``method``'s molecules recipe at ``width``, sparse first
    layer, after the warm-up (call inside :func:`one_torch_thread`)."""
    return mean_step_ms(molecules_run(WARMUP_STEPS + steps, True, pairs, method, width), steps)


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
    """Worker-seconds of a grid's cells by method; refuses a method that trains towers but
    has no timed step here (only gentle, clip, sclip and the oracle, stepped as clip, do)."""
    spent: dict[str, float] = {}
    for (method, _), seconds in cell_seconds(path)[0].items():
        if trains(method) and method not in SCALED:
            raise SystemExit(f"{path}: {method} trains towers, and no step of it is timed here")
        spent[method] = spent.get(method, 0.0) + seconds
    return spent


def estimate(
    spent: dict[str, float],
    ms: dict[str, dict[str, list[float]]],
    width: int,
    steps: int,
    gentle_time: float | None = None,
    baselines_narrowed: bool = True,
) -> dict[str, float]:
    """Each method's estimated worker-seconds for a variant, and ``grid`` (their sum).

    The trained methods' towers all take ``width`` (clip, sclip and the oracle train the
    towers gentle trains; with ``baselines_narrowed`` false only gentle's do), each scaled by
    its step's ratio to the recipe's width; gentle's cells also by ``steps / 2,000``, or,
    given ``gentle_time``, by that ratio of a cell's time instead of both; the closed-form
    cells as they were."""
    out = {}
    for method, seconds in spent.items():
        narrowed = method == "gentle" or (baselines_narrowed and method in SCALED)
        scale = width_ratio(ms, method, width) if narrowed else 1.0
        if method == "gentle":
            scale = gentle_time if gentle_time is not None else scale * steps / RECIPE_STEPS
        out[method] = seconds * scale
    out["grid"] = sum(out.values())
    return out


def variant_of(override: dict[str, Any]) -> tuple[int, int]:
    """(width, gentle steps) of a probe row's override; refuses other fields (the probes
    here set only these and the sparse first layer, which changes nothing but rounding)."""
    other = set(override) - {"model.embed_dim", "optim.steps", "model.sparse_inputs"}
    if other:
        raise SystemExit(f"a probe row sets {sorted(other)}; only width and steps are read")
    width = int(override.get("model.embed_dim", RECIPE_WIDTH))
    return width, int(override.get("optim.steps", RECIPE_STEPS))


def _probe_cells(
    rows: Sequence[dict[str, Any]],
) -> dict[tuple[int, int], dict[tuple[int, int], dict[str, Any]]]:
    """Probe rows by variant, then by (pairs, seed); refuses rows of several suites, methods
    or regimes, and a cell probed twice (``validation_probe.py`` appends to its file)."""
    kinds = {(r["suite"], r["method"], r.get("regime", "bags:8")) for r in rows}
    if len(kinds) > 1:
        raise SystemExit(f"probe rows of more than one suite, method or regime: {sorted(kinds)}")
    cells: dict[tuple[int, int], dict[tuple[int, int], dict[str, Any]]] = {}
    for row in rows:
        variant, cell = variant_of(row["override"]), (int(row["pairs"]), int(row["seed"]))
        if cell in cells.setdefault(variant, {}):
            raise SystemExit(f"variant {variant} probed twice at (pairs, seed) {cell}")
        cells[variant][cell] = row
    return cells


def validation(rows: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """By variant ``WIDTH:STEPS``: mean validation headline by pair count, the mean, least
    and largest difference from the recipe over the (pairs, seed) cells both have, and the
    mean ratio of their probes' seconds (``time``: a gentle cell's time, fixed costs in)."""
    cells = _probe_cells(rows)
    recipe = cells.get((RECIPE_WIDTH, RECIPE_STEPS), {})
    out = {}
    for (width, steps), mine in sorted(cells.items(), reverse=True):
        by_pairs: dict[int, list[float]] = {}
        for (pairs, _), row in mine.items():
            by_pairs.setdefault(pairs, []).append(float(row["val"]))
        both = [cell for cell in mine if cell in recipe]
        diffs = [float(mine[c]["val"]) - float(recipe[c]["val"]) for c in both]
        times = [float(mine[c]["seconds"]) / float(recipe[c]["seconds"]) for c in both]
        out[f"{width}:{steps}"] = {
            "val_by_pairs": {str(p): statistics.mean(v) for p, v in sorted(by_pairs.items())},
            "diff": [statistics.mean(diffs), min(diffs), max(diffs)] if diffs else None,
            "time": statistics.mean(times) if times else None,
            "cells": len(diffs),
        }
    return out


def measure(grid: Path, probes: Path | None, widths: Sequence[int], steps: int) -> dict[str, Any]:
    ms = time_widths(sorted({RECIPE_WIDTH, *widths}), steps)
    spent = grid_by_method(grid)
    rows = [json.loads(line) for line in probes.read_text().splitlines()] if probes else []
    variants = [(w, s) for w in sorted({RECIPE_WIDTH, *widths}, reverse=True) for s in GENTLE_STEPS]
    val = validation(rows)
    timed = {n: v["time"] for n, v in val.items() if v["time"] is not None}
    return {
        "cpu": cpu_name(),
        "torch": torch.__version__,
        "grid": str(grid),
        "steps": steps,
        "ms": ms,
        "estimates": {f"{w}:{s}": estimate(spent, ms, w, s) for w, s in variants},
        "estimates_baselines_at_recipe": {
            f"{w}:{s}": estimate(spent, ms, w, s, baselines_narrowed=False) for w, s in variants
        },
        "estimates_gentle_probe_time": {
            f"{w}:{s}": estimate(spent, ms, w, s, gentle_time=timed[f"{w}:{s}"])
            for w, s in variants
            if f"{w}:{s}" in timed
        },
        "validation": val,
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
        "gentle by its probes' time | clip, sclip, oracle at 512 | "
        "validation: mean difference (least, largest; cells) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for name, est in record["estimates"].items():
        lines.append(_estimate_line(record, name, est))
    counts = _pair_counts(record)
    header = " | ".join(f"{p} pairs" for p in counts)
    lines += ["", f"| mean validation headline, width:gentle steps | {header} |"]
    lines.append("|---|" + "---:|" * len(counts))
    for name, val in record["validation"].items():
        cells = " | ".join(f"{val['val_by_pairs'].get(p, float('nan')):.4f}" for p in counts)
        lines.append(f"| {name} | {cells} |")
    return "\n".join(lines) + "\n"


def _estimate_line(record: dict[str, Any], name: str, est: dict[str, float]) -> str:
    """One variant's row: its estimated grid by method group, its share of the budget, the
    shares of the two other estimates, and its validation difference."""
    other = sum(v for m, v in est.items() if m in SCALED and m != "gentle")
    closed = est["grid"] - other - est.get("gentle", 0.0)
    shares = []
    for key in ("estimates_gentle_probe_time", "estimates_baselines_at_recipe"):
        alt = record.get(key, {}).get(name)
        shares.append(f"{alt['grid'] / BUDGET:.2f}x" if alt else "")
    val = record["validation"].get(name)
    diff = val and val["diff"]
    cost = f"{diff[0]:+.4f} ({diff[1]:+.4f}, {diff[2]:+.4f}; {val['cells']})" if diff else ""
    return (
        f"| {name} | {est.get('gentle', 0.0):,.0f} | {other:,.0f} | {closed:,.0f} | "
        f"{est['grid']:,.0f} | {est['grid'] / BUDGET:.2f}x | {shares[0]} | {shares[1]} | {cost} |"
    )


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
