"""One suite's default grid before and after a change of its recipes: verdicts, scores, time.

Takes two grids of the same suite (``--before`` and ``--after``: bench rows files, every
``compare`` method, the same search) and, for every (regime, pairs) with pairs, reports gentle's
mean test headline in each, the best of the issue's baselines in each, and the verdict in each
(win / tie / lose: the gap against the larger seed std, :class:`bench.Verdict`), marking the
verdicts that moved; then the counts of wins, ties and losses, the settings where gentle's mean
rose, and each method's worker-seconds in both grids (the rows' ``seconds``). The settings
without pairs have no baseline and are listed with gentle's means only. It writes
``OUT/STEM.md``, ``OUT/STEM.json`` and ``OUT/STEM.png`` (per regime, gentle before and after
and the best baseline after, against the pairs, seed std as bars):

    python benchmarks/grid_change.py --before docs/bench/bench-molecules-sparse-e3f3a5a.jsonl \\
        --after docs/bench/bench-molecules-e2fc655.jsonl --out docs/bench \\
        --stem grid-change-molecules-e2fc655
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

from records import regime_panels, write_record

from gentleclip.errors import InputError
from gentleclip.experiments import bench

ORDER = {"lose": 0, "tie": 1, "win": 2}


def read(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise InputError(f"rows file not found: {path}")
    rows = bench.read_results(path)
    suites = {r["suite"] for r in rows}
    if len(suites) != 1:
        raise InputError(f"{path} holds {len(suites)} suites ({', '.join(sorted(suites))}): one")
    return rows


def seconds_by_method(rows: list[dict[str, Any]]) -> dict[str, float]:
    out: Counter[str] = Counter()
    for row in rows:
        out[row["method"]] += float(row.get("seconds", 0.0))
    return {method: round(value, 1) for method, value in sorted(out.items())}


def compare(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, Any]:
    """The record: one entry per (regime, pairs) of ``after``, the counts and the seconds."""
    if {r["suite"] for r in before} != {r["suite"] for r in after}:
        raise InputError("the two grids are of different suites")
    baselines = bench.COMPARE_BASELINES  # the baselines, as the tables count them
    old = {v.where: v for v in bench.verdicts(before, baselines)}
    new = {v.where: v for v in bench.verdicts(after, baselines)}
    for option, only in (("--after", set(new) - set(old)), ("--before", set(old) - set(new))):
        if only:
            raise InputError(f"{sorted(only)[0]} is in {option} only")
    settings = [_setting(old[where], v) for where, v in new.items()]
    # a verdict needs 2 seeds a side; a setting without one on either side is listed, not counted
    with_pairs = [s for s in settings if s["after"] in ORDER and s["before"] in ORDER]
    moved = [s for s in with_pairs if s["before"] != s["after"]]
    return {
        "suite": after[0]["suite"],
        "settings": settings,
        "counts": {
            side: dict(Counter(s[side] for s in with_pairs)) for side in ("before", "after")
        },
        "better": sum(ORDER[s["after"]] > ORDER[s["before"]] for s in moved),
        "worse": sum(ORDER[s["after"]] < ORDER[s["before"]] for s in moved),
        "gentle_rose": sum(s["gentle_after"] > s["gentle_before"] for s in with_pairs),
        "with_pairs": len(with_pairs),
        "seconds": {"before": seconds_by_method(before), "after": seconds_by_method(after)},
    }


def _setting(old: bench.Verdict, new: bench.Verdict) -> dict[str, Any]:
    _, regime, pairs = new.where
    out = {
        "regime": regime,
        "pairs": pairs,
        "gentle_before": old.gentle.mean,
        "gentle_before_std": old.gentle.std,
        "gentle_after": new.gentle.mean,
        "gentle_after_std": new.gentle.std,
        "before": old.outcome,
        "after": new.outcome,
    }
    if new.baseline is not None and old.baseline is not None:
        out.update(
            best_before=old.best,
            baseline_before=old.baseline.mean,
            best_after=new.best,
            baseline_after=new.baseline.mean,
            baseline_after_std=new.baseline.std,
            margin_after=new.margin,
            noise_after=new.noise,
        )
    return out


def report(record: dict[str, Any]) -> str:
    lines = [
        "| regime | pairs | gentle before | gentle after | best baseline after | margin / noise "
        "| verdict before -> after |",
        "|---|---:|---:|---:|---|---:|---|",
    ]
    for s in record["settings"]:
        before = f"{s['gentle_before']:.3f} ± {s['gentle_before_std']:.3f}"
        after = f"{s['gentle_after']:.3f} ± {s['gentle_after_std']:.3f}"
        if "best_after" in s:
            best = f"{s['best_after']} {s['baseline_after']:.3f} ± {s['baseline_after_std']:.3f}"
            gap = f"{s['margin_after']:+.3f} / {s['noise_after']:.3f}"
        else:
            best, gap = "-", "-"
        verdict = s["after"] if s["after"] == s["before"] else f"**{s['before']} -> {s['after']}**"
        lines.append(
            f"| {s['regime']} | {s['pairs']} | {before} | {after} | {best} | {gap} | {verdict} |"
        )
    counts = record["counts"]
    lines += ["", _counts_line(counts["before"], "before"), _counts_line(counts["after"], "after")]
    lines.append(
        f"Verdicts better: {record['better']}, worse: {record['worse']}; gentle's mean rose in "
        f"{record['gentle_rose']} of {record['with_pairs']} settings with pairs."
    )
    lines += ["", "| method | worker-seconds before | after |", "|---|---:|---:|"]
    before, after = record["seconds"]["before"], record["seconds"]["after"]
    for method in sorted(set(before) | set(after)):
        lines.append(f"| {method} | {before.get(method, 0):,.1f} | {after.get(method, 0):,.1f} |")
    total_b, total_a = sum(before.values()), sum(after.values())
    lines.append(f"| all | {total_b:,.1f} | {total_a:,.1f} |")
    return "\n".join(lines) + "\n"


def _counts_line(counts: dict[str, int], side: str) -> str:
    parts = ", ".join(f"{counts.get(k, 0)} {k}" for k in ("win", "tie", "lose"))
    return f"Settings with pairs, {side}: {parts}."


def plot(record: dict[str, Any], path: Path) -> None:
    def draw(ax: Any, regime: str) -> None:
        mine = [s for s in record["settings"] if s["regime"] == regime]
        pairs = [s["pairs"] for s in mine]
        for key, label in (("gentle_before", "gentle before"), ("gentle_after", "gentle after")):
            ax.errorbar(
                pairs,
                [s[key] for s in mine],
                [s[f"{key}_std"] for s in mine],
                marker="o",
                capsize=3,
                label=label,
            )
        based = [s for s in mine if "baseline_after" in s]
        ax.errorbar(
            [s["pairs"] for s in based],
            [s["baseline_after"] for s in based],
            [s["baseline_after_std"] for s in based],
            marker="s",
            capsize=3,
            label="best baseline",
        )
        ax.set_xscale("symlog", linthresh=10)

    regimes = list(dict.fromkeys(s["regime"] for s in record["settings"]))
    regime_panels(regimes, draw, "test headline (mean ± std over seeds)", path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the grid before the change")
    parser.add_argument("--after", type=Path, required=True, help="the grid after it")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--stem", default="grid-change")
    args = parser.parse_args(argv)
    try:
        record = compare(read(args.before), read(args.after))
    except InputError as err:
        raise SystemExit(str(err)) from None
    write_record(args.out, args.stem, report(record), record, plot)


if __name__ == "__main__":
    main()
