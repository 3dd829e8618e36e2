"""Gentle against the best baseline with more seeds: the tables' seeds 0-4 and new seeds beside.

A verdict of the tables (gentle against the best of the issue's baselines, win / lose when the
gap exceeds the larger seed std) rests on seeds 0-4. This reads the published tables' rows
(``published_tables.py``: the grids, the closed-form cells rescored, sclip's column) and bench
rows of more seeds of the same cells (``--rows``), keeps the ``compare`` methods but the oracle,
and for every (suite, regime, pairs) of ``--rows`` gives the verdict over each seed set
(``--sets 0-4 5-9 0-9``): gentle's mean ± std, the best baseline's, the margin, the noise line
and the outcome. Prints and writes ``OUT/STEM.md`` and plots ``OUT/STEM.png`` (gentle and the
best baseline per seed set against pairs, a panel per suite).

    python benchmarks/target_seeds.py --bench docs/bench \\
        --sclip-rows docs/bench/bench-sclip-sets-c68564f.jsonl \\
        --rows docs/bench/bench-target1-seeds59-56e5dd6.jsonl --out docs/bench \\
        --stem target1-seeds

With ``--near 0.01`` (no ``--rows``) it lists instead the published verdicts whose margin is
within 0.01 of the noise line (``OUT/STEM.md``): the ones more seeds could turn.

``--method gentle-items`` puts another trained method in gentle's place (its rows of seeds
0-4, not in the tables, come with ``--extra-rows``: they add no cells); the tables' gentle then
stands beside it, with the method's verdict against gentle on the same seeds. ``--bag-means``
counts the bag-mean baselines (``*-bagmeans``, not in the tables: their seeds 0-4 come with
``--extra-rows``, their ties rescored with ``--rescored``) among the baselines.

``--tables mlp-molecules`` compares with the tables as they were before molecules' recipe took
head-only towers (``published_tables.SOURCES_MLP_MOLECULES``), as the ten-seed checks of
sessions 56e5dd6 and 46f4fd9 did.

With ``--base-rows FILES`` those rows stand in for the published tables' (``--bench`` and
``--sclip-rows`` are then not read): for cells run with a changed setting, such as molecules'
head-only towers of session 72146e1, whose seeds 0-4 are not the tables'.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import published_tables
from matplotlib.figure import Figure
from seed_check import SeedSet, parse_set

from gentleclip.evaluation.report import atomic_path, save_figure_atomic
from gentleclip.experiments import bench

BASELINES = bench.COMPARE_BASELINES
# the tables' gentle, renamed when another method takes gentle's place (--method)
RECIPE = "gentle (recipe)"
Where = tuple[str, str, int]


class Found(NamedTuple):
    """The verdict of one (suite, regime, pairs) over one seed set; with ``--method``, also
    that method's verdict against the tables' gentle on the same seeds."""

    seeds: SeedSet
    verdict: bench.Verdict
    recipe: bench.Verdict | None = None


def published(bench_dir: Path, sclip_rows: Path, tables: str = "now") -> list[dict[str, Any]]:
    """The rows of one edition of the published tables (published_tables.py's)."""
    return published_tables.table_rows(bench_dir, sclip_rows, published_tables.EDITIONS[tables])


def compared(
    rows: Sequence[dict[str, Any]],
    wheres: set[Where],
    method: str = "gentle",
    baselines: Sequence[str] = BASELINES,
) -> list[dict[str, Any]]:
    """The rows of ``method`` and the baselines in ``wheres``, a later row replacing an earlier
    one of the same cell. Another method than gentle is renamed gentle (the verdicts' subject)
    and gentle's own rows :data:`RECIPE`. Exits when a method's seeds in one place were made
    with different overrides (seeds of one setting beside seeds of another would read as one
    method)."""
    names = {method: "gentle"} if method == "gentle" else {method: "gentle", "gentle": RECIPE}
    kept: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        where = (row["suite"], row["regime"], int(row["pairs"]))
        if where not in wheres:
            continue
        if row["method"] in names:
            row = {**row, "method": names[row["method"]]}
        if row["method"] in ("gentle", RECIPE, *baselines):
            kept[bench._row_key(row)] = row
    settings: dict[tuple, set[str]] = {}
    for key, row in kept.items():
        made = json.dumps(published_tables.made_with(row), sort_keys=True)
        settings.setdefault(key[:3] + key[4:], set()).add(made)
    mixed = [key for key, made in settings.items() if len(made) > 1]
    if mixed:
        raise SystemExit(f"rows made with different overrides for one method: {mixed[0]}")
    return list(kept.values())


def with_more_seeds(
    published_rows: Sequence[dict[str, Any]],
    more: Sequence[dict[str, Any]],
    sets: Sequence[SeedSet],
    method: str = "gentle",
    extra_rows: Sequence[dict[str, Any]] = (),
    baselines: Sequence[str] = BASELINES,
) -> list[Found]:
    """:func:`findings` in the cells of ``more`` (rows of more seeds), beside the published
    rows of the same cells and ``extra_rows`` (more rows, adding no cells)."""
    wheres = {(r["suite"], r["regime"], int(r["pairs"])) for r in more}
    rows = compared([*published_rows, *extra_rows, *more], wheres, method, baselines)
    return findings(rows, sets, baselines)


def findings(
    rows: Sequence[dict[str, Any]], sets: Sequence[SeedSet], baselines: Sequence[str] = BASELINES
) -> list[Found]:
    """A verdict per (where, seed set) where gentle has every seed of the set and each
    baseline that counts does too (a baseline short of seeds is left out of that set); where
    :data:`RECIPE` rows have the set's seeds, gentle's verdict against them too."""
    found = []
    for seed_set in sets:
        mine = [r for r in rows if int(r["seed"]) in seed_set.seeds]
        whole = _whole(mine, seed_set)
        recipe = {v.where: v for v in bench.verdicts(whole, (RECIPE,)) if v.best is not None}
        for verdict in bench.verdicts(whole, baselines):
            found.append(Found(seed_set, verdict, recipe.get(verdict.where)))
    order = {s.name: i for i, s in enumerate(sets)}
    return sorted(found, key=lambda f: (*bench._where_order(f.verdict.where), order[f.seeds.name]))


def _whole(rows: list[dict[str, Any]], seed_set: SeedSet) -> list[dict[str, Any]]:
    """The ok rows of the (where, method)s that have every seed of the set."""
    ok = [r for r in rows if r["status"] == "ok"]
    seeds: dict[tuple, set[int]] = {}
    for row in ok:
        seeds.setdefault(_series(row), set()).add(int(row["seed"]))
    full = {key for key, have in seeds.items() if have >= set(seed_set.seeds)}
    return [r for r in ok if _series(r) in full]


def _series(row: dict[str, Any]) -> tuple[str, str, int, str]:
    """A row's (suite, regime, pairs, method): its cell less the seed."""
    return (row["suite"], row["regime"], int(row["pairs"]), row["method"])


def near_line(verdicts: Sequence[bench.Verdict], within: float) -> list[bench.Verdict]:
    """The verdicts whose margin is within ``within`` of the noise line, either side: the ones
    a few more seeds can turn (a tie into a win or a loss, or back)."""
    return [
        v for v in verdicts if v.baseline is not None and abs(abs(v.margin) - v.noise) <= within
    ]


def near_report(verdicts: Sequence[bench.Verdict], within: float) -> str:
    """The published verdicts near the noise line, as a markdown table."""
    near = near_line(verdicts, within)
    lines = [
        f"{len(near)} of {sum(v.baseline is not None for v in verdicts)} published verdicts have"
        f" a margin within {within:g} of the noise line.",
        "",
        "| suite | regime | pairs | margin | noise | outcome | best baseline |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for v in near:
        suite, regime, pairs = v.where
        lines.append(
            f"| {suite} | {regime} | {pairs} | {v.margin:+.3f} | {v.noise:.3f} | {v.outcome}"
            f" | {v.best} |"
        )
    return "\n".join(lines) + "\n"


def _mean_std(summary: bench.Summary | None) -> str:
    return "-" if summary is None else f"{summary.mean:.3f} ± {summary.std:.3f}"


def report(
    found: Sequence[Found], method: str = "gentle", baselines: Sequence[str] = BASELINES
) -> str:
    """The markdown table, one line per (where, seed set); with ``method`` other than gentle,
    two columns more: the tables' gentle on the same seeds and the method's verdict on it."""
    beside = method != "gentle"
    lines = [
        f"{method[0].upper() + method[1:]} against the best of {_named(baselines)} "
        f"({', '.join(baselines)}) per seed set; mean ± std ({bench.STD_NOTE}); outcome: win /"
        " lose when the margin exceeds the noise line (the larger std), else tie.",
        "",
        f"| suite | regime | pairs | seeds | {method} | best baseline | margin | noise | outcome |"
        + (" gentle (recipe) | against it |" if beside else ""),
        "|---|---|---:|---|---:|---|---:|---:|---|" + ("---:|---|" if beside else ""),
    ]
    for f in found:
        v = f.verdict
        suite, regime, pairs = v.where
        best, margin, noise = "-", "-", "-"
        if v.best is not None:
            best, margin, noise = (
                f"{v.best} {_mean_std(v.baseline)}",
                f"{v.margin:+.3f}",
                f"{v.noise:.3f}",
            )
        lines.append(
            f"| {suite} | {regime} | {pairs} | {f.seeds.name} | {_mean_std(v.gentle)} | {best}"
            f" | {margin} | {noise} | {v.outcome} |" + (_recipe_cells(f.recipe) if beside else "")
        )
    return "\n".join(lines) + "\n"


def _named(baselines: Sequence[str]) -> str:
    return "the issue's baselines" if tuple(baselines) == BASELINES else "these baselines"


def _recipe_cells(v: bench.Verdict | None) -> str:
    """The tables' gentle and the verdict against it (``-`` where it lacks the set's seeds)."""
    if v is None:
        return " - | - |"
    return f" {_mean_std(v.baseline)} | {v.outcome} ({v.margin:+.3f}) |"


def plot(found: Sequence[Found], path: Path, method: str = "gentle") -> None:
    """``method`` (solid) and the best baseline (dashed) against pairs per seed set, bars the
    std; a panel per (suite, regime)."""
    panels = list(dict.fromkeys(f.verdict.where[:2] for f in found))
    names = list(dict.fromkeys(f.seeds.name for f in found))
    fig = Figure(figsize=(5.0 * len(panels), 3.8), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(panels), squeeze=False)[0])
    for ax, panel in zip(axes, panels, strict=True):
        for number, name in enumerate(names):
            mine = [
                f.verdict for f in found if f.verdict.where[:2] == panel and f.seeds.name == name
            ]
            shift = (number - (len(names) - 1) / 2) * 0.6
            for attr, style in (("gentle", "-"), ("baseline", "--")):
                shown = [v for v in mine if getattr(v, attr) is not None]  # 0 pairs: no baseline
                summaries = [getattr(v, attr) for v in shown]
                ax.errorbar(
                    [v.where[2] + shift for v in shown],
                    [s.mean for s in summaries],
                    yerr=[s.std for s in summaries],
                    color=f"C{number}",
                    linestyle=style,
                    marker="o" if attr == "gentle" else "s",
                    capsize=3,
                    label=f"{method if attr == 'gentle' else 'best baseline'}, seeds {name}",
                )
        ax.set_title(f"{panel[0]}, {panel[1]}")
        ax.set_xlabel("pairs")
        ax.set_ylabel("test headline")
        ax.legend(fontsize=7)
    save_figure_atomic(fig, path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bench", type=Path, help="folder of the tables' rows files")
    p.add_argument("--sclip-rows", type=Path, help="the tables' sclip rows")
    p.add_argument(
        "--base-rows",
        type=Path,
        nargs="+",
        help="rows standing in for the published tables' (instead of --bench and --sclip-rows)",
    )
    p.add_argument(
        "--tables",
        choices=sorted(published_tables.EDITIONS),
        default="now",
        help="which edition of the tables --bench holds: now; before session e2fc655's molecules "
        "recipe (wide-molecules); or before molecules' head-only towers (mlp-molecules; the "
        "ten-seed checks of sessions 56e5dd6 and 46f4fd9)",
    )
    p.add_argument("--rows", type=Path, nargs="+", default=[], help="rows of more seeds")
    p.add_argument(
        "--rows-made-now",
        type=Path,
        nargs="+",
        default=[],
        help="rows of more seeds made since session 7686c66 without overrides, read as made "
        "with the overrides the tables' rows of their suite carry (published_tables.as_made_now)",
    )
    p.add_argument(
        "--near",
        type=float,
        help="instead: list the published verdicts within this distance of the noise line",
    )
    p.add_argument(
        "--method",
        default="gentle",
        help="the trained method in gentle's place (the tables' gentle then stands beside it)",
    )
    p.add_argument(
        "--extra-rows",
        type=Path,
        nargs="+",
        default=[],
        help="rows that add no cells: --method's seeds 0-4, the bag-mean baselines' ones",
    )
    p.add_argument(
        "--bag-means",
        action="store_true",
        help="count the bag-mean baselines (*-bagmeans) among the baselines",
    )
    p.add_argument("--rescored", type=Path, nargs="*", default=[], help="rescored ties rows")
    p.add_argument(
        "--suites", help="comma-separated: only these suites' cells (default: every suite)"
    )
    p.add_argument("--sets", nargs="+", default=["0-4", "5-9", "0-9"])
    p.add_argument("--out", type=Path, default=Path("docs/bench"))
    p.add_argument("--stem", required=True)
    args = p.parse_args()
    if args.base_rows:
        base = published_tables.read_rows(args.base_rows)
    elif args.bench and args.sclip_rows:
        base = published(args.bench, args.sclip_rows, args.tables)
    else:
        p.error("give --bench and --sclip-rows (the published tables' rows) or --base-rows")
    if args.near is not None:
        verdicts = bench.verdicts(base, BASELINES)
        text = near_report(verdicts, args.near)
        with atomic_path(args.out / f"{args.stem}.md", ".md") as tmp:
            tmp.write_text(text, encoding="utf-8")
        print(text)
        return
    if not (args.rows or args.rows_made_now):
        p.error("--rows or --rows-made-now is required unless --near is given")
    now = published_tables.as_made_now(published_tables.read_rows(args.rows_made_now), base)
    more = [*published_tables.read_rows(args.rows), *now]
    if args.suites:
        more = [r for r in more if r["suite"] in args.suites.split(",")]
    sets = [parse_set(text) for text in args.sets]
    extra = published_tables.rescored(
        published_tables.read_rows(args.extra_rows), published_tables.read_rows(args.rescored)
    )
    baselines = (*BASELINES, *bench.BAG_MEANS) if args.bag_means else BASELINES
    found = with_more_seeds(base, more, sets, args.method, extra, baselines)
    text = report(found, args.method, baselines)
    with atomic_path(args.out / f"{args.stem}.md", ".md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    plot(found, args.out / f"{args.stem}.png", args.method)
    print(text)
    print(f"wrote {args.out / (args.stem + '.md')} and {args.out / (args.stem + '.png')}")


if __name__ == "__main__":
    main()
