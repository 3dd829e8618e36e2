"""Gentle with the bag-level InfoNCE (bench method ``gentle-bagnce``) against everything else.

``gentle-bagnce`` adds ``loss.w_bag``: CLIP between each bag's mean A embedding and mean B
embedding (:class:`gentleclip.losses.BagCLIPLoss`), with 16 bags of 8 a step. This script
reads its rows (``--bagnce-rows``), the bag-mean comparison's rows and the published tables'
rows (as ``bag_means.py`` reads them) and writes ``OUT/bagnce.md`` and ``OUT/bagnce.png``
(``OUT/bagnce-bags32.png`` and so on for the other bag sizes its rows cover, each with its
own table, target lines and cost in the markdown):

- per (suite, pairs), bags of 8: gentle, gentle-bagmeans, gentle-bagnce, the best issue
  baseline and the best bag-mean baseline, and gentle-bagnce's verdicts against the issue's
  baselines, against all baselines and against gentle itself;
- target 1 counted again with gentle-bagnce in gentle's place;
- its cost: seconds per cell against gentle's;
- the plot: per suite, the headline against pairs for those five;
- with ``--wholebag-rows`` (gentle run with steps that hold a whole bag and no bag term,
  ``--recipe-override '{"sampler": {"unpaired_per_step": 128}}'``), a table per bag size:
  that run against gentle as published, gentle-bagnce and the issue's baselines, which says
  how much of gentle-bagnce's gain is the whole bag in SDD and MMD rather than the term.

    python benchmarks/bag_nce.py --bagnce-rows docs/bench/bench-bagnce-75da31b.jsonl \\
        docs/bench/bench-bagnce32-7a5968c.jsonl docs/bench/bench-bagnce128-7a5968c.jsonl \\
        docs/bench/bench-bagnce128-molecules-1a6e346.jsonl \\
        --wholebag-rows docs/bench/bench-gentle-wholebags128-7a5968c.jsonl \\
        docs/bench/bench-gentle-wholebags128-1a6e346.jsonl \\
        --rows <bag_means.py's --rows> --rescored docs/bench/bench-ties-bagmeans-2af79bb.jsonl \\
        --bench docs/bench --sclip-rows docs/bench/bench-sclip-sets-c68564f.jsonl --out docs/bench
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bag_means
import published_tables

from gentleclip.errors import InputError
from gentleclip.experiments import bench

STEM = "bagnce"
METHOD = "gentle-bagnce"
WHOLE = "gentle-wholebags"  # gentle's rows run with whole-bag steps (--wholebag-rows)
REGIME = "bags:8"
Where = tuple[str, str, int]


def _rows(nce_rows: Sequence[dict], bag_rows: Sequence[dict], published: Sequence[dict]) -> list:
    """Every row of the (suite, regime, pairs) rows ``nce_rows`` cover: the published rows
    there, the bag-mean rows, then ``nce_rows``."""
    covered = {(r["suite"], r["regime"], int(r["pairs"])) for r in nce_rows}
    rest = [*published, *bag_rows]
    return [*(r for r in rest if (r["suite"], r["regime"], int(r["pairs"])) in covered), *nce_rows]


def _cell(summary: dict[str, bench.Summary], methods: Sequence[str]) -> str:
    best = bag_means._best(summary, methods)
    return f"{best} {bench._mean_std(summary[best])}" if best else "-"


def _mine(summary: dict[str, bench.Summary], method: str) -> str:
    return bench._mean_std(summary[method]) if method in summary else "-"


def _head_to_head(rows: Sequence[dict], method: str, rival: str) -> dict[Where, bench.Verdict]:
    """``method`` against ``rival`` alone, per (suite, regime, pairs) where both ran."""
    names = {method: "gentle", rival: "rival"}
    pair = [{**r, "method": names[r["method"]]} for r in rows if r["method"] in names]
    return bag_means._verdicts(pair, ["rival"])


def _outcome(verdicts: dict[Where, bench.Verdict], where: Where) -> str:
    v = verdicts.get(where)
    return f"{v.outcome} ({v.margin:+.3f})" if v and v.baseline else "-"


def _against_baselines(rows: Sequence[dict], method: str) -> list[dict[Where, bench.Verdict]]:
    """``method``'s verdicts against the issue's baselines, then against all of them."""
    ours = bag_means._as_gentle(rows, method)
    return [bag_means._verdicts(ours, rivals) for rivals in (bag_means.ISSUE, bench.RIVALS)]


def _baseline_columns(summary: dict[str, bench.Summary], where: Where, verdicts: list) -> list:
    """The best issue baseline, the best bag-mean baseline and the two verdicts' cells."""
    cols = [_cell(summary, bag_means.ISSUE), _cell(summary, bench.BAG_MEANS)]
    return cols + [bag_means._verdict(v[where]) if where in v else "-" for v in verdicts]


