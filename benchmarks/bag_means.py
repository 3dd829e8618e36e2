"""Gentle against baselines that use the bags too: pair-only methods given each bag's means.

The issue's baselines (CLIP, S-CLIP, ridge, Procrustes, CCA, relative representations) fit
the pairs only; in the bags regime gentle also uses the bags. A bag's mean A row and mean B row
correspond exactly under a linear map, so every pair-only method can take them as extra pairs
(``gentleclip.data.bag_means``; bench methods ``*-bagmeans``). This script reads their rows
(``--rows``) and the published tables' rows (as ``published_tables.py`` makes them), and
writes ``OUT/bagmeans.md`` and ``OUT/bagmeans.png``:

- per (suite, regime, pairs) row where bag-mean rows exist: gentle and the best of the issue's
  baselines from the tables, every bag-mean method, gentle's verdict against the issue's
  baselines (the tables') and against all of them;
- the plot: per suite, the headline against pairs for gentle, gentle-bagmeans, the best
  issue baseline and the best bag-mean baseline of each row (bags of 8).

    python benchmarks/bag_means.py --rows docs/bench/bench-bagmeans-1560fa8.jsonl \\
        docs/bench/bench-bagmeans-bagsize-1560fa8.jsonl \\
        docs/bench/bench-bagmeans-gentle-1560fa8.jsonl \\
        docs/bench/bench-bagmeans-gentle32-1560fa8.jsonl \\
        docs/bench/bench-bagmeans-clipsize-e093d01.jsonl \\
        docs/bench/bench-bagmeans-gentle128-e093d01.jsonl \\
        docs/bench/bench-bagmeans-natural-2af79bb.jsonl \\
        --rescored docs/bench/bench-ties-bagmeans-2af79bb.jsonl \\
        --bench docs/bench --sclip-rows docs/bench/bench-sclip-sets-c68564f.jsonl --out docs/bench
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import published_tables
from matplotlib.figure import Figure

from gentleclip.evaluation.report import atomic_path, save_figure_atomic
from gentleclip.experiments import bench

STEM = "bagmeans"
ISSUE = tuple(m for m in bench.RIVALS if m not in (*bench.REFERENCE, *bench.BAG_MEANS))
Where = tuple[str, str, int]


def _summaries(rows: Sequence[dict[str, Any]]) -> dict[Where, dict[str, bench.Summary]]:
    table = bench.summarise(rows)
    return {
        w: {m: s for m, s in c.items() if isinstance(s, bench.Summary)} for w, c in table.items()
    }


def _best(cells: dict[str, bench.Summary], methods: Sequence[str]) -> str | None:
    ran = [m for m in methods if m in cells]
    return max(ran, key=lambda m: cells[m].mean) if ran else None


def _verdicts(rows: Sequence[dict[str, Any]], rivals: Sequence[str]) -> dict[Where, bench.Verdict]:
    return {v.where: v for v in bench.verdicts(rows, rivals)}


def rows_of_interest(bag_rows: Sequence[dict], published: Sequence[dict]) -> list[dict]:
    """The published rows of the (suite, regime, pairs) rows the bag-mean rows cover, then
    the bag-mean rows."""
    covered = {(r["suite"], r["regime"], int(r["pairs"])) for r in bag_rows}
    mine = [r for r in published if (r["suite"], r["regime"], int(r["pairs"])) in covered]
    return [*mine, *bag_rows]


def _as_gentle(
    rows: Sequence[dict[str, Any]], method: str = "gentle-bagmeans"
) -> list[dict[str, Any]]:
    """``rows`` with ``method`` renamed gentle and the original gentle rows left out."""
    return [
        {**r, "method": "gentle"} if r["method"] == method else r
        for r in rows
        if r["method"] != "gentle"
    ]


def table_lines(bag_rows: Sequence[dict], published: Sequence[dict]) -> list[str]:
    """One line per row: gentle, the best issue baseline, each bag-mean method, verdicts
    (gentle's, and gentle-bagmeans' against all baselines where it ran)."""
    rows = rows_of_interest(bag_rows, published)
    cells = _summaries(rows)
    extra = [m for m in bench.WITH_BAG_MEANS if any(r["method"] == m for r in bag_rows)]
    issue = _verdicts(rows, ISSUE)
    everything = _verdicts(rows, bench.RIVALS)
    ours = _verdicts(_as_gentle(rows), bench.RIVALS) if "gentle-bagmeans" in extra else {}
    head = ["suite", "regime", "pairs", "gentle", "best issue baseline", *extra]
    head += ["gentle vs issue baselines", "gentle vs all"]
    head += ["gentle-bagmeans vs all"] if ours else []
    lines = ["| " + " | ".join(head) + " |", _separator(head)]
    for where, summary in cells.items():
        if where not in everything:
            continue
        best = _best(summary, ISSUE)
        cols = [*map(str, where), bench._mean_std(summary["gentle"])]
        cols.append(f"{best} {bench._mean_std(summary[best])}" if best else "-")
        cols += [_bold(summary, m, where, everything) for m in extra]
        cols += [_verdict(issue[where]), _verdict(everything[where])]
        cols += [_verdict(ours[where]) if where in ours else "-"] if ours else []
        lines.append("| " + " | ".join(cols) + " |")
    return lines


def summary_lines(bag_rows: Sequence[dict], published: Sequence[dict], regime: str) -> list[str]:
    """The compact table of one regime: gentle, the best issue baseline, the best bag-mean
    baseline and gentle's verdict against all of them; then gentle-bagmeans and its verdict
    where it ran."""
    rows = rows_of_interest(bag_rows, published)
    cells = _summaries(rows)
    everything = _verdicts(rows, bench.RIVALS)
    ours = _verdicts(_as_gentle(rows), bench.RIVALS)
    with_ours = any(r["method"] == "gentle-bagmeans" for r in bag_rows)
    head = ["suite", "pairs", "gentle", "best issue baseline", "best bag-mean baseline"]
    head += ["gentle vs all", *(("gentle-bagmeans", "gentle-bagmeans vs all") if with_ours else ())]
    lines = ["| " + " | ".join(head) + " |", _separator(head)]
    for where, summary in cells.items():
        if where[1] != regime or where not in everything:
            continue
        cols = [where[0], str(where[2]), bench._mean_std(summary["gentle"])]
        for methods in (ISSUE, bench.BAG_MEANS):
            best = _best(summary, methods)
            cols.append(f"{best} {bench._mean_std(summary[best])}" if best else "-")
        cols.append(_verdict(everything[where]))
        if with_ours:
            mine = summary.get("gentle-bagmeans")
            cols.append(bench._mean_std(mine) if mine else "-")
            cols.append(_verdict(ours[where]) if mine and where in ours else "-")
        lines.append("| " + " | ".join(cols) + " |")
    return lines


def _separator(head: Sequence[str]) -> str:
    """Markdown's header rule: names, baselines and verdicts left, numbers right-aligned."""
    left = ("suite", "regime", "best issue baseline", "best bag-mean baseline")
    return "|" + "".join("---|" if h in left or " vs " in h else "---:|" for h in head)


