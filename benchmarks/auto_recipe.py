"""`gentleclip train --auto` scored on the benchmark's rows, and the record its rule rests on.

For every cell of the published tables (suite, regime, pairs), and of the regime pairs (the
training pairs alone, rows of :data:`PAIRS_FILES`), and each of its 5 seeds,
``training.auto.choose`` picks a setting from the training split the bench trained on, as
``gentleclip train --auto`` would from that split's directory. The splits are read as their
shapes (pair and row counts, bag sizes: :func:`split_shape`) from ``docs/bench/SHAPES``, since
CI holds only mfeat's data; ``--write-shapes`` builds every split again (``bench.cell_data``,
the same arrays) and writes them. The cell's ``auto`` row is the picked setting's bench row of
the same cell and seed; a cell counts only when every seed's row exists. The settings' rows:

- ``recipe``, ``clip``: the published tables (gentle's and clip's columns), and gentle's and
  clip's rows of :data:`PAIRS_FILES` in the regime pairs;
- ``bag-nce``, ``pairs-as-items``, ``bag-nce + pairs-as-items``, ``whole-bag steps``: the
  bench methods ``gentle-bagnce``, ``gentle-items``, ``gentle-bagnce-items`` and gentle with
  ``--recipe-override '{"sampler": {"unpaired_per_step": 128}}'``, from the files of
  :data:`SETTING_FILES` (a later file's row replaces an earlier one of the same cell and
  seed). Molecules' rows count only from files made with its current towers (since session
  7686c66); the rest of a file marked ``NOT_MOLECULES`` was made with the towers before.
- ``pairs alone`` (the recipe with the unpaired rows left out): gentle's rows of the regime
  pairs, read for every cell of the same suite, pair count and seed (:func:`pairs_alone_rows`).
- ``closed-form map`` (what ``gentleclip fit --method auto --tune --folds K`` fits): rows of
  :data:`FIT_FILES`, made by ``benchmarks/auto_fit.py`` on the same splits, for the cells of
  the regime pairs and of disjoint sides (:func:`fit_rows`).
- ``closed-form map on the bag means`` (``gentleclip fit --method auto --bag-means --tune``):
  rows of :data:`BAG_MEAN_FILES` (``auto_fit.py --bag-means``), every bag size and pair count.

Writes ``OUT/auto.md``: per class of data (bag size nearest 8, 32, 128, or disjoint sides;
no pairs, or some; or pairs only) every setting's record against the recipe on the validation
pairs (each row's best candidate: what ``training.auto.PICKS`` follows) and on the test pairs
(win / lose when the gap in mean exceeds the larger std over the seeds, else tie), the setting
``--auto`` picks there, and per cell auto against the recipe and the best of the issue's
baselines; and ``OUT/auto.png`` (auto against the recipe, every cell). Command:
docs/results.md, "Choosing a setting: train --auto".

    python benchmarks/auto_recipe.py --bench docs/bench \\
        --sclip-rows docs/bench/bench-sclip-sets-c68564f.jsonl --out docs/bench
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bag_means
import numpy as np
import published_tables
from matplotlib.figure import Figure

from gentleclip.data.regimes import RegimeData, bag_sizes
from gentleclip.errors import InputError
from gentleclip.evaluation.report import atomic_path, save_figure_atomic
from gentleclip.experiments import bench, datasets
from gentleclip.training import auto

SESSION = "9e196c1"  # the session that ran molecules' rows with its current towers below
# rows of the regime pairs (the training pairs alone: gentle, clip and the closed-form maps,
# every suite), which the published tables do not hold; they join the tables' rows here
PAIRS_FILES = ("bench-pairs-only-6ad9b49.jsonl",)
WHOLE_BAGS = {"sampler": {"unpaired_per_step": 128}}
NOT_MOLECULES = ("emoji", "mfeat", "proteins")
ALL = (*NOT_MOLECULES, "molecules")
# setting -> (bench method, the recipe override its rows carry or None, rows files with the
# suites each is read for), files oldest first
SETTING_FILES: dict[str, tuple[str, dict | None, tuple[tuple[str, tuple[str, ...]], ...]]] = {
    "bag-nce": (
        "gentle-bagnce",
        None,
        (
            ("bench-bagnce-75da31b.jsonl", NOT_MOLECULES),  # bags of 8, 0-50 pairs, halving
            ("bench-bagnce-full-123046b.jsonl", ALL),  # bags of 8, 10-50, full search
            ("bench-bagnce32-7a5968c.jsonl", NOT_MOLECULES),  # bags of 32, 0-50, halving
            ("bench-molecules-bagnce32-cfcee97.jsonl", ALL),  # 10-50, full
            ("bench-bagnce128-7a5968c.jsonl", NOT_MOLECULES),  # bags of 128, 0-50, halving
            (f"bench-molecules-bagnce-0pairs-{SESSION}.jsonl", ALL),  # bags of 32 and 128, full
            (f"bench-bagnce32-many-{SESSION}.jsonl", ALL),  # bags of 32, 100-200, full
            (f"bench-molecules-bagnce128-{SESSION}.jsonl", ALL),  # bags of 128, 10-50, full
            (f"bench-molecules-bagnce8-0pairs-{SESSION}.jsonl", ALL),  # bags of 8, full
        ),
    ),
    "pairs-as-items": ("gentle-items", None, (("bench-items-634d969.jsonl", ALL),)),
    "bag-nce + pairs-as-items": (
        "gentle-bagnce-items",
        None,
        (
            ("bench-bagnce-items-123046b.jsonl", ALL),  # bags of 8, 10-50
            ("bench-bagnce-items-many-cfcee97.jsonl", ALL),  # bags of 8, 100-200
            ("bench-bagnce-items-bags32-cfcee97.jsonl", ALL),  # bags of 32, 10-50
        ),
    ),
    "whole-bag steps": (
        "gentle",
        WHOLE_BAGS,
        (
            ("bench-gentle-wholebags128-7a5968c.jsonl", ALL),  # emoji 0-50, halving
            ("bench-gentle-wholebags128-1a6e346.jsonl", NOT_MOLECULES),  # 0-200, halving
            (f"bench-molecules-wholebags128-{SESSION}.jsonl", ALL),  # 10-200, full
        ),
    ),
}
PAIRS_ALONE = "pairs alone"  # the recipe with the unpaired rows left out (pairs_alone_rows)
# what train --auto fits where it picks a closed-form map (gentleclip fit --method auto --tune
# --folds K) on the bench's splits (benchmarks/auto_fit.py): pairs only and disjoint sides, on
# the validation and the test split of every cell and seed
CLOSED_FORM, FIT_FILES = "closed-form map", ("auto-fit-afe5197.jsonl",)
# the same map with each bag's means as more pairs (gentleclip fit --method auto --bag-means
# --tune, by its default folds: auto_fit.py --bag-means) at every bag size; no class's pick
BAG_MEAN_MAP = "closed-form map on the bag means"
BAG_MEAN_FILES = (
    "auto-fit-bagmeans-afe5197.jsonl",  # bags of 8, 0-50 pairs
    "auto-fit-bagmeans8many-501bbc2.jsonl",  # bags of 8, 100-200
    "auto-fit-bagmeans32-501bbc2.jsonl",  # bags of 32, 0-200
    "auto-fit-bagmeans128-501bbc2.jsonl",  # bags of 128, 0-200
)
SETTINGS = ("recipe", "clip", *SETTING_FILES, PAIRS_ALONE, CLOSED_FORM, BAG_MEAN_MAP)
BEST = "best issue baseline"
# every cell's training split as --auto reads it (split_shape), in docs/bench: CI holds only
# mfeat's data, so the report reads the shapes from here (tests build mfeat's again)
SHAPES = "auto-splits.jsonl"
SEEDS = range(5)  # the seeds of every cell the report reads
Where = tuple[str, str, int]
Rows = dict[tuple[str, str, int, int], float]  # (suite, regime, pairs, seed) -> headline


def score(row: dict[str, Any], split: str) -> float:
    """A row's headline on the test pairs (``split`` "test") or the validation pairs ("val":
    the best validation score of its candidates, the one the bench's search chose)."""
    if split == "test":
        return row["value"]
    return max(c["val"] for c in row["candidates"] if c.get("val") is not None)


