"""Gentle's ablations on every suite: each against gentle run with the same search.

The issue's ablations (bench group ``ablations``: without SDD, without MMD, with the
self-supervised term, SDD with leave-one-out, SDD with the normalised spread) at bags of 8
and 20 pairs, 5 seeds. Each suite's ablation rows (``--rows``) are compared with gentle's rows
of the same cells from ``--gentle SUITE=FILE``, which must come from the same search (mfeat's
ablations ran with ``--search full`` beside its table's grid; the other suites' with the
default halving search, gentle run beside them on the same machine). A row's
verdict uses the tables' rule: the ablation is *better* or *worse* than gentle when the gap
exceeds the larger of the two seed standard deviations, else *same*.

Writes ``OUT/ablations.md`` (a table per suite and the verdicts) and ``OUT/ablations.png``
(per suite, each method's mean with its seed std):

    python benchmarks/ablations.py \\
        --rows docs/bench/bench-mfeat.jsonl docs/bench/bench-ablations-59bde43.jsonl \\
        --gentle mfeat=docs/bench/bench-mfeat.jsonl \\
        emoji=docs/bench/bench-ablations-59bde43.jsonl \\
        molecules=docs/bench/bench-ablations-59bde43.jsonl \\
        proteins=docs/bench/bench-ablations-59bde43.jsonl --out docs/bench

Other settings (session 878d371 on: bags of 32 with 20 pairs, bags of 8 with 0 and 100 pairs,
gentle run beside the ablations in the same folder) go to ``OUT/ablations-settings.md`` and
``.png``, one table per setting, with ``--setting REGIME/PAIRS`` once per setting:

    python benchmarks/ablations.py --rows docs/bench/bench-ablations-settings-878d371.jsonl \
        --setting bags:32/20 bags:8/100 bags:8/0 --stem ablations-settings --out docs/bench

``--title`` names such a report (one suite's rows alone, say).

A setting ``REGIME/PAIRS/STEPROWS`` (such as ``bags:128/20/128``) takes the rows run with
``--recipe-override '{"sampler": {"unpaired_per_step": STEPROWS}}'`` (steps that hold a whole
bag of 128); a plain ``REGIME/PAIRS`` takes only rows run with the recipes as they are.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from gentleclip.evaluation.report import atomic_path, save_figure_atomic
from gentleclip.experiments import bench

REGIME, PAIRS = "bags:8", 20
SETTING = (REGIME, PAIRS)
STEM = "ablations"
SUITES = ("mfeat", "emoji", "molecules", "proteins")

Found = dict[str, tuple[bench.Summary, dict[str, bench.Summary]]]
# (regime, pairs) with the recipes' steps, or (regime, pairs, rows a step)
Setting = tuple[str, int] | tuple[str, int, int]


def cell_summaries(
    rows: Sequence[dict[str, Any]], suite: str, setting: Setting = SETTING
) -> dict[str, bench.Summary]:
    """method -> Summary of ``suite``'s rows at ``setting`` (only rows run with its steps)."""
    cells = bench.summarise(setting_rows(rows, setting)).get((suite, *setting[:2]), {})
    return {m: s for m, s in cells.items() if isinstance(s, bench.Summary)}


def setting_rows(rows: Sequence[dict[str, Any]], setting: Setting) -> list[dict[str, Any]]:
    """The rows whose ``--recipe-override`` is the setting's: none for (regime, pairs), the
    step size alone for (regime, pairs, rows a step)."""
    wanted = {"sampler": {"unpaired_per_step": setting[2]}} if len(setting) > 2 else {}
    return [row for row in rows if row.get("recipe_override", {}) == wanted]


def parse_setting(text: str) -> Setting:
    """``bags:32/20`` -> ("bags:32", 20); ``bags:128/20/128`` -> ("bags:128", 20, 128)."""
    regime, *numbers = text.split("/")
    if not regime or len(numbers) not in (1, 2) or not all(n.isdigit() for n in numbers):
        raise SystemExit(
            f"--setting takes REGIME/PAIRS such as bags:32/20, or REGIME/PAIRS/STEPROWS such "
            f"as bags:128/20/128, got {text!r}"
        )
    return (regime, *map(int, numbers))  # type: ignore[return-value]


