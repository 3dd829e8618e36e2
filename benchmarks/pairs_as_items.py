"""The pairs as bag members: gentle without its CLIP term, 2 pairs a step (gentle-items).

On molecules gentle fell from 0 pairs to 10-50 (bags of 8, test class P@1 0.536 -> 0.38-0.43)
and climbed again at 100-200. Validation probes (``benchmarks/validation_probe.py``, seeds
0-2) traced it to the pairs: to the CLIP term and to the same pairs sitting in every step's
SDD and MMD sets. The bench method ``gentle-items`` drops the CLIP term and gives each step 2
of the pairs, which then only join the step's A and B sets as two more members of the same
objects. This script reads

- ``--probes``: validation probe rows of molecules (gentle and gentle-items with any
  override; a ``model.*`` override equal to the recipe is no change: session 72146e1 probed
  with the towers the recipes have had since session 7686c66 written out as an override);
- ``--suite-probes``: probe rows of gentle and gentle-items on the other suites;
- ``--rows``: the bench rows of ``gentle-items`` on test pairs (any suite), beside the tables'
  rows (``published_tables.table_rows``),

and writes ``OUT/pairs-as-items.md`` (the validation means, then per suite, regime and pair
count gentle, gentle-items and the best of the issue's baselines with both verdicts, and
gentle-items against the best bag-mean baseline where ``--bagmeans-rows`` hold the cell) and
``OUT/pairs-as-items.png`` (the same against pairs, a panel per suite and regime):

    python benchmarks/pairs_as_items.py \\
        --probes docs/bench/molecules-gentle-pairs-val-72146e1.jsonl \\
        docs/bench/molecules-items-val-634d969.jsonl \\
        --suite-probes docs/bench/items-val-suites-634d969.jsonl \\
        --rows docs/bench/bench-items-634d969.jsonl \\
        --bagmeans-rows docs/bench/bench-bagmeans-1560fa8.jsonl \\
        docs/bench/bench-bagmeans-bagsize-1560fa8.jsonl \\
        docs/bench/bench-molecules-centred-72146e1.jsonl \\
        --rescored docs/bench/bench-ties-bagmeans-2af79bb.jsonl --bench docs/bench \\
        --sclip-rows docs/bench/bench-sclip-sets-c68564f.jsonl --out docs/bench
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bag_means
import published_tables
from matplotlib.figure import Figure

from gentleclip.evaluation.report import save_figure_atomic
from gentleclip.experiments import bench

STEM = "pairs-as-items"
SUITE = "molecules"
ITEMS = "gentle-items"
BEST = "best issue baseline"
BEST_BAGMEANS = "best bag-mean baseline"


def settings(row: dict[str, Any]) -> dict[str, Any]:
    """A probe row's effective changes to gentle's recipe: its method's own overrides, then
    its ``--override``, without the ``model.*`` fields that equal the suite's gentle recipe
    (session 72146e1 wrote out the towers the recipes have had since session 7686c66)."""
    spec = bench.METHODS[row["method"]]
    recipe = "molecules-gentle-wide" if row["suite"] == "molecules" else None  # of the probes
    model = bench.base_config(row["suite"], bench.METHODS["gentle"], None, 0, recipe=recipe)
    model = model["model"]
    found: dict[str, Any] = {}
    for section, values in getattr(spec, "overrides", {}).items():
        for key, value in values.items() if isinstance(values, dict) else ():
            found[f"{section}.{key}"] = value  # ("method: gentle" is no change)
    for key, value in row["override"].items():
        if not (key.startswith("model.") and model.get(key.removeprefix("model.")) == value):
            found[key] = value
    return found


def label(changes: dict[str, Any]) -> str:
    """``recipe`` or the changes, CLIP's weight and the pairs a step first."""
    if not changes:
        return "recipe"
    first = ("loss.w_clip", "sampler.pairs_per_step")
    keys = [k for k in first if k in changes] + sorted(k for k in changes if k not in first)
    return ", ".join(f"{k.split('.')[-1]} {changes[k]}" for k in keys)


