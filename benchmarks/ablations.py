"""Gentle's ablations on every suite: each against gentle run with the same search.

The issue's ablations (bench group ``ablations``: without SDD, without MMD, with the
self-supervised term, SDD with leave-one-out, SDD with the normalised spread) at bags of 8
and 20 pairs, 5 seeds. Each suite's ablation rows (``--rows``) are compared with gentle's rows
of the same cells from ``--gentle SUITE=FILE``, which must come from the same search (mfeat's
ablations ran with ``--search full`` beside its table's grid; the other suites' with the
default halving search, gentle run beside them on the same machine). A row's
verdict uses the tables' rule: the ablation is *better* or *worse* than gentle when the gap
exceeds the larger of the two seed standard deviations, else *same*.

Writes ``OUT/ablations.md`` (a table per suite and the verdicts) and ``OUT/ablations.png``
(per suite, each method's mean with its seed std):

    python benchmarks/ablations.py \\
        --rows docs/bench/bench-mfeat.jsonl docs/bench/bench-ablations-59bde43.jsonl \\
        --gentle mfeat=docs/bench/bench-mfeat.jsonl \\
        emoji=docs/bench/bench-ablations-59bde43.jsonl \\
        molecules=docs/bench/bench-ablations-59bde43.jsonl \\
        proteins=docs/bench/bench-ablations-59bde43.jsonl --out docs/bench
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from gentleclip.evaluation.report import atomic_path, save_figure_atomic
from gentleclip.experiments import bench

REGIME, PAIRS = "bags:8", 20
STEM = "ablations"
SUITES = ("mfeat", "emoji", "molecules", "proteins")


def cell_summaries(rows: Sequence[dict[str, Any]], suite: str) -> dict[str, bench.Summary]:
    """method -> Summary of ``suite``'s rows at bags of 8 and 20 pairs."""
    cells = bench.summarise(rows).get((suite, REGIME, PAIRS), {})
    return {m: s for m, s in cells.items() if isinstance(s, bench.Summary)}


# bench.Verdict's outcomes, said of an ablation against gentle
WORDS = {"win": "better", "lose": "worse", "tie": "same"}


def verdict(ablation: bench.Summary, gentle: bench.Summary) -> str:
    """better / worse than gentle when the gap exceeds the larger seed std, else same: the
    tables' rule (:class:`bench.Verdict`), with gentle in the baseline's place."""
    outcome = bench.Verdict(("", REGIME, PAIRS), ablation, "gentle", gentle, None).outcome
    return WORDS.get(outcome, outcome)


def suite_table(
    suite: str, ablations: dict[str, bench.Summary], gentle: bench.Summary
) -> list[str]:
    """The markdown rows of one suite: gentle, then each ablation with its gap and verdict."""
    lines = [f"| {suite} | gentle | {gentle.mean:.3f} ± {gentle.std:.3f} | {gentle.n} | | |"]
    for name in bench.ABLATIONS:
        if name in ablations:
            s = ablations[name]
            gap = s.mean - gentle.mean
            lines.append(
                f"| {suite} | {name} | {s.mean:.3f} ± {s.std:.3f} | {s.n} | {gap:+.3f} | "
                f"{verdict(s, gentle)} |"
            )
    return lines


def collect(
    rows: Sequence[dict[str, Any]], gentle_rows: dict[str, Sequence[dict[str, Any]]]
) -> dict[str, tuple[bench.Summary, dict[str, bench.Summary]]]:
    """suite -> (gentle, ablation -> Summary) for every suite with both."""
    out = {}
    for suite in SUITES:
        ablations = {m: s for m, s in cell_summaries(rows, suite).items() if m in bench.ABLATIONS}
        gentle = cell_summaries(gentle_rows.get(suite, ()), suite).get("gentle")
        if ablations and gentle is not None:
            out[suite] = (gentle, ablations)
    return out


def report(found: dict[str, tuple[bench.Summary, dict[str, bench.Summary]]]) -> str:
    """ablations.md: the table, then one line per ablation counting its verdicts."""
    lines = [
        f"# Ablations of gentle ({REGIME}, {PAIRS} pairs)",
        "",
        "Each ablation against gentle run with the same search (mfeat: full; the others: "
        "halving). Headline: a->b class precision@1 (proteins: a->b R@10), test pairs, mean ± "
        f"std over seeds ({bench.STD_NOTE}). Verdict: better or worse when the gap exceeds "
        "the larger of the two seed standard deviations, else same.",
        "",
        "| suite | method | headline | seeds | vs gentle | verdict |",
        "|---|---|---:|---:|---:|---|",
    ]
    for suite, (gentle, ablations) in found.items():
        lines += suite_table(suite, ablations, gentle)
    lines.append("")
    for name in bench.ABLATIONS:
        said = [
            f"{suite} {verdict(abl[name], g)}" for suite, (g, abl) in found.items() if name in abl
        ]
        if said:
            lines.append(f"- {name}: {', '.join(said)}")
    return "\n".join(lines) + "\n"


def plot(found: dict[str, tuple[bench.Summary, dict[str, bench.Summary]]], path: Path) -> None:
    """Per suite, gentle and each ablation's mean with its seed std as an error bar."""
    fig = Figure(figsize=(3.2 * max(len(found), 1), 3.6), layout="constrained")
    axes = fig.subplots(1, max(len(found), 1), squeeze=False)[0]
    for ax, (suite, (gentle, ablations)) in zip(axes, found.items(), strict=False):
        names = ["gentle", *(n for n in bench.ABLATIONS if n in ablations)]
        stats = [gentle, *(ablations[n] for n in names[1:])]
        colours = ["tab:blue", *("tab:grey" for _ in names[1:])]
        ax.bar(
            range(len(names)),
            [s.mean for s in stats],
            yerr=[s.std for s in stats],
            color=colours,
            capsize=3,
        )
        ax.set_xticks(range(len(names)), [n.replace("gentle-", "") for n in names], rotation=45)
        ax.set_title(suite)
        ax.set_ylim(0, 1)
    axes[0].set_ylabel("headline (mean ± seed std)")
    save_figure_atomic(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, nargs="+", required=True, help="ablation rows")
    parser.add_argument("--gentle", nargs="+", required=True, help="SUITE=FILE: gentle's rows")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = [row for path in args.rows for row in bench.read_results(path)]
    gentle_rows = {}
    for item in args.gentle:
        suite, _, file = item.partition("=")
        if suite not in SUITES or not file:
            raise SystemExit(f"--gentle takes SUITE=FILE with SUITE in {SUITES}, got {item!r}")
        gentle_rows[suite] = bench.read_results(Path(file))
    found = collect(rows, gentle_rows)
    if not found:
        raise SystemExit("no suite has both ablation rows and gentle rows at bags:8, 20 pairs")
    with atomic_path(args.out / f"{STEM}.md", ".md") as tmp:
        tmp.write_text(report(found), encoding="utf-8")
    plot(found, args.out / f"{STEM}.png")
    print(report(found))


if __name__ == "__main__":
    main()
