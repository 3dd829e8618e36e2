"""benchmarks/variant_grid.py: a variant of gentle over a suite's grid, on synthetic rows."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from PIL import Image

from gentleclip.experiments import bench


@pytest.fixture
def variant_grid(bench_script: Any) -> ModuleType:
    return bench_script("variant_grid")  # it imports ablations.py beside it


def _row(method: str, regime: str, pairs: int, seed: int, value: float, **extra: Any) -> dict:
    where = {"suite": "molecules", "regime": regime, "pairs": pairs, "seed": seed}
    return {**where, "method": method, "status": "ok", "value": value, **extra}


def _cells(method: str, regime: str, pairs: int, values: list[float], **extra: Any) -> list:
    return [_row(method, regime, pairs, s, v, **extra) for s, v in enumerate(values)]


def _grid() -> list[dict]:
    """bags:8 at 0 pairs (gentle alone: clip skipped) and at 10 pairs (gentle, clip, ridge)."""
    skipped = {**_row("clip", "bags:8", 0, 0, 0.0), "status": "skipped", "reason": "no pairs"}
    return [
        *_cells("gentle", "bags:8", 0, [0.50, 0.52, 0.54]),
        skipped,
        *_cells("gentle", "bags:8", 10, [0.40, 0.41, 0.42]),
        *_cells("clip", "bags:8", 10, [0.30, 0.31, 0.32]),
        *_cells("ridge", "bags:8", 10, [0.44, 0.45, 0.46]),
        *_cells("oracle", "bags:8", 10, [0.90, 0.90, 0.90]),
    ]


def _variant() -> list[dict]:
    return [
        *_cells("gentle-ssl", "bags:8", 0, [0.40, 0.42, 0.44]),
        *_cells("gentle-ssl", "bags:8", 10, [0.50, 0.51, 0.52]),
        # another method, and the variant with a recipe override: both left out
        *_cells("gentle-no-mmd", "bags:8", 10, [0.0, 0.0, 0.0]),
        *_cells("gentle-ssl", "bags:8", 10, [0.0, 0.0, 0.0], recipe_override={"optim": {"lr": 1}}),
    ]


def test_each_setting_compares_the_variant_with_gentle_and_the_best_baseline(
    variant_grid: ModuleType,
) -> None:
    found = variant_grid.collect(_grid(), _variant(), "molecules", "gentle-ssl")
    assert [(s.regime, s.pairs) for s in found] == [("bags:8", 0), ("bags:8", 10)]
    zero, ten = found
    assert zero.against_gentle == "worse" and zero.before.outcome == "only gentle"
    assert ten.against_gentle == "better"
    assert ten.before.best == "ridge"  # the oracle is no baseline
    assert (ten.before.outcome, ten.after.outcome) == ("lose", "win")
    assert ten.after.gentle.mean == pytest.approx(0.51)


def test_the_report_counts_both_records_and_names_the_changed_outcomes(
    variant_grid: ModuleType,
) -> None:
    found = variant_grid.collect(_grid(), _variant(), "molecules", "gentle-ssl")
    text = variant_grid.report(found, "molecules", "gentle-ssl", "halving")
    assert text.startswith("# gentle-ssl over the molecules default grid\n")
    assert "| bags:8 | 10 | 0.410 ± 0.008 | 0.510 ± 0.008 | +0.100 | better |" in text
    assert "gentle, settings with pairs: 1 better, 0 same, 0 worse of 1" in text
    assert "settings without pairs: 0 better, 0 same, 1 worse of 1" in text
    assert "- gentle against the best baseline: 0 win, 0 tie, 1 lose of 1" in text
    assert "- gentle-ssl in gentle's place: 1 win, 0 tie, 0 lose of 1" in text
    assert "- outcomes that change: bags:8 10 (lose -> win)" in text


def test_a_setting_the_variant_lacks_is_refused(variant_grid: ModuleType) -> None:
    rows = [r for r in _variant() if r["pairs"] != 0]
    with pytest.raises(SystemExit, match=r"gentle-ssl has no rows of molecules at .*bags:8', 0"):
        variant_grid.collect(_grid(), rows, "molecules", "gentle-ssl")


def test_different_seed_counts_are_refused(variant_grid: ModuleType) -> None:
    rows = [r for r in _variant() if not (r["pairs"] == 10 and r["seed"] == 2)]
    with pytest.raises(SystemExit, match="different seed counts"):
        variant_grid.collect(_grid(), rows, "molecules", "gentle-ssl")


def test_regimes_keep_the_grid_to_those_regimes_and_the_heading_names_them(
    variant_grid: ModuleType,
) -> None:
    grid = [*_grid(), *_cells("gentle", "unpaired", 10, [0.2, 0.2, 0.2])]
    found = variant_grid.collect(grid, _variant(), "molecules", "gentle-ssl", ["bags:8"])
    assert [(s.regime, s.pairs) for s in found] == [("bags:8", 0), ("bags:8", 10)]
    with pytest.raises(SystemExit, match=r"gentle-ssl has no rows of molecules at .*unpaired"):
        variant_grid.collect(grid, _variant(), "molecules", "gentle-ssl")
    with pytest.raises(SystemExit, match=r"no rows of molecules in regime \['bags:32'\]"):
        variant_grid.collect(grid, _variant(), "molecules", "gentle-ssl", ["bags:8", "bags:32"])
    text = variant_grid.report(found, "molecules", "gentle-ssl", "full", ["bags:8"])
    assert text.startswith("# gentle-ssl over the molecules default grid (bags:8 only)\n")


def test_a_grid_without_gentle_is_refused(variant_grid: ModuleType) -> None:
    grid = [r for r in _grid() if r["method"] != "gentle"]
    with pytest.raises(SystemExit, match="no gentle rows of molecules"):
        variant_grid.collect(grid, _variant(), "molecules", "gentle-ssl")


def test_main_writes_the_report_and_a_panel_per_regime(
    variant_grid: ModuleType, tmp_path: Path
) -> None:
    grid = [*_grid(), *_cells("gentle", "unpaired", 10, [0.2, 0.2, 0.2])]
    grid += _cells("clip", "unpaired", 10, [0.3, 0.3, 0.3])
    rows = [*_variant(), *_cells("gentle-ssl", "unpaired", 10, [0.25, 0.25, 0.25])]
    for name, found in (("grid", grid), ("rows", rows)):
        for row in found:
            bench.append_result(tmp_path / f"{name}.jsonl", row)
    variant_grid.main(
        [
            *("--suite", "molecules", "--variant", "gentle-ssl", "--stem", "v"),
            *("--grid", str(tmp_path / "grid.jsonl"), "--rows", str(tmp_path / "rows.jsonl")),
            *("--out", str(tmp_path)),
        ]
    )
    assert "| unpaired | 10 | 0.200 ± 0.000 | 0.250 ± 0.000 | +0.050 | better |" in (
        tmp_path / "v.md"
    ).read_text(encoding="utf-8")
    width, height = Image.open(tmp_path / "v.png").size
    assert width > 1.5 * height  # two regimes side by side


def _weighted() -> list[dict]:
    """bench method gentle with a recipe override (a weight tried on top of the recipe)."""
    override = {"loss": {"w_ssl": 0.05}}
    return [
        *_cells("gentle", "bags:8", 0, [0.55, 0.56, 0.57], recipe_override=override),
        *_cells("gentle", "bags:8", 10, [0.60, 0.61, 0.62], recipe_override=override),
        # the same method with another override: left out
        *_cells("gentle", "bags:8", 10, [0.0, 0.0, 0.0], recipe_override={"loss": {"w_ssl": 1}}),
    ]


def test_override_takes_the_rows_made_with_it_and_reference_takes_gentles_place(
    variant_grid: ModuleType,
) -> None:
    override = {"loss": {"w_ssl": 0.05}}
    found = variant_grid.collect(
        _grid(), _weighted(), "molecules", "gentle", None, override, ("gentle-ssl", _variant())
    )
    zero, ten = found
    assert zero.before.gentle.mean == pytest.approx(0.42)  # gentle-ssl, not the grid's gentle
    assert ten.after.gentle.mean == pytest.approx(0.61) and ten.against_gentle == "better"
    assert (ten.before.best, ten.before.outcome, ten.after.outcome) == ("ridge", "win", "win")
    names = variant_grid.Names("gentle-ssl", "w_ssl 0.05")
    text = variant_grid.report(found, "molecules", "gentle", "full", None, names, override)
    assert text.startswith("# w_ssl 0.05 over the molecules default grid\n")
    assert "the baselines: the molecules grid; gentle-ssl: its rows" in text
    assert (
        """w_ssl 0.05 (bench method gentle, --recipe-override '{"loss": {"w_ssl": 0.05}}')"""
        in (text)
    )
    assert "| regime | pairs | gentle-ssl | w_ssl 0.05 | gap | against gentle-ssl |" in text
    assert "- w_ssl 0.05 against gentle-ssl, settings with pairs: 1 better" in text
    assert "- gentle-ssl against the best baseline: 1 win, 0 tie, 0 lose of 1" in text
    # without the reference the grid's gentle stands: the override's rows beside it
    plain = variant_grid.collect(_grid(), _weighted(), "molecules", "gentle", None, override)
    assert plain[1].before.gentle.mean == pytest.approx(0.41)


def test_a_reference_missing_a_setting_of_gentles_is_refused(variant_grid: ModuleType) -> None:
    reference = [r for r in _variant() if r["pairs"] != 0]
    with pytest.raises(SystemExit, match=r"gentle-ssl has no rows of molecules at \[\('bags:8', 0"):
        variant_grid.collect(
            _grid(),
            _weighted(),
            "molecules",
            "gentle",
            None,
            {"loss": {"w_ssl": 0.05}},
            ("gentle-ssl", reference),
        )


def test_main_with_override_label_and_reference(variant_grid: ModuleType, tmp_path: Path) -> None:
    for name, found in (("grid", _grid()), ("rows", _weighted()), ("ref", _variant())):
        for row in found:
            bench.append_result(tmp_path / f"{name}.jsonl", row)
    common = [
        *("--suite", "molecules", "--variant", "gentle", "--stem", "w", "--out", str(tmp_path)),
        *("--grid", str(tmp_path / "grid.jsonl"), "--rows", str(tmp_path / "rows.jsonl")),
    ]
    with pytest.raises(SystemExit):
        variant_grid.main(common)  # gentle's plain rows are the grid's: an override is needed
    with pytest.raises(SystemExit):
        variant_grid.main([*common, "--override", "{w_ssl: 1}"])  # not JSON
    with pytest.raises(SystemExit):
        override = ["--override", '{"loss": {"w_ssl": 0.05}}']
        variant_grid.main([*common, *override, "--reference", "gentle-ssl"])  # no rows for it
    assert not (tmp_path / "w.md").exists()
    variant_grid.main(
        [
            *common,
            *("--override", '{"loss": {"w_ssl": 0.05}}', "--label", "w_ssl 0.05"),
            *("--reference", "gentle-ssl", "--reference-rows", str(tmp_path / "ref.jsonl")),
        ]
    )
    text = (tmp_path / "w.md").read_text(encoding="utf-8")
    assert "| bags:8 | 10 | 0.510 ± 0.008 | 0.610 ± 0.008 | +0.100 | better |" in text
    assert Image.open(tmp_path / "w.png").size[0] > 0
