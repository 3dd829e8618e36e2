"""What counting ties by their expectation changed in the published tables (session 2af79bb).

Until session 2af79bb the retrieval metrics counted a gallery item exactly as similar as the
true match as ranked behind it (a tie was a hit), and class precision@1 took the top item of
the lowest index. Since then they take the expectation under random tie-breaking
(``gentleclip.evaluation.retrieval``). The closed-form baselines' cells of the published
tables and of the bag-mean comparison were run again with ``--ties expected``; this script
compares those rows with the rows they replace and writes ``OUT/ties.md`` and
``OUT/ties.png``:

- per suite and method: the cells run again, how many moved in their headline and in any
  other ranking metric, and the largest headline change;
- every headline that moved, old and new;
- every verdict of gentle that changed: in the published tables (against the issue's
  baselines) and in the bag-mean comparison (against all baselines);
- the plot: old against new headline of every cell run again.

    python benchmarks/ties.py --bench docs/bench \\
        --sclip-rows docs/bench/bench-sclip-sets-c68564f.jsonl --out docs/bench
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bag_means
import published_tables
from matplotlib.figure import Figure

from gentleclip.evaluation.report import atomic_path, save_figure_atomic
from gentleclip.experiments import bench

STEM = "ties"
# the rows the bag-mean comparison read made with ties counted as hits (benchmarks/bag_means.py's
# --rows but the later natural-bag rows) and the rows of its closed-form cells made again with
# --ties expected (its --rescored)
BAG_MEAN_ROWS = (
    "bench-bagmeans-1560fa8.jsonl",
    "bench-bagmeans-bagsize-1560fa8.jsonl",
    "bench-bagmeans-gentle-1560fa8.jsonl",
    "bench-bagmeans-gentle32-1560fa8.jsonl",
    "bench-bagmeans-clipsize-e093d01.jsonl",
    "bench-bagmeans-gentle128-e093d01.jsonl",
)
BAG_MEANS_RESCORED = "bench-ties-bagmeans-2af79bb.jsonl"
# metrics that do not rank (the map's geometry and its cost)
NOT_RANKING = ("modality_gap", "train_seconds")
Key = tuple[str, str, int, int, str]


def replaced(old: Sequence[dict[str, Any]], new: Sequence[dict[str, Any]]) -> list[tuple]:
    """(old row, new row) for every cell of ``new`` that ``old`` holds and both scored."""
    before = {bench._row_key(r): r for r in old}
    pairs = [(before.get(bench._row_key(r)), r) for r in new]
    return [(o, n) for o, n in pairs if o and o["status"] == n["status"] == "ok"]


def _moved(old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether any ranking metric differs."""
    keys = set(old["metrics"]) | set(new["metrics"])
    return any(old["metrics"].get(k) != new["metrics"].get(k) for k in keys if k not in NOT_RANKING)


def method_lines(pairs: Sequence[tuple]) -> list[str]:
    """Per suite and method: cells, headline moved, any ranking metric moved, largest change."""
    groups: dict[tuple[str, str], list[tuple]] = {}
    for old, new in pairs:
        groups.setdefault((new["suite"], new["method"]), []).append((old, new))
    head = ["suite", "method", "cells", "headline moved", "any ranking metric moved"]
    head += ["largest headline change", "modality gap moved (largest)"]
    lines = ["| " + " | ".join(head) + " |", bag_means._separator(head)]
    for (suite, method), group in sorted(groups.items()):
        changes = [new["value"] - old["value"] for old, new in group]
        largest = max(changes, key=abs)
        moved = sum(1 for c in changes if c != 0)
        ranking = sum(1 for old, new in group if _moved(old, new))
        gaps = [abs(n["metrics"]["modality_gap"] - o["metrics"]["modality_gap"]) for o, n in group]
        gap = f"{sum(1 for g in gaps if g)} ({max(gaps):.1g})"
        cols = [suite, method, str(len(group)), str(moved), str(ranking), f"{largest:+.4f}", gap]
        lines.append("| " + " | ".join(cols) + " |")
    return lines


def headline_lines(pairs: Sequence[tuple]) -> list[str]:
    """Every cell whose headline moved: its key, the old and new value."""
    head = ["suite", "regime", "pairs", "seed", "method", "before", "after"]
    lines = ["| " + " | ".join(head) + " |", bag_means._separator(head)]
    for old, new in pairs:
        if old["value"] != new["value"]:
            cols = [*map(str, bench._row_key(new)), f"{old['value']:.4f}", f"{new['value']:.4f}"]
            lines.append("| " + " | ".join(cols) + " |")
    return lines


