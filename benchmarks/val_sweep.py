"""One option swept on the bench's validation splits: the table and plot of tune_bench_val rows.

Reads the JSON lines that ``tune_bench_val.py`` appends (``--rows``, one or more files; one
swept option, one set of ``--set`` options), and prints and writes ``OUT/STEM.md``. For every
(suite, regime, pairs) and value of the option:

- the validation headline's mean ± std over seeds (population std, as in every table);
- the gap to the reference value (``--reference``, the recipe's; ``--reference 1 --reference
  mfeat=0.1`` where a suite's recipe has its own value) and the seeds in which the value scores
  higher and lower than the reference in the same seed;
- a verdict by the tables' rule: better / worse when the gap exceeds the larger std, else same.

It plots ``OUT/STEM.png``: the headline against the value, a panel per suite and a line per pair
count. Nothing here reads a test pair: the rows are validation scores.

    python benchmarks/val_sweep.py --rows docs/bench/wsdd-wholebags128-val-cd397af.jsonl \\
        --reference 0.7 --out docs/bench --stem wsdd-wholebags128-val
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from ablations import verdict
from matplotlib.figure import Figure

from gentleclip.evaluation.report import atomic_path, save_figure_atomic
from gentleclip.experiments import bench

Where = tuple[str, str, int]  # (suite, regime, pairs)
# the recipe's value: one for every suite, or suite -> value ("*": every other suite)
Reference = float | Mapping[str, float]
SUITE_ORDER = ("mfeat", "emoji", "molecules", "proteins")  # the tables' order


class Line(NamedTuple):
    """One value of the option in one (suite, regime, pairs), against the reference value."""

    where: Where
    value: float
    summary: bench.Summary
    higher: int  # seeds where this value scores above the reference in the same seed
    lower: int
    verdict: str  # better / worse / same against the reference; "" for the reference itself
    gap: float


def load_rows(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Every row of ``paths``; refuses files that sweep more than one option or fix different
    options (rows from different recipes would be averaged together)."""
    rows = [
        json.loads(line)
        for path in paths
        for line in Path(path).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    if not rows:
        raise SystemExit(f"no rows in {', '.join(map(str, paths))}")
    for key in ("option", "fixed"):
        seen = {json.dumps(r.get(key), sort_keys=True) for r in rows}
        if len(seen) > 1:
            raise SystemExit(f"rows differ in {key}: {sorted(seen)}; give one sweep at a time")
    return rows


def scores(rows: Sequence[dict[str, Any]]) -> dict[Where, dict[float, dict[int, float]]]:
    """(suite, regime, pairs) -> value -> seed -> validation headline; refuses a repeated run."""
    out: dict[Where, dict[float, dict[int, float]]] = {}
    for row in rows:
        where = (row["suite"], row["regime"], int(row["pairs"]))
        by_seed = out.setdefault(where, {}).setdefault(row["value"], {})
        if row["seed"] in by_seed:
            raise SystemExit(f"{where} value {row['value']} seed {row['seed']} appears twice")
        by_seed[int(row["seed"])] = float(row[row["val_headline"]])
    return out


def parse_reference(items: Sequence[str]) -> Reference:
    """``["0.7"]`` -> 0.7; ``["1", "mfeat=0.1"]`` -> ``{"*": 1.0, "mfeat": 0.1}``."""
    out: dict[str, float] = {}
    for item in items:
        suite, sep, text = item.rpartition("=")
        key = suite.strip() if sep else "*"
        if key in out or not key:
            raise SystemExit(f"--reference {item!r}: give one value per suite and one default")
        try:
            out[key] = float(text)
        except ValueError:
            raise SystemExit(f"--reference takes VALUE or SUITE=VALUE, got {item!r}") from None
    if not out:
        raise SystemExit("--reference: give the recipe's value")
    return out["*"] if list(out) == ["*"] else out


def reference_of(reference: Reference, suite: str) -> float:
    """The reference value for ``suite``."""
    if not isinstance(reference, Mapping):
        return reference
    if suite in reference:
        return reference[suite]
    if "*" in reference:
        return reference["*"]
    raise SystemExit(f"--reference gives no value for suite {suite} and no default")


def describe(reference: Reference) -> str:
    """``0.7`` -> "0.7"; ``{"*": 1, "mfeat": 0.1}`` -> "1; mfeat 0.1"."""
    if not isinstance(reference, Mapping):
        return f"{reference:g}"
    default = [f"{reference['*']:g}"] if "*" in reference else []
    return "; ".join(default + [f"{k} {v:g}" for k, v in reference.items() if k != "*"])


def sweep(rows: Sequence[dict[str, Any]], reference: Reference) -> list[Line]:
    """A :class:`Line` per (suite, regime, pairs, value), values in order; each compared seed
    for seed with the suite's reference value, which every (suite, regime, pairs) must hold
    for every seed."""
    lines = []
    for where, by_value in sorted(scores(rows).items(), key=lambda item: _order(item[0])):
        mine = reference_of(reference, where[0])
        if mine not in by_value:
            raise SystemExit(f"{where}: no runs with the reference value {mine}")
        ref = by_value[mine]
        ref_summary = bench.Summary.of(list(ref.values()))
        for value in sorted(by_value):
            runs = by_value[value]
            if set(runs) != set(ref):
                raise SystemExit(f"{where} value {value}: seeds {sorted(runs)} != {sorted(ref)}")
            diffs = np.array([runs[s] - ref[s] for s in sorted(ref)])
            summary = bench.Summary.of([runs[s] for s in sorted(ref)])
            lines.append(
                Line(
                    where=where,
                    value=value,
                    summary=summary,
                    higher=int((diffs > 0).sum()),
                    lower=int((diffs < 0).sum()),
                    verdict="" if value == mine else verdict(summary, ref_summary),
                    gap=summary.mean - ref_summary.mean,
                )
            )
    return lines


def _order(where: Where) -> tuple:
    suite, regime, pairs = where
    known = SUITE_ORDER.index(suite) if suite in SUITE_ORDER else len(SUITE_ORDER)
    return (known, suite, regime, pairs)


def best_values(lines: Sequence[Line]) -> dict[Where, float]:
    """The value with the highest mean in each (suite, regime, pairs)."""
    best: dict[Where, Line] = {}
    for line in lines:
        if line.where not in best or line.summary.mean > best[line.where].summary.mean:
            best[line.where] = line
    return {where: line.value for where, line in best.items()}


def report(lines: Sequence[Line], option: str, reference: Reference, fixed: Any) -> str:
    """The markdown table of the sweep, best value per row in bold."""
    best = best_values(lines)
    head = [
        f"Validation sweep of `{option}` (reference {describe(reference)}"
        + (f"; fixed: `{json.dumps(fixed, sort_keys=True)}`" if fixed else "")
        + f"). Headline mean ± std over seeds ({bench.STD_NOTE}); higher / lower: seeds above"
        " / below the reference in the same seed; verdict: the tables' rule against the"
        " reference.",
        "",
        f"| suite | regime | pairs | {option} | headline | seeds | vs reference | higher / lower"
        " | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    body = []
    for line in lines:
        suite, regime, pairs = line.where
        cell = f"{line.summary.mean:.3f} ± {line.summary.std:.3f}"
        if best[line.where] == line.value:
            cell = f"**{cell}**"
        gap = f"{line.gap:+.3f}" if line.verdict else ""
        counts = f"{line.higher} / {line.lower}" if line.verdict else ""
        body.append(
            f"| {suite} | {regime} | {pairs} | {line.value:g} | {cell} | {line.summary.n} | {gap}"
            f" | {counts} | {line.verdict} |"
        )
    return "\n".join([*head, *body]) + "\n"


def plot(lines: Sequence[Line], option: str, headlines: dict[str, str], path: Path) -> None:
    """Headline against value: a panel per suite (``headlines``: suite -> its headline's name),
    a line per (regime, pairs), bars the std."""
    suites = list(dict.fromkeys(line.where[0] for line in lines))
    fig = Figure(figsize=(4.2 * len(suites), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(suites), squeeze=False)[0])
    for ax, suite in zip(axes, suites, strict=True):
        groups = list(dict.fromkeys(line.where for line in lines if line.where[0] == suite))
        for where in groups:
            mine = [line for line in lines if line.where == where]
            ax.errorbar(
                [line.value for line in mine],
                [line.summary.mean for line in mine],
                yerr=[line.summary.std for line in mine],
                marker="o",
                capsize=3,
                label=f"{where[1]}, {where[2]} pairs",
            )
        ax.set_title(suite)
        ax.set_xlabel(option)
        ax.set_ylabel(f"validation {headlines[suite]}")
        ax.legend(fontsize=7)
    save_figure_atomic(fig, path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", nargs="+", type=Path, required=True)
    p.add_argument(
        "--reference",
        action="append",
        required=True,
        help="the recipe's value; SUITE=VALUE (repeatable) where a suite's recipe differs",
    )
    p.add_argument("--out", type=Path, default=Path("docs/bench"))
    p.add_argument("--stem", required=True)
    args = p.parse_args()
    rows = load_rows(args.rows)
    reference = parse_reference(args.reference)
    lines = sweep(rows, reference)
    text = report(lines, rows[0]["option"], reference, rows[0].get("fixed"))
    with atomic_path(args.out / f"{args.stem}.md", ".md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    headlines = {r["suite"]: r["val_headline"] for r in rows}
    plot(lines, rows[0]["option"], headlines, args.out / f"{args.stem}.png")
    print(text)
    print(f"wrote {args.out / (args.stem + '.md')} and {args.out / (args.stem + '.png')}")


if __name__ == "__main__":
    main()
