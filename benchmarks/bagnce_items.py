"""The bag-level InfoNCE with the pairs as bag members (gentle-bagnce-items) against the rest.

Without its CLIP term gentle (``gentle-items``) scored higher with bags of 8 on mfeat, emoji
and molecules and lower, and unsteadily, on proteins, where about 25 bags and no pair term left
some seeds on a wrong match (docs/results.md, "The pairs as bag members"). The bag-level
InfoNCE (``gentle-bagnce``) ties each bag's mean A embedding to its mean B embedding, the tie
the CLIP term gave, from the bags themselves. The bench method ``gentle-bagnce-items`` has
both recipes on top of the suite's gentle recipe (`gentleclip train --bag-nce
--pairs-as-items`). This script reads

- ``--probes``: validation probe rows (``benchmarks/validation_probe.py``) of any of the
  methods below, shown as means per (suite, pairs, method) with their seeds;
- ``--rows``: bench rows on test pairs of ``gentle-items``, ``gentle-bagnce`` and
  ``gentle-bagnce-items`` (a later row replaces an earlier one of the same cell; give
  gentle-bagnce rows made with the full search, as the tables' and the others' are);
- the published tables' rows (``--bench``, ``--sclip-rows``: gentle and the issue's
  baselines) and the bag-mean baselines' (``--bagmeans-rows``, fitted with the suite's
  current parameters, ties rescored with ``--rescored``),

and writes ``OUT/bagnce-items.md`` (per suite and pair count gentle-bagnce-items ran at, bags
of 8, each method with its verdicts against the best issue baseline, the best of every
baseline and the other three; target 1 counted with each in gentle's place) and
``OUT/bagnce-items.png``; with ``--regime bags:32`` the same for bags of 32 in
``OUT/bagnce-items-bags32.md`` / ``.png``, without target 1's lines (its command: results.md,
session cfcee97). Bag-mean rows made since session 7686c66 without overrides go to
``--bagmeans-rows-made-now`` (they take the tables' overrides, ``published_tables.as_made_now``):

    python benchmarks/bagnce_items.py --probes docs/bench/bagnce-items-val-123046b.jsonl \\
        --rows docs/bench/bench-items-634d969.jsonl docs/bench/bench-bagnce-items-123046b.jsonl \\
        docs/bench/bench-bagnce-full-123046b.jsonl \\
        docs/bench/bench-bagnce-items-many-cfcee97.jsonl \\
        --bagmeans-rows docs/bench/bench-bagmeans-1560fa8.jsonl \\
        docs/bench/bench-molecules-centred-72146e1.jsonl \\
        --bagmeans-rows-made-now docs/bench/bench-bagnce-items-many-cfcee97.jsonl \\
        docs/bench/bench-molecules-clipbagmeans-cfcee97.jsonl \\
        --rescored docs/bench/bench-ties-bagmeans-2af79bb.jsonl --bench docs/bench \\
        --sclip-rows docs/bench/bench-sclip-sets-c68564f.jsonl --out docs/bench
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bag_means
import pairs_as_items

from gentleclip.experiments import bench

STEM = "bagnce-items"
REGIME = "bags:8"
TARGET_PAIRS = (10, 20, 50)  # target 1's pair counts where the issue's baselines run
MINE = ("gentle-items", "gentle-bagnce", "gentle-bagnce-items")
METHODS = ("gentle", *MINE)
BEST = "best issue baseline"
BEST_ALL = "best baseline"
BAGS = bench.BAG_MEANS
Where = tuple[str, str, int]
Cells = dict[str, bench.Summary]


def cells_by_where(
    tables: Sequence[dict[str, Any]],
    rows: Sequence[dict[str, Any]],
    bag_rows: Sequence[dict[str, Any]] = (),
    regime: str = REGIME,
) -> tuple[dict[Where, Cells], dict[Where, dict[str, str]]]:
    """``regime`` (bags of 8 unless told) at each pair count gentle-bagnce-items' ``rows``
    cover: every method of :data:`METHODS` that ran, the best issue baseline (:data:`BEST`)
    and the best of those and the bag-mean baselines (:data:`BEST_ALL`); and the name of each
    best."""
    latest = {bench._row_key(r): r for r in rows if r["method"] in MINE}
    covered = {
        pairs_as_items._where(r)
        for r in latest.values()
        if r["method"] == "gentle-bagnce-items" and r["regime"] == regime
    }
    mine = [r for r in latest.values() if pairs_as_items._where(r) in covered]
    here = [
        r
        for r in [*tables, *pairs_as_items.current_bag_means(bag_rows, tables)]
        if pairs_as_items._where(r) in covered
    ]
    table: dict[Where, Cells] = {}
    names: dict[Where, dict[str, str]] = {}
    for where, cells in sorted(bag_means._summaries([*here, *mine]).items()):
        table[where] = {m: cells[m] for m in METHODS if m in cells}
        names[where] = {}
        for label, rivals in ((BEST, bag_means.ISSUE), (BEST_ALL, (*bag_means.ISSUE, *BAGS))):
            best = bag_means._best(cells, rivals)
            if best is not None:
                table[where][label], names[where][label] = cells[best], best
    return table, names


def table_lines(table: dict[Where, Cells], names: dict[Where, dict[str, str]]) -> list[str]:
    """One line per pair count: the methods, both bests, and gentle-bagnce-items' verdicts
    against the bests and the other three."""
    head = [
        "suite",
        "pairs",
        *METHODS,
        BEST,
        BEST_ALL,
        "gentle-bagnce-items vs issue's",
        "vs all",
        "vs gentle",
        "vs gentle-items",
        "vs gentle-bagnce",
    ]
    lines = ["| " + " | ".join(head) + " |", "|---|---:|" + "---:|" * len(METHODS) + "---|" * 7]
    for where, cells in table.items():
        cols = [where[0], str(where[2])]
        cols += [bench._mean_std(cells[m]) if m in cells else "-" for m in METHODS]
        for label in (BEST, BEST_ALL):
            best = names[where].get(label)
            cols.append(f"{best} {bench._mean_std(cells[label])}" if best else "-")
        both = cells.get("gentle-bagnce-items")
        for rival in (BEST, BEST_ALL, *METHODS[:-1]):
            if both is None or rival not in cells:
                cols.append("-")
                continue
            v = pairs_as_items._verdict(both, cells[rival], where)
            cols.append(pairs_as_items._verdict_text(v))
        lines.append("| " + " | ".join(cols) + " |")
    return lines


def target_lines(table: dict[Where, Cells]) -> list[str]:
    """Target 1 (bags of 8 at 10, 20 and 50 pairs; >= 3 of 4 suites win at each) with each
    method in gentle's place, against the issue's baselines and against all."""
    lines = []
    for method in METHODS:
        for label, name in ((BEST, "the issue's baselines"), (BEST_ALL, "every baseline")):
            won = _suites_winning(table, method, label)
            if won is None:
                continue
            text = ", ".join(won) or "none"
            verdict_ = "met" if len(won) >= 3 else "not met"
            lines.append(
                f"- {method} against {name}: wins at 10, 20 and 50 pairs on {len(won)} of 4"
                f" suites ({text}): {verdict_}"
            )
    return lines


def _suites_winning(table: dict[Where, Cells], method: str, label: str) -> list[str] | None:
    """The suites where ``method`` beats the ``label`` best at every target pair count, or
    None where it lacks one of the four suites' target cells."""
    suites = sorted({w[0] for w in table})
    won = []
    for suite in suites:
        outcomes = []
        for pairs in TARGET_PAIRS:
            cells = table.get((suite, REGIME, pairs), {})
            if method not in cells or label not in cells:
                return None
            v = pairs_as_items._verdict(cells[method], cells[label], (suite, REGIME, pairs))
            outcomes.append(v.outcome)
        if set(outcomes) == {"win"}:
            won.append(suite)
    return won if len(suites) == 4 else None


