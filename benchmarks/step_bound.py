"""How much of a molecules training step is its matrix products: the runtime target's bound.

Molecules' default grid misses the issue's runtime target (30 minutes of 2 cores, 3,600
worker-seconds) by 2.4x, and the methods that train (gentle, clip, sclip, oracle) spend most of
it. A change that keeps every result (same model, same numbers up to the order of float sums)
can only remove the work *around* the towers' matrix products: the products themselves are
what the model is. This script measures both sides of that bound on one torch thread, as each
bench worker runs:

- the step: the ``molecules-gentle`` recipe's optimisation step at molecules' shapes (2,048-bit
  fingerprints with 40 bits set a row, 384-wide text embeddings), 20 pairs and bags of 8, CPU
  milliseconds per step over ``--steps`` steps after a warm-up; with ``model.sparse_inputs``
  off (the recipe) and on;
- the products: every ``nn.Linear`` call of one step is recorded (rows, in, out, whether its
  input needs a gradient), and the same products (forward, weight gradient, input gradient
  where needed) are timed alone with ``torch.mm`` on contiguous operands;
- the grid: from a grid's rows (``--grid``, default molecules' halving grid of session 6ad9b49)
  the worker-seconds of gentle's cells, of the other methods that train and of the closed-form
  ones, and the speed-up the trained cells would need for the grid to fit ``--budget``
  worker-seconds.

It prints a table: step, products, the rest, and the ratios. A gentle step with no work besides
its products would be ``step / products`` times faster (the bound). Where that is below the
speed-up the grid needs, it says how much faster the other trained methods would have to go
with gentle's cells at the bound::

    python benchmarks/step_bound.py --out docs/bench --stem step-bound-molecules
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from gentleclip.data.regimes import RegimeData
from gentleclip.errors import InputError
from gentleclip.evaluation.report import atomic_path
from gentleclip.experiments import bench
from gentleclip.experiments.speed import WARMUP_STEPS, cpu_name, mean_step_ms, one_torch_thread
from gentleclip.models.sparse import SparseInputLinear
from gentleclip.training.config import config_from_dict
from gentleclip.training.inprocess import InProcessRun

GRID = Path("docs/bench/bench-molecules-halving-6ad9b49.jsonl")
TRAINED = ("clip", "sclip", "oracle")  # besides gentle


class Product(NamedTuple):
    """One ``nn.Linear`` call of a step: its rows, widths and whether its input needs a
    gradient (a layer after the first; the first reads the data)."""

    rows: int
    d_in: int
    d_out: int
    input_grad: bool

    @property
    def macs(self) -> int:
        """Multiply-adds of its forward, weight gradient and (where needed) input gradient."""
        return self.rows * self.d_in * self.d_out * (3 if self.input_grad else 2)


def molecules_arrays(pairs: int = 20, seed: int = 0, bits: int = 40) -> dict[str, np.ndarray]:
    """Molecules' shapes: 2,048 binary features with ``bits`` set a row on side a, 384
    Gaussian on side b; ``pairs`` pairs and 12 bags of 8 unpaired rows a side."""
    rng = np.random.default_rng(seed)

    def fingerprints(n: int) -> np.ndarray:
        x = np.zeros((n, 2048), np.float32)
        for row in x:
            row[rng.choice(2048, size=bits, replace=False)] = 1.0
        return x

    bags = np.repeat(np.arange(12), 8)
    return {
        "paired_a": fingerprints(pairs),
        "paired_b": rng.standard_normal((pairs, 384), dtype=np.float32),
        "unpaired_a": fingerprints(len(bags)),
        "unpaired_b": rng.standard_normal((len(bags), 384), dtype=np.float32),
        "unpaired_a_bags": bags,
        "unpaired_b_bags": bags.copy(),
    }


# the recipes this script's records measured: molecules' gentle recipe until session e2fc655,
# now molecules-gentle-wide (512 wide, 2,000 steps of 32 unpaired rows, no bag term); the
# scripts built on this one (grid_bound, bf16_step, cheaper_recipe, stacked_runs,
# sparse_first_layer) measure it too
RECORDS_RECIPES = {"gentle": "molecules-gentle-wide"}


def records_config(method: str, steps: int | None = None) -> dict[str, Any]:
    """Bench method ``method``'s molecules config as this script's records measured it."""
    spec = bench.METHODS[method]
    recipe = RECORDS_RECIPES.get(spec.recipe) if isinstance(spec, bench.Trained) else None
    return bench.base_config("molecules", spec, steps, seed=0, recipe=recipe)


def molecules_run(
    steps: int, sparse: bool, pairs: int, method: str = "gentle", width: int | None = None
) -> InProcessRun:
    """Bench method ``method``'s molecules recipe (``gentle``: molecules-gentle; ``clip``,
    ``sclip``: molecules-clip and sclip's overrides), ready to train ``steps`` steps on
    :func:`molecules_arrays`; sclip reads the unpaired rows as two sets, as in the bench.
    ``width``: the towers' width (``model.embed_dim``) instead of the recipe's."""
    spec = trained_spec(method)
    config = records_config(method, steps)
    config["model"]["sparse_inputs"] = "a" if sparse else "none"
    if width is not None:
        config["model"]["embed_dim"] = width
    arrays = molecules_arrays(pairs)
    if not spec.sees_bags:
        arrays = {k: v for k, v in arrays.items() if not k.endswith("_bags")}
    return InProcessRun(RegimeData.from_arrays(arrays), config_from_dict(config))


def trained_spec(method: str) -> bench.Trained:
    """Bench method ``method``, refused unless it trains with a step of its own (the oracle's
    is clip's on every item)."""
    spec = bench.METHODS.get(method)
    if not isinstance(spec, bench.Trained) or spec.oracle:
        raise SystemExit(f"not a trained bench method with a step of its own: {method}")
    return spec


def step_ms(steps: int, sparse: bool, pairs: int, method: str = "gentle") -> float:
    """CPU milliseconds per step, the mean of ``steps`` steps after the warm-up."""
    return mean_step_ms(molecules_run(WARMUP_STEPS + steps, sparse, pairs, method), steps)


def recorded_products(pairs: int, method: str = "gentle", sparse: bool = False) -> list[Product]:
    """Every ``nn.Linear`` call of one step (after one step of warm-up). ``sparse``: the step
    with ``model.sparse_inputs: a``, whose first layer on side a is recorded as the product it
    leaves: its input's non-zero entries a row (rounded up) by the layer's outputs."""
    run = molecules_run(2, sparse=sparse, pairs=pairs, method=method)
    found: list[Product] = []

    def hook(module: nn.Module, args: tuple[torch.Tensor, ...], _: Any) -> None:
        x = args[0]
        rows = x.numel() // x.shape[-1]
        d_in = module.in_features
        if isinstance(module, SparseInputLinear):
            d_in = math.ceil(int(torch.count_nonzero(x)) / max(rows, 1))
        found.append(Product(rows, d_in, module.out_features, x.requires_grad))

    layers = (nn.Linear, SparseInputLinear)
    with one_torch_thread():
        run.advance(1)
        handles = [
            m.register_forward_hook(hook) for m in run.model.modules() if isinstance(m, layers)
        ]
        run.advance(2)
    for handle in handles:
        handle.remove()
    if not found:
        raise SystemExit("the step called no nn.Linear: nothing to time")
    return found


def products_ms(
    products: Sequence[Product], repeats: int, dtype: torch.dtype = torch.float32
) -> float:
    """CPU milliseconds of the step's products alone (forward, weight and input gradients
    as ``torch.mm`` on contiguous operands of ``dtype``), the mean over ``repeats``."""
    operands = []
    for p in products:
        x, w = torch.randn(p.rows, p.d_in, dtype=dtype), torch.randn(p.d_out, p.d_in, dtype=dtype)
        dy = torch.randn(p.rows, p.d_out, dtype=dtype)
        operands.append((x, w.t().contiguous(), dy.t().contiguous(), w, dy, p.input_grad))

    def once() -> None:
        for x, w_t, dy_t, w, dy, input_grad in operands:
            torch.mm(x, w_t)  # forward
            torch.mm(dy_t, x)  # weight gradient
            if input_grad:
                torch.mm(dy, w)  # input gradient

    with torch.no_grad():
        return cpu_ms(once, repeats)


def cpu_ms(once: Callable[[], object], repeats: int) -> float:
    """CPU milliseconds of ``once()`` on one torch thread, the mean over ``repeats`` calls
    after :data:`WARMUP_STEPS` of warm-up."""
    with one_torch_thread():
        for _ in range(WARMUP_STEPS):
            once()
        start = time.process_time()
        for _ in range(repeats):
            once()
        return (time.process_time() - start) / repeats * 1000.0


def grid_seconds(path: Path) -> tuple[float, float, float, int]:
    """Worker-seconds of gentle's cells, of the other trained methods' (:data:`TRAINED`) and of
    the rest (the closed-form maps), and the cell count."""
    by_cell, cells = cell_seconds(path)
    spent = {"gentle": 0.0, "trained": 0.0, "rest": 0.0}
    for (method, _), seconds in by_cell.items():
        spent[_kind(method)] += seconds
    return spent["gentle"], spent["trained"], spent["rest"], cells


def cell_seconds(path: Path) -> tuple[dict[tuple[str, int], float], int]:
    """Worker-seconds of a grid's cells by (method, pairs), and the cell count."""
    rows = bench.read_results(path)
    spent: dict[tuple[str, int], float] = {}
    for row in rows:
        key = (row["method"], int(row["pairs"]))
        spent[key] = spent.get(key, 0.0) + float(row.get("seconds", 0.0))
    return spent, len(rows)


def trains(method: str) -> bool:
    """Whether bench method ``method`` trains towers (gentle, clip, sclip, the oracle and their
    variants) rather than fitting a closed-form map."""
    return isinstance(bench.METHODS.get(method), bench.Trained)


def _kind(method: str) -> str:
    """gentle, trained (the other methods that train; :data:`TRAINED` on the default grid) or
    rest: the part of the grid a method's cells count in."""
    if method == "gentle":
        return "gentle"
    return "trained" if trains(method) else "rest"


class Bound(NamedTuple):
    """What the script measured and what follows from it."""

    pairs: int
    step: float
    sparse_step: float
    products: float
    macs: int
    gentle: float
    trained: float
    rest: float
    cells: int
    budget: float

    @property
    def needed(self) -> float:
        """The speed-up of every trained cell that fits the grid into the budget (inf where the
        closed-form cells alone exceed it)."""
        return _ratio(self.gentle + self.trained, self.budget - self.rest)

    @property
    def gentle_floor(self) -> float:
        """Gentle's worker-seconds with every step at the bound."""
        return self.gentle / self.bound

    @property
    def others_needed(self) -> float:
        """The speed-up the other trained methods would need with gentle's cells at the bound
        and the closed-form ones as measured."""
        return _ratio(self.trained, self.budget - self.rest - self.gentle_floor)

    @property
    def bound(self) -> float:
        """The speed-up of a step that did nothing but its products."""
        return self.step / self.products


def _ratio(work: float, room: float) -> float:
    return work / room if room > 0 else float("inf")


def report(b: Bound, grid: Path) -> str:
    """The markdown table and the verdict."""
    gflops = 2 * b.macs / b.products / 1e6
    lines = [
        "# Molecules' training step against its matrix products",
        "",
        f"Machine: {cpu_name()} (kernels {torch.backends.cpu.get_cpu_capability()}), "
        f"torch {torch.__version__}, one thread, CPU time. Recipe molecules-gentle at "
        "molecules' shapes (2,048-bit fingerprints, 40 bits set; 384-wide text), "
        f"{b.pairs} pairs, bags of 8. Grid: `{grid}` ({b.cells} cells).",
        "",
        "| quantity | value |",
        "|---|---:|",
        f"| step (recipe, dense first layer) | {b.step:.2f} ms |",
        f"| step with `model.sparse_inputs: a` | {b.sparse_step:.2f} ms |",
        f"| the step's matrix products alone | {b.products:.2f} ms "
        f"({b.macs / 1e6:.0f} M multiply-adds, {gflops:.0f} GFLOP/s) |",
        f"| the rest of the step | {b.step - b.products:.2f} ms |",
        f"| bound: step / products | {b.bound:.2f}x |",
        f"| grid: gentle's worker-seconds | {b.gentle:,.0f} |",
        f"| grid: the other trained methods' ({', '.join(TRAINED)}) | {b.trained:,.0f} |",
        f"| grid: the closed-form methods' | {b.rest:,.0f} |",
        f"| speed-up of every trained cell the budget ({b.budget:,.0f} ws) needs "
        f"| {b.needed:.2f}x |",
        f"| gentle's worker-seconds at the bound | {b.gentle_floor:,.0f} |",
        f"| then the speed-up the other trained methods need | {b.others_needed:.2f}x |",
        "",
    ]
    if b.bound < b.needed:
        verdict = (
            f"A gentle step with no work but its products would be {b.bound:.2f}x faster; "
            f"every trained cell would need {b.needed:.2f}x. With gentle's cells at that bound "
            f"the other trained methods would have to go {b.others_needed:.2f}x faster."
        )
    else:
        verdict = (
            f"A gentle step with no work but its products would be {b.bound:.2f}x faster, "
            f"more than the {b.needed:.2f}x every trained cell would need: the bound does not "
            "rule the budget out."
        )
    return "\n".join([*lines, verdict]) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="steps timed per step variant")
    parser.add_argument("--repeats", type=int, default=300, help="times the products are timed")
    parser.add_argument("--pairs", type=int, default=20, help="training pairs (rows a step)")
    parser.add_argument("--grid", type=Path, default=GRID, help="the grid's rows")
    parser.add_argument("--budget", type=float, default=3600.0, help="worker-seconds")
    parser.add_argument("--out", type=Path, help="writes OUT/STEM.md and OUT/STEM.json")
    parser.add_argument("--stem", default="step-bound-molecules")
    args = parser.parse_args(argv)
    if min(args.steps, args.repeats, args.pairs) < 1:
        parser.error("--steps, --repeats and --pairs must be >= 1")
    if not args.grid.is_file():
        parser.error(f"--grid {args.grid} is not a file")
    try:
        seconds = grid_seconds(args.grid)
    except InputError as error:
        parser.error(str(error))
    products = recorded_products(args.pairs)
    bound = Bound(
        args.pairs,
        step_ms(args.steps, sparse=False, pairs=args.pairs),
        step_ms(args.steps, sparse=True, pairs=args.pairs),
        products_ms(products, args.repeats),
        sum(p.macs for p in products),
        *seconds,
        args.budget,
    )
    text = report(bound, args.grid)
    print(text)
    if args.out is not None:
        with atomic_path(args.out / f"{args.stem}.md", ".md") as tmp:
            tmp.write_text(text, encoding="utf-8")
        record = {**bound._asdict(), "needed": bound.needed, "bound": bound.bound}
        record.update(gentle_floor=bound.gentle_floor, others_needed=bound.others_needed)
        record["linear_calls"] = [p._asdict() for p in products]
        with atomic_path(args.out / f"{args.stem}.json", ".json") as tmp:
            tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
