"""Validation probe: one bench method with overrides, scored on the validation split only
(the cell's test pairs are never read).

The bench's protocol for one candidate: the cell's splits (``bench._method_splits``), the
method's recipe (``bench.base_config``) with ``--override`` set field by field, trained on the
validation split's training rows and scored on its eval pairs, with no tuning. The cell's
regime is ``--regime`` (bags of 8 by default). Each seed appends one JSON row (suite, regime,
method, pairs, seed, overrides, validation headline, seconds, and since session e2fc655 the
digests of the recipes it started from, as the bench's rows carry them) to ``--out``, and a
seed whose row is already there is skipped, so a rerun adds only what is missing; rows written
before the option (session 72146e1) have no regime and are bags of 8. An override is read
against the recipe of its day: molecules' rows before session e2fc655 against what is now
``molecules-gentle-wide``:

    python benchmarks/validation_probe.py --suite molecules --method gentle-bagnce \\
        --pairs 10 --seeds 0,1,2 --out docs/bench/molecules-towers-val-72146e1.jsonl \\
        --override '{"model.encoder_a": "identity", "model.encoder_b": "identity",
                     "model.normalize_inputs": false, "model.embed_dim": 512}'

The override is merged as ``gentleclip bench --recipe-override`` merges it (a field the
method sets itself is refused), and a tower whose encoder it renames drops the recipe's
options. For a closed-form baseline the override holds its hyper-parameters
(``'{"scale": false}'``, as ``--baseline-override``) and the row gets the best validation
headline of its 4 bench candidates.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from gentleclip.errors import InputError
from gentleclip.experiments import bench, datasets


def probe(
    suite: str,
    method: str,
    pairs: int,
    seed: int,
    override: dict[str, Any],
    regime: str = "bags:8",
) -> dict:
    """The validation headline of ``method`` with ``override`` in one cell of ``regime``."""
    domain = bench.load_domain(suite)
    cell = bench.Cell(suite, regime, pairs, seed, method)
    spec, data, _ = bench._method_splits(domain, cell, datasets.entry(suite).setting.test_size)
    key = bench.headline_key(suite, domain)
    torch.set_flush_denormal(True)  # as the bench's cells (the same results, less time)
    start = time.perf_counter()
    if isinstance(spec, bench.Baseline):
        value = _best_baseline_candidate(cell, spec, data, key, override)
    else:
        value = _trained(cell, spec, data, key, override)
    return {
        "suite": suite,
        "regime": regime,
        "method": method,
        "pairs": pairs,
        "seed": seed,
        "override": override,
        "val": round(value, 4),
        "seconds": round(time.perf_counter() - start, 1),
        "recipes": bench.recipe_digests([cell]),
    }


def _best_baseline_candidate(
    cell: bench.Cell, spec: bench.Baseline, data: Any, key: str, override: dict[str, Any]
) -> float:
    """A closed-form baseline: the best validation headline of its bench candidates (the
    default budget of 4) with ``override`` set on each, as ``--baseline-override`` does."""
    options = bench.BenchOptions(out=Path("."), baseline_override=override)
    candidates, score = bench._fitter(cell, spec, options, key)
    return max(bench._headline(m, key) for m in score(candidates, data.val))


def _trained(
    cell: bench.Cell, spec: bench.Trained, data: Any, key: str, override: dict[str, Any]
) -> float:
    """A trained method: the recipe's own candidate with the dotted ``override``, no tuning;
    checked and merged as ``--recipe-override`` is (:func:`bench.check_recipe_override`,
    :func:`bench.base_config`), with the bench's room for whole bags in the cell's regime
    (:func:`bench.with_bags_per_step`)."""
    nested: dict[str, Any] = {}
    for dotted, value in override.items():
        bench.set_dotted(nested, dotted, value)
    bench.check_recipe_override(nested, [cell])
    config = bench.base_config(cell.suite, spec, None, cell.seed, nested)
    config = bench.with_bags_per_step(config, spec, cell.regime)
    with bench.one_torch_thread():
        return bench._headline(bench.fit_trained(config, data.val), key)


def _key(row: dict[str, Any]) -> str:
    """What a probe row measured: suite, regime (rows before the option: bags of 8), method,
    pairs, seed and override."""
    cell = [row["suite"], row.get("regime", "bags:8"), row["method"], row["pairs"], row["seed"]]
    return json.dumps([*cell, row["override"]], sort_keys=True)


def _probed(path: Path) -> set[str]:
    """The keys of the rows already in ``path`` (none when it does not exist yet)."""
    if not path.is_file():
        return set()
    lines = path.read_text(encoding="utf-8").splitlines()
    return {_key(json.loads(line)) for line in lines if line.strip()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="molecules")
    parser.add_argument("--method", default="gentle-bagnce")
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--regime", default="bags:8", help="bags:K, unpaired or natural")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--override", default="{}", help="dotted recipe fields, JSON")
    parser.add_argument(
        "--out", type=Path, required=True, help="rows file to append to (cells in it are skipped)"
    )
    args = parser.parse_args(argv)
    try:
        bench.parse_names(args.method, bench.METHODS, "method")
        example = '{"model.embed_dim": 256}'
        override = bench.parse_override(args.override, "--override", example)
    except InputError as err:
        raise SystemExit(str(err)) from None
    done = _probed(args.out)
    for seed in bench.parse_int_list(args.seeds, "seed"):
        cell = {"suite": args.suite, "regime": args.regime, "method": args.method}
        if _key({**cell, "pairs": args.pairs, "seed": seed, "override": override}) in done:
            print(f"already in {args.out}: seed {seed}; skipped", flush=True)
            continue
        try:
            row = probe(args.suite, args.method, args.pairs, seed, override, args.regime)
        except InputError as err:  # e.g. an override of a field the method sets itself
            raise SystemExit(str(err)) from None
        with args.out.open("a", encoding="utf-8") as out:
            out.write(json.dumps(row, sort_keys=True) + "\n")
        print(json.dumps(row, sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
