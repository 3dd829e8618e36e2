"""benchmarks/bagnce_items.py: gentle-bagnce-items against gentle, its two halves and the
best baselines, and target 1 with each in gentle's place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from gentleclip.experiments import datasets

ScriptLoader = Callable[[str], ModuleType]
SUITES = ("emoji", "mfeat", "molecules", "proteins")


@pytest.fixture
def script(bench_script: ScriptLoader) -> ModuleType:
    return bench_script("bagnce_items")


def _row(method: str, seed: int, value: float, suite: str = "molecules", pairs: int = 10) -> dict:
    where = {"suite": suite, "regime": "bags:8", "pairs": pairs}
    return {**where, "seed": seed, "method": method, "status": "ok", "value": value}


def _five(method: str, mean: float, **where: object) -> list[dict]:
    """Five seeds at mean -0.02 .. +0.02 (population std 0.014)."""
    return [_row(method, s, mean + (s - 2) * 0.01, **where) for s in range(5)]


def _cell(suite: str, pairs: int, both: float) -> tuple[list[dict], list[dict], list[dict]]:
    """(tables, rows, bag-mean rows) of one cell: gentle 0.40, cca 0.30, ridge-bagmeans 0.50,
    gentle-bagnce 0.48, gentle-items 0.45 and gentle-bagnce-items at ``both``."""
    where = {"suite": suite, "pairs": pairs}
    # fitted with the suite's current parameters (molecules: centred features), as the tables'
    # maps were; bag-mean rows count only made so too
    fitted = {"baseline_override": datasets.entry(suite).baseline_params}
    cca = [{**r, **fitted} for r in _five("cca", 0.30, **where)]
    tables = [*_five("gentle", 0.40, **where), *cca]
    rows = [*_five("gentle-bagnce", 0.48, **where), *_five("gentle-items", 0.45, **where)]
    rows += _five("gentle-bagnce-items", both, **where)
    return tables, rows, [{**r, **fitted} for r in _five("ridge-bagmeans", 0.50, **where)]


def test_verdicts_of_the_combined_method(script: ModuleType) -> None:
    tables, rows, bags = _cell("mfeat", 10, 0.55)
    table, names = script.cells_by_where(tables, rows, bags)
    cells = table[("mfeat", "bags:8", 10)]
    assert names[("mfeat", "bags:8", 10)] == {script.BEST: "cca", script.BEST_ALL: "ridge-bagmeans"}
    assert cells["gentle-bagnce-items"].mean == pytest.approx(0.55)
    (line,) = [x for x in script.table_lines(table, names) if x.startswith("| mfeat")]
    assert "| win (+0.250) | win (+0.050) | win (+0.150) | win (+0.100) | win (+0.070) |" in line
    assert "| 0.400 ± 0.014 | 0.450 ± 0.014 | 0.480 ± 0.014 | 0.550 ± 0.014 |" in line


def test_a_later_row_replaces_an_earlier_one_and_only_its_pair_counts_are_kept(
    script: ModuleType,
) -> None:
    """The pair counts are gentle-bagnce-items' (100 pairs here, beyond target 1's), not its
    rivals' (gentle-items at 200 pairs, another regime)."""
    tables, rows, bags = _cell("mfeat", 10, 0.55)
    rows.append(_row("gentle-bagnce-items", 0, 0.43, "mfeat", 10))  # seed 0 again: 0.53 -> 0.43
    rows += _five("gentle-bagnce-items", 0.9, suite="mfeat", pairs=100)
    rows += _five("gentle-items", 0.9, suite="mfeat", pairs=200)
    rows += [{**r, "regime": "bags:32"} for r in _five("gentle-bagnce-items", 0.9, suite="mfeat")]
    table, _ = script.cells_by_where(tables, rows, bags)
    assert list(table) == [("mfeat", "bags:8", 10), ("mfeat", "bags:8", 100)]
    assert table[("mfeat", "bags:8", 10)]["gentle-bagnce-items"].mean == pytest.approx(0.53)
    assert set(table[("mfeat", "bags:8", 100)]) == {"gentle-bagnce-items"}


