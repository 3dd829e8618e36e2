"""Several training runs stacked into one step: does sharing the step's calls pay on the CPU?

Molecules' default grid misses the runtime target, and every trained cell runs several
independent trainings of the same shapes: two learning rates to the halving rung, five seeds of
a setting. Results.md listed one lever as never tried: running such runs as one stacked model
(each weight with a leading run axis, ``torch.bmm`` for the products, the losses over the run
axis), so that each of the step's few hundred calls is made once for all runs instead of once
per run. That pays where a step is dominated by the calls' fixed cost; it cannot where the
work grows with the data (the products, the AdamW update over every weight, filling the
gradients, the element-wise ops).

This script measures it at molecules' shapes on one torch thread, as each bench worker runs:

- ``real step``: the library's ``molecules-gentle`` step with the sparse first layer
  (``step_bound.step_ms``), the calibration;
- ``stacked, R runs``: a stand-in step for R runs at once, written for stacking: each tower
  the recipe's head (2,048 -> 512 from each row's 40 set bits, one ``embedding_bag`` over the
  runs' stacked weights; GELU, dropout, 512 -> 512, residual, LayerNorm; side b 384 -> 512
  dense), CLIP on the pairs, a kernel-density match and a five-bandwidth MMD with a median
  bandwidth per run, the runs' losses summed and one fused AdamW update over the stacked
  weights. Its R = 1 row does the real step's main work (its products, its AdamW update, its
  three loss terms) in fewer, plainer calls, but it is a stand-in, not the real step: its
  median runs over every distance, its MMD sums the bandwidths' terms, its density match has
  no spread scaling, and the batch is built once.

:func:`stacked_loss` gives each run exactly the gradient it would get alone (a test holds it),
so R stacked runs do the work of R separate runs and per-run milliseconds compare like with
like. The table gives milliseconds per step and per run, and per-run time against R = 1;
``OUT/STEM.md``, ``.json`` and a plot ``.png``. docs/results.md, "Runtime"::

    python benchmarks/stacked_runs.py --out docs/bench --stem stacked-runs-molecules
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from records import write_record
from step_bound import records_config, step_ms

from gentleclip.evaluation.report import save_figure_atomic
from gentleclip.experiments.speed import WARMUP_STEPS, cpu_name, one_torch_thread

RUNS = (1, 2, 5, 10)
WIDTH = 512
BITS, IN_A, IN_B = 40, 2048, 384
MMD_MULTIPLIERS = (0.25, 0.5, 1.0, 2.0, 4.0)
Tower = list[torch.Tensor]  # first weight, first bias, second weight, second bias, LN scale, shift


def tower_params(runs: int, d_in: int, width: int, gen: torch.Generator) -> Tower:
    """One tower's weights for ``runs`` runs: the first weight ``(runs * d_in, width)`` (rows
    of run r at ``r * d_in``), the others with a leading run axis."""
    shapes = [(runs * d_in, width), (runs, 1, width), (runs, width, width), (runs, 1, width)]
    out = [torch.randn(s, generator=gen) * 0.02 for s in shapes]
    out += [torch.ones(runs, 1, width), torch.zeros(runs, 1, width)]
    return [t.requires_grad_() for t in out]


def head(h: torch.Tensor, params: Tower, dropout: float) -> torch.Tensor:
    """GELU, dropout, the second layer with a residual, LayerNorm, L2-normalised."""
    _, b1, w2, b2, scale, shift = params
    h = F.gelu(h + b1)
    y = torch.baddbmm(b2, F.dropout(h, dropout, dropout > 0), w2) + h
    return F.normalize(F.layer_norm(y, (y.shape[-1],)) * scale + shift, dim=-1)


def tower_a(bits: torch.Tensor, params: Tower, dropout: float) -> torch.Tensor:
    """``bits`` ``(R, N, k)``: the set bits of each row; one bag sum over the stacked rows."""
    runs, rows, k = bits.shape
    table = params[0]
    flat = (bits + torch.arange(runs)[:, None, None] * (table.shape[0] // runs)).flatten()
    offsets = torch.arange(runs * rows) * k
    h = F.embedding_bag(flat, table, offsets, mode="sum").view(runs, rows, -1)
    return head(h, params, dropout)


def tower_b(x: torch.Tensor, params: Tower, dropout: float) -> torch.Tensor:
    """``x`` ``(R, N, in)``: dense rows; each run's first weight is its ``(in, width)`` block."""
    runs, d_in = x.shape[0], x.shape[2]
    return head(torch.bmm(x, params[0].view(runs, d_in, -1)), params, dropout)


