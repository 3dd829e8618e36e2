"""Molecules' grid with every trained method's step at its bound: can any faster implementation
of the same models meet the runtime target?

``step_bound.py`` bounds gentle's step alone (a step that did nothing but its matrix products)
and says how much faster clip, sclip and the oracle would then have to go. This script bounds
theirs too, so that the grid's verdict rests on measurements only:

- for each trained method (gentle, clip, sclip) and pair count of the grid (``--pairs``;
  clip and sclip need 2), the step at molecules' shapes (``step_bound.molecules_run``: the
  method's bench recipe, bags of 8), the same step's ``nn.Linear`` products timed alone, as in
  ``step_bound.py``, and the run's own AdamW update timed alone, on one torch thread;
- three bounds per step, its time over the work it could not do without (:data:`KINDS`):
  the floor (the products and the update as timed), the products as timed, and the ideal
  one (the products at the best rate any of them reached in this run: small products run
  below the core's peak, and a better kernel could bring them near it);
- the grid (``--grid``, default molecules' halving grid of session 6ad9b49): each trained
  cell's worker-seconds divided by the bound of its method at its pair count (a step holds
  the same rows in every regime: the pairs and 32 unpaired rows; the oracle takes clip's
  fullest step, 64 pairs), the closed-form cells' seconds as they are. A cell's work other
  than steps (data, evaluation) is divided too, which favours the bound again.

``--sparse`` counts the products that the sparse first layer (``model.sparse_inputs: a``, the
same model up to the order of float sums) leaves instead: its own layer as the input's non-zero
entries a row by its outputs, the other layers as they are; the steps stay the dense ones the
grid ran (the sparse step is shown beside them).

If even the ideal bound leaves the grid above ``--budget`` worker-seconds (30 minutes of 2
cores), no implementation that keeps these models' products meets the target on this
machine::

    python benchmarks/grid_bound.py --out docs/bench
    python benchmarks/grid_bound.py --sparse --out docs/bench
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from step_bound import (
    GRID,
    cell_seconds,
    cpu_ms,
    molecules_run,
    products_ms,
    recorded_products,
    step_ms,
    trained_spec,
    trains,
)

from gentleclip.errors import InputError
from gentleclip.evaluation.report import atomic_path
from gentleclip.experiments import bench
from gentleclip.experiments.speed import WARMUP_STEPS, cpu_name

METHODS = ("gentle", "clip", "sclip")
BORROWS = {"oracle": "clip"}  # a trained method without a step of its own here: whose bound


# what a step could not do without: the kinds of bound, tightest first
KINDS = {
    "floor": "its products as timed and its AdamW update",
    "products": "its products as timed",
    "ideal": "its products at the best rate measured",
}


class StepBound(NamedTuple):
    """One method's step at one pair count: milliseconds of the step, of its products and of
    its optimiser's update."""

    method: str
    pairs: int
    rows: int  # rows a side of a step (the first layer's input rows)
    step: float
    products: float
    optimizer: float
    macs: int
    sparse_step: float | None = None  # the step with model.sparse_inputs: a (--sparse only)

    @property
    def gflops(self) -> float:
        return 2 * self.macs / self.products / 1e6

    def bound(self, kind: str, best_gflops: float) -> float:
        """The speed-up of a step that did nothing but what :data:`KINDS` names."""
        work = {
            "floor": self.products + self.optimizer,
            "products": self.products,
            "ideal": 2 * self.macs / best_gflops / 1e6,
        }
        return self.step / work[kind]


class GridBound(NamedTuple):
    """The grid's worker-seconds by (method, pairs), the bounds measured and the budget."""

    steps: list[StepBound]
    seconds: dict[tuple[str, int], float]
    cells: int
    budget: float

    @property
    def best_gflops(self) -> float:
        return max(s.gflops for s in self.steps)

    @property
    def sparse(self) -> bool:
        """Whether the steps count the products the sparse first layer leaves (--sparse)."""
        return self.steps[0].sparse_step is not None

    def step_of(self, method: str, pairs: int) -> StepBound | None:
        """The step that bounds ``method``'s cells at ``pairs``: its own at that pair count
        (the oracle: clip's fullest step, 64 pairs as at 200); None for a cell that does not
        train (a closed-form method, or too few pairs)."""
        if method in BORROWS:
            mine = [s for s in self.steps if s.method == BORROWS[method]]
            return max(mine, key=lambda s: s.rows) if mine else None
        spec = bench.METHODS.get(method)
        if not isinstance(spec, bench.Trained) or pairs < spec.min_pairs:
            return None  # closed form, or skipped: too few pairs to train
        for s in self.steps:
            if (s.method, s.pairs) == (method, pairs):
                return s
        raise SystemExit(f"no step of {method} at {pairs} pairs was timed")

    def at_bound(self, kind: str | None) -> dict[str, float]:
        """Each method's worker-seconds with every trained step at its ``kind`` bound (None:
        as run); the closed-form methods' as they are."""
        spent: dict[str, float] = {}
        for (method, pairs), seconds in self.seconds.items():
            step = self.step_of(method, pairs) if kind else None
            if step is not None:
                seconds /= step.bound(kind, self.best_gflops)
            spent[method] = spent.get(method, 0.0) + seconds
        return spent

    def total(self, kind: str | None = None) -> float:
        """The grid's worker-seconds (``kind``: with every trained step at that bound)."""
        return sum(self.at_bound(kind).values())

    def closed_form(self) -> float:
        """Worker-seconds of the cells that train nothing (closed-form methods, skipped)."""
        return sum(t for (m, p), t in self.seconds.items() if self.step_of(m, p) is None)

    def by_method(self) -> dict[str, float]:
        """Each method's worker-seconds as run."""
        return self.at_bound(None)


