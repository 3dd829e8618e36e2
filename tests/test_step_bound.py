"""benchmarks/step_bound.py: a molecules step against its matrix products, and the grid's need."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from gentleclip.experiments import bench


@pytest.fixture
def step_bound(load_script: Any) -> ModuleType:
    return load_script("step_bound")


def _bound(script: ModuleType, step: float, products: float, **extra: Any) -> Any:
    values = dict(pairs=20, sparse_step=step, macs=10**6, gentle=6000.0, trained=2000.0)
    values.update(rest=500.0)
    values.update(cells=960, budget=3600.0, **extra)
    return script.Bound(step=step, products=products, **values)


def test_multiply_adds_count_the_input_gradient_only_where_the_input_needs_one(
    step_bound: ModuleType,
) -> None:
    first = step_bound.Product(rows=52, d_in=2048, d_out=512, input_grad=False)
    later = step_bound.Product(rows=52, d_in=512, d_out=512, input_grad=True)
    assert first.macs == 2 * 52 * 2048 * 512  # forward and weight gradient
    assert later.macs == 3 * 52 * 512 * 512


def test_the_step_records_each_towers_linear_layers_at_the_steps_rows(
    step_bound: ModuleType,
) -> None:
    """molecules-gentle: each tower the projection head (two layers); 20 pairs and 32 unpaired
    rows (4 bags of 8) a side per step; the first layers read the data, so need no input
    gradient."""
    found = step_bound.recorded_products(pairs=20)
    assert sorted(found) == sorted(
        [
            step_bound.Product(52, 2048, 512, False),
            step_bound.Product(52, 512, 512, True),
            step_bound.Product(52, 384, 512, False),
            step_bound.Product(52, 512, 512, True),
        ]
    )


def test_needed_speed_up_is_the_trained_seconds_over_the_room_the_others_leave(
    step_bound: ModuleType,
) -> None:
    b = _bound(step_bound, step=10.0, products=4.0)
    assert b.needed == pytest.approx(8000.0 / 3100.0)
    assert b.bound == pytest.approx(2.5)
    assert b.gentle_floor == pytest.approx(2400.0)
    assert b.others_needed == pytest.approx(2000.0 / (3600.0 - 500.0 - 2400.0))
    assert _bound(step_bound, 10.0, 4.0, rest=3600.0).needed == float("inf")
    assert _bound(step_bound, 10.0, 1.0, gentle=40000.0).others_needed == float("inf")


@pytest.mark.parametrize(("products", "ruled_out"), [(4.0, True), (2.0, False)])
def test_the_verdict_rules_the_budget_out_only_when_the_bound_is_below_the_need(
    step_bound: ModuleType, products: float, ruled_out: bool
) -> None:
    text = step_bound.report(_bound(step_bound, 10.0, products), Path("grid.jsonl"))
    assert ("the other trained methods would have to go" in text) == ruled_out
    assert ("the bound does not rule the budget out" in text) != ruled_out
    assert f"| bound: step / products | {10.0 / products:.2f}x |" in text


def test_grid_seconds_split_trained_methods_from_the_others(
    step_bound: ModuleType, tmp_path: Path
) -> None:
    path = tmp_path / "grid.jsonl"
    for method, seconds in (("gentle", 40.0), ("clip", 8.0), ("ridge", 0.5), ("cca", 1.5)):
        where = {"suite": "molecules", "regime": "bags:8", "pairs": 20, "seed": 0}
        bench.append_result(path, {**where, "method": method, "status": "ok", "seconds": seconds})
    assert step_bound.grid_seconds(path) == (40.0, 8.0, 2.0, 4)


def test_main_writes_the_table_and_the_record(step_bound: ModuleType, tmp_path: Path) -> None:
    grid = tmp_path / "grid.jsonl"
    where = {"suite": "molecules", "regime": "bags:8", "pairs": 10, "seed": 0}
    bench.append_result(grid, {**where, "method": "gentle", "status": "ok", "seconds": 40.0})
    argv = ["--steps", "2", "--repeats", "2", "--pairs", "10", "--grid", str(grid)]
    step_bound.main([*argv, "--out", str(tmp_path), "--stem", "b"])
    text = (tmp_path / "b.md").read_text(encoding="utf-8")
    assert "10 pairs, bags of 8" in text and "| grid: gentle's worker-seconds | 40 |" in text
    record = json.loads((tmp_path / "b.json").read_text(encoding="utf-8"))
    assert record["pairs"] == 10 and len(record["linear_calls"]) == 4
    assert record["linear_calls"][0]["rows"] == 10 + 32
    with pytest.raises(SystemExit):
        step_bound.main(["--grid", str(tmp_path / "missing.jsonl")])
    with pytest.raises(SystemExit):
        step_bound.main(["--steps", "0", "--grid", str(grid)])


def test_a_grid_that_is_not_rows_is_refused_by_name(step_bound: ModuleType, tmp_path: Path) -> None:
    grid = tmp_path / "grid.jsonl"
    grid.write_text('{"method": "gentle"}\n', encoding="utf-8")
    with pytest.raises(SystemExit):
        step_bound.main(["--grid", str(grid)])
