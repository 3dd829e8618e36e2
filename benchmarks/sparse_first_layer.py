"""What ``model.sparse_inputs`` saves: the first layer alone, molecules' steps, wider inputs.

Molecules' A towers start with a 2,048 -> 512 product over fingerprint rows with about 1% of
their bits set. ``model.sparse_inputs`` computes that layer from the set bits alone
(:class:`gentleclip.models.sparse.SparseInputLinear`; the same numbers up to summation order).
On one torch thread this script times:

- the layer's forward and weight gradient, dense (``F.linear``) against the library's
  ``sparse_linear``, on rows of the fingerprints' shape and density (52 and 96 rows: a step at
  bags of 8 with 20 and with 200 pairs);
- whole training steps of molecules' recipes (``--molecules``, needs its data installed):
  gentle, clip and sclip on the validation split of bags of 8 at 20 and 200 pairs, seed 0,
  milliseconds per step over 200 steps after 20, dense against ``sparse_inputs: a``;
- whole gentle steps of molecules' towers on synthetic fingerprints 2,048 to 16,384 bits wide
  at 1% density (how the saving grows with the width).

It prints the tables, writes them to ``OUT/STEM.md`` and plots ``OUT/STEM.png`` (milliseconds
per step, dense and sparse; ``--stem``, default ``sparse-inputs``). docs/results.md, "Runtime",
sessions afe5197 and e566d88.

    python benchmarks/sparse_first_layer.py --out docs/bench [--molecules] [--stem STEM]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from step_bound import records_config

from gentleclip.data.regimes import RegimeData
from gentleclip.evaluation.report import atomic_path, save_figure_atomic
from gentleclip.experiments import bench
from gentleclip.experiments.speed import one_torch_thread
from gentleclip.models.sparse import sparse_linear
from gentleclip.training.config import config_from_dict
from gentleclip.training.inprocess import InProcessRun

BITS, WIDTH, DENSITY, B_WIDTH = 2048, 512, 0.011, 384
WIDE = (2048, 4096, 8192, 16384)
MODES = ("none", "a")  # model.sparse_inputs: dense, and side a sparse


def per_call_ms(fn: Callable[[], None], calls: int = 300) -> float:
    """Wall milliseconds per call after a warm-up."""
    for _ in range(20):
        fn()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1000.0


def layer_times(rows: int, bits: int = BITS, device: str = "cpu") -> dict[str, float]:
    """Forward + weight gradient of the first layer, dense and sparse, and their largest
    differences in output and weight gradient."""
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(rows, bits, generator=gen) < DENSITY).float().to(device)
    weight = torch.randn(WIDTH, bits, generator=gen).mul_(bits**-0.5).to(device)
    weight_t = weight.t().contiguous().requires_grad_()
    weight.requires_grad_()
    bias = torch.zeros(WIDTH, device=device, requires_grad=True)
    grad = torch.randn(rows, WIDTH, generator=gen).to(device)

    def dense() -> None:
        weight.grad = None
        F.linear(x, weight, bias).backward(grad)

    def sparse() -> None:
        weight_t.grad = None
        sparse_linear(x, weight_t, bias).backward(grad)

    if device != "cpu":  # time the device's work, not only its launch
        dense_fn, sparse_fn = dense, sparse
        dense = lambda: (dense_fn(), torch.cuda.synchronize())  # noqa: E731
        sparse = lambda: (sparse_fn(), torch.cuda.synchronize())  # noqa: E731

    dense(), sparse()
    assert weight.grad is not None and weight_t.grad is not None
    with torch.no_grad():
        gap = (F.linear(x, weight, bias) - sparse_linear(x, weight_t, bias)).abs().max()
    with one_torch_thread():
        times = {"dense": per_call_ms(dense), "sparse": per_call_ms(sparse)}
    grad_gap = (weight.grad - weight_t.grad.t()).abs().max()
    return times | {"output gap": float(gap), "gradient gap": float(grad_gap)}


def device_lines(device: str) -> list[str]:
    """The layer's times on ``device`` for 96 rows at each width of :data:`WIDE`."""
    name = torch.cuda.get_device_name() if device == "cuda" else device
    lines = [f"| first layer on {name}, 96 rows, 1.1% set | dense ms | sparse ms | speed-up |"]
    lines.append("|---|---:|---:|---:|")
    for bits in WIDE:
        t = layer_times(96, bits, device)
        lines.append(
            f"| {bits:,} -> {WIDTH} | {t['dense']:.3f} | {t['sparse']:.3f} "
            f"| {t['dense'] / t['sparse']:.2f}x |"
        )
    return lines


