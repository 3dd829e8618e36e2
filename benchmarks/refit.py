"""``--no-refit`` against the refit: the same validation search, its chosen model scored as is.

With ``--refit`` (the bench's protocol for every published table) the chosen candidate is
trained again on the whole training part, with that part's pairs, and scored on the test
pairs. With ``--no-refit`` the chosen candidate's model from the validation search (trained on
the training part less the validation items, with the validation split's own draw of the
cell's pairs) is scored on the test pairs. The search is the same, so the two grids' candidates
have the same validation scores wherever the code and the machine's rounding are the same; the
per-method comparison keeps only those cells.

Reads the no-refit rows (``--rows``), a refit grid of the same suites and search on the same
kind of machine (``--refit-rows``) and the published tables' rows as ``published_tables.py`` makes
them; prints and writes ``OUT/refit.md``:

- per method, the cells whose candidates have equal validation scores in both grids (the same
  search);
- per method, the test headline with and without the refit (mean over cells, how many move
  up and down, the largest move);
- gentle's verdicts against the best baseline without the refit, beside the published tables'
  (full search, refit) and the refit grid's;

and plots ``OUT/refit.png``: every cell's test headline, refit against no refit, per suite.

    python benchmarks/refit.py --rows docs/bench/bench-emoji-norefit-05324fd.jsonl \\
        docs/bench/bench-molecules-norefit-05324fd.jsonl \\
        docs/bench/bench-target1-norefit-05324fd.jsonl --refit-rows \\
        docs/bench/bench-emoji-halving.jsonl docs/bench/bench-molecules-halving.jsonl \\
        docs/bench/bench-mfeat-halving-0fd2c86.jsonl \\
        docs/bench/bench-proteins-halving-0fd2c86.jsonl \\
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

STEM = "refit"
Key = tuple[str, str, int, int, str]


def _by_cell(rows: Sequence[dict[str, Any]]) -> dict[Key, dict[str, Any]]:
    """The ok rows that computed their result (not shared from another bag size), by cell."""
    return {bench._row_key(r): r for r in rows if r["status"] == "ok" and "shared_from" not in r}


def _search(row: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(repr(c["params"]), c["val"]) for c in row["candidates"]]


def _suites(cells: dict[Key, dict]) -> list[str]:
    return list(dict.fromkeys(k[0] for k in cells))


def same_search_lines(norefit: dict[Key, dict], refit: dict[Key, dict]) -> list[str]:
    """Per suite and method: in how many cells both grids' candidates scored the same on
    validation."""
    lines = []
    for suite in _suites(norefit):
        counts = []
        for method in _methods(norefit):
            both = [k for k in norefit if k[0] == suite and k[4] == method and k in refit]
            same = sum(_search(norefit[k]) == _search(refit[k]) for k in both)
            counts.append(f"{method} {same} of {len(both)}")
        lines.append(f"- {suite}: " + ", ".join(counts))
    return lines


def _methods(cells: dict[Key, dict]) -> list[str]:
    present = {k[4] for k in cells}
    return [m for m in bench.METHODS if m in present]


def _same(norefit: dict[Key, dict], refit: dict[Key, dict], suite: str | None = None) -> list:
    """Cells both grids computed with the same search (equal validation scores)."""
    return [
        k
        for k in norefit
        if k in refit and _search(norefit[k]) == _search(refit[k]) and suite in (None, k[0])
    ]


def moves(norefit: dict[Key, dict], refit: dict[Key, dict]) -> list[str]:
    """Per method, the test headline without and with the refit, over the cells both grids
    computed with the same search."""
    lines = [
        "| suite | method | cells | refit | no refit | difference | up | down | largest move |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for suite in _suites(norefit):
        same = _same(norefit, refit, suite)
        for method in _methods(norefit):
            both = [k for k in same if k[4] == method]
            if both:
                lines.append(f"| {suite} | {method} | " + _move(norefit, refit, both) + " |")
    return lines


def _move(norefit: dict[Key, dict], refit: dict[Key, dict], cells: list[Key]) -> str:
    new = [norefit[k]["value"] for k in cells]
    old = [refit[k]["value"] for k in cells]
    gaps = [a - b for a, b in zip(new, old, strict=True)]
    return (
        f"{len(cells)} | {sum(old) / len(old):.3f} | {sum(new) / len(new):.3f} "
        f"| {sum(gaps) / len(gaps):+.3f} | {sum(g > 0 for g in gaps)} "
        f"| {sum(g < 0 for g in gaps)} | {max(gaps, key=abs):+.3f}"
    )


def verdict_lines(
    norefit: list[dict],
    others: dict[str, list[dict]],
    label: str = "no refit",
    grid: str = "the no-refit grid",
) -> list[str]:
    """Gentle's verdict in every row of ``norefit`` (``grid``, its column ``label``: without
    the refit here), and where each other grid differs."""
    suites = {r["suite"] for r in norefit}
    found = {v.where: v for v in bench.verdicts(norefit)}
    theirs = {
        name: {v.where: v for v in bench.verdicts(r for r in rows if r["suite"] in suites)}
        for name, rows in others.items()
    }
    names = list(others)
    lines = [
        f"| suite | regime | pairs | {label} | " + " | ".join(names) + " |",
        "|---|---|---:|---|" + "---|" * len(names),
    ]
    changed = dict.fromkeys(names, 0)
    for where, verdict in sorted(found.items()):
        cols = []
        for name in names:
            other = theirs[name].get(where)
            if other is not None and other.outcome != verdict.outcome:
                changed[name] += 1
            cols.append("-" if other is None else _verdict(other))
        cells = [*map(str, where), _verdict(verdict), *cols]
        lines.append("| " + " | ".join(cells) + " |")
    counts = [f"{name}: {n} of {len(found)}" for name, n in changed.items()]
    return [*lines, "", f"Rows whose outcome differs from {grid}'s: " + "; ".join(counts)]


def _verdict(v: bench.Verdict) -> str:
    if v.baseline is None:
        return f"{v.outcome} ({v.gentle.mean:.3f})"
    return f"{v.outcome}: {v.gentle.mean:.3f} vs {v.best} {v.baseline.mean:.3f} ({v.margin:+.3f})"


def plot(norefit: dict[Key, dict], refit: dict[Key, dict], path: Path) -> None:
    """Each cell's test headline with the refit (x) and without it (y), a panel per suite
    (cells with the same search in both grids)."""
    suites = _suites(norefit)
    fig = Figure(figsize=(5 * len(suites), 4.8), layout="constrained")
    axes = fig.subplots(1, len(suites), squeeze=False)[0]
    for ax, suite in zip(axes, suites, strict=True):
        same = _same(norefit, refit, suite)
        for method in _methods(norefit):
            both = [k for k in same if k[4] == method]
            if both:
                xs = [refit[k]["value"] for k in both]
                ys = [norefit[k]["value"] for k in both]
                color = bench._style(method)["color"]
                ax.scatter(xs, ys, s=9, alpha=0.7, color=color, label=method)
        low, high = ax.get_xlim()
        ax.plot([low, high], [low, high], color="0.3", lw=0.8)
        headline = next(r["headline"] for k, r in norefit.items() if k[0] == suite)
        ax.set_title(f"{suite}: test {headline}, one point per cell", fontsize=9)
        ax.set_xlabel("refit (chosen candidate trained again)")
        ax.set_ylabel("no refit (the validation search's model)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    save_figure_atomic(fig, path)


def markdown(rows: list[dict], refit_rows: list[dict], published: list[dict]) -> str:
    """The comparison's text (see the module's docstring)."""
    norefit, refit = _by_cell(rows), _by_cell(refit_rows)
    others = {"tables (full search, refit)": published, "refit grid": refit_rows}
    return "\n".join(
        [
            "Candidates with the same validation scores in both grids (the same search):",
            *same_search_lines(norefit, refit),
            "",
            "Test headline per cell, refit grid against no refit (cells both computed with the "
            "same search):",
            "",
            *moves(norefit, refit),
            "",
            "Gentle against the best baseline (outcome: mean, best baseline, margin):",
            "",
            *verdict_lines(rows, others),
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, nargs="+", required=True, help="no-refit rows")
    parser.add_argument("--refit-rows", type=Path, nargs="+", required=True)
    parser.add_argument("--bench", type=Path, required=True, help="folder of the rows files")
    parser.add_argument("--sclip-rows", type=Path, required=True, help="the tables' sclip rows")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = published_tables.read_rows(args.rows)
    refit_rows = published_tables.read_rows(args.refit_rows)
    published = published_tables.table_rows(
        args.bench, args.sclip_rows, published_tables.SOURCES_MLP_MOLECULES
    )
    text = markdown(rows, refit_rows, published)
    print(text)
    with atomic_path(args.out / f"{STEM}.md", ".md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    plot(_by_cell(rows), _by_cell(refit_rows), args.out / f"{STEM}.png")
    print(f"table: {args.out / f'{STEM}.md'}, plot: {args.out / f'{STEM}.png'}")


if __name__ == "__main__":
    main()
