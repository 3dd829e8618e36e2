"""The same grid on two CPUs: how far rounding moves each method's rows and gentle's verdicts.

A trained row depends on the floating-point rounding of the machine it ran on: another CPU, or
other vector kernels in torch (``timing.jsonl``'s ``cpu_capability`` since session 713cf26),
sums in another order, and a long training run carries the difference forward. On one machine
the rows are bit for bit the same from run to run.

Reads a grid (``--rows``), the same cells from another machine (``--other-rows``; a later file's
cell replaces an earlier file's, so that rescored cells can stand in for a grid's), and the
published tables' rows as ``published_tables.py`` makes them; prints and writes
``OUT/STEM.md``:

- per method (``--methods``, the ones whose code is the same in both grids): cells in both
  grids, cells whose candidates scored the same on validation, cells with the same test
  headline, the mean headline in each grid, their difference and the largest per cell;
- gentle's verdict against the best baseline in every row of ``--rows``, beside the tables';

and plots ``OUT/STEM.png``: each cell's test headline on one machine against the other.

    python benchmarks/machines.py --rows docs/bench/bench-proteins-halving-36c2c6f.jsonl \\
        --other-rows docs/bench/bench-proteins-halving-0fd2c86.jsonl \\
        docs/bench/bench-ties-grid-2af79bb.jsonl \\
        --names "AMD EPYC" "Intel Xeon" --methods gentle,clip,oracle,ridge,procrustes,cca,relrep \\
        --bench docs/bench --sclip-rows docs/bench/bench-sclip-sets-c68564f.jsonl \\
        --out docs/bench --stem machines-proteins
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import published_tables
import refit
from matplotlib.figure import Figure

from gentleclip.evaluation.report import atomic_path, save_figure_atomic
from gentleclip.experiments import bench

Key = tuple[str, str, int, int, str]


def cells(rows: Sequence[dict[str, Any]], methods: Sequence[str]) -> dict[Key, dict[str, Any]]:
    """The computed rows of ``methods`` by cell, a later row replacing an earlier one."""
    return {k: r for k, r in refit._by_cell(rows).items() if k[4] in methods}


def _shared(here: dict[Key, dict], there: dict[Key, dict], method: str) -> list[Key]:
    """The cells of ``method`` that both grids computed."""
    return [k for k in here if k[4] == method and k in there]


def method_lines(here: dict[Key, dict], there: dict[Key, dict], names: Sequence[str]) -> list[str]:
    """Per method: the cells in both grids, the same search, the same headline, the means."""
    lines = [
        f"| method | cells | same validation scores | same test headline | {names[0]} "
        f"| {names[1]} | difference | largest |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for method in refit._methods(here):
        both = _shared(here, there, method)
        if both:
            lines.append(f"| {method} | " + _compared(here, there, both) + " |")
    return lines


def _compared(here: dict[Key, dict], there: dict[Key, dict], both: list[Key]) -> str:
    searched = [k for k in both if "candidates" in here[k] and "candidates" in there[k]]
    same = sum(refit._search(here[k]) == refit._search(there[k]) for k in searched)
    ours = [here[k]["value"] for k in both]
    theirs = [there[k]["value"] for k in both]
    gaps = [a - b for a, b in zip(ours, theirs, strict=True)]
    search = f"{same} of {len(searched)}" if searched else "-"
    return (
        f"{len(both)} | {search} | {sum(g == 0 for g in gaps)} | {sum(ours) / len(ours):.3f} "
        f"| {sum(theirs) / len(theirs):.3f} | {sum(gaps) / len(gaps):+.4f} "
        f"| {max(gaps, key=abs):+.3f}"
    )


def plot(here: dict[Key, dict], there: dict[Key, dict], names: Sequence[str], path: Path) -> None:
    """Each cell's test headline on the other machine (x) and on this one (y), by method."""
    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.subplots()
    for method in refit._methods(here):
        both = _shared(here, there, method)
        xs = [there[k]["value"] for k in both]
        ys = [here[k]["value"] for k in both]
        ax.scatter(xs, ys, s=9, alpha=0.6, color=bench._style(method)["color"], label=method)
    low, high = ax.get_xlim()
    ax.plot([low, high], [low, high], color="0.3", lw=0.8)
    suites = ", ".join(dict.fromkeys(k[0] for k in here))
    headline = next(iter(here.values()))["headline"]
    ax.set_title(f"{suites}: test {headline}, one point per cell", fontsize=9)
    ax.set_xlabel(names[1])
    ax.set_ylabel(names[0])
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    save_figure_atomic(fig, path)


def markdown(
    rows: list[dict],
    other: list[dict],
    published: list[dict],
    names: Sequence[str],
    methods: Sequence[str],
) -> str:
    """The comparison's text (see the module's docstring)."""
    here, there = cells(rows, methods), cells(other, methods)
    return "\n".join(
        [
            f"Each method's rows, {names[0]} against {names[1]} (the cells both grids hold):",
            "",
            *method_lines(here, there, names),
            "",
            "Gentle against the best baseline (outcome: mean, best baseline, margin):",
            "",
            *refit.verdict_lines(
                rows, {"tables": published}, label=names[0], grid=f"the {names[0]} grid"
            ),
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, nargs="+", required=True, help="this machine's")
    parser.add_argument("--other-rows", type=Path, nargs="+", required=True)
    parser.add_argument("--names", nargs=2, default=("this machine", "the other machine"))
    parser.add_argument("--methods", default=",".join(bench.METHOD_GROUPS["compare"]))
    parser.add_argument("--bench", type=Path, required=True, help="folder of the rows files")
    parser.add_argument("--sclip-rows", type=Path, required=True, help="the tables' sclip rows")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--stem", default="machines")
    parser.add_argument(
        "--tables",
        choices=published_tables.EDITIONS,
        default="now",
        help="which tables the verdicts compare with: now (default), wide-molecules (before "
        "session e2fc655's molecules recipe) or mlp-molecules (before molecules' head-only "
        "towers); they differ in molecules' rows only",
    )
    args = parser.parse_args()
    rows = published_tables.read_rows(args.rows)
    other = published_tables.read_rows(args.other_rows)
    published = published_tables.table_rows(
        args.bench, args.sclip_rows, published_tables.EDITIONS[args.tables]
    )
    methods = args.methods.split(",")
    text = markdown(rows, other, published, args.names, methods)
    print(text)
    with atomic_path(args.out / f"{args.stem}.md", ".md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    plot(cells(rows, methods), cells(other, methods), args.names, args.out / f"{args.stem}.png")
    print(f"table: {args.out / f'{args.stem}.md'}, plot: {args.out / f'{args.stem}.png'}")


if __name__ == "__main__":
    main()