def step_ms(train: dict[str, np.ndarray], config: dict, steps: int = 200) -> float:
    """Milliseconds per training step of ``config`` on ``train``, after 20 steps."""
    config = {**config, "optim": {**config["optim"], "steps": 20 + steps, "epochs": None}}
    run = InProcessRun(RegimeData.from_arrays(train), config_from_dict(config))
    with one_torch_thread():
        run.advance(20)
        start = time.perf_counter()
        run.advance(20 + steps)
    return (time.perf_counter() - start) / steps * 1000.0


def _with_mode(config: dict, mode: str) -> dict:
    return {**config, "model": {**config["model"], "sparse_inputs": mode}}


def molecules_steps() -> list[tuple[str, dict[str, float]]]:
    """(method and pairs, mode -> ms per step) on molecules' validation splits."""
    domain, found = bench.load_domain("molecules"), []
    for pairs in (20, 200):
        cell = bench.Cell("molecules", "bags:8", pairs, 0, "gentle")
        split = bench.cell_data(domain, cell, 400, False).val
        train = {k: v for k, v in split.items() if not k.startswith("eval")}
        for method in ("gentle", "clip", "sclip"):
            config = records_config(method)  # the recipes of this script's records
            times = {mode: step_ms(train, _with_mode(config, mode)) for mode in MODES}
            found.append((f"{method}, {pairs} pairs", times))
    return found


def wide_steps(seed: int = 0) -> list[tuple[str, dict[str, float]]]:
    """(input width, mode -> ms per gentle step) on synthetic 1%-dense fingerprints."""
    rng, found = np.random.default_rng(seed), []
    config = records_config("gentle")
    for bits in WIDE:
        a = (rng.random((400, bits)) < 0.01).astype(np.float32)
        b = rng.normal(size=(400, B_WIDTH)).astype(np.float32)
        train = {"paired_a": a[:64], "paired_b": b[:64], "unpaired_a": a[64:]}
        train |= {"unpaired_b": b[64:]}
        times = {mode: step_ms(train, _with_mode(config, mode), steps=100) for mode in MODES}
        found.append((f"{bits:,} bits", times))
    return found


def step_table(title: str, found: list[tuple[str, dict[str, float]]]) -> list[str]:
    lines = [f"| {title} | dense ms | sparse ms | speed-up |", "|---|---:|---:|---:|"]
    for name, t in found:
        lines.append(f"| {name} | {t['none']:.2f} | {t['a']:.2f} | {t['none'] / t['a']:.2f}x |")
    return lines


def plot(groups: list[tuple[str, list[tuple[str, dict[str, float]]]]], path: Path) -> None:
    """Milliseconds per step, dense and sparse, one panel per table."""
    fig = Figure(figsize=(5 * len(groups), 3.6))
    for i, (title, found) in enumerate(groups):
        ax = fig.add_subplot(1, len(groups), i + 1)
        x = np.arange(len(found))
        for shift, mode, label in ((-0.2, "none", "dense"), (0.2, "a", "sparse_inputs: a")):
            ax.bar(x + shift, [t[mode] for _, t in found], width=0.4, label=label)
        ax.set_xticks(x, [name for name, _ in found], rotation=30, ha="right", fontsize=7)
        ax.set_ylabel("ms per step (one thread)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure_atomic(fig, path)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("docs/bench"))
    p.add_argument("--molecules", action="store_true", help="time molecules' steps too")
    p.add_argument("--stem", default="sparse-inputs", help="names of the table and plot")
    p.add_argument("--device", help="only time the layer on this device (cuda) and print the table")
    args = p.parse_args(argv)
    if args.device:
        print("\n".join(device_lines(args.device)))
        return
    lines = ["| first layer, 2,048 -> 512, forward + weight gradient | 52 rows | 96 rows |"]
    lines.append("|---|---:|---:|")
    layers = [layer_times(rows) for rows in (52, 96)]
    for key in layers[0]:
        fmt = "{:.3f}" if "gap" not in key else "{:.1e}"
        lines.append(f"| {key} | " + " | ".join(fmt.format(t[key]) for t in layers) + " |")
    groups = [("molecules' steps", molecules_steps())] if args.molecules else []
    groups.append(("gentle steps, 1% of the bits set", wide_steps()))
    for title, found in groups:
        lines += ["", *step_table(title, found)]
    text = "\n".join(lines) + "\n"
    print(text)
    with atomic_path(args.out / f"{args.stem}.md", ".md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    plot(groups, args.out / f"{args.stem}.png")


if __name__ == "__main__":
    main()
