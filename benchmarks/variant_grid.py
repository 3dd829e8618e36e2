"""A variant of gentle over a suite's default grid: against gentle, and in gentle's place.

An ablation that wins at a few settings (docs/bench/ablations-molecules-settings.md) is a
candidate recipe only if it holds over the whole grid. This script takes a suite's grid
(``--grid``: every method of the ``compare`` group, one search) and the variant's rows at the
grid's settings and seeds (``--rows``: bench method ``--variant``, run with the same search, no
``--recipe-override``), and for every (regime, pairs) of the grid (or of its ``--regimes``
alone, for a variant run part of the way) reports:

- the variant against gentle (better / worse when the gap exceeds the larger seed std, else
  same: the tables' rule);
- gentle's outcome against the best baseline of the grid, and the variant's in gentle's place
  (win / tie / lose by the same rule, :class:`gentleclip.experiments.bench.Verdict`).

Two options compare other settings the same way. ``--override JSON`` takes the variant's rows
made with that ``--recipe-override`` (a weight tried on top of a recipe, e.g. bench method
gentle with ``{"loss": {"w_ssl": 0.05}}``) and ``--label`` names them. ``--reference VARIANT``
with ``--reference-rows`` puts that variant's rows (no override) in the place of the grid's
gentle rows, so the new setting is compared with a variant rather than with gentle, beside the
same baselines.

It writes ``OUT/STEM.md`` (the table and counts) and ``OUT/STEM.png`` (per regime, the headline
against the pairs: gentle, the variant and the best baseline at each count, seed std as bars):

    python benchmarks/variant_grid.py --suite molecules --variant gentle-ssl \\
        --grid docs/bench/bench-molecules-halving-6ad9b49.jsonl \\
        --rows docs/bench/bench-ablations-molecules-settings-133f6c6.jsonl \\
        docs/bench/bench-ssl-molecules100-133f6c6.jsonl \\
        docs/bench/bench-ssl-molecules-grid-40d6947.jsonl \\
        --stem ssl-molecules-grid --out docs/bench
    python benchmarks/variant_grid.py --suite molecules --variant gentle \\
        --override '{"loss": {"w_ssl": 0.05}}' --label "w_ssl 0.05" \\
        --reference gentle-ssl --reference-rows docs/bench/bench-ssl-full-molecules-*.jsonl \\
        --grid docs/bench/bench-molecules-heads512-grid-7686c66.jsonl --rows ROWS \\
        --search full --stem wssl005-vs-ssl-molecules-full --out docs/bench
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from operator import attrgetter
from pathlib import Path
from typing import Any, NamedTuple

from ablations import WORDS, verdict
from matplotlib.figure import Figure

from gentleclip.evaluation.report import atomic_path, save_figure_atomic
from gentleclip.experiments import bench

NOTE = (
    "Headline: the suite's test metric (class P@1 where labels exist, else R@10), mean ± seed "
    f"std over the same seeds ({bench.STD_NOTE}). A verdict needs a gap larger than the larger "
    "seed std."
)


class Setting(NamedTuple):
    """One (regime, pairs) of the grid: gentle, the variant, and each against the baselines."""

    regime: str
    pairs: int
    before: bench.Verdict  # gentle against the best baseline
    after: bench.Verdict  # the variant in gentle's place

    @property
    def against_gentle(self) -> str:
        """better / same / worse: the variant against gentle, by the tables' rule."""
        return verdict(self.after.gentle, self.before.gentle)


class Names(NamedTuple):
    """What the report calls the two records it compares: the reference (the grid's gentle,
    or a variant in its place) and the variant."""

    reference: str
    variant: str


def reference_name(reference: tuple[str, Any] | None) -> str:
    """The reference's name: the variant in the grid's gentle's place, or gentle."""
    return reference[0] if reference else "gentle"


def variant_rows(
    rows: Sequence[dict[str, Any]],
    suite: str,
    variant: str,
    override: dict[str, Any] | None = None,
) -> list[dict]:
    """The variant's rows of ``suite`` run with ``override`` as their ``--recipe-override``
    (None: the recipes as they are, no override), renamed gentle."""
    return [
        {**row, "method": "gentle"}
        for row in rows
        if row["suite"] == suite
        and row["method"] == variant
        and (row.get("recipe_override") or None) == (override or None)
    ]


def with_reference(
    grid: Sequence[dict], suite: str, reference: tuple[str, Sequence[dict]]
) -> list[dict]:
    """``grid`` with its gentle rows replaced by the reference variant's rows (no override) at
    the same settings; refuses a setting of gentle's the reference lacks."""
    name, rows = reference
    mine = variant_rows(rows, suite, name)
    wanted = {_where(r) for r in grid if r["method"] == "gentle"}
    if missing := sorted(wanted - {_where(r) for r in mine}):
        raise SystemExit(f"{name} has no rows of {suite} at {missing}")
    others = [r for r in grid if r["method"] != "gentle"]
    return others + [r for r in mine if _where(r) in wanted]


def _where(row: dict) -> tuple[str, int]:
    return (row["regime"], int(row["pairs"]))