def setting_rows(bench_dir: Path, split: str = "test") -> dict[str, Rows]:
    """Each trained setting's headline per (suite, regime, pairs, seed) on ``split``, from its
    files."""
    out: dict[str, Rows] = {}
    for name, (method, override, files) in SETTING_FILES.items():
        found: Rows = {}
        for file, suites in files:
            for row in published_tables.read(bench_dir / file):
                if (
                    row["status"] == "ok"
                    and row["method"] == method
                    and row["suite"] in suites
                    and row.get("recipe_override") == override
                ):
                    found[_seed_key(row)] = score(row, split)
        out[name] = found
    return out


def fit_rows(bench_dir: Path, split: str = "test", files: Sequence[str] = FIT_FILES) -> Rows:
    """The closed-form setting's headline per (suite, regime, pairs, seed) on ``split``, from
    the rows of ``files`` (``benchmarks/auto_fit.py``)."""
    found: Rows = {}
    for file in files:
        for line in (bench_dir / file).read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["split"] == split:
                found[_seed_key(row)] = row["value"]
    return found


def pairs_alone_rows(tables: Sequence[dict[str, Any]], split: str = "test") -> Rows:
    """The recipe on the pairs alone (``sampler.use_unpaired`` false, bench method
    gentle-pairs-alone) in every cell with pairs: gentle's row of the regime pairs with the
    same suite, pair count and seed. Training drops the unpaired rows, so it sees that row's
    arrays (the same pairs, validation pairs and test pairs at a seed: ``bench.cell_data``)
    wherever the validation split holds as many pairs as the cell's recipe row; cells where it
    holds fewer (proteins at 200 pairs) are left out."""
    alone, val_pairs = {}, {}
    for row in tables:
        if row["status"] == "ok" and row["method"] == "gentle":
            key = _seed_key(row)
            if row["regime"] == "pairs":
                alone[(key[0], key[2], key[3])] = row
            else:
                val_pairs[key] = row["val_pairs"]
    found: Rows = {}
    for (suite, regime, pairs, seed), count in val_pairs.items():
        row = alone.get((suite, pairs, seed))
        if row is not None and row["val_pairs"] == count:
            found[(suite, regime, pairs, seed)] = score(row, split)
    return found