def setting_title(setting: Setting, steps_sep: str = ", ") -> str:
    """``bags:128, 20 pairs``, then ``steps_sep`` and ``steps of 128 rows`` for a step size."""
    steps = f"{steps_sep}steps of {setting[2]} rows" if len(setting) > 2 else ""
    return f"{setting[0]}, {setting[1]} pairs{steps}"


# bench.Verdict's outcomes, said of an ablation against gentle
WORDS = {"win": "better", "lose": "worse", "tie": "same"}


def verdict(ablation: bench.Summary, gentle: bench.Summary) -> str:
    """better / worse than gentle when the gap exceeds the larger seed std, else same: the
    tables' rule (:class:`bench.Verdict`), with gentle in the baseline's place."""
    outcome = bench.Verdict(("", *SETTING), ablation, "gentle", gentle, None).outcome
    return WORDS.get(outcome, outcome)


def suite_table(
    suite: str, ablations: dict[str, bench.Summary], gentle: bench.Summary
) -> list[str]:
    """The markdown rows of one suite: gentle, then each ablation with its gap and verdict."""
    lines = [f"| {suite} | gentle | {gentle.mean:.3f} ± {gentle.std:.3f} | {gentle.n} | | |"]
    for name in bench.ABLATIONS:
        if name in ablations:
            s = ablations[name]
            gap = s.mean - gentle.mean
            lines.append(
                f"| {suite} | {name} | {s.mean:.3f} ± {s.std:.3f} | {s.n} | {gap:+.3f} | "
                f"{verdict(s, gentle)} |"
            )
    return lines


def collect(
    rows: Sequence[dict[str, Any]],
    gentle_rows: dict[str, Sequence[dict[str, Any]]],
    setting: Setting = SETTING,
) -> Found:
    """suite -> (gentle, ablation -> Summary) at ``setting`` for every suite with both."""
    out = {}
    for suite in SUITES:
        cells = cell_summaries(rows, suite, setting)
        ablations = {m: s for m, s in cells.items() if m in bench.ABLATIONS}
        gentle = cell_summaries(gentle_rows.get(suite, ()), suite, setting).get("gentle")
        if ablations and gentle is not None:
            out[suite] = (gentle, ablations)
    return out


HEADLINE_NOTE = (
    "Headline: a->b class precision@1 (proteins: a->b R@10), test pairs, mean ± "
    f"std over seeds ({bench.STD_NOTE}). Verdict: better or worse when the gap exceeds "
    "the larger of the two seed standard deviations, else same."
)
TABLE_HEAD = [
    "| suite | method | headline | seeds | vs gentle | verdict |",
    "|---|---|---:|---:|---:|---|",
]


def report(found: Found, searches: str = "mfeat: full; the others: halving") -> str:
    """ablations.md: the table, then one line per ablation counting its verdicts; ``searches``
    says which search each suite's rows ran with."""
    lines = [
        f"# Ablations of gentle ({setting_title(SETTING)})",
        "",
        f"Each ablation against gentle run with the same search ({searches}). " + HEADLINE_NOTE,
        "",
        *table_and_verdicts(found),
    ]
    return "\n".join(lines) + "\n"


SETTINGS_TITLE = "Ablations of gentle at other settings"


def settings_report(found_by_setting: dict[Setting, Found], title: str = SETTINGS_TITLE) -> str:
    """ablations-settings.md: a section per setting, each a table and its verdict lines,
    under the heading ``title``."""
    lines = [
        f"# {title}",
        "",
        "Each ablation against gentle run beside it with the same search (halving). "
        + HEADLINE_NOTE,
    ]
    for setting, found in found_by_setting.items():
        lines += ["", f"## {setting_title(setting)}", "", *table_and_verdicts(found)]
    return "\n".join(lines) + "\n"


def table_and_verdicts(found: Found) -> list[str]:
    """The markdown table of every suite, a blank line, then one line per ablation."""
    lines = list(TABLE_HEAD)
    for suite, (gentle, ablations) in found.items():
        lines += suite_table(suite, ablations, gentle)
    lines.append("")
    for name in bench.ABLATIONS:
        said = [
            f"{suite} {verdict(abl[name], g)}" for suite, (g, abl) in found.items() if name in abl
        ]
        if said:
            lines.append(f"- {name}: {', '.join(said)}")
    return lines


