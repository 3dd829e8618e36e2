"""More seeds for a check: recipe changes against the recipe, seed set by seed set.

A change that scored higher on the validation splits and lower on the test pairs, past the noise
line, may be worse, or the recipe's five test seeds may be a high draw. More seeds tell them
apart. Reads, per label (``--rows LABEL=FILE[,FILE...]``, repeatable; the first label is the
reference, the recipe), either bench rows of one method (``--method``; test headlines) or, with
``LABEL=FILE[,FILE...]@OPTION=VALUE``, the runs at that value of ``tune_bench_val.py`` rows
(validation headlines; every label the same kind). For every (suite, regime, pairs) the
reference has and every label, it prints and writes ``OUT/STEM.md``:

- the headline's mean ± std over each seed set (``--sets 0-4 5-9 0-9``; a label without every
  seed of a set shows nothing there);
- over the last set: the gap to the reference, the seeds in which the label scores higher and
  lower than the reference in the same seed, and a verdict by the tables' rule (better / worse
  when the gap exceeds the larger std, else same).

It plots ``OUT/STEM.png``: every seed's headline per label, a panel per (suite, regime, pairs),
the seed sets' means as bars.

    python benchmarks/seed_check.py \\
        --rows "w_sdd 0.7 (recipe)=docs/bench/bench-molecules-wholebags128-wsdd07-cd397af.jsonl,\\
docs/bench/bench-seeds59-recipe-wholebags128-56e5dd6.jsonl" --rows "w_sdd 0.35=..." \\
        --sets 0-4 5-9 0-9 --out docs/bench --stem seeds-molecules-wholebags128
    python benchmarks/seed_check.py --rows "w_sdd 0.7 (recipe)=A.jsonl,B.jsonl@loss.w_sdd=0.7" \\
        --rows "w_mmd 0.8=C.jsonl@loss.w_mmd=0.8" --out docs/bench --stem seeds-val
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import val_sweep
from ablations import verdict
from matplotlib.figure import Figure

from gentleclip.evaluation.report import atomic_path, save_figure_atomic
from gentleclip.experiments import bench

Where = tuple[str, str, int]  # (suite, regime, pairs)
Scores = dict[str, dict[Where, dict[int, float]]]  # label -> where -> seed -> headline


class SeedSet(NamedTuple):
    """A named set of seeds, ``0-4`` or ``5,7``."""

    name: str
    seeds: tuple[int, ...]


class Line(NamedTuple):
    """One label in one (suite, regime, pairs): a summary per seed set, the last set's verdict."""

    where: Where
    label: str
    summaries: tuple[bench.Summary | None, ...]
    gap: float | None  # None for the reference and where the last set is incomplete
    higher: int
    lower: int
    verdict: str


def parse_set(text: str) -> SeedSet:
    """``"0-4"`` -> seeds 0..4, ``"5,7"`` -> seeds 5 and 7."""
    try:
        if "-" in text:
            first, last = (int(part) for part in text.split("-"))
            seeds = tuple(range(first, last + 1))
        else:
            seeds = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise SystemExit(f"--sets takes FIRST-LAST or a list of seeds, got {text!r}") from None
    if not seeds:
        raise SystemExit(f"--sets: {text!r} names no seed")
    return SeedSet(text, seeds)


class Source(NamedTuple):
    """A label's files and, for validation-sweep rows, the option and value of its runs."""

    paths: tuple[Path, ...]
    option: str | None = None  # None: bench rows
    value: float | None = None