def probe_lines(probes: Sequence[dict[str, Any]], regime: str = REGIME) -> list[str]:
    """Validation means per (suite, pairs, method) in ``regime``, with the seeds behind each."""
    groups: dict[tuple, list[dict]] = {}
    for row in probes:
        if row.get("regime", REGIME) == regime and not row.get("override"):
            groups.setdefault((row["suite"], int(row["pairs"]), row["method"]), []).append(row)
    lines = ["| suite | pairs | method | validation mean | seeds |", "|---|---:|---|---:|---|"]
    for (suite, pairs, method), rows in sorted(groups.items()):
        mean = sum(float(r["val"]) for r in rows) / len(rows)
        seeds = ",".join(str(r["seed"]) for r in sorted(rows, key=lambda r: r["seed"]))
        lines.append(f"| {suite} | {pairs} | {method} | {mean:.3f} | {seeds} |")
    return lines


def stem(regime: str = REGIME) -> str:
    """The report's file name without suffix: ``bagnce-items`` for bags of 8 (target 1's
    regime), ``bagnce-items-bags32`` for bags of 32."""
    return STEM if regime == REGIME else f"{STEM}-{regime.replace(':', '')}"


def markdown(
    probes: Sequence[dict[str, Any]],
    table: dict[Where, Cells],
    names: dict[Where, dict],
    regime: str = REGIME,
) -> str:
    """The report of ``regime``; target 1's lines with bags of 8 only."""
    size = bench.parse_regime(regime).bag_size
    note = (
        f"Bags of {size}, test headline (class P@1; proteins a->b R@10), mean ± std over 5 seeds "
        f"({bench.STD_NOTE}); outcome: win / lose when the gap exceeds the larger std, else "
        f"tie. Issue's baselines: {', '.join(bag_means.ISSUE)}; every baseline adds the "
        "bag-mean baselines (pair-only methods given each bag's mean rows as pairs; fitted "
        "with the suite's current parameters). gentle: the published tables."
    )
    title = "# The bag-level InfoNCE with the pairs as bag members (gentle-bagnce-items)"
    lines = [title if regime == REGIME else f"{title}, bags of {size}", ""]
    if len(probed := probe_lines(probes, regime)) > 2:
        lines += ["Validation splits (each seed's validation pairs, no tuning):", ""]
        lines += [*probed, ""]
    lines += ["Test pairs:", "", *table_lines(table, names), "", note, ""]
    if regime == REGIME:
        lines += [
            "Target 1 (bags of 8 at 10, 20 and 50 pairs) with each method in gentle's place:",
            "",
            *target_lines(table),
            "",
        ]
    return "\n".join(lines)