def table_settings(tables: Sequence[dict[str, Any]], split: str = "test") -> dict[str, Rows]:
    """The recipe's (gentle's) and clip's headlines on ``split`` from the published tables."""
    found: dict[str, Rows] = {"recipe": {}, "clip": {}}
    for row in tables:
        if row["status"] == "ok" and row["method"] in ("gentle", "clip"):
            name = "recipe" if row["method"] == "gentle" else "clip"
            found[name][_seed_key(row)] = score(row, split)
    return found


def _seed_key(row: dict[str, Any]) -> tuple[str, str, int, int]:
    return row["suite"], row["regime"], int(row["pairs"]), int(row["seed"])


def setting_of(choice: auto.AutoChoice) -> str:
    """The benchmark setting whose rows are what ``choice`` trains."""
    if choice.fit:
        return CLOSED_FORM
    if choice.method == "clip":
        return "clip"
    if choice.overrides.get("sampler", {}).get("use_unpaired") is False:
        return PAIRS_ALONE
    if choice.min_unpaired_per_step:
        return "whole-bag steps" if choice.min_unpaired_per_step == 128 else "not measured"
    names = {(): "recipe", ("bag-nce",): "bag-nce", ("pairs-as-items",): "pairs-as-items"}
    names[("bag-nce", "pairs-as-items")] = "bag-nce + pairs-as-items"
    return names.get(choice.recipes, "not measured")


def split_shape(split: dict[str, np.ndarray]) -> dict[str, Any]:
    """What ``training.auto.choose`` reads of a training split: its counts of pairs and unpaired
    rows, and each side's bag sizes as {rows: bags} (None without bags)."""
    shape: dict[str, Any] = {"n_pairs": len(split["paired_a"])}
    for side in ("a", "b"):
        shape[f"unpaired_{side}"] = len(split.get(f"unpaired_{side}", ()))
        bags = split.get(f"unpaired_{side}_bags")
        sizes = None if bags is None else np.unique(bag_sizes(bags), return_counts=True)
        shape[f"bags_{side}"] = (
            None if sizes is None else dict(zip(*map(_ints, sizes), strict=True))
        )
    return shape


def _ints(values: np.ndarray) -> list[int]:
    return [int(v) for v in values]


