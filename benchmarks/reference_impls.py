"""Our CCA and S-CLIP against scikit-learn's CCA and the S-CLIP authors' settings.

Reads bench rows (JSON lines from ``gentleclip bench``): the published grids (every method of
the ``compare`` group) and the runs of ``cca-sklearn`` and ``sclip-paper`` of session f3017d3.
The grids' ``sclip`` rows were made with the library's earlier settings (now ``sclip-legacy``);
``sclip-paper`` measured the S-CLIP authors' settings, which ``sclip`` has by default since.
Prints and writes ``OUT/reference.md`` with, per suite and row, each pair's means and their
ratio, and whether counting the reference methods as baselines changes any verdict (gentle
against the best baseline); plots ``OUT/reference.png`` (headline vs pairs, bags of 8 and
disjoint, one column per suite).

    python benchmarks/reference_impls.py --rows docs/bench/bench-*-reference-f3017d3.jsonl \\
        --published docs/bench/bench-mfeat.jsonl ... --out docs/bench
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import panels
import published_tables

from gentleclip.experiments import bench

PAIRS = (("cca", "cca-sklearn"), ("sclip", "sclip-paper"))
LIBRARY = tuple(reference for _, reference in PAIRS)
PLOTTED = tuple(method for pair in PAIRS for method in pair)
PANEL_REGIMES = ("bags:8", "unpaired")


def comparison_lines(table: dict[tuple, dict[str, Any]]) -> list[str]:
    """Markdown: ours vs the library reference in every row where both ran."""
    lines = [
        "| suite | regime | pairs | cca | cca-sklearn | ratio | sclip | sclip-paper | ratio |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (suite, regime, pairs), cells in table.items():
        cols = []
        for ours, ref in PAIRS:
            a, b = cells.get(ours), cells.get(ref)
            if isinstance(a, bench.Summary) and isinstance(b, bench.Summary):
                ratio = f"{b.mean / a.mean:.2f}" if a.mean > 0 else "-"
                cols += [bench._mean_std(a), bench._mean_std(b), ratio]
            else:
                cols += ["-", "-", "-"]
        if any(c != "-" for c in cols):
            lines.append(f"| {suite} | {regime} | {pairs} | " + " | ".join(cols) + " |")
    return lines


def changed_verdicts(published: list[dict], reference: list[dict]) -> list[tuple[Any, Any]]:
    """(before, after) verdicts of the rows whose best baseline or outcome changes when the
    reference methods count as baselines."""
    before = {v.where: v for v in bench.verdicts(published)}
    return [
        (before[v.where], v)
        for v in bench.verdicts([*published, *reference], (*bench.RIVALS, *LIBRARY))
        if v.where in before
        and (before[v.where].best, before[v.where].outcome) != (v.best, v.outcome)
    ]


def change_line(old: Any, new: Any) -> str:
    """One markdown bullet: where, and best baseline / outcome before and after."""
    where = " ".join(map(str, new.where))
    return (
        f"- {where}: {old.best} ({old.outcome}) -> {new.best} ({new.outcome}), "
        f"margin {old.margin:+.3f} -> {new.margin:+.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, nargs="+", required=True, help="reference rows")
    parser.add_argument("--published", type=Path, nargs="+", required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    reference = [r for r in published_tables.read_rows(args.rows) if r["method"] in LIBRARY]
    published = published_tables.read_rows(args.published)
    table = bench.summarise([*published, *reference])
    changes = changed_verdicts(published, reference)
    outcomes = sum(1 for old, new in changes if old.outcome != new.outcome)
    text = "\n".join(
        [
            *comparison_lines(table),
            "",
            f"Counting {', '.join(LIBRARY)} as baselines changes the best baseline in "
            f"{len(changes)} row(s) and the outcome (win / tie / lose) in {outcomes}:",
            *(change_line(old, new) for old, new in changes),
            "",
        ]
    )
    panels.write_outputs(
        args.out,
        "reference",
        text,
        table,
        published,
        methods=PLOTTED,
        regimes=PANEL_REGIMES,
        dashed=LIBRARY,
    )


if __name__ == "__main__":
    main()