def parse_rows(items: Sequence[str]) -> dict[str, Source]:
    """``["recipe=a.jsonl,b.jsonl"]`` -> ``{"recipe": Source((a.jsonl, b.jsonl))}``, in order;
    a trailing ``@OPTION=VALUE`` selects those runs of validation-sweep rows."""
    labelled: dict[str, Source] = {}
    for item in items:
        label, sep, rest = item.partition("=")
        paths, at, selector = rest.rpartition("@") if "@" in rest else (rest, "", "")
        option, equals, value = selector.partition("=")
        if not sep or not label.strip() or not paths.strip() or (at and not equals):
            raise SystemExit(f"--rows takes LABEL=FILE[,FILE...][@OPTION=VALUE], got {item!r}")
        if label.strip() in labelled:
            raise SystemExit(f"--rows: label {label.strip()!r} given twice")
        files = tuple(Path(p.strip()) for p in paths.split(","))
        labelled[label.strip()] = (
            Source(files, option.strip(), float(value)) if at else Source(files)
        )
    if len({source.option is None for source in labelled.values()}) > 1:
        raise SystemExit(
            "--rows: give bench rows or validation-sweep rows (@OPTION=VALUE), not both"
        )
    return labelled


def load_scores(labelled: dict[str, Source], method: str) -> Scores:
    """Each label's headlines by (suite, regime, pairs) and seed: ok bench rows of ``method``, or
    a sweep's runs at the label's value; a later file's row replaces an earlier one's."""
    scores: Scores = {}
    for label, source in labelled.items():
        found = scores[label] = {}
        for path in source.paths:
            if not path.is_file():
                raise SystemExit(f"--rows: no such file {path}")
            read = _bench_scores if source.option is None else _sweep_scores
            for where, by_seed in read(path, source, method).items():
                found.setdefault(where, {}).update(by_seed)
    return scores


def _bench_scores(path: Path, _: Source, method: str) -> dict[Where, dict[int, float]]:
    found: dict[Where, dict[int, float]] = {}
    for row in bench.read_results(path):
        if row["method"] == method and row["status"] == "ok":
            where = (row["suite"], row["regime"], int(row["pairs"]))
            found.setdefault(where, {})[int(row["seed"])] = float(row["value"])
    return found


def _sweep_scores(path: Path, source: Source, _: str) -> dict[Where, dict[int, float]]:
    rows = val_sweep.load_rows([path])
    if rows[0]["option"] != source.option:
        raise SystemExit(f"{path} sweeps {rows[0]['option']}, not {source.option}")
    by_value = val_sweep.scores(rows)
    return {
        where: values[source.value] for where, values in by_value.items() if source.value in values
    }


def only_suites(scores: Scores, suites: Sequence[str]) -> Scores:
    """``scores`` without the (suite, regime, pairs) of other suites; none left is an error."""
    kept = {
        label: {where: by_seed for where, by_seed in found.items() if where[0] in suites}
        for label, found in scores.items()
    }
    if not next(iter(kept.values())):
        raise SystemExit(f"--suites {','.join(suites)}: the reference has no rows there")
    return kept


def _summary(by_seed: dict[int, float], seeds: Sequence[int]) -> bench.Summary | None:
    if not all(seed in by_seed for seed in seeds):
        return None
    return bench.Summary.of([by_seed[seed] for seed in seeds])


def check(scores: Scores, sets: Sequence[SeedSet]) -> list[Line]:
    """A line per (where, label), the reference (first label) first in each where."""
    labels = list(scores)
    reference = scores[labels[0]]
    lines = []
    for where in wheres(scores):
        base = reference[where]
        for label in labels:
            mine = scores[label].get(where, {})
            summaries = tuple(_summary(mine, s.seeds) for s in sets)
            ref = _summary(base, sets[-1].seeds)
            if label == labels[0] or ref is None or summaries[-1] is None:
                lines.append(Line(where, label, summaries, None, 0, 0, ""))
                continue
            seeds = sets[-1].seeds
            higher = sum(mine[s] > base[s] for s in seeds)
            lower = sum(mine[s] < base[s] for s in seeds)
            gap = summaries[-1].mean - ref.mean
            lines.append(
                Line(where, label, summaries, gap, higher, lower, verdict(summaries[-1], ref))
            )
    return lines


def wheres(scores: Scores) -> list[Where]:
    """The (suite, regime, pairs) the reference (first label) has rows for, in the tables' order."""
    return sorted(next(iter(scores.values())), key=bench._where_order)