def shaped_data(shape: dict[str, Any]) -> RegimeData:
    """A dataset of ``shape`` (:func:`split_shape`), its features zeros: all ``choose`` reads."""
    arrays = {f"paired_{s}": np.zeros((shape["n_pairs"], 1), np.float32) for s in "ab"}
    for side in ("a", "b"):
        if shape[f"unpaired_{side}"]:
            arrays[f"unpaired_{side}"] = np.zeros((shape[f"unpaired_{side}"], 1), np.float32)
        if shape[f"bags_{side}"] is not None:
            sizes = [int(k) for k, n in shape[f"bags_{side}"].items() for _ in range(n)]
            arrays[f"unpaired_{side}_bags"] = np.repeat(np.arange(len(sizes)), sizes)
    return RegimeData.from_arrays(arrays)


def split_shapes(cells: Sequence[Where], seeds: Sequence[int]) -> list[dict[str, Any]]:
    """One row per cell and seed: the shape of the training split the bench built there
    (needs every suite's data installed)."""
    out = []
    for suite, regime, pairs in cells:
        domain = bench.load_domain(suite)
        test_size = datasets.entry(suite).setting.test_size
        for seed in seeds:
            cell = bench.Cell(suite, regime, pairs, seed, "gentle")
            split = bench.cell_data(domain, cell, test_size, False).test
            out.append(
                {
                    "suite": suite,
                    "regime": regime,
                    "pairs": pairs,
                    "seed": seed,
                    **split_shape(split),
                }
            )
    return out


def choices(shapes: Sequence[dict[str, Any]]) -> dict[tuple, tuple[str, str]]:
    """(suite, regime, pairs, seed) -> (the setting --auto picks on that split, its class)."""
    out = {}
    for row in shapes:
        try:
            setting = setting_of(auto.choose(shaped_data(row)))
        except InputError:
            setting = "refused"
        out[_seed_key(row)] = (setting, data_class(row["regime"], row["pairs"]))
    return out


def data_class(regime: str, pairs: int) -> str:
    """The class of data a cell belongs to (``training.auto.data_class``)."""
    if regime == "pairs":
        return auto.PAIRS_ONLY
    size = None if regime == "unpaired" else bench.parse_regime(regime).bag_size
    return auto.data_class(size, pairs)


def preferred(record: dict[str, dict[str, int]]) -> str:
    """The setting the rule should pick for a class: the one whose wins against the recipe
    exceed its losses by most (then: fewer losses, more cells); the recipe where none has
    more wins than losses."""

    def score(name: str) -> tuple[int, int, int]:
        c = record[name]
        return c["win"] - c["lose"], -c["lose"], sum(c.values())

    fit = [name for name in record if score(name)[0] > 0]
    return max(fit, key=score) if fit else "recipe"


def evidence(counts: dict[str, int]) -> str:
    """A record as ``training.auto.EVIDENCE`` quotes it."""
    win, tie, lose = (counts.get(k, 0) for k in ("win", "tie", "lose"))
    parts = [
        _plural(win, "win", "wins"),
        _plural(tie, "tie", "ties"),
        _plural(lose, "loss", "losses"),
    ]
    return f"{', '.join(parts)} in {win + tie + lose} cells against the recipe"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def summary(rows: Rows, where: Where, seeds: Sequence[int]) -> bench.Summary | None:
    """Mean and std over ``seeds`` of one cell, None unless every seed has a row."""
    found = [rows[key] for s in seeds if (key := (*where, s)) in rows]
    return bench.Summary.of(found) if len(found) == len(seeds) else None


def outcome(mine: bench.Summary, other: bench.Summary) -> str:
    """win / lose when the gap in mean exceeds the larger std, else tie (the tables' rule,
    ``bench.Verdict.outcome``; both sides hold every seed)."""
    return bench.Verdict(("", "", 0), mine, "other", other, None).outcome


def records(
    by_setting: dict[str, Rows], cells: Sequence[Where], seeds: Sequence[int]
) -> dict[str, dict[str, dict[str, int]]]:
    """class -> setting -> {"win", "tie", "lose"} counts against the recipe over the class's
    cells where both are measured on every seed."""
    out: dict[str, dict[str, dict[str, int]]] = {}
    for where in cells:
        recipe = summary(by_setting["recipe"], where, seeds)
        if recipe is None:
            continue
        found = out.setdefault(data_class(where[1], where[2]), {})
        for name in SETTINGS[1:]:
            mine = summary(by_setting[name], where, seeds)
            if mine is not None:
                counts = found.setdefault(name, {"win": 0, "tie": 0, "lose": 0})
                counts[outcome(mine, recipe)] += 1
    return out


