"""Benchmark of the gentleclip loss terms (a script, not a test).

Usage::

    python benchmarks/losses.py                # every case, each in a fresh subprocess
    python benchmarks/losses.py --threads 2    # same with 2 torch intra-op threads
    python benchmarks/losses.py --case sdd-vec # one case, prints a JSON line
    python benchmarks/losses.py --chunked --threads 2 --out docs/bench/losses_chunked.md

Measured, forward + backward, float32 on CPU, median over repeats (one warm-up run), with
1 intra-op thread by default so that timings stay stable on a shared machine:

1. SDD vectorised (``sdd_loss``) vs a per-sample Python loop in the style of the paper's
   released code (each sample's densities against each set computed with torch ops), at
   n = m = 256, d = 64.
2. The distribution terms (``sdd_and_mmd`` with SDD and MK-MMD) vs ``clip_loss`` at
   B = 256, 1024, 4096 rows per side, d = 128.
3. Peak memory: every case runs in its own subprocess and reports its max RSS; the table shows
   it minus the max RSS of a baseline subprocess that only imports torch and the losses.
4. ``--chunked``: the memory-bounded kernels (``chunk_size=``). SDD + MK-MMD forward +
   backward at d = 256, full matrices vs row chunks at B = 4096 per side (time and peak RSS
   ratios), then chunked only at B = 32768 per side (goal: peak RSS < 8 GiB). Peak RSS is
   ``ru_maxrss`` of a fresh subprocess per case, shown whole (not minus the baseline). The
   B = 32768 step is timed once, without a warm-up run. Prints a markdown table (and writes
   it to ``--out`` when given).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
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
CHUNK_DIM = 256
CHUNK_CASES = ((4096, "dist"), (4096, "dist-chunked"), (32768, "dist-chunked"))


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


def _case_step(
    case: str, batch: int, dim: int, chunk: int | None
) -> tuple[Callable[[], Tensor], int]:
    """The function timed for ``case`` and its number of repeats."""
    if case.startswith("sdd-"):
        a, b = _sets(SDD_ROWS, SDD_DIM, seed=0)
        fn = sdd_per_sample_loop if case == "sdd-loop" else sdd_loss
        return (lambda: fn(a, b)), (3 if case == "sdd-loop" else 20)
    a, b = _sets(batch, dim, seed=1)
    repeats = 3 if batch >= 4096 else 5
    if case.startswith("dist"):
        size = chunk if case == "dist-chunked" else None
        return (lambda: sum(sdd_and_mmd(a, b, sdd={}, mmd={}, chunk_size=size).values())), repeats
    return (lambda: clip_loss(a, b)), repeats


def _time_once(step: Callable[[], Tensor]) -> tuple[float, float]:
    """(seconds of one forward + backward without warm-up, loss value): for huge cases."""
    start = time.perf_counter()
    loss = step()
    loss.backward()
    return time.perf_counter() - start, loss.item()


def run_case(case: str, batch: int, dim: int = DIST_DIM, chunk: int | None = None) -> dict:
    """Run one case in this process and return its timing and peak memory."""
    result: dict[str, float] = {}
    if case != "baseline":
        step, repeats = _case_step(case, batch, dim, chunk)
        once = case == "dist-chunked" and batch > 8192
        result["seconds"], result["value"] = _time_once(step) if once else _time(step, repeats)
    result["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def _spawn(
    case: str, batch: int, threads: int, dim: int = DIST_DIM, chunk: int | None = None
) -> dict[str, float]:
    """Run a case in a fresh interpreter and parse its JSON line."""
    cmd = [sys.executable, __file__, "--case", case, "--batch", str(batch)]
    cmd += ["--threads", str(threads), "--dim", str(dim)]
    if chunk is not None:
        cmd += ["--chunk", str(chunk)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _chunked_rows(threads: int, chunk: int) -> list[tuple[int, str, dict[str, float]]]:
    """Measure every chunked-section case, each in its own subprocess."""
    rows = []
    for batch, case in CHUNK_CASES:
        result = _spawn(case, batch, threads, CHUNK_DIM, chunk)
        print(f"   B = {batch}, {case}: {result}", file=sys.stderr, flush=True)
        rows.append((batch, case, result))
    return rows


def chunked_table(threads: int, chunk: int) -> str:
    """Markdown table of the memory-bounded kernels vs the full matrices (section 4)."""
    base = _spawn("baseline", 0, threads)["maxrss_mb"]
    rows = _chunked_rows(threads, chunk)
    lines = [
        f"SDD + MK-MMD forward + backward, d = {CHUNK_DIM}, float32, torch {torch.__version__}, "
        f"{threads} intra-op thread(s), {os.cpu_count()} CPU core(s) ({platform.machine()}); "
        f"peak RSS = ru_maxrss of a fresh subprocess (baseline: import only, {base:.0f} MB).",
        "",
        "| B per side | kernel | chunk_size | s / step | peak RSS (MB) | loss |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for batch, case, r in rows:
        kind, size = ("chunked", str(chunk)) if case == "dist-chunked" else ("full", "-")
        lines.append(
            f"| {batch} | {kind} | {size} | {r['seconds']:.2f} | {r['maxrss_mb']:.0f} | "
            f"{r['value']:.6g} |"
        )
    (_, _, full), (_, _, small) = rows[0], rows[1]
    lines += [
        "",
        f"At B = {rows[0][0]}: chunked / full time {small['seconds'] / full['seconds']:.2f}x, "
        f"peak RSS {small['maxrss_mb'] / full['maxrss_mb']:.2f}x "
        f"(above baseline: {(small['maxrss_mb'] - base) / (full['maxrss_mb'] - base):.2f}x).",
    ]
    big = rows[2][2]["maxrss_mb"]
    verdict = "met" if big < 8 * 1024 else "MISSED"
    lines.append(f"Goal peak RSS < 8 GiB at B = {rows[2][0]}: {verdict} ({big / 1024:.2f} GiB).")
    return "\n".join(lines) + "\n"


def _write_atomic(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


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
    parser.add_argument(
        "--case", choices=["baseline", "sdd-loop", "sdd-vec", "dist", "dist-chunked", "clip"]
    )
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument("--dim", type=int, default=DIST_DIM)
    parser.add_argument("--chunk", type=int, default=2048, help="chunk_size of --chunked")
    parser.add_argument("--chunked", action="store_true", help="section 4 only (slow)")
    parser.add_argument("--out", help="with --chunked: also write the markdown table here")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: stable timings on a shared machine)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.chunked:
        table = chunked_table(args.threads, args.chunk)
        print(table, end="")
        if args.out:
            _write_atomic(args.out, table)
    elif args.case is None:
        main_all(args.threads)
    else:
        print(json.dumps(run_case(args.case, args.batch, args.dim, args.chunk)))


if __name__ == "__main__":
    main()