def collect(
    grid: Sequence[dict],
    rows: Sequence[dict],
    suite: str,
    variant: str,
    regimes: Sequence[str] | None = None,
    override: dict[str, Any] | None = None,
    reference: tuple[str, Sequence[dict]] | None = None,
) -> list[Setting]:
    """Every (regime, pairs) of ``suite``'s grid, or of its ``regimes`` alone; refuses a setting
    the variant lacks or whose seeds differ from gentle's there. ``override``: the variant's
    rows made with that recipe override; ``reference``: a variant's name and rows, in the place
    of the grid's gentle rows."""
    grid = [row for row in grid if row["suite"] == suite]
    if regimes is not None:
        if unknown := sorted(set(regimes) - {row["regime"] for row in grid}):
            raise SystemExit(f"--grid has no rows of {suite} in regime {unknown}")
        grid = [row for row in grid if row["regime"] in regimes]
    if reference is not None:
        grid = with_reference(grid, suite, reference)
    mine = variant_rows(rows, suite, variant, override)
    before = bench.verdicts(grid)
    after = {
        v.where: v for v in bench.verdicts([r for r in grid if r["method"] != "gentle"] + mine)
    }
    if not before:
        raise SystemExit(f"--grid has no gentle rows of {suite}")
    if missing := [v.where for v in before if v.where not in after]:
        raise SystemExit(f"{variant} has no rows of {suite} at {missing}")
    found = [Setting(v.where[1], v.where[2], v, after[v.where]) for v in before]
    if uneven := [s.before.where for s in found if s.before.gentle.n != s.after.gentle.n]:
        ran = reference_name(reference)
        raise SystemExit(f"{variant} and {ran} ran different seed counts at {uneven}")
    return found


def _cell(s: bench.Summary) -> str:
    return f"{s.mean:.3f} ± {s.std:.3f}"


def table(found: Sequence[Setting], names: Names) -> list[str]:
    """The markdown table: a row per (regime, pairs)."""
    ref, variant = names
    lines = [
        f"| regime | pairs | {ref} | {variant} | gap | against {ref} | best baseline "
        f"| {ref}'s outcome | {variant}'s outcome |",
        "|---|---:|---:|---:|---:|---|---|---|---|",
    ]
    for s in found:
        best = s.before
        baseline = f"{best.best} {_cell(best.baseline)}" if best.baseline else "-"
        gap = s.after.gentle.mean - s.before.gentle.mean
        lines.append(
            f"| {s.regime} | {s.pairs} | {_cell(s.before.gentle)} | {_cell(s.after.gentle)} "
            f"| {gap:+.3f} | {s.against_gentle} | {baseline} | {best.outcome} "
            f"| {s.after.outcome} |"
        )
    return lines


def counts(found: Sequence[Setting], names: Names) -> list[str]:
    """The summary lines: the variant against the reference, then both against the
    baselines."""
    ref, variant = names
    said = attrgetter("against_gentle")
    with_pairs = [s for s in found if s.pairs > 0]
    lines = [f"- {variant} against {ref}, settings with pairs: {_tally(with_pairs, said)}"]
    if no_pairs := [s for s in found if s.pairs == 0]:
        lines.append(f"- {variant} against {ref}, settings without pairs: {_tally(no_pairs, said)}")
    rivals = [s for s in with_pairs if s.before.baseline is not None]
    lines += [
        f"- {ref} against the best baseline: {_tally(rivals, attrgetter('before.outcome'))}",
        f"- {variant} in gentle's place: {_tally(rivals, attrgetter('after.outcome'))}",
    ]
    changed = [s for s in rivals if s.before.outcome != s.after.outcome]
    moves = ", ".join(
        f"{s.regime} {s.pairs} ({s.before.outcome} -> {s.after.outcome})" for s in changed
    )
    lines.append(f"- outcomes that change: {moves or 'none'}")
    return lines


def _tally(found: Sequence[Setting], key: Any) -> str:
    """``3 better, 1 same, 0 worse of 4``, or the same counts of win / tie / lose."""
    said = [key(s) for s in found]
    order = (
        ("better", "same", "worse") if set(said) <= set(WORDS.values()) else ("win", "tie", "lose")
    )
    return ", ".join(f"{said.count(o)} {o}" for o in order) + f" of {len(said)}"


def report(
    found: Sequence[Setting],
    suite: str,
    variant: str,
    search: str,
    regimes: Sequence[str] | None = None,
    names: Names | None = None,
    override: dict[str, Any] | None = None,
) -> str:
    """``STEM.md``: heading, what was compared, the table and the counts; the heading names the
    regimes when the report covers only some of the grid's. ``names``: the reference's and the
    variant's labels (default gentle and ``variant``); ``override``: the variant's rows'
    recipe override, which the text names."""
    names = names or Names("gentle", variant)
    ref, label = names
    part = f" ({', '.join(regimes)} only)" if regimes is not None else ""
    made = f" (bench method {variant}, --recipe-override '{json.dumps(override)}')"
    sources = (
        f"gentle and the baselines: the {suite} grid; "
        if ref == "gentle"
        else f"the baselines: the {suite} grid; {ref}: its rows at the same settings and seeds; "
    )
    lines = [
        f"# {label} over the {suite} default grid{part}",
        "",
        sources + f"{label}{made if override else ''}: its rows at the same settings and seeds; "
        f"both with the {search} search. The best baseline is the best of the grid's other "
        "methods but the oracle. " + NOTE,
        "",
        *table(found, names),
        "",
        *counts(found, names),
    ]
    return "\n".join(lines) + "\n"