def auto_rows(by_setting: dict[str, Rows], picked: dict[tuple, tuple[str, str]]) -> Rows:
    """The auto setting's headline per (suite, regime, pairs, seed) where its pick was run."""
    out: Rows = {}
    for key, (setting, _) in picked.items():
        if setting in by_setting and key in by_setting[setting]:
            out[key] = by_setting[setting][key]
    return out


def cell_lines(
    by_setting: dict[str, Rows],
    picked: dict[tuple, tuple[str, str]],
    tables: Sequence[dict[str, Any]],
    cells: Sequence[Where],
    seeds: Sequence[int],
) -> tuple[list[str], dict[str, dict[str, int]]]:
    """One line per cell: the pick(s), auto, the recipe, the best issue baseline and the
    outcomes; and the counts of auto's outcomes against each (``recipe``: cells where the pick
    is another setting; ``issue``), and the recipe's against the issue's baselines on auto's
    cells (``recipe vs issue``)."""
    mine = auto_rows(by_setting, picked)
    issue = bag_means._summaries(tables)
    head = ["suite", "regime", "pairs", "--auto picks", "auto", "recipe", BEST, "vs recipe"]
    lines = [
        "| " + " | ".join([*head, "vs issue's"]) + " |",
        "|---|---|---:|---|---:|---:|---|---|---|",
    ]
    counts: dict[str, dict[str, int]] = {"recipe": {}, "issue": {}, "recipe vs issue": {}}
    for where in cells:
        picks = sorted({picked[(*where, s)][0] for s in seeds if (*where, s) in picked})
        a, r = summary(mine, where, seeds), summary(by_setting["recipe"], where, seeds)
        best = bag_means._best(issue.get(where, {}), bag_means.ISSUE)
        b = issue[where][best] if best else None
        cols = [*map(str, where), " / ".join(picks)]
        cols += [bench._mean_std(s) if s else "-" for s in (a, r)]
        cols.append(f"{best} {bench._mean_std(b)}" if b else "-")
        for name, other in (("recipe", r), ("issue", b)):
            verdict = outcome(a, other) if a and other else "-"
            if name == "recipe" and picks == ["recipe"]:
                verdict = "-"  # the pick is the recipe itself: nothing to count
            if verdict != "-":
                counts[name][verdict] = counts[name].get(verdict, 0) + 1
            cols.append(verdict if verdict == "-" else f"{verdict} ({a.mean - other.mean:+.3f})")
        lines.append("| " + " | ".join(cols) + " |")
        if a and r and b:  # the recipe against the issue's baselines on auto's cells
            counts["recipe vs issue"][outcome(r, b)] = (
                counts["recipe vs issue"].get(outcome(r, b), 0) + 1
            )
    return lines, counts


def gain_lines(
    by_setting: dict[str, Rows], mine: Rows, cells: Sequence[Where], seeds: Sequence[int]
) -> list[str]:
    """What the unpaired rows buy: per regime, win / tie / lose of the recipe trained with them
    and of --auto's pick against the recipe on the same pairs alone (its row of the regime
    pairs), over the cells with pairs where all three hold every seed."""
    recipe = by_setting["recipe"]
    lines = ["| unpaired rows | the recipe with them | --auto's pick with them |", "|---|---|---|"]
    regimes = sorted({w[1] for w in cells} - {"pairs"}, key=lambda r: bench.parse_regime(r).order)
    for regime in regimes:
        counts: list[dict[str, int]] = [{}, {}]
        for where in (w for w in cells if w[1] == regime and w[2] > 0):
            alone = summary(recipe, (where[0], "pairs", where[2]), seeds)
            found = [summary(rows, where, seeds) for rows in (recipe, mine)]
            if alone is None or None in found:
                continue
            for count, with_them in zip(counts, found, strict=True):
                verdict = outcome(with_them, alone)  # type: ignore[arg-type]
                count[verdict] = count.get(verdict, 0) + 1
        if counts[0]:
            lines.append(f"| {regime} | " + " | ".join(map(_count_text, counts)) + " |")
    return lines


