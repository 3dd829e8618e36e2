"""Score recipe variants on the bench's VALIDATION splits (never the test pairs).

For each (pairs, seed) the split is exactly the one `gentleclip bench` tunes on
(:func:`gentleclip.experiments.bench.cell_data`: test rows removed first, validation pairs
carved from the training items). Each value of one dotted option is trained with the suite's
recipe and scored on the validation pairs.

    python benchmarks/tune_bench_val.py --suite mfeat --pairs 10,20,50,100,200 --seeds 0,1 \
        --option loss.w_clip --values 1.0,0.3,0.1 [--method gentle] [--out tune.jsonl]

(``--values false,true`` for a switch such as ``loss.sdd_leave_one_out``; ``--set
sampler.unpaired_per_step=128``, repeatable, fixes another option in every run, as the bench's
``--recipe-override`` does.)

Prints one line per run and a mean per value; appends JSON lines to ``--out``.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from gentleclip.experiments import bench, datasets


def score(
    suite: str,
    method: str,
    regime: str,
    pairs: int,
    seed: int,
    option: str,
    value: float,
    fixed: dict[str, bool | float | int] | None = None,
):
    domain = bench.load_domain(suite)
    cell = bench.Cell(suite, regime, pairs, seed, method)
    data = bench.cell_data(domain, cell, datasets.entry(suite).setting.test_size, False)
    config = bench.base_config(suite, bench.METHODS[method], None, seed)
    for key, fixed_value in (fixed or {}).items():
        bench.set_dotted(config, key, fixed_value)
    bench.set_dotted(config, option, value)
    return bench.fit_trained(config, data.val)


def parse_value(text: str) -> bool | float | int:
    """``true``/``false`` -> bool, digits -> int, anything else -> float."""
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return int(text) if text.lstrip("-").isdigit() else float(text)


def parse_fixed(items: list[str]) -> dict[str, bool | float | int]:
    """``["sampler.unpaired_per_step=128"]`` -> ``{"sampler.unpaired_per_step": 128}``."""
    fixed = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip() or not text.strip():
            raise SystemExit(f"--set takes KEY=VALUE, got {item!r}")
        fixed[key.strip()] = parse_value(text)
    return fixed


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--suite", default="mfeat")
    p.add_argument("--method", default="gentle")
    p.add_argument("--regime", default="bags:8")
    p.add_argument("--pairs", default="20")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--option", required=True, help="dotted config key, e.g. loss.w_clip")
    p.add_argument("--values", required=True, help="comma-separated numbers or true/false")
    p.add_argument("--set", action="append", default=[], help="KEY=VALUE fixed in every run")
    p.add_argument("--out", default="tune_bench_val.jsonl")
    args = p.parse_args()
    fixed = parse_fixed(args.set)
    torch.set_num_threads(1)
    texts = args.values.split(",")
    values = [parse_value(v) for v in texts]
    results: dict[bool | float | int, list[float]] = {v: [] for v in values}
    key = bench.headline_key(args.suite, bench.load_domain(args.suite))
    for pairs in bench.parse_int_list(args.pairs, "pairs"):
        for seed in bench.parse_int_list(args.seeds, "seed"):
            for value in values:
                metrics = score(
                    args.suite, args.method, args.regime, pairs, seed, args.option, value, fixed
                )
                row = {
                    "suite": args.suite,
                    "regime": args.regime,
                    "pairs": pairs,
                    "seed": seed,
                    **({"fixed": fixed} if fixed else {}),
                    "option": args.option,
                    "value": value,
                    "val_headline": key,
                    **metrics,
                }
                with open(args.out, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")
                results[value].append(metrics[key])
                print(f"pairs {pairs} seed {seed} {args.option}={value}: {key} {metrics[key]:.3f}")
    for value, scores in results.items():
        print(f"{args.option}={value}: mean {np.mean(scores):.3f} over {len(scores)} runs")


if __name__ == "__main__":
    main()