def _sq_dists(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared distances between unit rows, run by run: ``(R, N, M)``."""
    return (2 - 2 * x @ y.transpose(1, 2)).clamp_min(0)


def stacked_loss(za: torch.Tensor, zb: torch.Tensor, pairs: int) -> torch.Tensor:
    """The sum over runs of each run's loss on its ``(N, D)`` embeddings (first ``pairs``
    rows paired): CLIP, a kernel-density match (weight 0.7), MMD (0.2)."""
    runs = za.shape[0]
    total = za.new_zeros(())
    if pairs:
        logits = za[:, :pairs] @ zb[:, :pairs].transpose(1, 2) / 0.05
        target = torch.arange(pairs).repeat(runs)
        ab = F.cross_entropy(logits.flatten(0, 1), target, reduction="sum")
        ba = F.cross_entropy(logits.transpose(1, 2).flatten(0, 1), target, reduction="sum")
        total = total + (ab + ba) / (2 * pairs)
    aa, bb, ab_d = _sq_dists(za, za), _sq_dists(zb, zb), _sq_dists(za, zb)
    density = [torch.exp(-d / 0.5) for d in (aa, bb, ab_d)]
    sdd = (density[0].mean(-1) - density[2].mean(-1)).pow(2).mean(-1)
    sdd = sdd + (density[1].mean(-1) - density[2].mean(-2)).pow(2).mean(-1)
    every = torch.cat([aa.flatten(1), bb.flatten(1), ab_d.flatten(1)], 1)
    median = every.median(dim=1).values.detach()[:, None, None]
    mmd = za.new_zeros(runs)
    for m in MMD_MULTIPLIERS:
        k = [torch.exp(-d / (m * median)).mean((1, 2)) for d in (aa, bb, ab_d)]
        mmd = mmd + k[0] + k[1] - 2 * k[2]
    return total + (0.7 * sdd + 0.2 * mmd).sum()


def stacked_step(
    runs: int, rows: int, pairs: int, *, seed: int = 0, width: int = WIDTH, dropout: float = 0.1
) -> Callable[[], None]:
    """One AdamW step of ``runs`` stacked runs on fixed random batches (each run its own)."""
    gen = torch.Generator().manual_seed(seed)
    pa, pb = tower_params(runs, IN_A, width, gen), tower_params(runs, IN_B, width, gen)
    optimizer = torch.optim.AdamW(pa + pb, lr=1e-3, fused=True)
    bits = torch.randint(0, IN_A, (runs, rows, BITS), generator=gen)
    xb = torch.randn(runs, rows, IN_B, generator=gen)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        za, zb = tower_a(bits, pa, dropout), tower_b(xb, pb, dropout)
        stacked_loss(za, zb, pairs).backward()
        optimizer.step()

    return step


def per_step_ms(step: Callable[[], None], steps: int) -> float:
    """Milliseconds per call of ``step`` over ``steps`` calls after the warm-up."""
    for _ in range(WARMUP_STEPS):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps * 1e3


def measure(steps: int, pairs: int, runs: Sequence[int] = RUNS) -> dict[str, Any]:
    """The real step and the stacked step at each R, each over ``steps`` steps, with the
    recipe's rows a step (its sampler's pairs, at most ``pairs``, and unpaired rows)."""
    sampler = records_config("gentle")["sampler"]
    step_pairs = min(pairs, sampler["pairs_per_step"])
    rows = step_pairs + sampler["unpaired_per_step"]
    with one_torch_thread():
        real = step_ms(steps, sparse=True, pairs=pairs)
        stacked = {str(r): per_step_ms(stacked_step(r, rows, step_pairs), steps) for r in runs}
    return {
        "cpu": cpu_name(),
        "torch": torch.__version__,
        "pairs": pairs,
        "rows": rows,
        "steps": steps,
        "real_step_ms": real,
        "stacked_step_ms": stacked,
    }


def report(record: dict[str, Any]) -> str:
    """Per step and per run, and the per-run time against one run alone."""
    one = record["stacked_step_ms"]["1"]
    lines = [
        f"molecules' shapes, {record['pairs']} pairs ({record['rows']} rows a side), one torch "
        f"thread: {record['cpu']}, torch {record['torch']}",
        "",
        "| step | ms a step | ms a run | a run against one alone |",
        "|---|---:|---:|---:|",
        f"| real molecules-gentle step (sparse first layer) | {record['real_step_ms']:.2f} | "
        f"{record['real_step_ms']:.2f} | |",
    ]
    for runs, ms in record["stacked_step_ms"].items():
        lines.append(
            f"| stacked, {runs} run{'s' if runs != '1' else ''} | {ms:.2f} | "
            f"{ms / int(runs):.2f} | {one * int(runs) / ms:.2f}x |"
        )
    best = max(one * int(r) / ms for r, ms in record["stacked_step_ms"].items())
    lines += ["", f"Best per-run speed-up from stacking: {best:.2f}x."]
    return "\n".join(lines) + "\n"


def plot(record: dict[str, Any], path: Path) -> None:
    """Milliseconds per run against the number of runs stacked, the real step as a line."""
    fig = Figure(figsize=(5, 3.4))
    ax = fig.add_subplot(1, 1, 1)
    runs = list(record["stacked_step_ms"])
    ax.bar(np.arange(len(runs)), [record["stacked_step_ms"][r] / int(r) for r in runs])
    ax.axhline(record["real_step_ms"], color="k", ls="--", lw=1, label="real step, one run")
    ax.set_xticks(np.arange(len(runs)), runs)
    ax.set_xlabel("runs stacked in one step")
    ax.set_ylabel("ms per run and step (one thread)")
    ax.set_title(f"molecules, {record['pairs']} pairs: {record['cpu']}", fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure_atomic(fig, path)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("docs/bench"))
    p.add_argument("--stem", default="stacked-runs-molecules")
    p.add_argument("--steps", type=int, default=200, help="steps timed after the warm-up")
    p.add_argument("--pairs", type=int, default=20)
    p.add_argument("--runs", default=",".join(map(str, RUNS)), help="comma-separated R")
    args = p.parse_args(argv)
    runs = sorted({int(r) for r in args.runs.split(",")})
    if args.steps < 1 or args.pairs < 2 or runs[0] != 1:
        raise SystemExit("--steps must be >= 1, --pairs >= 2 and --runs must include 1")
    record = measure(args.steps, args.pairs, runs)
    write_record(args.out, args.stem, report(record), record, plot)


if __name__ == "__main__":
    main()