def table_lines(rows: Sequence[dict], regime: str = REGIME) -> list[str]:
    """One line per (suite, pairs) of ``regime``."""
    cells = bag_means._summaries(rows)
    verdicts = _against_baselines(rows, METHOD)
    against_gentle = _head_to_head(rows, METHOD, "gentle")
    head = ["suite", "pairs", "gentle", "gentle-bagmeans", METHOD, "best issue baseline"]
    head += ["best bag-mean baseline", f"{METHOD} vs issue baselines", f"{METHOD} vs all"]
    head += [f"{METHOD} vs gentle"]
    lines = ["| " + " | ".join(head) + " |", bag_means._separator(head)]
    for where, summary in cells.items():
        if where[1] != regime or METHOD not in summary:
            continue
        cols = [where[0], str(where[2])]
        cols += [_mine(summary, m) for m in ("gentle", "gentle-bagmeans", METHOD)]
        cols += _baseline_columns(summary, where, verdicts)
        cols.append(_outcome(against_gentle, where))
        lines.append("| " + " | ".join(cols) + " |")
    return lines


def wholebag_lines(rows: Sequence[dict], regime: str) -> list[str]:
    """One line per (suite, pairs) of ``regime`` where gentle ran with whole-bag steps and
    no bag term: that run, gentle as published, gentle-bagnce, the best issue baseline and
    the verdicts between them (how much of gentle-bagnce's gain the whole bag explains)."""
    cells = bag_means._summaries(rows)
    verdicts = _against_baselines(rows, WHOLE)
    against_gentle = _head_to_head(rows, WHOLE, "gentle")
    bagnce_against = _head_to_head(rows, METHOD, WHOLE)
    head = ["suite", "pairs", "gentle", "gentle, whole-bag steps", METHOD, "best issue baseline"]
    head += ["best bag-mean baseline", "whole-bag vs issue baselines", "whole-bag vs all"]
    head += ["whole-bag vs gentle", f"{METHOD} vs whole-bag"]
    lines = ["| " + " | ".join(head) + " |", bag_means._separator(head)]
    for where, summary in cells.items():
        if where[1] != regime or WHOLE not in summary:
            continue
        cols = [where[0], str(where[2])]
        cols += [_mine(summary, m) for m in ("gentle", WHOLE, METHOD)]
        cols += _baseline_columns(summary, where, verdicts)
        cols += [_outcome(against_gentle, where), _outcome(bagnce_against, where)]
        lines.append("| " + " | ".join(cols) + " |")
    return lines


def target_lines(rows: Sequence[dict], regime: str = REGIME) -> list[str]:
    """Target 1's rule (bags of 8, 0/10/20/50 pairs, more than the seeds' std; here in
    ``regime``) with gentle-bagnce in gentle's place, against the issue's baselines and
    against all of them."""
    lines = []
    names = ("the issue's baselines", "all")
    for name, verdicts in zip(names, _against_baselines(rows, METHOD), strict=True):
        suites = dict.fromkeys(w[0] for w in verdicts if w[1] == regime)
        won = []
        for suite in suites:
            here = [v for w, v in verdicts.items() if w[:2] == (suite, regime)]
            wins = [v for v in here if v.outcome == "win"]
            counted = [v for v in here if v.outcome != "only gentle"]
            if counted and len(wins) == len(counted):
                won.append(suite)
            outcomes = ", ".join(f"{v.where[2]}: {v.outcome}" for v in here)
            lines.append(f"- against {name}, {suite}: {outcomes}")
        lines.append(
            f"- **against {name}: wins at every pair count on {len(won)} of {len(suites)} "
            f"suites** ({', '.join(won) or 'none'})"
        )
    return lines


def cost_lines(rows: Sequence[dict], regime: str = REGIME) -> list[str]:
    """Mean seconds per cell of gentle-bagnce against gentle's, per suite (in ``regime``, at
    the pair counts gentle-bagnce ran)."""
    ran = {
        (r["suite"], r["pairs"]) for r in rows if r["method"] == METHOD and r["regime"] == regime
    }
    rows = [r for r in rows if r["regime"] == regime and (r["suite"], r["pairs"]) in ran]
    lines = []
    for suite in dict.fromkeys(r["suite"] for r in rows if r["method"] == METHOD):
        seconds = {}
        for method in ("gentle", METHOD):
            got = [
                float(r["seconds"])
                for r in rows
                if r["suite"] == suite and r["method"] == method and r.get("seconds")
            ]
            seconds[method] = statistics.mean(got) if got else None
        if None in seconds.values():
            continue
        ratio = seconds[METHOD] / seconds["gentle"]
        lines.append(
            f"- {suite}: {seconds[METHOD]:.0f} s per cell against gentle's "
            f"{seconds['gentle']:.0f} s ({ratio:.1f}x; different runs and machines)"
        )
    return lines


