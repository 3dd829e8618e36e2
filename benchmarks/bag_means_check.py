"""One bench cell of ``gentle-bagmeans`` with extra recipe overrides (a diagnostic).

Why does gentle given the bag means stay far below relative representations on the bag means
on molecules (docs/results.md, "Baselines that use the bags too")? This runs one cell (bags of
8, the bench's protocol: validation search with 4 candidates, ``--search full``, refit, one
test scoring) of gentle given the bag means with the suite's recipe changed by a nested
override, and appends its row (with the override) to ``--out``:

    python benchmarks/bag_means_check.py --override '{"model": {"normalize_inputs": false}}' \\
        --out docs/bench/bench-bagmeans-molecules-checks-1560fa8.jsonl

``"encoder_a": "identity"`` (and b) also drops the recipe's MLP options, which the identity
encoder does not take: the towers are then the projection heads alone.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

from gentleclip.experiments import bench

METHOD = "gentle-bagmeans"


def config_without_identity_options(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with no encoder options for a side whose encoder is ``identity``."""
    for side in ("a", "b"):
        if config["model"].get(f"encoder_{side}") == "identity":
            config["model"][f"encoder_{side}_kwargs"] = {}
    return config


def run_check(suite: str, pairs: int, seed: int, override: dict[str, Any]) -> dict[str, Any]:
    """The bench row of one gentle-bagmeans cell with ``override`` merged into its recipe."""
    spec = bench.METHODS[METHOD]
    checked = bench.Trained(spec.recipe, override, min_pairs=0, bag_means=True)
    original = bench.base_config
    bench.METHODS["check"] = checked
    bench.base_config = lambda *a, **k: config_without_identity_options(original(*a, **k))
    try:
        with tempfile.TemporaryDirectory() as tmp, bench.one_torch_thread():
            options = bench.BenchOptions(out=Path(tmp), tune_budget=4, search="full")
            row = bench.run_cell((bench.Cell(suite, "bags:8", pairs, seed, "check"), options))
    finally:
        bench.base_config = original
        del bench.METHODS["check"]
    return {**row, "method": METHOD, "overrides": override}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--override", required=True, help="nested recipe override, JSON")
    parser.add_argument("--suite", default="molecules")
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="rows file to append to")
    args = parser.parse_args()
    row = run_check(args.suite, args.pairs, args.seed, json.loads(args.override))
    with args.out.open("a", encoding="utf-8") as out:
        out.write(json.dumps(row, sort_keys=True) + "\n")
    print(row["status"], row.get("value"), row.get("params"), row.get("reason", ""))


if __name__ == "__main__":
    main()