def record_lines(found: dict[str, dict[str, dict[str, int]]], picks: dict[str, str]) -> list[str]:
    """The class table: each setting's win / tie / lose against the recipe, and the pick."""
    lines = ["| data | --auto picks | best record | " + " | ".join(SETTINGS[1:]) + " |"]
    lines.append("|---|---|---|" + "---|" * (len(SETTINGS) - 1))
    for name in sorted(found, key=_class_order):
        cols = [name, picks.get(name, "-"), preferred(found[name])]
        for setting in SETTINGS[1:]:
            c = found[name].get(setting)
            cols.append(f"{c['win']} / {c['tie']} / {c['lose']}" if c else "-")
        lines.append("| " + " | ".join(cols) + " |")
    return lines


def _class_order(name: str) -> tuple[int, str]:
    return (0 if name.startswith("bags") else 2 if name == auto.PAIRS_ONLY else 1, name)


def class_picks(picked: dict[tuple, tuple[str, str]]) -> dict[str, str]:
    """class -> the setting(s) --auto picked on its splits (several where splits differ)."""
    out: dict[str, set[str]] = {}
    for setting, name in picked.values():
        out.setdefault(name, set()).add(setting)
    return {name: " / ".join(sorted(s)) for name, s in out.items()}


def table_rows(bench_dir: Path, sclip_rows: Path) -> list[dict[str, Any]]:
    """The published tables' rows (as they were before session e2fc655, which this report
    compares with) and the rows of :data:`PAIRS_FILES` (regime pairs)."""
    wide = published_tables.SOURCES_WIDE_MOLECULES
    tables = published_tables.table_rows(bench_dir, sclip_rows, wide)
    extra = [row for f in PAIRS_FILES for row in published_tables.read(bench_dir / f)]
    return [*tables, *(row for row in extra if row["regime"] == "pairs")]


def table_cells(tables: Sequence[dict[str, Any]]) -> list[Where]:
    """The tables' cells where gentle ran, in the tables' order (the natural regime left out:
    it has no single bag size)."""
    found = {(r["suite"], r["regime"], int(r["pairs"])) for r in tables if r["method"] == "gentle"}
    kept = [w for w in found if w[1] != "natural"]
    return sorted(kept, key=lambda w: (w[0], bench.parse_regime(w[1]).order, w[2]))


def markdown(
    val: dict[str, dict[str, dict[str, int]]],
    test: dict[str, dict[str, dict[str, int]]],
    picks: dict[str, str],
    lines: list[str],
    counts: dict[str, dict[str, int]],
    gains: list[str],
) -> str:
    """The report: the class tables (validation, then test), auto's totals, every cell."""
    totals = {name: _count_text(c) for name, c in counts.items()}
    rule = (
        "win / tie / lose over cells measured on all 5 seeds; win or lose when the gap in mean "
        "exceeds the larger std"
    )
    return "\n".join(
        [
            "# gentleclip train --auto on the benchmark's rows",
            "",
            "Each setting against the recipe on the **validation pairs** (each row's best "
            f"candidate, as the bench's search chose it; {rule}), by class of data. --auto's "
            "pick in each class is the best record here (most wins over losses):",
            "",
            *record_lines(val, picks),
            "",
            f"The same on the **test pairs** ({rule}):",
            "",
            *record_lines(test, picks),
            "",
            f"- auto against the recipe (test pairs; cells where it picks another setting): "
            f"{totals['recipe']}",
            f"- auto against the best of the issue's baselines: {totals['issue']}; the recipe "
            f"against them on the same cells: {totals['recipe vs issue']}",
            "",
            "What the unpaired rows buy: the recipe trained with them, and --auto's pick, "
            f"against the recipe on the same pairs alone (test pairs; {rule}):",
            "",
            *gains,
            "",
            "Every cell (test headline: class P@1; proteins a->b R@10; mean ± std over 5 seeds, "
            f"{bench.STD_NOTE}; '-': a seed's row of the picked setting is missing):",
            "",
            *lines,
            "",
        ]
    )


def _count_text(c: dict[str, int]) -> str:
    return evidence(c).removesuffix(" against the recipe")