def measure(method: str, pairs: int, steps: int, repeats: int, sparse: bool = False) -> StepBound:
    """Time one method's step (dense, as the grid ran it), its products and its AdamW update
    at ``pairs``; ``sparse``: the products left by the sparse first layer, and its step."""
    products = recorded_products(pairs, method, sparse)
    return StepBound(
        method,
        pairs,
        max(p.rows for p in products),
        step_ms(steps, sparse=False, pairs=pairs, method=method),
        products_ms(products, repeats),
        optimizer_ms(method, pairs, repeats),
        sum(p.macs for p in products),
        step_ms(steps, sparse=True, pairs=pairs, method=method) if sparse else None,
    )


def optimizer_ms(method: str, pairs: int, repeats: int) -> float:
    """CPU milliseconds of the run's own optimiser update (the library's fused AdamW over
    every trainable parameter, random gradients), the mean over ``repeats``."""
    run = molecules_run(WARMUP_STEPS + repeats, sparse=False, pairs=pairs, method=method)
    params = [p for group in run.optimizer.param_groups for p in group["params"]]
    for p in params:
        p.grad = torch.randn_like(p) * 1e-3
    return cpu_ms(run.optimizer.step, repeats)


def report(g: GridBound, grid: Path) -> str:
    """The two markdown tables and the verdict."""
    best = g.best_gflops
    lines = [
        "# Molecules' grid with every trained step at its bound",
        "",
        f"Machine: {cpu_name()} (kernels {torch.backends.cpu.get_cpu_capability()}), "
        f"torch {torch.__version__}, one thread, CPU time; dense first layer, bags of 8. "
        f"Grid: `{grid}` ({g.cells} cells). A step's bound is its time over the work it could "
        f"not do without: {'; '.join(f'{k}: {v}' for k, v in KINDS.items())} ({best:.0f} "
        "GFLOP/s).",
    ]
    if g.sparse:
        lines.append(
            "The products are those left by the sparse first layer (`model.sparse_inputs: a`): "
            "its own counted as the non-zero entries a row by its outputs; the step is the "
            "dense one the grid ran, the sparse one beside it."
        )
    extra = ("| sparse step ms ", "|---:") if g.sparse else ("", "")
    lines += [
        "",
        f"| method | pairs | rows a step | step ms {extra[0]}| products ms | AdamW ms | GFLOP/s "
        + "".join(f"| {k} bound " for k in KINDS)
        + "|",
        f"|---|---:|---:|---:{extra[1]}|---:|---:|---:" + "|---:" * len(KINDS) + "|",
    ]
    for s in g.steps:
        bounds = "".join(f"| {s.bound(k, best):.2f}x " for k in KINDS)
        beside = f"| {s.sparse_step:.2f} " if s.sparse_step is not None else ""
        lines.append(
            f"| {s.method} | {s.pairs} | {s.rows} | {s.step:.2f} {beside}| {s.products:.2f} "
            f"| {s.optimizer:.2f} | {s.gflops:.0f} {bounds}|"
        )
    lines += ["", *method_table(g)]
    return "\n".join([*lines, "", verdict(g)]) + "\n"


def method_table(g: GridBound) -> list[str]:
    """Each method's worker-seconds in the grid and with every trained step at each bound."""
    spent = g.by_method()
    at = {k: g.at_bound(k) for k in KINDS}
    lines = [
        "| method | grid worker-seconds " + "".join(f"| at the {k} bound " for k in KINDS) + "|",
        "|---|---:" + "|---:" * len(KINDS) + "|",
    ]
    for method in sorted(spent, key=lambda m: -spent[m]):
        cells = "".join(f"| {at[k][method]:,.0f} " for k in KINDS)
        lines.append(f"| {method} | {spent[method]:,.0f} {cells}|")
    totals = "".join(f"| {g.total(k):,.0f} " for k in KINDS)
    return [*lines, f"| all | {g.total():,.0f} {totals}|"]


