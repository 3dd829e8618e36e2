"""Molecules with head-only towers on unscaled features, every rival given the same change.

On molecules (2,048-bit Morgan fingerprints against MiniLM name embeddings) every trained
method sat far below the closed-form maps on the bag means. Validation probes (seed 0-2, 10
pairs; docs/results.md, "Molecules: towers and feature scaling") traced it to the recipe's
towers and to per-column standardisation, which blows up rare fingerprint bits. This script
reads the bench rows made with the change and the published rows made without it, and writes
``OUT/molecules-towers.md`` and ``OUT/molecules-towers.png``:

- per method and pair count (bags of 8), the test headline with the suite's recipe /
  standardised features (published) and with the change: trained methods with
  ``--recipe-override`` (identity encoders, so the projection head alone, of width 512, on
  unstandardised inputs), closed-form maps with ``--baseline-override '{"scale": false}'``
  (centred, not scaled);
- gentle-bagnce and gentle with the change against the issue's baselines and against every
  baseline, each baseline counted with whichever of its two variants has the higher test
  mean (so the choice favours the baselines), and against the baselines' changed variants
  alone;
- the plot: headline against pairs for gentle-bagnce and the best baseline, before and after.

    python benchmarks/molecules_towers.py \\
        --changed-rows docs/bench/bench-molecules-heads512-72146e1.jsonl \\
        docs/bench/bench-molecules-centred-72146e1.jsonl \\
        --bagnce-rows docs/bench/bench-bagnce-75da31b.jsonl <bag_means.py's options>

Its ``--sclip-rows`` are the tables' sclip column before session c68564f
(``published_tables.SCLIP_PACKED_ROWS``): the changed sclip rows were made with steps packing
whole bags, as that column was.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bag_means
import bag_nce
import published_tables

from gentleclip.experiments import bench

STEM = "molecules-towers"
SUITE, REGIME = "molecules", "bags:8"
CHANGED = "/changed"  # suffix of a method's rows made with the change
OURS = ("gentle-bagnce", "gentle")
Where = tuple[str, str, int]


def _here(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["suite"] == SUITE and r["regime"] == REGIME]


def combined(published: Sequence[dict], changed: Sequence[dict]) -> list[dict[str, Any]]:
    """Molecules' bags-of-8 rows: the published ones as they are, the changed ones with
    :data:`CHANGED` after their method's name."""
    return [*_here(published), *({**r, "method": r["method"] + CHANGED} for r in _here(changed))]


def _methods(changed: Sequence[dict]) -> list[str]:
    """The methods the change was measured on: ours first, then the baselines."""
    ran = list(dict.fromkeys(r["method"] for r in changed))
    return [*(m for m in OURS if m in ran), *(m for m in ran if m not in OURS)]


def table_lines(rows: Sequence[dict], methods: Sequence[str]) -> list[str]:
    """Per method: published -> changed headline at each pair count."""
    cells = bag_means._summaries(rows)
    wheres = sorted(w for w in cells if any(m + CHANGED in cells[w] for m in methods))
    head = ["method", *(f"{w[2]} pairs: published -> changed" for w in wheres)]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * len(wheres)]
    for method in methods:
        cols = [method]
        for w in wheres:
            old, new = cells[w].get(method), cells[w].get(method + CHANGED)
            cols.append(" -> ".join(bench._mean_std(s) if s else "-" for s in (old, new)))
        lines.append("| " + " | ".join(cols) + " |")
    return lines


def _better_variants(rows: Sequence[dict], rivals: Sequence[str]) -> list[dict[str, Any]]:
    """Each rival's rows of the variant (published or changed) with the higher test mean in
    each (suite, regime, pairs), under the rival's own name."""
    cells = bag_means._summaries(rows)
    keep = set()
    for where, summary in cells.items():
        for rival in rivals:
            variants = [m for m in (rival, rival + CHANGED) if m in summary]
            if variants:
                keep.add((where, max(variants, key=lambda m: summary[m].mean)))
    out = []
    for r in rows:
        where = (r["suite"], r["regime"], int(r["pairs"]))
        base = r["method"].removesuffix(CHANGED)
        if base in rivals and (where, r["method"]) in keep:
            out.append({**r, "method": base})
    return out


def verdict_lines(rows: Sequence[dict], method: str) -> list[str]:
    """``method`` (changed) against the baselines: each at its better variant; changed only."""
    ours = [{**r, "method": "gentle"} for r in rows if r["method"] == method + CHANGED]
    best = _better_variants(rows, bench.RIVALS)
    changed_only = [
        {**r, "method": r["method"].removesuffix(CHANGED)}
        for r in rows
        if r["method"].endswith(CHANGED) and r["method"].removesuffix(CHANGED) in bench.RIVALS
    ]
    lines = []
    for label, rivals, names in (
        ("the issue's baselines, each at its better variant", best, bag_means.ISSUE),
        ("every baseline at its better variant", best, bench.RIVALS),
        ("the baselines' changed variants", changed_only, bench.RIVALS),
    ):
        found = sorted(bag_means._verdicts([*ours, *rivals], names).items())
        outcomes = ", ".join(f"{w[2]}: {bag_means._verdict(v)}" for w, v in found)
        wins = sum(v.outcome == "win" for _, v in found)
        lines.append(f"- {method} against {label}: {outcomes} ({wins} of {len(found)} won)")
    return lines


def markdown(rows: Sequence[dict], methods: Sequence[str]) -> str:
    note = (
        f"Outcome: win / lose when the gap exceeds the larger seed standard deviation "
        f"({bench.STD_NOTE}), else tie. Published: the suite's recipe towers and standardised "
        "features (tables, bag-mean and bag-level InfoNCE rows). Changed: trained methods with "
        "head-only towers of width 512 on unstandardised features, closed-form maps on centred, "
        "unscaled features."
    )
    verdicts = [line for m in OURS if m in methods for line in verdict_lines(rows, m)]
    return "\n".join(
        [
            "# Molecules: towers and feature scaling",
            "",
            "Bags of 8, test a->b class precision@1 (mean ± std over seeds):",
            "",
            *table_lines(rows, methods),
            "",
            "Verdicts of the changed methods:",
            "",
            *verdicts,
            "",
            note,
            "",
        ]
    )


def plot(rows: Sequence[dict], out: Path) -> Path:
    """gentle-bagnce and the best baseline per pair count, published and changed."""
    changed_rivals = tuple(m + CHANGED for m in bench.RIVALS)
    series: tuple[bag_means.Series, ...] = (
        ("gentle-bagnce, published", ("gentle-bagnce",), {"color": "tab:red", "marker": "o"}),
        (
            "gentle-bagnce, changed",
            ("gentle-bagnce" + CHANGED,),
            {"color": "tab:red", "marker": "*", "markersize": 9, "linestyle": "--"},
        ),
        ("best baseline, published", bench.RIVALS, {"color": "0.5", "marker": "s"}),
        (
            "best baseline, changed",
            changed_rivals,
            {"color": "0.1", "marker": "v", "linestyle": "--"},
        ),
    )
    return bag_means.suite_panels(rows, series, out / f"{STEM}.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changed-rows", type=Path, nargs="+", required=True)
    bag_nce.add_arguments(parser)
    args = parser.parse_args()
    changed = published_tables.read_rows(args.changed_rows)
    rows = combined(bag_nce.read(args), changed)
    bag_means.write_report(args.out / f"{STEM}.md", markdown(rows, _methods(changed)))
    print(plot(rows, args.out))


if __name__ == "__main__":
    main()