def _bold(summary: dict, method: str, where: Where, verdicts: dict) -> str:
    if method not in summary:
        return "-"
    text = bench._mean_std(summary[method])
    return f"**{text}**" if verdicts[where].best == method else text


def _verdict(v: bench.Verdict) -> str:
    return v.outcome if v.best is None else f"{v.outcome} ({v.best}, {v.margin:+.3f})"


def count_lines(bag_rows: Sequence[dict], published: Sequence[dict]) -> list[str]:
    """Per suite and regime: gentle's wins / ties / losses against each set of rivals, and
    gentle-bagmeans' against all of them where it ran at every pair count."""
    rows = rows_of_interest(bag_rows, published)
    issue, everything = _verdicts(rows, ISSUE), _verdicts(rows, bench.RIVALS)
    ours = _verdicts(_as_gentle(rows), bench.RIVALS)
    ran = {
        (r["suite"], r["regime"], int(r["pairs"])) for r in rows if r["method"] == "gentle-bagmeans"
    }
    lines = []
    for suite, regime in dict.fromkeys((w[0], w[1]) for w in everything):
        here = [w for w in everything if w[:2] == (suite, regime)]
        line = (
            f"- {suite}, {regime} ({len(here)} pair counts): against the issue's baselines "
            f"{_tally(issue, here)}; with the bag-mean baselines {_tally(everything, here)}"
        )
        if all(w in ran for w in here):
            line += f"; gentle-bagmeans against all {_tally(ours, here)}"
        lines.append(line)
    return lines


def _tally(verdicts: dict[Where, bench.Verdict], wheres: list[Where]) -> str:
    outcomes = [verdicts[w].outcome for w in wheres if w in verdicts]
    names = ("win", "tie", "lose", "only gentle")
    return ", ".join(f"{outcomes.count(o)} {o}" for o in names if outcomes.count(o))