STYLES = {
    "gentle": {"color": bench._style("gentle")["color"], "marker": "o"},
    "gentle-items": {"color": "black", "marker": "*"},
    "gentle-bagnce": {"color": "tab:green", "marker": "D"},  # bench._style gives it grey
    "gentle-bagnce-items": {"color": "black", "marker": "*", "linestyle": "--"},
    BEST: {"color": "0.55", "marker": "s", "linestyle": ":"},
    BEST_ALL: {"color": "tab:orange", "marker": "^", "linestyle": "-."},
}


def plot(
    table: dict[Where, Cells],
    out: Path,
    headlines: dict[str, str] | None = None,
    regime: str = REGIME,
) -> Path:
    """``OUT/{stem}.png`` (:func:`stem`): pairs_as_items.py's panels (one per suite) with
    every series of :data:`STYLES`."""
    return pairs_as_items.plot(table, headlines or {}, out, stem(regime), STYLES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=Path, nargs="*", default=[])
    parser.add_argument("--regime", default=REGIME, help="bags:K (default bags:8)")
    pairs_as_items.add_row_arguments(parser)
    args = parser.parse_args()
    rows, tables, bag_rows = pairs_as_items.read_row_arguments(args)
    table, names = cells_by_where(tables, rows, bag_rows, args.regime)
    text = markdown(pairs_as_items.read_probes(args.probes), table, names, args.regime)
    bag_means.write_report(args.out / f"{stem(args.regime)}.md", text)
    headlines = {r["suite"]: r["headline"] for r in rows if r.get("headline")}
    print(plot(table, args.out, headlines, args.regime))


if __name__ == "__main__":
    main()
