"""docs/bench/auto.md is what benchmarks/auto_recipe.py makes of the rows, and `gentleclip
train --auto` picks, in each class of data, the setting with the best record there and
quotes that record."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from gentleclip.baselines.tuning import auto_folds
from gentleclip.data.regimes import RegimeData
from gentleclip.experiments import bench, datasets
from gentleclip.training import auto

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "docs" / "bench"
ScriptLoader = Callable[[str], ModuleType]


@pytest.fixture
def script(bench_script: ScriptLoader) -> ModuleType:
    return bench_script("auto_recipe")


@pytest.fixture
def made(script: ModuleType) -> dict[str, Any]:
    return script.report(BENCH, BENCH / "bench-sclip-sets-c68564f.jsonl")


def _shapes(script: ModuleType) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (BENCH / script.SHAPES).read_text().splitlines()]


def test_auto_report_is_made_from_its_rows(script: ModuleType, made: dict[str, Any]) -> None:
    """auto.md is the script's; results.md shows its validation table and plot and, like the
    README, quotes auto's totals."""
    assert (BENCH / "auto.md").read_text(encoding="utf-8") == made["text"]
    assert (BENCH / "auto.png").is_file()
    text = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    assert all(line in text for line in script.record_lines(made["val"], made["classes"]))
    gains = script.gain_lines(made["by_setting"], made["auto"], made["cells"], script.SEEDS)
    assert len(gains) == 2 + 4 and all(line in text for line in gains)
    results = " ".join(text.split())
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "![gentleclip train --auto against the recipe" in results
    for counts in made["counts"].values():
        assert script._count_text(counts) in results and script._count_text(counts) in readme


def _full_rule(shape: dict[str, Any]) -> bool:
    """Splits where the rule's class applies in full: two bags or more, or disjoint sides with
    pairs (a single bag keeps the recipe's bag settings; disjoint sides without pairs are
    refused), or pairs only with enough pairs to choose a closed-form map by cross-validation
    (fewer keep the recipe)."""
    if shape["unpaired_a"] == 0:
        return auto_folds(shape["n_pairs"]) > 0
    if shape["bags_a"] is None:
        return shape["n_pairs"] > 0
    return sum(shape["bags_a"].values()) >= 2


def test_auto_picks_the_best_validation_record_of_each_class_and_quotes_its_test_record(
    script: ModuleType, made: dict[str, Any]
) -> None:
    """In every class the setting --auto picks on the bench's splits is the one whose wins
    against the recipe on the validation pairs exceed its losses by most (``preferred``), and
    ``auto.EVIDENCE`` quotes that setting's record on the test pairs exactly; a class where no
    setting won more than it lost keeps the recipe and quotes nothing."""
    picks: dict[str, set[str]] = {}
    for shape in filter(_full_rule, _shapes(script)):
        where = (shape["suite"], shape["regime"], shape["pairs"], shape["seed"])
        setting, name = made["picked"][where]
        picks.setdefault(name, set()).add(setting)
    quoted = {}
    for name, record in made["val"].items():
        best = script.preferred(record)
        if name in picks:
            assert picks[name] == {best}, name
        if best != "recipe":
            quoted[name] = script.evidence(made["test"][name][best])
    assert quoted == auto.EVIDENCE and set(auto.PICKS) == set(quoted)
    for name, (setting, quote) in auto.FALLBACKS.items():  # the runner-up, where FIT cannot fold
        record = made["val"][name]
        runner_up = script.preferred({k: v for k, v in record.items() if k != script.CLOSED_FORM})
        assert auto.PICKS[name] == auto.FIT and setting == runner_up
        assert (
            quote
            == f"the recipe on the pairs alone: {script.evidence(made['test'][name][setting])}"
        )


