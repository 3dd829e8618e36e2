"""``sclip`` against S-CLIP variants: fixed (detached) pseudo-labels, and extra negatives.

``sclip`` runs S-CLIP as its authors' code (``alinlab/s-clip``, ``custom/loss.py``) does:
Sinkhorn epsilon = the CLIP temperature, 10 iterations, the caption loss at half weight and
gradients through the Sinkhorn plan. Three variants: ``sclip-detached`` makes the
pseudo-labels fixed targets (the library's sclip before session f65ce9c, measured in session
f3017d3 as ``sclip-paper``); ``sclip-negatives`` adds the authors' extra negatives (the
unpaired images in the text -> image CLIP direction) to that detached variant, and
``sclip-code`` adds them to ``sclip`` (every detail of their code that applies here).

Reads the variants' bench rows (``--rows``; ``sclip-paper`` rows count as ``sclip-detached``)
and the published tables' rows as ``published_tables.py`` makes them, prints and writes
``OUT/sclip-variants.md`` (mean ± std per row where a variant ran, how often each variant is
above sclip and by more than the seeds' std) and plots ``OUT/sclip-variants.png``.

    python benchmarks/sclip_variants.py --rows docs/bench/bench-reference-f3017d3.jsonl \\
        docs/bench/bench-sclip-negatives-f65ce9c.jsonl \\
        docs/bench/bench-sclip-code-f65ce9c.jsonl --bench docs/bench \\
        --sclip-rows docs/bench/bench-sclip-f65ce9c.jsonl --out docs/bench

Its ``--sclip-rows`` are the tables' sclip column before session c68564f
(``published_tables.SCLIP_PACKED_ROWS``): steps packing whole bags, as these variants' runs
did.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import panels
import published_tables

from gentleclip.experiments import bench

VARIANTS = ("sclip-detached", "sclip-negatives", "sclip-code")
# rows measured under another name: session f3017d3's sclip-paper is sclip-detached
MEASURED_AS = {"sclip-paper": "sclip-detached"}
SHOWN = ("sclip", *VARIANTS, "clip")
REGIMES = ("bags:8", "unpaired")


def measured_table(variants: list[dict], published: list[dict]) -> dict[tuple, dict[str, Any]]:
    """(suite, regime, pairs) -> method -> Summary, in the rows where a variant ran."""
    where = {(r["suite"], r["regime"], int(r["pairs"])) for r in variants}
    shown = [r for r in published if r["method"] in SHOWN]
    table = bench.summarise([*shown, *variants])
    return {w: cells for w, cells in table.items() if w in where}


def tally(table: dict[tuple, dict[str, Any]], variant: str, against: str = "sclip") -> str:
    """How often ``variant``'s mean is above ``against``'s, and beyond the larger seed std."""
    pairs = [
        (c[variant], c[against])
        for c in table.values()
        if isinstance(c.get(variant), bench.Summary) and isinstance(c.get(against), bench.Summary)
    ]
    gaps = [v.mean - s.mean for v, s in pairs]
    above = sum(g > 0 for g in gaps)
    win = sum(g > max(v.std, s.std) for (v, s), g in zip(pairs, gaps, strict=True))
    lose = sum(-g > max(v.std, s.std) for (v, s), g in zip(pairs, gaps, strict=True))
    mean = sum(gaps) / len(gaps) if gaps else float("nan")
    return (
        f"- {variant}: above {against} in {above} of {len(gaps)} rows (mean difference "
        f"{mean:+.3f}); ahead by more than the larger seed std in {win}, behind by more in {lose}"
    )


def _cell(summary: Any) -> str:
    return bench._mean_std(summary) if isinstance(summary, bench.Summary) else "-"


def table_lines(table: dict[tuple, dict[str, Any]], shown: tuple[str, ...]) -> list[str]:
    """A markdown table: one line per (suite, regime, pairs), mean ± std of each method."""
    lines = [
        "| suite | regime | pairs | " + " | ".join(shown) + " |",
        "|---|---|---:|" + "---:|" * len(shown),
    ]
    for (suite, regime, pairs), cells in table.items():
        cols = [_cell(cells.get(method)) for method in shown]
        lines.append(f"| {suite} | {regime} | {pairs} | " + " | ".join(cols) + " |")
    return lines


def markdown(table: dict[tuple, dict[str, Any]]) -> str:
    lines = table_lines(table, SHOWN)
    return "\n".join([*lines, "", *(tally(table, v) for v in VARIANTS), ""])


def read_arguments(description: str) -> tuple[list[dict], list[dict], Path]:
    """``--rows``, ``--bench``, ``--sclip-rows`` and ``--out``: the measured rows, the
    published tables' rows (sclip column from ``--sclip-rows``) and the output folder."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rows", type=Path, nargs="+", required=True, help="measured rows")
    parser.add_argument("--bench", type=Path, required=True, help="folder of the rows files")
    parser.add_argument("--sclip-rows", type=Path, required=True, help="the tables' sclip rows")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    published = published_tables.table_rows(
        args.bench, args.sclip_rows, published_tables.SOURCES_MLP_MOLECULES
    )
    return published_tables.read_rows(args.rows), published, args.out


def main() -> None:
    rows, published, out = read_arguments(__doc__.splitlines()[0])
    renamed = [{**r, "method": MEASURED_AS.get(r["method"], r["method"])} for r in rows]
    variants = [r for r in renamed if r["method"] in VARIANTS]
    table = measured_table(variants, published)
    panels.write_outputs(
        out,
        "sclip-variants",
        markdown(table),
        table,
        published,
        methods=SHOWN,
        regimes=REGIMES,
        dashed=VARIANTS,
    )


if __name__ == "__main__":
    main()