def verdict(g: GridBound) -> str:
    """Whether the grid at the bound fits the budget: ruled out only where even the ideal
    bound (the most generous) exceeds it."""
    totals = {k: g.total(k) for k in KINDS}
    said = (
        "With every trained step doing nothing but the work it could not do without, the grid "
        "would take "
        + _series(f"{t:,.0f} worker-seconds at the {k} bound" for k, t in totals.items())
        + ": "
        + _series(f"{t / g.budget:.2f}x" for t in totals.values())
        + f" the budget of {g.budget:,.0f}. "
    )
    if totals["ideal"] > g.budget:
        trained = totals["ideal"] - g.closed_form()
        alone = "over it" if trained > g.budget else "within it"
        kept = (
            "the products the sparse first layer leaves"
            if g.sparse
            else "these models' dense products"
        )
        return said + (
            f"No implementation that keeps {kept} meets the budget on this "
            f"machine. The trained cells alone would take {trained:,.0f} at the ideal bound, "
            f"{alone} even with the closed-form cells free."
        )
    fits = [k for k, t in totals.items() if t <= g.budget]
    return said + f"The {fits[0]} bound fits it: the bound does not rule the budget out."


def _series(items: Iterable[str]) -> str:
    """``a, b and c``."""
    found = list(items)
    return ", ".join(found[:-1]) + " and " + found[-1] if len(found) > 1 else "".join(found)


def _pair_counts(text: str) -> list[int]:
    try:
        counts = sorted({int(v) for v in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not comma-separated integers: {text!r}") from None
    if not counts or counts[0] < 0:
        raise argparse.ArgumentTypeError(f"pair counts must be >= 0: {text!r}")
    return counts


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="steps timed per step")
    parser.add_argument("--repeats", type=int, default=300, help="times the products are timed")
    parser.add_argument(
        "--pairs",
        type=_pair_counts,
        default=None,
        help="pair counts to time (default: the grid's)",
    )
    parser.add_argument("--methods", default=",".join(METHODS), help="trained methods to time")
    parser.add_argument("--grid", type=Path, default=GRID, help="the grid's rows")
    parser.add_argument("--budget", type=float, default=3600.0, help="worker-seconds")
    parser.add_argument("--out", type=Path, help="writes OUT/STEM.md and OUT/STEM.json")
    parser.add_argument(
        "--sparse",
        action="store_true",
        help="count the products the sparse first layer leaves (model.sparse_inputs: a)",
    )
    parser.add_argument("--stem", help="default grid-bound-molecules (-sparse with --sparse)")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    if min(args.steps, args.repeats) < 1:
        parser.error("--steps and --repeats must be >= 1")
    methods = {m: trained_spec(m) for m in args.methods.split(",")}
    if not args.grid.is_file():
        parser.error(f"--grid {args.grid} is not a file")
    try:
        seconds, cells = cell_seconds(args.grid)
    except InputError as error:
        parser.error(str(error))
    if unmeasured := sorted(set(trained(seconds)) - set(methods)):
        parser.error(f"the grid trains {unmeasured}: add them to --methods")
    pairs = args.pairs or sorted({p for _, p in seconds})
    needed = {p for m, p in seconds if m in methods and p >= methods[m].min_pairs}
    if untimed := sorted(needed - set(pairs)):
        parser.error(f"the grid has cells at {untimed} pairs: add them to --pairs")
    steps = [
        measure(m, p, args.steps, args.repeats, args.sparse)
        for m, spec in methods.items()
        for p in pairs
        if p >= spec.min_pairs
    ]
    result = GridBound(steps, seconds, cells, args.budget)
    text = report(result, args.grid)
    print(text)
    if args.out is not None:
        stem = args.stem or "grid-bound-molecules" + ("-sparse" if args.sparse else "")
        _write(result, text, args.out, stem)


def trained(seconds: dict[tuple[str, int], float]) -> list[str]:
    """The grid's methods that train, each under the name of the step it is bounded by."""
    return sorted({BORROWS.get(m, m) for m, _ in seconds if trains(m)})


def _write(g: GridBound, text: str, out: Path, stem: str) -> None:
    with atomic_path(out / f"{stem}.md", ".md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    record = {
        "steps": [
            {**s._asdict(), **{f"{k}_bound": s.bound(k, g.best_gflops) for k in KINDS}}
            for s in g.steps
        ],
        "best_gflops": g.best_gflops,
        "seconds": g.by_method(),
        **{f"at_{k}_bound": g.at_bound(k) for k in KINDS},
        "cells": g.cells,
        "budget": g.budget,
    }
    with atomic_path(out / f"{stem}.json", ".json") as tmp:
        tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