def test_auto_split_shapes_are_the_bench_s_splits(script: ModuleType) -> None:
    """auto-splits.jsonl holds what --auto reads of each bench split: mfeat's built again here
    (the other suites' data is not installed in CI), and --auto picks the same on a real split
    as on a dataset of its shape."""
    mfeat = [r for r in _shapes(script) if r["suite"] == "mfeat"]
    cells = sorted({(r["suite"], r["regime"], r["pairs"]) for r in mfeat})
    assert len(mfeat) == 5 * len(cells) == 5 * (24 + 5)  # the tables' cells, then pairs only
    built = script.split_shapes(cells, range(5))
    key = ("suite", "regime", "pairs", "seed")
    by_key = {tuple(r[k] for k in key): r for r in mfeat}
    for row in built:
        assert json.loads(json.dumps(row)) == by_key[tuple(row[k] for k in key)]
    domain, test_size = bench.load_domain("mfeat"), datasets.entry("mfeat").setting.test_size
    cases = (("bags:8", 10), ("bags:128", 20), ("bags:32", 0), ("unpaired", 50), ("pairs", 20))
    for regime, pairs in cases:
        split = bench.cell_data(
            domain, bench.Cell("mfeat", regime, pairs, 0, "gentle"), test_size, False
        )
        real = auto.choose(RegimeData.from_arrays(split.test))
        assert real == auto.choose(script.shaped_data(script.split_shape(split.test)))


def test_pairs_alone_rows_are_the_regime_pairs_rows(script: ModuleType) -> None:
    """The bench method gentle-pairs-alone, run on disjoint and bagged splits (session 6ad9b49's
    check), scores what gentle scored in the regime pairs at the same pair count and seed, on
    validation and on test, bit for bit: the report's reading of those rows as the pairs-alone
    setting's."""
    check = bench.read_results(BENCH / "bench-pairs-alone-check-6ad9b49.jsonl")
    alone = {
        (r["suite"], r["pairs"], r["seed"]): r
        for r in bench.read_results(BENCH / script.PAIRS_FILES[0])
        if r["method"] == "gentle" and r["status"] == "ok"
    }
    ran = [r for r in check if r["status"] == "ok" and r["method"] == "gentle-pairs-alone"]
    assert {r["regime"] for r in ran} == {"unpaired", "bags:8"} and len(ran) == 4
    for row in ran:
        same = alone[(row["suite"], row["pairs"], row["seed"])]
        scores = [
            {k: v for k, v in r["metrics"].items() if "seconds" not in k} for r in (row, same)
        ]
        assert row["value"] == same["value"] and scores[0] == scores[1] and len(scores[0]) > 10
        assert [c["val"] for c in row["candidates"]] == [c["val"] for c in same["candidates"]]


def test_the_folds_and_the_holdout_records_in_results_md(script: ModuleType) -> None:
    """results.md's table of the two ways fit --tune chooses: each one's record against the
    recipe (validation and test) in the pairs-only and disjoint classes, from its rows."""
    tables = script.table_rows(BENCH, BENCH / "bench-sclip-sets-c68564f.jsonl")
    cells = script.table_cells(tables)
    text = (ROOT / "docs" / "results.md").read_text(encoding="utf-8")
    for file, cells_text in (
        ("auto-fit-holdout-afe5197.jsonl", 16),
        ("auto-fit-afe5197.jsonl", 20),
    ):
        found = []
        for split in ("val", "test"):
            by_setting = {name: {} for name in script.SETTINGS}
            by_setting["recipe"] = script.table_settings(tables, split)["recipe"]
            by_setting[script.CLOSED_FORM] = script.fit_rows(BENCH, split, (file,))
            found.append(script.records(by_setting, cells, script.SEEDS))
        cols = []
        for name in ("pairs only", "disjoint, pairs"):
            val, test = (r[name][script.CLOSED_FORM] for r in found)
            assert sum(val.values()) == sum(test.values()) == cells_text
            cols.append(" and ".join(f"{c['win']} / {c['tie']} / {c['lose']}" for c in (val, test)))
        lines = [line for line in text.splitlines() if f"| {cells_text} | {cols[0]} |" in line]
        assert len(lines) == 1 and cols[1] in lines[0], file


def test_the_bag_mean_maps_by_folds_and_by_one_fifth_in_results_md() -> None:
    """results.md's and the README's means of fit --method auto --bag-means --tune over the
    bag-mean cells, by one fifth held out and by 5 folds, are the rows' means."""
    means = []
    for file in ("auto-fit-bagmeans-holdout-afe5197.jsonl", "auto-fit-bagmeans-afe5197.jsonl"):
        rows = [json.loads(line) for line in (BENCH / file).read_text().splitlines()]
        test = [r["value"] for r in rows if r["split"] == "test"]
        assert len(test) == 4 * 4 * 5  # suites x pair counts x seeds
        means.append(f"{sum(test) / len(test):.3f}")
    results = " ".join((ROOT / "docs" / "results.md").read_text(encoding="utf-8").split())
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert f"**{means[0]}** on average with one fifth held out and **{means[1]}**" in results
    assert f"scored {means[1]} on average, {means[0]} with one fifth held out" in readme