def _described(v: bench.Verdict) -> str:
    best = f"{v.best} {bench._mean_std(v.baseline)}" if v.baseline else "-"
    return f"{v.outcome} (gentle {bench._mean_std(v.gentle)}, best {best})"


def verdict_changes(
    before: Sequence[dict[str, Any]], after: Sequence[dict[str, Any]], rivals: Sequence[str]
) -> list[str]:
    """One line per (suite, regime, pairs) row whose verdict or best baseline changed."""
    old = {v.where: v for v in bench.verdicts(before, rivals)}
    lines = []
    for v in bench.verdicts(after, rivals):
        was = old.get(v.where)
        if was is None or (was.outcome, was.best) != (v.outcome, v.best):
            where = " / ".join(map(str, v.where))
            lines.append(f"- {where}: {_described(was) if was else '-'} -> {_described(v)}")
    return lines


def markdown(pairs: Sequence[tuple], tables: tuple[list, list], bags: tuple[list, list]) -> str:
    """The report: per-method counts, moved headlines, verdict changes (or "none")."""
    table_changes = verdict_changes(*tables, bag_means.ISSUE)
    bag_changes = verdict_changes(*bags, bench.RIVALS)
    parts = [
        "# Ties counted by their expectation: what changed",
        "",
        f"{len(pairs)} closed-form cells made again with `--ties expected`, against the rows "
        "they replace (made with ties counted as hits). The modality gap does not rank, so "
        "the tie rule cannot move it: where it moved, the code's arithmetic changed since the "
        "old rows (rounding), which can also move a ranking metric where two similarities "
        "are within rounding of each other.",
        "",
        *method_lines(pairs),
        "",
        "## Headlines that moved",
        "",
        *headline_lines(pairs),
        "",
        "## Gentle's verdicts in the published tables (against the issue's baselines)",
        "",
        *(table_changes or ["No verdict or best baseline changed."]),
        "",
        "## Gentle's verdicts in the bag-mean comparison (against all baselines)",
        "",
        *(bag_changes or ["No verdict or best baseline changed."]),
        "",
    ]
    return "\n".join(parts)


def plot(pairs: Sequence[tuple], out: Path) -> Path:
    """Old against new headline of every cell run again; moved cells in colour."""
    fig = Figure(figsize=(5.5, 5))
    ax = fig.add_subplot()
    same = [(o["value"], n["value"]) for o, n in pairs if o["value"] == n["value"]]
    moved = [(o["value"], n["value"]) for o, n in pairs if o["value"] != n["value"]]
    for points, style in ((same, {"color": "0.7", "s": 6}), (moved, {"color": "C3", "s": 14})):
        if points:
            xs, ys = zip(*points, strict=True)
            label = f"{'moved' if points is moved else 'unchanged'} ({len(points)})"
            ax.scatter(xs, ys, label=label, **style)
    ax.plot([0, 1], [0, 1], color="0.3", linewidth=0.8)
    ax.set(xlabel="headline, ties counted as hits", ylabel="headline, ties by expectation")
    ax.set_title("Closed-form cells made again with --ties expected", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    path = out / f"{STEM}.png"
    save_figure_atomic(fig, path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", type=Path, default=Path("docs/bench"))
    parser.add_argument("--sclip-rows", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    text, pairs = report(args.bench, args.sclip_rows)
    with atomic_path(args.out / f"{STEM}.md", ".md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    print(text)
    print(plot(pairs, args.out))


def report(bench_dir: Path, sclip_rows: Path) -> tuple[str, list[tuple]]:
    """The markdown report and the (old, new) row pairs it compares."""
    measured = published_tables.read(sclip_rows)
    sources = published_tables.SOURCES_MLP_MOLECULES  # the tables this report was made on
    after = published_tables.with_sclip_from(
        published_tables.grid_rows(bench_dir, sources=sources), measured
    )
    before = published_tables.with_sclip_from(
        published_tables.grid_rows(bench_dir, rescore=False, sources=sources), measured
    )
    bag_old = published_tables.read_rows([bench_dir / n for n in BAG_MEAN_ROWS])
    bag_new_rows = published_tables.read(bench_dir / BAG_MEANS_RESCORED)
    bag_new = published_tables.rescored(bag_old, bag_new_rows)
    new_rows = published_tables.read_rows([bench_dir / n for n in published_tables.RESCORED])
    pairs = replaced(before, new_rows) + replaced(bag_old, bag_new_rows)
    bags = (
        bag_means.rows_of_interest(bag_old, before),
        bag_means.rows_of_interest(bag_new, after),
    )
    return markdown(pairs, (before, after), bags), pairs


if __name__ == "__main__":
    main()