def plot(found: Sequence[Setting], names: Names, path: Path) -> None:
    """A panel per regime: headline against the pairs for the reference (gentle), the variant
    and the best baseline at each count (its name beside the point), seed std as error bars."""
    regimes = list(dict.fromkeys(s.regime for s in found))
    fig = Figure(figsize=(3.6 * len(regimes), 3.8), layout="constrained")
    axes = fig.subplots(1, len(regimes), squeeze=False).ravel()
    top = _top(found)
    for ax, regime in zip(axes, regimes, strict=True):
        mine = [s for s in found if s.regime == regime]
        xs = list(range(len(mine)))
        for label, get, colour in (
            (names.reference, lambda s: s.before.gentle, "tab:blue"),
            (names.variant, lambda s: s.after.gentle, "tab:orange"),
        ):
            stats = [get(s) for s in mine]
            ax.errorbar(
                xs,
                [v.mean for v in stats],
                yerr=[v.std for v in stats],
                label=label,
                color=colour,
                marker="o",
                capsize=3,
            )
        _best_points(ax, mine)
        ax.set_xticks(xs, [str(s.pairs) for s in mine])
        ax.set_xlabel("pairs")
        ax.set_title(regime)
        ax.set_ylim(0, top)
    axes[0].set_ylabel("headline (mean ± seed std)")
    axes[0].legend(loc="upper left", fontsize="small")
    save_figure_atomic(fig, path)


def _top(found: Sequence[Setting]) -> float:
    """The panels' shared upper limit: the highest mean + std, rounded up to 0.1, plus 0.1."""
    stats = [x for s in found for x in (s.before.gentle, s.after.gentle, s.before.baseline) if x]
    return min(1.0, math.ceil(max(x.mean + x.std for x in stats) * 10) / 10 + 0.1)


def _best_points(ax: Any, found: Sequence[Setting]) -> None:
    """The best baseline at each count with pairs, grey, its name beside it."""
    label = "best baseline"
    for x, s in enumerate(found):
        if (b := s.before.baseline) is None:
            continue
        ax.errorbar(
            [x], [b.mean], yerr=[b.std], color="tab:grey", marker="s", capsize=3, label=label
        )
        label = None  # one legend entry
        ax.annotate(
            s.before.best,
            (x, b.mean),
            textcoords="offset points",
            xytext=(4, -10),
            fontsize="x-small",
            color="tab:grey",
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", required=True)
    parser.add_argument("--variant", required=True, choices=("gentle", *bench.ABLATIONS))
    parser.add_argument("--grid", type=Path, required=True, help="the suite's grid rows")
    parser.add_argument("--rows", type=Path, nargs="+", required=True, help="the variant's rows")
    parser.add_argument("--search", default="halving", help="the search both ran with")
    parser.add_argument(
        "--regimes", type=lambda text: text.split(","), help="only these regimes, comma-separated"
    )
    parser.add_argument(
        "--override", type=_json, help="the variant's rows made with this --recipe-override"
    )
    parser.add_argument("--label", help="the variant's name in the report (default: --variant)")
    parser.add_argument(
        "--reference", choices=bench.ABLATIONS, help="a variant in the grid's gentle's place"
    )
    parser.add_argument("--reference-rows", type=Path, nargs="+", help="the reference's rows")
    parser.add_argument("--stem", required=True, help="names OUT/STEM.md and OUT/STEM.png")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if (args.reference is None) != (args.reference_rows is None):
        parser.error("--reference and --reference-rows go together")
    if args.variant == "gentle" and not args.override:
        parser.error("--variant gentle needs --override (its plain rows are the grid's)")
    found, names = _collect_args(args)
    text = report(found, args.suite, args.variant, args.search, args.regimes, names, args.override)
    with atomic_path(args.out / f"{args.stem}.md", ".md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    plot(found, names, args.out / f"{args.stem}.png")
    print(text)


def _json(text: str) -> dict[str, Any]:
    """``--override``'s value: a JSON object, or an error naming it."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not JSON: {text!r} ({error})") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"not a JSON object: {text!r}")
    return value


def _collect_args(args: argparse.Namespace) -> tuple[list[Setting], Names]:
    """The settings and names the command line asks for."""
    rows = [row for path in args.rows for row in bench.read_results(path)]
    reference = None
    if args.reference:
        reference = (
            args.reference,
            [r for p in args.reference_rows for r in bench.read_results(p)],
        )
    found = collect(
        bench.read_results(args.grid),
        rows,
        args.suite,
        args.variant,
        args.regimes,
        args.override,
        reference,
    )
    return found, Names(reference_name(reference), args.label or args.variant)


if __name__ == "__main__":
    main()
