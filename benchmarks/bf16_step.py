"""bfloat16 on the CPU for molecules' steps: what autocast buys where bfloat16 products are fast.

Molecules' default grid misses the runtime target, and ``step_bound.py`` / ``grid_bound.py``
bound it by the towers' float32 products. Some machines here (Intel Xeon with AMX tiles) multiply
bfloat16 matrices several times faster than float32, which that bound does not cover. On one
torch thread, at molecules' shapes (``step_bound.molecules_arrays``: 20 pairs, bags of 8), this
script times

- the step's ``nn.Linear`` products alone (``step_bound.recorded_products``: forward, weight
  gradient and input gradient where needed), in float32 and in bfloat16;
- the ``molecules-gentle`` step as the bench trains it (float32) and the same step under
  ``torch.autocast("cpu", dtype=torch.bfloat16)`` (the towers' products in bfloat16, the losses
  in float32 as they cast themselves; the AdamW update on the float32 weights);

and prints a table with the ratios, written to ``OUT/STEM.md`` and ``.json``, with a bar plot
``OUT/STEM.png``. Autocast changes the model's numbers (bfloat16 keeps 8 bits of mantissa), so it
is not a "same results" change like the sparse first layer; the library trains in float32 on the
CPU (in-process training refuses another precision). docs/results.md, "Runtime", session
e566d88::

    python benchmarks/bf16_step.py --out docs/bench --stem bf16-step-molecules
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from records import write_record
from step_bound import molecules_run, products_ms, recorded_products

from gentleclip.evaluation.report import save_figure_atomic
from gentleclip.experiments.speed import WARMUP_STEPS, cpu_name, mean_step_ms

ROWS = ("products alone", "gentle step")
DTYPES = (torch.float32, torch.bfloat16)


def amx() -> bool:
    """Whether ``/proc/cpuinfo`` lists AMX bfloat16 tiles (``amx_bf16``)."""
    try:
        return "amx_bf16" in Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return False


def step_ms(steps: int, pairs: int, autocast: bool) -> float:
    """CPU milliseconds per molecules-gentle step (float32, or under bfloat16 autocast)."""
    run = molecules_run(WARMUP_STEPS + steps, sparse=False, pairs=pairs)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        return mean_step_ms(run, steps)


def measure(steps: int, repeats: int, pairs: int) -> dict[str, Any]:
    """Both rows in both precisions, with the machine they ran on."""
    products = recorded_products(pairs)
    found = {
        "products alone": [products_ms(products, repeats, dtype) for dtype in DTYPES],
        "gentle step": [step_ms(steps, pairs, autocast) for autocast in (False, True)],
    }
    return {
        "cpu": cpu_name(),
        "capability": torch.backends.cpu.get_cpu_capability(),
        "amx_bf16": amx(),
        "torch": torch.__version__,
        "pairs": pairs,
        "steps": steps,
        "repeats": repeats,
        "ms": found,
    }


def report(record: dict[str, Any]) -> str:
    """The table: float32 and bfloat16 milliseconds and their ratio, per row."""
    lines = [
        f"molecules at {record['pairs']} pairs, bags of 8, one torch thread: {record['cpu']} "
        f"({record['capability']}, AMX bfloat16 {'yes' if record['amx_bf16'] else 'no'}), "
        f"torch {record['torch']}",
        "",
        "| ms | float32 | bfloat16 | float32 / bfloat16 |",
        "|---|---:|---:|---:|",
    ]
    for row in ROWS:
        f32, bf16 = record["ms"][row]
        lines.append(f"| {row} | {f32:.2f} | {bf16:.2f} | {f32 / bf16:.2f}x |")
    step, products = record["ms"]["gentle step"], record["ms"]["products alone"]
    f32, bf16 = step[0] - products[0], step[1] - products[1]
    lines.append(f"| the step less its products | {f32:.2f} | {bf16:.2f} | {f32 / bf16:.2f}x |")
    return "\n".join(lines) + "\n"


def plot(record: dict[str, Any], path: Path) -> None:
    """Milliseconds per row, float32 beside bfloat16."""
    fig = Figure(figsize=(5, 3.4))
    ax = fig.add_subplot(1, 1, 1)
    x = np.arange(len(ROWS))
    for shift, i, label in ((-0.2, 0, "float32"), (0.2, 1, "bfloat16 (autocast)")):
        ax.bar(x + shift, [record["ms"][row][i] for row in ROWS], width=0.4, label=label)
    ax.set_xticks(x, list(ROWS))
    ax.set_ylabel("ms (one thread)")
    ax.set_title(f"molecules, {record['pairs']} pairs: {record['cpu']}", fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure_atomic(fig, path)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("docs/bench"))
    p.add_argument("--stem", default="bf16-step-molecules")
    p.add_argument("--steps", type=int, default=200, help="steps timed after the warm-up")
    p.add_argument("--repeats", type=int, default=50, help="timed calls of the products")
    p.add_argument("--pairs", type=int, default=20)
    args = p.parse_args(argv)
    if min(args.steps, args.repeats) < 1 or args.pairs < 2:
        raise SystemExit("--steps and --repeats must be >= 1 and --pairs >= 2")
    record = measure(args.steps, args.repeats, args.pairs)
    write_record(args.out, args.stem, report(record), record, plot)


if __name__ == "__main__":
    main()
