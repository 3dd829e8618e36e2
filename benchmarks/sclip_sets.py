"""Does sclip learn anything from how a bags split groups its unpaired rows?

S-CLIP has no notion of bags, and since session c68564f the bench's ``sclip`` trains on a bags
split as on two sets (``bench.as_sets``: bag ids dropped, rows in a canonical order), so one
result serves every bag size. Before, its steps packed whole bags. This probe trains the
recipe's own candidate (no tuning) on one cell's **validation** split (the test pairs are never
read) four ways, and appends one JSON row per (seed, way) to ``--out``:

- ``packed``: the split as it is (steps pack whole bags), the bench's sclip before;
- ``sets``: ``bench.as_sets``, the bench's sclip now;
- ``no-bag-ids``: the bag ids dropped, rows in the split's order;
- ``no-bag-ids-shuffled``: the bag ids dropped, rows in another random order.

The last three differ only in the order of the rows, which the sampler shuffles anyway, so
their spread is the run-to-run noise of sclip's training order; ``packed`` differs in how
rows are grouped into steps:

    python benchmarks/sclip_sets.py --suite emoji --pairs 50 --seeds 0-7 \\
        --out docs/bench/sclip-sets-val-c68564f.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gentleclip.experiments import bench, datasets

WAYS = ("packed", "sets", "no-bag-ids", "no-bag-ids-shuffled")


def ways(arrays: dict[str, np.ndarray], seed: int) -> dict[str, dict[str, np.ndarray]]:
    """The validation split's arrays as each of ``WAYS`` hands them to sclip."""
    plain = {name: a for name, a in arrays.items() if not name.endswith("_bags")}
    rng = np.random.default_rng(10_000 + seed)
    shuffled = dict(plain)
    for name in ("unpaired_a", "unpaired_b"):
        shuffled[name] = plain[name][rng.permutation(len(plain[name]))]
    return dict(zip(WAYS, (arrays, bench.as_sets(arrays), plain, shuffled), strict=True))


def probe(suite: str, pairs: int, seed: int) -> list[dict[str, Any]]:
    """One row per way for one seed's cell (bags of 8)."""
    domain = bench.load_domain(suite)
    cell = bench.Cell(suite, "bags:8", pairs, seed, "sclip")
    data = bench.cell_data(domain, cell, datasets.entry(suite).setting.test_size, False)
    config = bench.base_config(suite, bench.METHODS["sclip"], None, seed)
    key = bench.headline_key(suite, domain)
    rows = []
    for way, arrays in ways(data.val, seed).items():
        start = time.perf_counter()
        value = bench.fit_trained(config, arrays)[key]
        rows.append(
            {
                "suite": suite,
                "pairs": pairs,
                "seed": seed,
                "way": way,
                "val": round(value, 4),
                "seconds": round(time.perf_counter() - start, 1),
            }
        )
    return rows


def summary(rows: list[dict[str, Any]]) -> str:
    """Mean ± std of each way's validation headline over the seeds."""
    lines = []
    for way in WAYS:
        values = [r["val"] for r in rows if r["way"] == way]
        if values:
            lines.append(f"{way}: {np.mean(values):.3f} ± {np.std(values):.3f} ({len(values)})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="emoji")
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--seeds", default="0-7", help="a range (0-7) or a list (0,3)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    first, _, last = args.seeds.partition("-")
    seeds = range(int(first), int(last) + 1) if last else map(int, args.seeds.split(","))
    torch.set_num_threads(1)  # as a bench worker
    torch.set_flush_denormal(True)
    rows = []
    for seed in seeds:
        for row in probe(args.suite, args.pairs, seed):
            rows.append(row)
            with args.out.open("a", encoding="utf-8") as out:
                out.write(json.dumps(row, sort_keys=True) + "\n")
            print(row, flush=True)
    print(summary(rows))


if __name__ == "__main__":
    main()
