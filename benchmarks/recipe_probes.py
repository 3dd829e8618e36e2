"""Candidate recipes against the recipe, on validation probes over a suite's default grid.

Reads the rows of ``validation_probe.py`` (``--rows``, any number of files): each row one seed of
one (method, override) in one (regime, pairs) setting, scored on the validation split. The rows
of method ``--method`` whose override equals ``--reference`` are the recipe; every other
(method, override) in the files is a candidate. For each setting with the same seeds on both
sides it takes the mean over seeds, and for each candidate it reports:

- the settings it covers, and its mean validation headline over them beside the recipe's;
- the settings where its mean is above the recipe's;
- its probes' time over the recipe's on the same settings and seeds (the cost of a cell,
  whose training dominates: in session 25594be the probes' ratio, 0.31x, foretold the grid's,
  0.32x).

The choice: among candidates that cover every setting the recipe was probed at and whose time
ratio is at most ``--max-cost``, the highest mean; any within ``--tolerance`` of it counts as
equal, and the cheapest of those is chosen. It writes ``OUT/STEM.md`` (the summary, then a
table of every setting), ``OUT/STEM.json`` and ``OUT/STEM.png`` (per regime, the headline
against the pairs for the recipe and every candidate that covers the grid):

    python benchmarks/recipe_probes.py --rows docs/bench/molecules-recipe-val-e2fc655.jsonl \\
        docs/bench/molecules-cheaper-val-25594be.jsonl \\
        docs/bench/molecules-bagterm-val-e2fc655.jsonl \\
        --reference '{"model.sparse_inputs": "a"}' --out docs/bench --stem molecules-recipe-probes
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any, NamedTuple

from records import regime_panels, write_record

from gentleclip.errors import InputError

Setting = tuple[str, int]  # (regime, pairs)
Group = tuple[str, str]  # (method, override as sorted JSON)


class Candidate(NamedTuple):
    method: str
    override: dict[str, Any]
    settings: int
    mean: float
    reference_mean: float
    above: int
    cost: float
    by_setting: dict[str, float]

    @property
    def label(self) -> str:
        return f"{self.method} {json.dumps(self.override, sort_keys=True)}"


def read_rows(paths: list[Path]) -> list[dict[str, Any]]:
    """Every row of ``paths``; rows written before the regime option are bags of 8. Refuses a
    (method, override, regime, pairs, seed) given twice."""
    rows, seen = [], set()
    for path in paths:
        if not path.is_file():
            raise InputError(f"rows file not found: {path}")
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            row.setdefault("regime", "bags:8")
            key = (*_group(row), row["regime"], row["pairs"], row["seed"])
            if key in seen:
                raise InputError(f"probe given twice: {key} (in {path})")
            seen.add(key)
            rows.append(row)
    return rows


def _group(row: dict[str, Any]) -> Group:
    return row["method"], json.dumps(row["override"], sort_keys=True)


def _by_seed(rows: list[dict[str, Any]]) -> dict[Group, dict[Setting, dict[int, dict]]]:
    out: dict[Group, dict[Setting, dict[int, dict]]] = defaultdict(lambda: defaultdict(dict))
    for row in rows:
        out[_group(row)][(row["regime"], int(row["pairs"]))][int(row["seed"])] = row
    return out


def compare(
    rows: list[dict[str, Any]], method: str, reference: dict[str, Any]
) -> tuple[dict[str, float], list[Candidate]]:
    """The recipe's mean by setting, and every candidate measured on the recipe's seeds."""
    groups = _by_seed(rows)
    ref_key = (method, json.dumps(reference, sort_keys=True))
    if ref_key not in groups:
        raise InputError(f"no probe rows of the reference: method {method}, override {reference}")
    ref = groups.pop(ref_key)
    ref_means = {_name(s): _mean(ref[s]) for s in sorted(ref, key=_order)}
    candidates = []
    for (name, override), by_setting in groups.items():
        shared = {
            s: seeds
            for s, seeds in by_setting.items()
            if s in ref and seeds.keys() == ref[s].keys()
        }
        if not shared:
            continue
        means = {_name(s): _mean(seeds) for s, seeds in shared.items()}
        ref_same = [ref_means[_name(s)] for s in shared]
        seconds = sum(r["seconds"] for seeds in shared.values() for r in seeds.values())
        ref_seconds = sum(r["seconds"] for s in shared for r in ref[s].values())
        candidates.append(
            Candidate(
                method=name,
                override=json.loads(override),
                settings=len(shared),
                mean=statistics.mean(means.values()),
                reference_mean=statistics.mean(ref_same),
                above=sum(means[_name(s)] > ref_means[_name(s)] for s in shared),
                cost=seconds / ref_seconds,
                by_setting=means,
            )
        )
    return ref_means, sorted(candidates, key=lambda c: (-c.settings, -c.mean))


def _order(setting: Setting) -> tuple[int, int, int]:
    """Bags by size, then disjoint sides and any other regime; pairs ascending."""
    regime, pairs = setting
    if regime.startswith("bags:"):
        return 0, int(regime.split(":")[1]), pairs
    return 1, 0, pairs


def _name(setting: Setting) -> str:
    return f"{setting[0]} / {setting[1]}"


def _mean(seeds: dict[int, dict]) -> float:
    return statistics.mean(r["val"] for r in seeds.values())


def choose(
    candidates: list[Candidate], settings: int, max_cost: float, tolerance: float
) -> Candidate | None:
    """The cheapest of the candidates within ``tolerance`` of the best mean, among those that
    cover all ``settings`` at a cost ratio of at most ``max_cost``; None when none does."""
    eligible = [c for c in candidates if c.settings == settings and c.cost <= max_cost]
    if not eligible:
        return None
    best = max(c.mean for c in eligible)
    return min((c for c in eligible if c.mean >= best - tolerance), key=lambda c: c.cost)


def report(
    ref_means: dict[str, float], candidates: list[Candidate], chosen: Candidate | None
) -> str:
    lines = [
        "| candidate | settings | mean | recipe, same settings | above the recipe | time |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for c in candidates:
        mark = " **(chosen)**" if c == chosen else ""
        lines.append(
            f"| {c.label}{mark} | {c.settings} | {c.mean:.4f} | {c.reference_mean:.4f} | "
            f"{c.above} of {c.settings} | {c.cost:.3f}x |"
        )
    full = [c for c in candidates if c.settings == len(ref_means)]
    numbers = " | ".join(f"#{i + 1}" for i in range(len(full)))
    lines += ["", f"| regime / pairs | recipe | {numbers} |"]
    lines.append("|---|---:|" + "---:|" * len(full))
    for setting, value in ref_means.items():
        cells = " | ".join(f"{c.by_setting[setting]:.3f}" for c in full)
        lines.append(f"| {setting} | {value:.3f} | {cells} |")
    lines += ["", *(f"#{i + 1}: {c.label}" for i, c in enumerate(full))]
    return "\n".join(lines) + "\n"


def plot(record: dict[str, Any], path: Path) -> None:
    regimes = list(dict.fromkeys(s.split(" / ")[0] for s in record["recipe"]))  # grid order
    series = [("recipe", record["recipe"])] + [
        (f"#{i + 1}", c["by_setting"]) for i, c in enumerate(record["full"])
    ]

    def draw(ax: Any, regime: str) -> None:
        for label, values in series:
            points = sorted(
                (int(s.split(" / ")[1]), v) for s, v in values.items() if s.startswith(regime + " ")
            )
            ax.plot(*zip(*points, strict=True), marker="o", label=label)

    regime_panels(regimes, draw, "validation headline (mean of seeds)", path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, nargs="+", required=True)
    parser.add_argument("--method", default="gentle", help="the recipe's bench method")
    parser.add_argument("--reference", default="{}", help="the recipe's probe override, JSON")
    parser.add_argument("--max-cost", type=float, default=0.25, help="largest time ratio")
    parser.add_argument("--tolerance", type=float, default=0.005, help="means within are equal")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--stem", default="recipe-probes")
    args = parser.parse_args(argv)
    try:
        rows = read_rows(args.rows)
        ref_means, candidates = compare(rows, args.method, json.loads(args.reference))
    except InputError as err:
        raise SystemExit(str(err)) from None
    chosen = choose(candidates, len(ref_means), args.max_cost, args.tolerance)
    full = [c for c in candidates if c.settings == len(ref_means)]
    record = {
        "recipe": ref_means,
        "candidates": [{**c._asdict(), "label": c.label} for c in candidates],
        "full": [{**c._asdict(), "label": c.label} for c in full],
        "chosen": chosen.label if chosen else None,
        "max_cost": args.max_cost,
        "tolerance": args.tolerance,
    }
    write_record(args.out, args.stem, report(ref_means, candidates, chosen), record, plot)


if __name__ == "__main__":
    main()
