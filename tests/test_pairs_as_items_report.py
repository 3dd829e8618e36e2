"""benchmarks/pairs_as_items.py: gentle-items against gentle and the best issue baseline."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

ScriptLoader = Callable[[str], ModuleType]


@pytest.fixture
def items_script(bench_script: ScriptLoader) -> ModuleType:
    return bench_script("pairs_as_items")


def _row(method: str, seed: int, value: float, regime: str = "bags:8", pairs: int = 10) -> dict:
    where = {"suite": "molecules", "regime": regime, "pairs": pairs}
    return {**where, "seed": seed, "method": method, "status": "ok", "value": value}


def _probe(method: str, seed: int, val: float, override: dict | None = None) -> dict:
    return {
        "suite": "molecules",
        "regime": "bags:8",
        "pairs": 10,
        "seed": seed,
        "method": method,
        "override": override or {},
        "val": val,
    }


def test_probe_settings_merge_method_and_override(items_script: ModuleType) -> None:
    towers = {"model.embed_dim": 512, "loss.w_clip": 0.0, "sampler.pairs_per_step": 2}
    same = [_probe("gentle-items", 0, 0.5), _probe("gentle", 1, 0.7, towers)]
    assert {items_script.label(items_script.settings(p)) for p in same} == {
        "w_clip 0.0, pairs_per_step 2"
    }
    dense = _probe("gentle", 0, 0.3, {"model.normalize_inputs": True, "loss.w_clip": 0.0})
    assert items_script.label(items_script.settings(dense)) == "w_clip 0.0, normalize_inputs True"
    lines = items_script.probe_lines([*same, _probe("gentle", 0, 0.4)])
    assert lines[2] == "| bags:8 | 10 | recipe | 0.400 | 0.4 |"
    assert lines[3] == "| bags:8 | 10 | w_clip 0.0, pairs_per_step 2 | 0.600 | 0.5 / 0.7 |"


def test_verdicts_against_the_best_issue_baseline(items_script: ModuleType) -> None:
    # the tables' molecules maps read centred features; bag-mean rows count only made so too
    centred = {"baseline_override": {"scale": False}}
    tables = [_row("gentle", s, v) for s, v in enumerate((0.40, 0.42, 0.44))]
    tables += [{**_row("cca", s, v), **centred} for s, v in enumerate((0.45, 0.46, 0.47))]
    tables += [_row("clip", s, 0.30) for s in range(3)]
    tables += [{**_row("cca", s, 0.9, pairs=20), **centred} for s in range(3)]  # items did not run
    items = [_row("gentle-items", s, v) for s, v in enumerate((0.55, 0.56, 0.57))]
    bag_rows = [_row("ridge-bagmeans", s, 0.99) for s in range(3)]
    bag_rows += [{**_row("ridge-bagmeans", s, v), **centred} for s, v in enumerate((0.57, 0.58))]
    bag_rows += [{**_row("clip", s, 0.98), **centred} for s in range(2)]  # not a bag-mean one
    lines, tally = items_script.test_lines(tables, items, bag_rows)
    assert len(lines) == 3  # header, rule, the one cell
    cols = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cols[:3] == ["molecules", "bags:8", "10"] and cols[5].startswith("cca 0.460")
    assert cols[6] == "lose (-0.040)" and cols[7] == "win (+0.100)"
    assert cols[8].startswith("ridge-bagmeans 0.575") and cols[9] == "lose (-0.015)"
    assert tally == {"molecules, bags:8": {"gentle": {"lose": 1}, "gentle-items": {"win": 1}}}


def test_main_writes_table_and_plot(
    items_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = tmp_path / "items.jsonl"
    rows.write_text(
        "".join(json.dumps(_row("gentle-items", s, 0.5 + s / 100)) + "\n" for s in range(3))
    )
    probes = tmp_path / "probes.jsonl"
    probes.write_text(json.dumps(_probe("gentle", 0, 0.4)) + "\n")
    tables = [_row("gentle", s, 0.4) for s in range(3)] + [_row("cca", s, 0.45) for s in range(3)]
    monkeypatch.setattr(items_script.published_tables, "table_rows", lambda *_: tables)
    argv = ["x", "--probes", str(probes), "--rows", str(rows), "--out", str(tmp_path)]
    monkeypatch.setattr("sys.argv", argv)
    items_script.main()
    text = (tmp_path / "pairs-as-items.md").read_text()
    assert (
        "gentle-items vs it" in text
        and "- molecules, bags:8: gentle 1 lose; gentle-items 1 win" in text
    )
    assert (tmp_path / "pairs-as-items.png").stat().st_size > 0


def test_bag_mean_rows_made_now_take_the_tables_overrides(
    items_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A molecules bag-mean row without a recorded override counts only when read from
    --bagmeans-rows-made-now, which gives it the overrides of the tables' rows of its kind
    (clip-bagmeans records no towers, as the tables' trained rows do)."""
    old, now = tmp_path / "old.jsonl", tmp_path / "now.jsonl"
    old.write_text("".join(json.dumps(_row("clip-bagmeans", s, 0.99)) + "\n" for s in range(3)))
    now.write_text("".join(json.dumps(_row("clip-bagmeans", s, 0.51)) + "\n" for s in range(3)))
    towers = {"recipe_override": {"model": {"encoder_a": "identity"}}}
    tables = [{**_row("clip", 0, 0.3), **towers}]
    monkeypatch.setattr(items_script.published_tables, "table_rows", lambda *_: tables)
    parser = argparse.ArgumentParser()
    items_script.add_row_arguments(parser)
    argv = ["--rows", str(old), "--bagmeans-rows", str(old), "--bagmeans-rows-made-now", str(now)]
    _, _, bag_rows = items_script.read_row_arguments(parser.parse_args(argv))
    assert len(bag_rows) == 6
    assert [r["value"] for r in items_script.current_bag_means(bag_rows, tables)] == [0.51] * 3


def test_the_published_report_is_its_rows(items_script: ModuleType) -> None:
    """docs/bench/pairs-as-items.md is what the script makes of the rows files beside it."""
    here = Path(__file__).resolve().parents[1] / "docs" / "bench"
    tables_module = items_script.published_tables

    def rows(*names: str) -> list[dict]:
        return tables_module.read_rows([here / name for name in names])

    tables = tables_module.table_rows(
        here, here / tables_module.SCLIP_ROWS, tables_module.SOURCES_WIDE_MOLECULES
    )
    bag_rows = tables_module.rescored(
        rows(
            "bench-bagmeans-1560fa8.jsonl",
            "bench-bagmeans-bagsize-1560fa8.jsonl",
            "bench-molecules-centred-72146e1.jsonl",
        ),
        rows("bench-ties-bagmeans-2af79bb.jsonl"),
    )
    probes = items_script.read_probes(
        [
            here / "molecules-gentle-pairs-val-72146e1.jsonl",
            here / "molecules-items-val-634d969.jsonl",
        ]
    )
    suites = items_script.read_probes([here / "items-val-suites-634d969.jsonl"])
    text = items_script.markdown(
        probes, suites, tables, rows("bench-items-634d969.jsonl"), bag_rows
    )
    assert text == (here / "pairs-as-items.md").read_text(encoding="utf-8")