def regimes(rows: Sequence[dict]) -> list[str]:
    """The bags regimes gentle-bagnce ran in, by bag size."""
    ran = {bench.parse_regime(r["regime"]) for r in rows if r["method"] == METHOD}
    return [regime.label for regime in sorted(ran, key=lambda r: r.order) if regime.kind == "bags"]


def _bags_of(regime: str) -> str:
    return f"Bags of {bench.parse_regime(regime).bag_size}"


def markdown(rows: Sequence[dict]) -> str:
    """The report: bags of 8 (table, target 1, cost), then each larger bag size."""
    note = (
        f"Outcome: win / lose when the gap exceeds the larger seed standard deviation "
        f"({bench.STD_NOTE}), else tie. Issue baselines: {', '.join(bag_means.ISSUE)}."
    )
    lines = ["# Gentle with the bag-level InfoNCE", ""]
    for regime in regimes(rows):
        name = _bags_of(regime)
        target = "Target 1" if regime == REGIME else f"Target 1's rule at {name.lower()}"
        cost = "Cost:" if regime == REGIME else f"Cost at {name.lower()}:"
        lines += [f"{name} (test headline, mean ± std over seeds):", ""]
        lines += [*table_lines(rows, regime), ""]
        lines += [f"{target} with gentle-bagnce in gentle's place:", ""]
        lines += [*target_lines(rows, regime), "", cost, "", *cost_lines(rows, regime), ""]
        if any(r["method"] == WHOLE and r["regime"] == regime for r in rows):
            lines += [f"{name}: gentle with whole-bag steps and no bag term:", ""]
            lines += [*wholebag_lines(rows, regime), ""]
    return "\n".join([*lines, note, ""])


def plot(rows: Sequence[dict], out: Path, regime: str = REGIME) -> Path:
    """Per suite: the five methods' headline against pairs in ``regime``, and gentle with
    whole-bag steps where it ran (bagnce.png for bags of 8, bagnce-bags<size>.png for the
    others)."""
    series: tuple[bag_means.Series, ...] = (
        ("gentle", ("gentle",), bench._style("gentle")),
        ("gentle-bagmeans", ("gentle-bagmeans",), {"color": "tab:orange", "marker": "D"}),
        (METHOD, (METHOD,), {"color": "tab:red", "marker": "*", "markersize": 9}),
        ("gentle, whole-bag steps", (WHOLE,), {"color": "tab:cyan", "marker": "s", "ls": "--"}),
        *bag_means.BEST_BASELINES,
    )
    size = bench.parse_regime(regime).bag_size
    name = STEM if regime == REGIME else f"{STEM}-bags{size}"
    return bag_means.suite_panels(rows, series, out / f"{name}.png", regime)


def read(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The rows the report is made of."""
    bag_rows, published = bag_means.read_inputs(args)
    wholebag = published_tables.read_rows(args.wholebag_rows) if args.wholebag_rows else []
    ours = [*published_tables.read_rows(args.bagnce_rows), *as_wholebag(wholebag)]
    return _rows(ours, bag_rows, published)


def as_wholebag(rows: Sequence[dict]) -> list[dict]:
    """gentle's whole-bag-step rows under their own name; InputError for any other row (a
    different method, or a run without a larger ``sampler.unpaired_per_step``)."""
    out = []
    for row in rows:
        override = row.get("recipe_override") or {}
        if row["method"] != "gentle" or "unpaired_per_step" not in override.get("sampler", {}):
            raise InputError(
                f"--wholebag-rows holds gentle rows run with a sampler.unpaired_per_step "
                f"override; got method {row['method']!r} with override {override}"
            )
        out.append({**row, "method": WHOLE})
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--bagnce-rows`` and ``bag_means.py``'s options (``molecules_towers.py`` reads them
    too)."""
    parser.add_argument("--bagnce-rows", type=Path, nargs="+", required=True)
    parser.add_argument(
        "--wholebag-rows",
        type=Path,
        nargs="+",
        default=[],
        help="gentle's rows run with whole-bag steps (--recipe-override of "
        "sampler.unpaired_per_step): a table per bag size beside gentle-bagnce",
    )
    bag_means.add_arguments(parser)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    rows = read(args)
    bag_means.write_report(args.out / f"{STEM}.md", markdown(rows))
    for regime in regimes(rows):
        print(plot(rows, args.out, regime))


if __name__ == "__main__":
    main()