def test_target_1_counts_suites_winning_at_every_target_count(script: ModuleType) -> None:
    """Every suite at 10, 20 and 50 pairs; the combined method ties the bag means on proteins
    at 50 pairs (0.51 against 0.50, std 0.014): 3 suites of 4 against every baseline."""
    tables, rows, bags = [], [], []
    for suite in SUITES:
        for pairs in (10, 20, 50):
            both = 0.51 if (suite, pairs) == ("proteins", 50) else 0.55
            t, r, b = _cell(suite, pairs, both)
            tables, rows, bags = tables + t, rows + r, bags + b
    table, _ = script.cells_by_where(tables, rows, bags)
    lines = script.target_lines(table)
    assert (
        "- gentle-bagnce-items against every baseline: wins at 10, 20 and 50 pairs on 3 of 4"
        " suites (emoji, mfeat, molecules): met" in lines
    )
    assert (
        "- gentle against every baseline: wins at 10, 20 and 50 pairs on 0 of 4 suites"
        " (none): not met" in lines
    )
    assert any(x.startswith("- gentle-bagnce against the issue's baselines: wins") for x in lines)


def test_target_1_is_not_counted_without_all_four_suites(script: ModuleType) -> None:
    tables, rows, bags = _cell("mfeat", 10, 0.55)
    table, _ = script.cells_by_where(tables, rows, bags)
    assert script.target_lines(table) == []


def test_probe_means_and_the_report_and_plot(script: ModuleType, tmp_path: Path) -> None:
    probes = [
        {"suite": "proteins", "pairs": 10, "method": "gentle-bagnce", "seed": s, "val": v}
        for s, v in ((1, 0.7), (0, 0.8))
    ]
    probes.append({**probes[0], "override": {"loss.w_clip": 0.1}, "val": 0.1})  # not a method
    assert script.probe_lines(probes)[2] == "| proteins | 10 | gentle-bagnce | 0.750 | 0,1 |"
    table, names = script.cells_by_where(*_cell("mfeat", 10, 0.55))
    text = script.markdown(probes, table, names)
    assert text.startswith("# The bag-level InfoNCE with the pairs as bag members")
    assert (path := script.plot(table, tmp_path)).stat().st_size > 0
    assert path.name == "bagnce-items.png"


def test_a_rival_that_did_not_run_is_a_dash(script: ModuleType) -> None:
    tables, rows, bags = _cell("emoji", 20, 0.55)
    rows = [r for r in rows if r["method"] != "gentle-bagnce"]
    table, names = script.cells_by_where(tables, rows, bags)
    (line,) = [x for x in script.table_lines(table, names) if x.startswith("| emoji")]
    assert line.endswith("| win (+0.250) | win (+0.050) | win (+0.150) | win (+0.100) | - |")
    assert "| 0.450 ± 0.014 | - | 0.550 ± 0.014 |" in line


ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "docs" / "bench"
ROWS = (
    "bench-items-634d969.jsonl",
    "bench-bagnce-items-123046b.jsonl",
    "bench-bagnce-full-123046b.jsonl",
    "bench-bagnce-items-many-cfcee97.jsonl",
)
# bag-mean rows made with the suites' current settings (molecules' clip-bagmeans on the
# head-only towers, which no row records)
MADE_NOW = ("bench-bagnce-items-many-cfcee97.jsonl", "bench-molecules-clipbagmeans-cfcee97.jsonl")