@pytest.mark.parametrize("holdout", [False, True])
def test_fit_tune_reports_are_made_from_their_rows(
    bench_script: ScriptLoader, holdout: bool
) -> None:
    """fit-tune.md (5 folds, fit --tune's default) and fit-tune-holdout.md (one fifth, session
    2af79bb's) are the script's tables of their rows; results.md's table of the means over the
    80 cells and the README quote them."""
    script = bench_script("fit_tune")
    stem = "fit-tune-holdout" if holdout else "fit-tune"
    cells = [json.loads(line) for line in (BENCH / f"{stem}.jsonl").read_text().splitlines()]
    assert len(cells) == 4 * 4 * 5 and {c["folds"] for c in cells} == ({0} if holdout else {5})
    assert (BENCH / f"{stem}.md").read_text(encoding="utf-8") == script.markdown(
        script.with_best_map(cells), holdout
    )
    means = {way: sum(c[way] for c in cells) / len(cells) for way in (*script.WAYS, "gentle")}
    row = " | ".join(f"{means[w]:.3f}" for w in ("defaults", "fit --tune", "bench", "auto"))
    results = (ROOT / "docs" / "results.md").read_text(encoding="utf-8").replace("**", "")
    label = "one fifth held out (before)" if holdout else "5-fold cross-validation"
    assert f"| {label} | {row} | {means['best map']:.3f} | {means['gentle']:.3f} |" in results
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    ridge, auto_mean = f"{means['fit --tune']:.3f}", f"{means['auto']:.3f}"
    if holdout:
        assert f"({auto_mean} with one fifth" in readme and f"tuned that way ({ridge})" in readme
    else:
        assert f"scored {auto_mean} on average" in readme
        assert f"{ridge} for ridge tuned that way" in readme
    assert f"{means['defaults']:.3f} for ridge's defaults" in readme


def _mean_by_cell(file: str, split: str) -> dict[tuple, float]:
    rows = [json.loads(line) for line in (BENCH / file).read_text().splitlines()]
    cells: dict[tuple, list[float]] = {}
    for r in rows:
        if r["split"] == split:
            cells.setdefault((r["suite"], r["regime"], r["pairs"]), []).append(r["value"])
    return {k: sum(v) / len(v) for k, v in cells.items()}


@pytest.mark.parametrize(
    ("four", "eight", "quote"),
    [
        (
            "auto-fit-afe5197.jsonl",
            "auto-fit-budget8-501bbc2.jsonl",
            "from {v4:.4f} to {v8:.4f} on validation and from {t4:.4f} to {t8:.4f} on test "
            "(higher in {hi} of {n} cells on test, lower in {lo})",
        ),
        (
            "auto-fit-bagmeans-afe5197.jsonl",
            "auto-fit-bagmeans-budget8-501bbc2.jsonl",
            "from {v4:.4f} to {v8:.4f} and from {t4:.4f} to {t8:.4f} (higher in {hi} of {n} on "
            "test, lower in {lo})",
        ),
    ],
)
def test_the_budget_8_records_in_results_md(four: str, eight: str, quote: str) -> None:
    """results.md's means and counts of fit --method auto --tune with 8 candidates per map
    against the bench's 4 are the rows' (every cell holds 5 seeds on both sides)."""
    found = {}
    for split, tag in (("val", "v"), ("test", "t")):
        base, wide = _mean_by_cell(four, split), _mean_by_cell(eight, split)
        assert base.keys() == wide.keys()
        found[f"{tag}4"] = sum(base.values()) / len(base)
        found[f"{tag}8"] = sum(wide.values()) / len(wide)
    found["hi"] = sum(wide[k] > base[k] for k in base)
    found["lo"] = sum(wide[k] < base[k] for k in base)
    found["n"] = len(base)
    results = " ".join((ROOT / "docs" / "results.md").read_text(encoding="utf-8").split())
    assert quote.format(**found) in results
