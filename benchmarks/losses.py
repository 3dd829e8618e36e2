"""Benchmark of the gentleclip loss terms (a script, not a test).

Usage::

    python benchmarks/losses.py                # every case, each in a fresh subprocess
    python benchmarks/losses.py --threads 2    # same with 2 torch intra-op threads
    python benchmarks/losses.py --case sdd-vec # one case, prints a JSON line

Measured, forward + backward, float32 on CPU, median over repeats (one warm-up run), with
1 intra-op thread by default so that timings stay stable on a shared machine:

1. SDD vectorised (``sdd_loss``) vs a per-sample Python loop in the style of the paper's
   released code (each sample's densities against each set computed with torch ops), at
   n = m = 256, d = 64.
2. The distribution terms (``sdd_and_mmd`` with SDD and MK-MMD) vs ``clip_loss`` at
   B = 256, 1024, 4096 rows per side, d = 128.
3. Peak memory: every case runs in its own subprocess and reports its max RSS; the table shows
   it minus the max RSS of a baseline subprocess that only imports torch and the losses.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gentleclip.losses.functional import clip_loss, sdd_and_mmd, sdd_loss

SDD_ROWS, SDD_DIM = 256, 64
DIST_DIM = 128
BATCHES = (256, 1024, 4096)


def _sets(rows: int, dim: int, seed: int) -> tuple[Tensor, Tensor]:
    """Two L2-normalised sets (rows, dim), leaf tensors requiring grad."""
    gen = torch.Generator().manual_seed(seed)
    a = F.normalize(torch.randn(rows, dim, generator=gen), dim=1)
    b = F.normalize(torch.randn(rows, dim, generator=gen) + 0.1, dim=1)
    return a.requires_grad_(True), b.requires_grad_(True)


def sdd_per_sample_loop(a: Tensor, b: Tensor, bandwidth: float = 0.5) -> Tensor:
    """SDD with one Python iteration per sample (the paper-code style baseline; range spread)."""
    s_a = a.var(dim=0).sum()
    s_b = b.var(dim=0).sum()
    denom_a = 4 * bandwidth**2 * s_a
    denom_b = 4 * bandwidth**2 * s_b
    total = a.new_zeros(())
    for own, other, own_denom, other_denom in ((a, b, denom_a, denom_b), (b, a, denom_b, denom_a)):
        for x in own:
            p = torch.exp(-((own - x) ** 2).sum(dim=1) / own_denom).mean()
            q = torch.exp(-((other - x) ** 2).sum(dim=1) / other_denom).mean()
            total = total + (p - q) * (torch.log(p) - torch.log(q))
    r_a = (a.amax(dim=0) - a.amin(dim=0)).pow(2).sum()
    r_b = (b.amax(dim=0) - b.amin(dim=0)).pow(2).sum()
    return total * (1 / r_a + 1 / r_b)


def _time(step: Callable[[], Tensor], repeats: int) -> tuple[float, float]:
    """(median seconds of forward + backward, last loss value), after one warm-up run."""
    times, value = [], math.nan
    for i in range(repeats + 1):
        start = time.perf_counter()
        loss = step()
        loss.backward()
        elapsed = time.perf_counter() - start
        value = loss.item()
        if i > 0:
            times.append(elapsed)
    return statistics.median(times), value


def _case_step(case: str, batch: int) -> tuple[Callable[[], Tensor], int]:
    """The function timed for ``case`` and its number of repeats."""
    if case.startswith("sdd-"):
        a, b = _sets(SDD_ROWS, SDD_DIM, seed=0)
        fn = sdd_per_sample_loop if case == "sdd-loop" else sdd_loss
        return (lambda: fn(a, b)), (3 if case == "sdd-loop" else 20)
    a, b = _sets(batch, DIST_DIM, seed=1)
    repeats = 3 if batch >= 4096 else 5
    if case == "dist":
        return (lambda: sum(sdd_and_mmd(a, b, sdd={}, mmd={}).values())), repeats
    return (lambda: clip_loss(a, b)), repeats


def run_case(case: str, batch: int) -> dict[str, float]:
    """Run one case in this process and return its timing and peak memory."""
    result: dict[str, float] = {}
    if case != "baseline":
        step, repeats = _case_step(case, batch)
        result["seconds"], result["value"] = _time(step, repeats)
    result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _spawn(case: str, batch: int, threads: int) -> dict[str, float]:
    """Run a case in a fresh interpreter and parse its JSON line."""
    cmd = [sys.executable, __file__, "--case", case, "--batch", str(batch)]
    cmd += ["--threads", str(threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main_all(threads: int) -> None:
    """Run every case in its own subprocess and print the tables."""
    print(f"torch {torch.__version__}, {threads} intra-op thread(s), float32, CPU")
    base = _spawn("baseline", 0, threads)["maxrss_mb"]
    loop, vec = _spawn("sdd-loop", 0, threads), _spawn("sdd-vec", 0, threads)
    print(f"\n1. SDD forward+backward, n = m = {SDD_ROWS}, d = {SDD_DIM}")
    print(f"   per-sample loop : {loop['seconds'] * 1e3:9.2f} ms   (loss {loop['value']:.6g})")
    print(f"   vectorised      : {vec['seconds'] * 1e3:9.2f} ms   (loss {vec['value']:.6g})")
    print(f"   speed-up        : {loop['seconds'] / vec['seconds']:9.1f}x   (goal >= 100x)")
    print(f"\n2./3. distribution terms (SDD + MK-MMD) vs CLIP, d = {DIST_DIM}, fwd+bwd")
    header = f"   {'B':>5} {'dist ms':>10} {'clip ms':>10} {'ratio':>7}"
    print(header + f" {'dist MB':>9} {'clip MB':>9} {'mem ratio':>9}")
    for batch in BATCHES:
        dist, clip = _spawn("dist", batch, threads), _spawn("clip", batch, threads)
        mem_d, mem_c = dist["maxrss_mb"] - base, clip["maxrss_mb"] - base
        print(
            f"   {batch:>5} {dist['seconds'] * 1e3:>10.1f} {clip['seconds'] * 1e3:>10.1f} "
            f"{dist['seconds'] / clip['seconds']:>6.2f}x {mem_d:>9.1f} {mem_c:>9.1f} "
            f"{mem_d / max(mem_c, 1e-9):>8.2f}x"
        )
    print(f"   (time goal: ratio <= 5x; MB = max RSS minus baseline {base:.0f} MB)")


def main() -> None:
    """Entry point: all cases, or one case when ``--case`` is given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=["baseline", "sdd-loop", "sdd-vec", "dist", "clip"])
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: stable timings on a shared machine)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.case is None:
        main_all(args.threads)
    else:
        print(json.dumps(run_case(args.case, args.batch)))


if __name__ == "__main__":
    main()