def plot(found: Found, path: Path) -> None:
    """Per suite, gentle and each ablation's mean with its seed std as an error bar."""
    plot_settings({SETTING: found}, path, titles=False)


PANEL_STEPS_SEP = ",\n"  # a panel title puts the step size on a line of its own


ONE_SUITE_COLUMNS = 4  # one suite's settings wrap into rows of this many panels


def plot_settings(
    found_by_setting: dict[Setting, Found], path: Path, *, titles: bool = True
) -> None:
    """A row of panels per setting, one panel per suite: gentle and each ablation's mean with
    its seed std as an error bar. One suite's settings wrap instead, ``ONE_SUITE_COLUMNS``
    panels to a row."""
    suites = [s for s in SUITES if any(s in f for f in found_by_setting.values())] or ["-"]
    panels = [(setting, suite) for setting in found_by_setting for suite in suites]
    ncols = len(suites) if len(suites) > 1 else min(ONE_SUITE_COLUMNS, max(len(panels), 1))
    nrows = max(-(-len(panels) // ncols), 1)
    fig = Figure(figsize=(3.2 * ncols, 3.6 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (setting, suite) in zip(axes, panels, strict=False):
        if suite in (found := found_by_setting[setting]):
            bars(ax, *found[suite])
            title = f"{suite}, {setting_title(setting, steps_sep=PANEL_STEPS_SEP)}"
            ax.set_title(title if titles else suite)
    for ax in axes:
        if not ax.has_data():
            ax.set_axis_off()
    for ax in axes[::ncols]:
        ax.set_ylabel("headline (mean ± seed std)")
    save_figure_atomic(fig, path)


def bars(ax: Any, gentle: bench.Summary, ablations: dict[str, bench.Summary]) -> None:
    """gentle (blue) and each ablation (grey): mean with the seed std as an error bar."""
    names = ["gentle", *(n for n in bench.ABLATIONS if n in ablations)]
    stats = [gentle, *(ablations[n] for n in names[1:])]
    colours = ["tab:blue", *("tab:grey" for _ in names[1:])]
    ax.bar(
        range(len(names)),
        [s.mean for s in stats],
        yerr=[s.std for s in stats],
        color=colours,
        capsize=3,
    )
    ax.set_xticks(range(len(names)), [n.replace("gentle-", "") for n in names], rotation=45)
    ax.set_ylim(0, 1)


def gentle_by_suite(items: Sequence[str] | None, rows: list[dict[str, Any]]) -> dict:
    """--gentle SUITE=FILE items as suite -> rows; without them, gentle comes from --rows."""
    if not items:
        return dict.fromkeys(SUITES, rows)
    out = {}
    for item in items:
        suite, _, file = item.partition("=")
        if suite not in SUITES or not file:
            raise SystemExit(f"--gentle takes SUITE=FILE with SUITE in {SUITES}, got {item!r}")
        out[suite] = bench.read_results(Path(file))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=Path, nargs="+", required=True, help="ablation rows")
    parser.add_argument(
        "--gentle", nargs="+", help="SUITE=FILE: gentle's rows (default: from --rows)"
    )
    parser.add_argument(
        "--setting", nargs="+", type=parse_setting, default=[SETTING], help="REGIME/PAIRS"
    )
    parser.add_argument("--stem", default=STEM, help="names OUT/STEM.md and OUT/STEM.png")
    parser.add_argument(
        "--searches",
        default="mfeat: full; the others: halving",
        help="which search the rows ran with, as the report says it",
    )
    parser.add_argument(
        "--title", default=SETTINGS_TITLE, help="the heading of a report with --setting"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = [row for path in args.rows for row in bench.read_results(path)]
    gentle_rows = gentle_by_suite(args.gentle, rows)
    found = {st: collect(rows, gentle_rows, st) for st in args.setting}
    if missing := [setting_title(st) for st, f in found.items() if not f]:
        raise SystemExit(f"no suite has both ablation rows and gentle rows at {missing}")
    single = args.setting == [SETTING]
    text = report(found[SETTING], args.searches) if single else settings_report(found, args.title)
    with atomic_path(args.out / f"{args.stem}.md", ".md") as tmp:
        tmp.write_text(text, encoding="utf-8")
    png = args.out / f"{args.stem}.png"
    if single:
        plot(found[SETTING], png)
    else:
        plot_settings(found, png)
    print(text)


if __name__ == "__main__":
    main()