def _cell(summary: bench.Summary | None) -> str:
    return "" if summary is None else f"{summary.mean:.3f} ± {summary.std:.3f}"


def report(
    lines: Sequence[Line], sets: Sequence[SeedSet], reference: str, kind: str = "test"
) -> str:
    """The markdown table: one row per (where, label); ``kind``: the headlines' pairs."""
    last = sets[-1].name
    head = [
        f"{kind.capitalize()} headline mean ± std per seed set ({bench.STD_NOTE}); over seeds"
        f" {last}: the gap to {reference}, the seeds above / below it in the same seed, and the"
        " tables' verdict.",
        "",
        "| suite | regime | pairs | variant | "
        + " | ".join(f"seeds {s.name}" for s in sets)
        + f" | gap ({last}) | higher / lower | verdict |",
        "|---|---|---:|---|" + "---:|" * len(sets) + "---:|---:|---|",
    ]
    body = []
    for line in lines:
        suite, regime, pairs = line.where
        cells = " | ".join(_cell(s) for s in line.summaries)
        gap = "" if line.gap is None else f"{line.gap:+.3f}"
        counts = "" if line.gap is None else f"{line.higher} / {line.lower}"
        body.append(
            f"| {suite} | {regime} | {pairs} | {line.label} | {cells} | {gap} | {counts}"
            f" | {line.verdict} |"
        )
    return "\n".join([*head, *body]) + "\n"


def plot(scores: Scores, sets: Sequence[SeedSet], path: Path, kind: str = "test") -> None:
    """Every seed's headline per label (dots) and each seed set's mean (a bar), for the sets a
    label has every seed of; a panel per where."""
    panels = wheres(scores)
    fig = Figure(figsize=(1.6 + 1.5 * len(scores), 3.4 * len(panels)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(panels), 1, squeeze=False)[:, 0])
    for ax, where in zip(axes, panels, strict=True):
        for x, found in enumerate(scores.values()):
            by_seed = found.get(where, {})
            for number, seed_set in enumerate(sets):
                seeds = seed_set.seeds
                if not all(s in by_seed for s in seeds):  # as in the table: a whole set or none
                    continue
                offset = x + (number - (len(sets) - 1) / 2) * 0.25
                values = [by_seed[s] for s in seeds]
                ax.scatter([offset] * len(values), values, s=12, color=f"C{number}", alpha=0.7)
                ax.hlines(
                    np.mean(values),
                    offset - 0.1,
                    offset + 0.1,
                    color=f"C{number}",
                    label=f"seeds {seed_set.name}" if x == 0 else None,
                )  # reference first
        ax.set_xticks(range(len(scores)), list(scores), fontsize=8)
        ax.set_title(f"{where[0]}, {where[1]}, {where[2]} pairs")
        ax.set_ylabel(f"{kind} headline")
        ax.legend(fontsize=7)
    save_figure_atomic(fig, path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", action="append", required=True, help="LABEL=FILE[,FILE...]")
    p.add_argument("--method", default="gentle")
    p.add_argument("--suites", help="comma-separated suites to keep (default: all)")
    p.add_argument("--sets", nargs="+", default=["0-4", "5-9", "0-9"])
    p.add_argument("--out", type=Path, default=Path("docs/bench"))
    p.add_argument("--stem", required=True)
    args = p.parse_args()
    labelled = parse_rows(args.rows)
    sets = [parse_set(text) for text in args.sets]
    scores = load_scores(labelled, args.method)
    if args.suites:
        scores = only_suites(scores, args.suites.split(","))
    lines = check(scores, sets)
    kind = "test" if next(iter(labelled.values())).option is None else "validation"
    text = report(lines, sets, next(iter(labelled)), kind)
    with atomic_path(args.out / f"{args.stem}.md", ".md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    plot(scores, sets, args.out / f"{args.stem}.png", kind)
    print(text)
    print(f"wrote {args.out / (args.stem + '.md')} and {args.out / (args.stem + '.png')}")


if __name__ == "__main__":
    main()
