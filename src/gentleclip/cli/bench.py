"""`gentleclip bench`: every method on a (regime, pairs, seed) grid, resumable, with a report.

    gentleclip bench --suite mfeat --out DIR [--pairs 0,10,20] [--regime bags:8,unpaired]
        [--seeds 5] [--methods compare|ablations|disjoint|reference|all|gentle,clip,...]
        [--tune-budget 4]
        [--search halving|full] [--no-refit] [--ties expected|optimistic]
        [--workers N (default: CPU count)]
        [--reference-steps 200]
        [--allocator auto|tcmalloc|system] [--denormals flush|keep] [--quick]

Rows go to DIR/results.jsonl (cells already there are skipped), the table to DIR/results.md,
plots to DIR/*.png; the reference step's time before and after the grid, with the run's wall
and worker time, to DIR/timing.jsonl (:mod:`gentleclip.experiments.speed`). ``--quick`` runs
a tiny grid with few steps; explicit options still win.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from gentleclip.errors import InputError
from gentleclip.evaluation.retrieval import TIE_RULES
from gentleclip.experiments import bench, datasets, denormals, malloc, speed

MAX_DEFAULT_WORKERS = 8
FULL = {
    "pairs": "0,10,20,50,100,200",
    "regime": "bags:8,bags:32,bags:128,unpaired",
    "seeds": "5",
    "methods": "compare",
    "tune_budget": 4,
    "steps": None,
    "search": "halving",
    "refit": True,
    "ties": "expected",
    "reference_steps": 200,
}
QUICK = {
    "pairs": "20",
    "regime": "bags:8",
    "seeds": "1",
    "methods": "gentle,clip,ridge",
    "tune_budget": 2,
    "steps": 200,
    "search": "halving",
    "refit": True,
    "ties": "expected",
    "reference_steps": 50,
}


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("bench", help="benchmark every method on a grid of splits")
    p.add_argument("--suite", default="mfeat", help="dataset(s), comma-separated")
    p.add_argument("--out", required=True, help="results directory (resumable)")
    p.add_argument("--pairs", default=None, help=f"training pairs (default {FULL['pairs']})")
    p.add_argument(
        "--regime", default=None, help="bags:K, unpaired, natural, pairs (comma-separated)"
    )
    p.add_argument("--seeds", default=None, help="count (5 -> 0..4) or a list (0,3)")
    p.add_argument(
        "--methods",
        default=None,
        help="comma-separated methods or groups (default compare: "
        f"{','.join(bench.METHOD_GROUPS['compare'])}; ablations: "
        f"{','.join(bench.ABLATIONS)}; disjoint: {','.join(bench.METHOD_GROUPS['disjoint'])}; "
        f"reference: {','.join(bench.METHOD_GROUPS['reference'])} (scikit-learn's CCA beside "
        "ours; S-CLIP with the library's earlier settings and with two details of its "
        "authors' code); bagmeans: "
        f"{','.join(bench.METHOD_GROUPS['bagmeans'])} (pair-only methods given each bag's "
        "mean rows as pairs; bags regimes only); items: "
        f"{','.join(bench.METHOD_GROUPS['items'])} (without the CLIP term, 2 pairs a step as "
        "set members); all)",
    )
    p.add_argument("--tune-budget", type=int, default=None, help="candidates per method")
    p.add_argument("--steps", type=int, default=None, help="override optimizer steps")
    p.add_argument(
        "--search",
        choices=bench.SEARCHES,
        default=None,
        help="how trained methods spend their candidates: halving (default: every learning "
        "rate trained to the shortest step count, only the best one continued; 1.24-1.31x less "
        "work; in eight grids on two machines 6 of 192 verdicts differ, each within 0.004 of the "
        "noise line) or full (every candidate trained to its step count, as the published "
        "tables were; see docs/results.md)",
    )
    p.add_argument(
        "--refit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="--refit (default): train the chosen candidate again on the whole training part "
        "and score that model on the test pairs (scikit-learn's refit); --no-refit: score the "
        "chosen candidate's model from the validation search (its training rows less the "
        "validation items), with no second training (about 30%% less work; on emoji and "
        "molecules 5 of 48 verdicts differ from the tables, two of them target rows; see "
        "docs/results.md)",
    )
    p.add_argument(
        "--ties",
        choices=TIE_RULES,
        default=None,
        help="how retrieval metrics count gallery items exactly as similar as the one that "
        "counts: expected (default: their expectation under random tie-breaking, so a map "
        "that collapses items scores chance) or optimistic (a tie counts as a hit; the rule "
        "of rows made before it was changed, to resume or reproduce them)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        help=f"parallel processes, one torch thread each (default: the CPU count, at most "
        f"{MAX_DEFAULT_WORKERS})",
    )
    p.add_argument(
        "--reference-steps",
        type=int,
        default=None,
        help="steps of the reference step timed before and after the grid, recorded in "
        f"OUT/{speed.TIMING} (default {FULL['reference_steps']}, --quick "
        f"{QUICK['reference_steps']}; 0: not timed)",
    )
    p.add_argument(
        "--allocator",
        choices=malloc.ALLOCATORS,
        default="auto",
        help="memory allocator of the worker processes: tcmalloc (about 14%% faster steps, "
        f"the same results; `{malloc.INSTALL_HINT}`), system, or auto (default: tcmalloc "
        "when installed)",
    )
    p.add_argument(
        "--denormals",
        choices=denormals.CHOICES,
        default="flush",
        help="flush denormal floats to zero in the cells (default: the same rows in every cell "
        "compared, 9%% less time on molecules' trained cells) or keep them",
    )
    p.add_argument(
        "--recipe-override",
        default=None,
        metavar="JSON",
        help="nested recipe fields merged into every trained method's recipe, e.g. "
        '\'{"model": {"embed_dim": 256}}\' (a field a method sets itself is refused; the '
        "closed-form baselines are unchanged; recorded in OUT/bench.json and the rows)",
    )
    p.add_argument(
        "--baseline-override",
        default=None,
        metavar="JSON",
        help="hyper-parameters set on every closed-form baseline's candidates, e.g. "
        "'{\"scale\": false}' (centre the features without dividing by their standard "
        "deviations); recorded in OUT/bench.json and the rows",
    )
    p.add_argument("--plot-pairs", type=int, default=None, help="pairs of the bag-size plot")
    p.add_argument("--quick", action="store_true", help="tiny grid with few steps")
    p.set_defaults(func=run)


def default_workers() -> int:
    """One worker per CPU (the trained methods' small ops do not gain from threads)."""
    return max(1, min(os.cpu_count() or 1, MAX_DEFAULT_WORKERS))


def _option(args: argparse.Namespace, name: str) -> object:
    value = getattr(args, name)
    return value if value is not None else (QUICK if args.quick else FULL)[name]


def _check_pairs_fit(suites: list[str], pairs: list[int]) -> None:
    """Refuse pair counts that no suite's training items can hold (pairs + test pairs above
    its rows): each of their cells could only record a "split impossible" row. A count that
    fits some of several suites is kept; the others record those rows."""
    room = {s: len(bench.load_domain(s).a) - datasets.entry(s).setting.test_size for s in suites}
    too_many = [p for p in pairs if all(p > r for r in room.values())]
    if too_many:
        sizes = ", ".join(f"{suite} {r}" for suite, r in room.items())
        raise InputError(
            f"--pairs {','.join(map(str, too_many))}: more pairs than the training items of "
            f"any suite ({sizes})"
        )


def run(args: argparse.Namespace) -> int:
    suites = bench.parse_names(args.suite, datasets.DATASETS, "suite")
    regimes = [bench.parse_regime(r).label for r in str(_option(args, "regime")).split(",")]
    pairs = bench.parse_int_list(str(_option(args, "pairs")), "pairs")
    if args.plot_pairs is not None and args.plot_pairs not in pairs:
        raise InputError(
            f"--plot-pairs {args.plot_pairs} is not one of the grid's pair counts "
            f"({', '.join(map(str, pairs))})"
        )
    _check_pairs_fit(suites, pairs)
    cells = bench.plan(
        suites,
        list(dict.fromkeys(regimes)),
        pairs,
        bench.parse_seeds(str(_option(args, "seeds"))),
        bench.parse_methods(str(_option(args, "methods"))),
    )
    steps = _option(args, "steps")
    options = bench.BenchOptions(
        out=Path(args.out),
        tune_budget=int(_option(args, "tune_budget")),  # type: ignore[arg-type]
        steps=None if steps is None else int(steps),  # type: ignore[arg-type]
        search=str(_option(args, "search")),
        refit=bool(_option(args, "refit")),
        ties=str(_option(args, "ties")),
        recipe_override=bench.parse_recipe_override(args.recipe_override),
        baseline_override=bench.parse_baseline_override(args.baseline_override),
    )
    bench.check_recipe_override(options.recipe_override, cells)
    bench.check_baseline_override(options.baseline_override, cells)
    workers = default_workers() if args.workers is None else args.workers
    reference_steps = int(_option(args, "reference_steps"))  # type: ignore[arg-type]
    bench.run_bench(
        cells,
        options,
        workers=workers,
        reference_steps=reference_steps,
        allocator=args.allocator,
        denormal_choice=args.denormals,
    )
    text, plots = bench.write_report(options.out, args.plot_pairs)
    print(text)
    print(f"results: {options.out / bench.RESULTS}, table: {options.out / bench.REPORT}, ", end="")
    print(f"{len(plots)} plots in {options.out}")
    return 0