def probe_lines(probes: Sequence[dict[str, Any]]) -> list[str]:
    """Molecules' validation means, one line per (regime, pairs, setting), in reading order."""
    groups: dict[tuple[str, int, str], list[float]] = {}
    for row in probes:
        if row["suite"] == SUITE and row["method"] in ("gentle", ITEMS):
            key = (row.get("regime", "bags:8"), int(row["pairs"]), label(settings(row)))
            groups.setdefault(key, []).append(row["val"])
    lines = [
        "| regime | pairs | setting | validation class P@1 | seeds |",
        "|---|---:|---|---:|---|",
    ]
    order = sorted(groups, key=lambda k: (bench.parse_regime(k[0]).order, k[1], k[2] != "recipe"))
    for regime, pairs, name in order:
        vals = groups[(regime, pairs, name)]
        seeds = " / ".join(f"{v:.4g}" for v in vals)
        lines.append(f"| {regime} | {pairs} | {name} | {sum(vals) / len(vals):.3f} | {seeds} |")
    return lines


def suite_probe_lines(probes: Sequence[dict[str, Any]]) -> list[str]:
    """gentle and gentle-items on validation splits of each suite and pair count (the seeds
    both have), and the difference."""
    found: dict[tuple[str, int], dict[str, dict[int, float]]] = {}
    for row in probes:
        if row["method"] in ("gentle", ITEMS) and not row["override"]:
            cell = found.setdefault((row["suite"], int(row["pairs"])), {})
            cell.setdefault(row["method"], {})[int(row["seed"])] = row["val"]
    lines = [
        "| suite | pairs | gentle | gentle-items | difference | seeds |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for (suite, pairs), cell in found.items():
        seeds = sorted(set(cell.get("gentle", {})) & set(cell.get(ITEMS, {})))
        if not seeds:
            continue
        g = sum(cell["gentle"][s] for s in seeds) / len(seeds)
        i = sum(cell[ITEMS][s] for s in seeds) / len(seeds)
        lines.append(f"| {suite} | {pairs} | {g:.3f} | {i:.3f} | {i - g:+.3f} | {len(seeds)} |")
    return lines


def test_table(
    tables: Sequence[dict[str, Any]],
    items: Sequence[dict[str, Any]],
    bag_rows: Sequence[dict[str, Any]] = (),
) -> tuple[dict[tuple, dict[str, bench.Summary]], dict[tuple, dict[str, str]]]:
    """(suite, regime, pairs) -> gentle, gentle-items, the best issue baseline (:data:`BEST`)
    and the best bag-mean baseline of ``bag_rows`` (:data:`BEST_BAGMEANS`) of every cell the
    ``items`` rows cover; and the name of each best."""
    mine = [r for r in items if r["method"] == ITEMS]
    covered = {_where(r) for r in mine}
    here = [r for r in [*tables, *current_bag_means(bag_rows, tables)] if _where(r) in covered]
    table: dict[tuple, dict[str, bench.Summary]] = {}
    names: dict[tuple, dict[str, str]] = {}
    for where, cells in bag_means._summaries([*here, *mine]).items():
        table[where] = {m: cells[m] for m in ("gentle", ITEMS) if m in cells}
        names[where] = {}
        for label_, rivals in ((BEST, bag_means.ISSUE), (BEST_BAGMEANS, bench.BAG_MEANS)):
            best = bag_means._best(cells, rivals)
            if best is not None:
                table[where][label_], names[where][label_] = cells[best], best
    return table, names


def current_bag_means(
    rows: Sequence[dict[str, Any]], tables: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The bag-mean baselines' rows made with the overrides the tables' rows of their suite and
    kind carry (``published_tables.table_overrides``): since session 7686c66 molecules' maps
    read centred features and its trained methods the head-only towers. Rows made since then
    without an override get those overrides from ``--bagmeans-rows-made-now``
    (``published_tables.as_made_now``)."""
    current = published_tables.table_overrides(list(tables))
    return [
        r
        for r in rows
        if r["method"] in bench.BAG_MEANS
        and published_tables.made_with(r) == published_tables.overrides_for(current, r)
    ]


def _where(row: dict[str, Any]) -> tuple[str, str, int]:
    return (row["suite"], row["regime"], int(row["pairs"]))


def _verdict(method: bench.Summary, best: bench.Summary | None, where: tuple) -> bench.Verdict:
    return bench.Verdict(where, method, BEST if best else None, best, None)


def _verdict_text(v: bench.Verdict) -> str:
    return v.outcome if v.baseline is None else f"{v.outcome} ({v.margin:+.3f})"


def test_lines(
    tables: Sequence[dict[str, Any]],
    items: Sequence[dict[str, Any]],
    bag_rows: Sequence[dict[str, Any]] = (),
) -> tuple[list[str], dict[str, dict[str, dict[str, int]]]]:
    """The test table's lines, and per suite and regime each method's count of each outcome
    against the best issue baseline."""
    table, names = test_table(tables, items, bag_rows)
    lines = [
        "| suite | regime | pairs | gentle (recipe) | gentle-items | best issue baseline "
        "| gentle vs it | gentle-items vs it | best bag-mean baseline | gentle-items vs it |",
        "|---|---|---:|---:|---:|---|---|---|---|---|",
    ]
    tally: dict[str, dict[str, dict[str, int]]] = {}
    for where, cells in table.items():
        cols = [where[0], where[1], str(where[2])]
        cols += [bench._mean_std(cells[m]) if m in cells else "-" for m in ("gentle", ITEMS)]
        cols.append(_best_text(cells, names[where], BEST))
        for method in ("gentle", ITEMS):
            if method not in cells:
                cols.append("-")
                continue
            v = _verdict(cells[method], cells.get(BEST), where)
            cols.append(_verdict_text(v))
            counts = tally.setdefault(f"{where[0]}, {where[1]}", {}).setdefault(method, {})
            counts[v.outcome] = counts.get(v.outcome, 0) + 1
        cols.append(_best_text(cells, names[where], BEST_BAGMEANS))
        bags = cells.get(BEST_BAGMEANS)
        items_vs_bags = _verdict(cells[ITEMS], bags, where) if bags and ITEMS in cells else None
        cols.append(_verdict_text(items_vs_bags) if items_vs_bags else "-")
        lines.append("| " + " | ".join(cols) + " |")
    return lines, tally


def _best_text(cells: dict[str, bench.Summary], names: dict[str, str], which: str) -> str:
    return f"{names[which]} {bench._mean_std(cells[which])}" if which in cells else "-"


def tally_lines(tally: dict[str, dict[str, dict[str, int]]]) -> list[str]:
    """Per suite and regime: wins / ties / losses of gentle and of gentle-items."""
    out = []
    for regime, methods in tally.items():
        parts = []
        for method in ("gentle", ITEMS):
            counts = methods.get(method, {})
            text = ", ".join(f"{counts[o]} {o}" for o in ("win", "tie", "lose") if o in counts)
            parts.append(f"{method} {text or 'none'}")
        out.append(f"- {regime}: " + "; ".join(parts))
    return out


def markdown(
    probes: Sequence[dict],
    suite_probes: Sequence[dict],
    tables: Sequence[dict],
    items: Sequence[dict],
    bag_rows: Sequence[dict] = (),
) -> str:
    test, tally = test_lines(tables, items, bag_rows)
    note = (
        f"Outcome against the best of the issue's baselines ({', '.join(bag_means.ISSUE)}) at "
        f"the tables' cells: win / lose when the gap exceeds the larger seed standard deviation "
        f"({bench.STD_NOTE}), else tie. The bag-mean baselines (not in the issue's list: "
        "pair-only methods given each bag's mean rows as extra pairs) where ``--bagmeans-rows`` "
        "hold the cell, fitted with the suite's current parameters, ties rescored by "
        "expectation where ``--rescored`` holds the cell."
    )
    return "\n".join(
        [
            "# The pairs as bag members (gentle-items)",
            "",
            "Validation splits of molecules (class P@1, each seed's validation pairs):",
            "",
            *probe_lines(probes),
            "",
            "gentle-items against gentle on the other suites' validation splits (bags of 8):",
            "",
            *suite_probe_lines(suite_probes),
            "",
            "Test pairs (5 seeds, budget 4, full search):",
            "",
            *test,
            "",
            note,
            "",
            *tally_lines(tally),
            "",
        ]
    )


def read_probes(paths: Sequence[Path]) -> list[dict[str, Any]]:
    rows = []
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            rows += [json.loads(line) for line in handle if line.strip()]
    return rows


def add_row_arguments(parser: argparse.ArgumentParser) -> None:
    """``--rows`` (the method's test rows), the bag-mean rows and their rescored ties, the
    tables' folder and sclip rows, and ``--out``: what this report and bagnce_items.py read."""
    parser.add_argument("--rows", type=Path, nargs="+", required=True)
    parser.add_argument("--bagmeans-rows", type=Path, nargs="*", default=[])
    parser.add_argument(
        "--bagmeans-rows-made-now",
        type=Path,
        nargs="*",
        default=[],
        help="bag-mean rows made since session 7686c66 without overrides: they take the "
        "overrides of the tables' rows of their suite and kind (published_tables.as_made_now: "
        "molecules' maps on centred features, its clip-bagmeans on the head-only towers)",
    )
    parser.add_argument("--rescored", type=Path, nargs="*", default=[])
    parser.add_argument("--bench", type=Path, default=Path("docs/bench"))
    parser.add_argument(
        "--sclip-rows", type=Path, default=Path("docs/bench") / published_tables.SCLIP_ROWS
    )
    parser.add_argument("--out", type=Path, default=Path("docs/bench"))


def read_row_arguments(args: argparse.Namespace) -> tuple[list[dict], list[dict], list[dict]]:
    """The rows of :func:`add_row_arguments`: (``--rows``, the tables' rows, the bag-mean rows
    with their ties rescored)."""
    tables = published_tables.table_rows(
        args.bench, args.sclip_rows, published_tables.SOURCES_WIDE_MOLECULES
    )
    bag_rows = published_tables.rescored(
        published_tables.read_rows(args.bagmeans_rows), published_tables.read_rows(args.rescored)
    )
    made_now = published_tables.read_rows(args.bagmeans_rows_made_now)
    bag_rows += published_tables.as_made_now(made_now, tables)
    return published_tables.read_rows(args.rows), tables, bag_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probes", type=Path, nargs="+", required=True)
    parser.add_argument("--suite-probes", type=Path, nargs="*", default=[])
    add_row_arguments(parser)
    args = parser.parse_args()
    items, tables, bag_rows = read_row_arguments(args)
    probes = read_probes(args.probes), read_probes(args.suite_probes)
    text = markdown(*probes, tables, items, bag_rows)
    table = test_table(tables, items, bag_rows)[0]
    bag_means.write_report(args.out / f"{STEM}.md", text)
    print(plot(table, {r["suite"]: r["headline"] for r in items if r.get("headline")}, args.out))


# each series' look: gentle and gentle-items in their bench colours, the baselines grey
STYLES = {
    "gentle": {"color": bench._style("gentle")["color"], "marker": "o"},
    ITEMS: {"color": "black", "marker": "*"},
    BEST: {"color": "0.55", "marker": "s", "linestyle": "--"},
    BEST_BAGMEANS: {"color": "tab:orange", "marker": "^", "linestyle": "-."},
}


def plot(
    table: dict[tuple, dict[str, bench.Summary]],
    headlines: dict[str, str],
    out: Path,
    stem: str = STEM,
    styles: dict[str, dict[str, Any]] = STYLES,
) -> Path:
    """``OUT/STEM.png``: one panel per (suite, regime) the rows cover, each series of
    ``styles`` (those a cell holds) as mean ± std against pairs."""
    panels_ = sorted({w[:2] for w in table}, key=lambda k: (bench.parse_regime(k[1]).order, k[0]))
    cols = min(4, len(panels_))
    rows = -(-len(panels_) // cols)
    fig = Figure(figsize=(4 * cols, 3.2 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (suite, regime) in zip(axes.flat, panels_, strict=False):
        for name, style in styles.items():
            points = sorted(
                (w[2], c[name]) for w, c in table.items() if w[:2] == (suite, regime) and name in c
            )
            if points:
                xs, ys = [x for x, _ in points], [v.mean for _, v in points]
                ax.errorbar(xs, ys, yerr=[v.std for _, v in points], label=name, ms=4, **style)
        ax.set_xscale("log")
        counts = sorted({w[2] for w in table if w[:2] == (suite, regime)})
        ax.set_xticks(counts, [str(c) for c in counts])  # the pair counts, not 2x10^1
        ax.minorticks_off()
        ax.set_title(f"{suite}, {regime}: test {headlines.get(suite, '')}", fontsize=9)
        ax.set_xlabel("training pairs")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels_) :]:
        ax.set_visible(False)
    axes[0][0].set_ylabel("mean ± std over seeds")
    axes[0][0].legend(fontsize=7)
    path = out / f"{stem}.png"
    save_figure_atomic(fig, path)
    return path


if __name__ == "__main__":
    main()