def markdown(bag_rows: Sequence[dict], published: Sequence[dict]) -> str:
    """The report: counts, then the table."""
    note = (
        f"Outcome: win / lose when the gap exceeds the larger seed standard deviation "
        f"({bench.STD_NOTE}), else tie. Issue baselines: {', '.join(ISSUE)}. Bold: the best "
        "of all baselines where it is a bag-mean one."
    )
    compact = summary_lines(bag_rows, published, "bags:8")
    return "\n".join(
        [
            "# Gentle against baselines given the bag means",
            "",
            "Bags of 8:",
            "",
            *compact,
            "",
            *count_lines(bag_rows, published),
            "",
            *table_lines(bag_rows, published),
            "",
            note,
            "",
        ]
    )


# a plotted line: its label, the methods whose best per row it shows, its matplotlib style
Series = tuple[str, Sequence[str], dict[str, Any]]
BEST_BASELINES: tuple[Series, ...] = (
    ("best issue baseline", ISSUE, {"color": "0.4", "marker": "s"}),
    ("best bag-mean baseline", bench.BAG_MEANS, {"color": "0.1", "marker": "v"}),
)


def plot(bag_rows: Sequence[dict], published: Sequence[dict], out: Path) -> Path:
    """Per suite: gentle, the best issue baseline and the best bag-mean baseline per row
    against pairs (bags of 8)."""
    series: tuple[Series, ...] = (
        ("gentle", ("gentle",), bench._style("gentle")),
        ("gentle-bagmeans", ("gentle-bagmeans",), bench._style("gentle-bagmeans")),
        *BEST_BASELINES,
    )
    return suite_panels(rows_of_interest(bag_rows, published), series, out / f"{STEM}.png")


def suite_panels(
    rows: Sequence[dict], series: Sequence[Series], path: Path, regime: str = "bags:8"
) -> Path:
    """One panel per suite with rows of ``regime``: each series' best method per pair count
    (mean and std over seeds) against pairs; saved to ``path``."""
    cells = _summaries(rows)
    suites = list(dict.fromkeys(w[0] for w in cells if w[1] == regime))
    fig = Figure(figsize=(4.2 * len(suites), 3.6), layout="constrained")
    for ax, suite in zip(fig.subplots(1, len(suites), squeeze=False)[0], suites, strict=True):
        wheres = sorted(w for w in cells if w[0] == suite and w[1] == regime)
        for label, methods, style in series:
            points = [(w[2], cells[w][b]) for w in wheres if (b := _best(cells[w], methods))]
            if points:
                xs, ss = [p for p, _ in points], [s for _, s in points]
                ax.errorbar(
                    xs, [s.mean for s in ss], [s.std for s in ss], label=label, capsize=3, **style
                )
        headline = next(r["headline"] for r in rows if r["suite"] == suite and "headline" in r)
        title = f"{suite}, bags of {bench.parse_regime(regime).bag_size}"
        ax.set(title=title, xlabel="pairs", ylabel=f"test {headline}")
        ax.set_xscale("symlog", linthresh=10)
        ticks = sorted({0, 10, 20, 50} | {w[2] for w in wheres})
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.grid(alpha=0.3)
    fig.axes[0].legend(fontsize=7)
    save_figure_atomic(fig, path)
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options naming the rows this report reads (``bag_nce.py`` reads them too)."""
    parser.add_argument("--rows", type=Path, nargs="+", required=True)
    parser.add_argument(
        "--rescored",
        type=Path,
        nargs="*",
        default=[],
        help="rows made again (with --ties expected): each replaces the row of its cell",
    )
    parser.add_argument("--bench", type=Path, default=Path("docs/bench"))
    parser.add_argument("--sclip-rows", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)


def read_inputs(args: argparse.Namespace) -> tuple[list[dict], list[dict]]:
    """The bag-mean rows (rescored) and the published tables' rows, as the options name."""
    bag_rows = published_tables.rescored(
        published_tables.read_rows(args.rows), published_tables.read_rows(args.rescored)
    )
    published = published_tables.table_rows(
        args.bench, args.sclip_rows, published_tables.SOURCES_MLP_MOLECULES
    )
    return bag_rows, published


def write_report(path: Path, text: str) -> None:
    """Write the markdown report atomically and print it."""
    with atomic_path(path, ".md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    bag_rows, published = read_inputs(args)
    write_report(args.out / f"{STEM}.md", markdown(bag_rows, published))
    print(plot(bag_rows, published, args.out))


if __name__ == "__main__":
    main()