def plot(
    by_setting: dict[str, Rows],
    mine: Rows,
    cells: Sequence[Where],
    seeds: Sequence[int],
    out: Path,
) -> Path:
    """``OUT/auto.png``: auto's mean against the recipe's, one panel per regime."""
    regimes = sorted({w[1] for w in cells}, key=lambda r: bench.parse_regime(r).order)
    fig = Figure(figsize=(4 * len(regimes), 3.8), layout="constrained")
    axes = fig.subplots(1, len(regimes), squeeze=False)[0]
    markers = dict(zip(ALL, "osD^", strict=True))
    for ax, regime in zip(axes, regimes, strict=True):
        for suite in ALL:
            pts = [
                (r.mean, a.mean)
                for w in cells
                if w[:2] == (suite, regime)
                and (r := summary(by_setting["recipe"], w, seeds))
                and (a := summary(mine, w, seeds))
            ]
            if pts:
                ax.scatter(*zip(*pts, strict=True), marker=markers[suite], label=suite, s=22)
        ax.axline((0, 0), slope=1, color="0.6", linestyle="--", linewidth=1)
        ax.set_xlim(0, 1), ax.set_ylim(0, 1)
        ax.set_title(f"{regime}: above the line, --auto scored higher", fontsize=9)
        ax.set_xlabel("the recipe (mean of 5 seeds)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("--auto (same cells)")
    fig.suptitle("Test headline (class P@1; proteins a->b R@10), each cell where --auto's pick ran")
    axes[0].legend(fontsize=7)
    path = out / "auto.png"
    save_figure_atomic(fig, path)
    return path


def report(bench_dir: Path, sclip_rows: Path) -> dict[str, Any]:
    """Everything the report shows: ``text`` (auto.md); ``val`` and ``test`` (class -> setting
    -> record against the recipe on the validation and the test pairs); ``picked`` (per cell
    and seed) and ``classes`` (per class); ``by_setting`` and ``auto`` (test rows); ``cells``;
    ``counts`` (auto's outcomes against the recipe and the issue's baselines)."""
    tables = table_rows(bench_dir, sclip_rows)
    by_setting = {**table_settings(tables), **setting_rows(bench_dir)}
    by_setting[PAIRS_ALONE] = pairs_alone_rows(tables)
    by_setting[CLOSED_FORM] = fit_rows(bench_dir)
    by_setting[BAG_MEAN_MAP] = fit_rows(bench_dir, files=BAG_MEAN_FILES)
    on_val = {**table_settings(tables, "val"), **setting_rows(bench_dir, "val")}
    on_val[PAIRS_ALONE] = pairs_alone_rows(tables, "val")
    on_val[CLOSED_FORM] = fit_rows(bench_dir, "val")
    on_val[BAG_MEAN_MAP] = fit_rows(bench_dir, "val", BAG_MEAN_FILES)
    cells, seeds = table_cells(tables), SEEDS
    shapes = [json.loads(line) for line in (bench_dir / SHAPES).read_text().splitlines()]
    picked = choices(shapes)
    lines, counts = cell_lines(by_setting, picked, tables, cells, seeds)
    val, test = records(on_val, cells, seeds), records(by_setting, cells, seeds)
    mine = auto_rows(by_setting, picked)
    gains = gain_lines(by_setting, mine, cells, seeds)
    text = markdown(val, test, class_picks(picked), lines, counts, gains)
    found = dict(text=text, val=val, test=test, picked=picked, by_setting=by_setting)
    return found | dict(auto=mine, cells=cells, counts=counts, classes=class_picks(picked))


def write_shapes(bench_dir: Path, sclip_rows: Path, out: Path) -> None:
    """``OUT/SHAPES`` from every cell's splits, built again."""
    cells = table_cells(table_rows(bench_dir, sclip_rows))
    with atomic_path(out / SHAPES, ".jsonl") as tmp:
        lines = [json.dumps(r, sort_keys=True) for r in split_shapes(cells, SEEDS)]
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bench", type=Path, default=Path("docs/bench"))
    p.add_argument(
        "--sclip-rows", type=Path, default=Path("docs/bench") / published_tables.SCLIP_ROWS
    )
    p.add_argument("--out", type=Path, default=Path("docs/bench"))
    p.add_argument(
        "--write-shapes",
        action="store_true",
        help=f"build every cell's splits again (every suite installed) and write OUT/{SHAPES}",
    )
    args = p.parse_args(argv)
    if args.write_shapes:
        write_shapes(args.bench, args.sclip_rows, args.out)
    found = report(args.bench, args.sclip_rows)
    with atomic_path(args.out / "auto.md", ".md") as tmp:
        tmp.write_text(found["text"], encoding="utf-8")
    plot(found["by_setting"], found["auto"], found["cells"], SEEDS, args.out)
    print(found["text"])


if __name__ == "__main__":
    main()