def test_the_published_report_is_made_from_its_rows(script: ModuleType) -> None:
    """docs/bench/bagnce-items.md is what the script makes of the rows results.md names; the
    gentle-bagnce column is its full-search rerun, as every other column's search."""
    published = script.pairs_as_items.published_tables
    rows = published.read_rows([BENCH / name for name in ROWS])
    assert {r["method"] for r in rows} >= set(script.MINE)
    tables = published.table_rows(
        BENCH, BENCH / "bench-sclip-sets-c68564f.jsonl", published.SOURCES_WIDE_MOLECULES
    )
    bag_rows = published.rescored(
        published.read_rows(
            [
                BENCH / "bench-bagmeans-1560fa8.jsonl",
                BENCH / "bench-molecules-centred-72146e1.jsonl",
            ]
        ),
        published.read(BENCH / "bench-ties-bagmeans-2af79bb.jsonl"),
    )
    bag_rows += published.as_made_now(published.read_rows([BENCH / n for n in MADE_NOW]), tables)
    table, names = script.cells_by_where(tables, rows, bag_rows)
    probes = script.pairs_as_items.read_probes([BENCH / "bagnce-items-val-123046b.jsonl"])
    text = (BENCH / "bagnce-items.md").read_text(encoding="utf-8")
    assert text == script.markdown(probes, table, names)
    assert len(table) == 20  # 10 to 200 pairs; proteins at 200 has a single bag left
    assert all(len(cells) == 6 for (_, _, pairs), cells in table.items() if pairs <= 50)


def test_a_report_of_bags_of_32_has_its_own_file_and_no_target_lines(
    script: ModuleType, tmp_path: Path
) -> None:
    tables, rows, bags = _cell("mfeat", 10, 0.55)
    rows32 = [{**r, "regime": "bags:32"} for r in (*tables, *rows, *bags)]
    table, names = script.cells_by_where(rows32, rows32, rows32, "bags:32")
    assert list(table) == [("mfeat", "bags:32", 10)] and len(table[("mfeat", "bags:32", 10)]) == 6
    assert script.cells_by_where(rows32, rows32, rows32)[0] == {}  # bags of 8 unless told
    text = script.markdown([], table, names, "bags:32")
    assert text.startswith("# The bag-level InfoNCE with the pairs as bag members")
    assert ", bags of 32\n" in text and "Bags of 32, test headline" in text
    assert "Target 1" not in text and "Validation splits" not in text
    assert script.plot(table, tmp_path, regime="bags:32").name == "bagnce-items-bags32.png"


ROWS_32 = (
    "bench-items-634d969.jsonl",
    "bench-bagnce32-7a5968c.jsonl",
    "bench-molecules-bagnce32-cfcee97.jsonl",  # molecules' gentle-bagnce on today's towers
    "bench-bagnce-items-bags32-cfcee97.jsonl",
)


def test_the_published_bags_of_32_report_is_made_from_its_rows(script: ModuleType) -> None:
    """docs/bench/bagnce-items-bags32.md: the same report with bags of 32; molecules'
    gentle-bagnce is session cfcee97's rerun (a later row replaces an earlier one), its
    bag-mean baselines the rows made with its current settings."""
    published = script.pairs_as_items.published_tables
    rows = published.read_rows([BENCH / name for name in ROWS_32])
    tables = published.table_rows(
        BENCH, BENCH / "bench-sclip-sets-c68564f.jsonl", published.SOURCES_WIDE_MOLECULES
    )
    bag_rows = published.rescored(
        published.read(BENCH / "bench-bagmeans-bagsize-1560fa8.jsonl"),
        published.read(BENCH / "bench-ties-bagmeans-2af79bb.jsonl"),
    )
    made_now = published.read(BENCH / "bench-molecules-bagmeans32-cfcee97.jsonl")
    bag_rows += published.as_made_now(made_now, tables)
    table, names = script.cells_by_where(tables, rows, bag_rows, "bags:32")
    text = (BENCH / "bagnce-items-bags32.md").read_text(encoding="utf-8")
    assert text == script.markdown([], table, names, "bags:32")
    assert len(table) == 12 and all(len(cells) == 6 for cells in table.values())
    molecules = table[("molecules", "bags:32", 20)]
    assert names[("molecules", "bags:32", 20)][script.BEST_ALL] == "ridge-bagmeans"
    rerun = published.read(BENCH / "bench-molecules-bagnce32-cfcee97.jsonl")
    twenty = [r["value"] for r in rerun if r["pairs"] == 20]
    assert molecules["gentle-bagnce"].mean == pytest.approx(sum(twenty) / len(twenty))
