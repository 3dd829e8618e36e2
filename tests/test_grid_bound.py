"""benchmarks/grid_bound.py: molecules' grid with every trained step at its bound."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from gentleclip.experiments import bench


@pytest.fixture
def grid_bound(bench_script: Any) -> ModuleType:
    return bench_script("grid_bound")


def _step(script: ModuleType, method: str, pairs: int, step: float, products: float) -> Any:
    """A step whose products are 1 M multiply-adds (2 ms of them at 1 GFLOP/s) and whose
    AdamW update takes 1 ms."""
    return script.StepBound(method, pairs, pairs + 32, step, products, 1.0, 10**6)


def _grid(script: ModuleType, budget: float = 100.0) -> Any:
    steps = [
        _step(script, "gentle", 0, 10.0, 2.0),  # 1 GFLOP/s: the best rate
        _step(script, "gentle", 20, 10.0, 4.0),  # 0.5 GFLOP/s
        _step(script, "clip", 20, 4.0, 2.0),
        _step(script, "clip", 200, 8.0, 4.0),
    ]
    seconds = {
        ("gentle", 0): 50.0,
        ("gentle", 20): 40.0,
        ("clip", 20): 20.0,
        ("oracle", 20): 16.0,
        ("ridge", 20): 3.0,
        ("clip", 0): 1.0,  # skipped: too few pairs to train, so as it is
    }
    return script.GridBound(steps, seconds, cells=5, budget=budget)


def test_each_cell_is_divided_by_its_own_steps_bound(grid_bound: ModuleType) -> None:
    g = _grid(grid_bound)
    timed = g.at_bound("products")
    assert timed["gentle"] == pytest.approx(50.0 / 5.0 + 40.0 / 2.5)
    assert timed["clip"] == pytest.approx(20.0 / 2.0 + 1.0)
    assert timed["oracle"] == pytest.approx(16.0 / 2.0)  # clip's fullest step: 200 pairs
    assert timed["ridge"] == 3.0  # closed form: as it is
    floor = g.at_bound("floor")  # the products and the 1 ms update
    assert floor["gentle"] == pytest.approx(50.0 / (10.0 / 3.0) + 40.0 / 2.0)
    assert floor["oracle"] == pytest.approx(16.0 / (8.0 / 5.0))
    assert g.total() == 130.0 and g.total("products") == pytest.approx(48.0)


def test_the_ideal_bound_runs_every_product_at_the_best_rate(grid_bound: ModuleType) -> None:
    g = _grid(grid_bound)
    assert g.best_gflops == pytest.approx(1.0)
    ideal = g.at_bound("ideal")
    # at 1 GFLOP/s 1 M multiply-adds take 2 ms: gentle at 20 pairs is 10 / 2 = 5x, not 2.5x
    assert ideal["gentle"] == pytest.approx(50.0 / 5.0 + 40.0 / 5.0)
    assert ideal["clip"] == pytest.approx(20.0 / 2.0 + 1.0)
    assert all(ideal[m] <= t for m, t in g.at_bound("products").items())


def test_a_trained_cell_without_a_timed_step_is_refused(grid_bound: ModuleType) -> None:
    g = _grid(grid_bound)
    g.seconds[("gentle", 50)] = 1.0
    with pytest.raises(SystemExit, match="no step of gentle at 50 pairs"):
        g.at_bound("floor")


@pytest.mark.parametrize(("budget", "ruled_out"), [(20.0, True), (60.0, False)])
def test_the_verdict_rules_the_budget_out_only_past_the_ideal_bound(
    grid_bound: ModuleType, budget: float, ruled_out: bool
) -> None:
    g = _grid(grid_bound, budget)
    # ideal: gentle 10 + 8, clip 10 + 1, oracle 4, ridge 3; floor: gentle 15 + 20,
    # clip 20 / (4 / 3) + 1, oracle 10, ridge 3
    assert g.total("ideal") == pytest.approx(36.0)
    text = grid_bound.verdict(g)
    assert ("No implementation that keeps these models' dense products" in text) == ruled_out
    assert g.closed_form() == 4.0  # ridge 3 and clip's skipped cell 1
    assert ("The trained cells alone would take 32 at the ideal bound, over it" in text) == (
        ruled_out
    )
    assert ("does not rule the budget out" in text) != ruled_out
    assert "48 worker-seconds at the products bound and 36 worker-seconds at the ideal" in text
    assert f"{64 / budget:.2f}x, {48 / budget:.2f}x and {36 / budget:.2f}x the budget" in text
    table = grid_bound.report(g, Path("grid.jsonl"))
    assert "| all | 130 | 64 | 48 | 36 |" in table
    assert "| gentle | 0 | 32 | 10.00 | 2.00 | 1.00 | 1 | 3.33x | 5.00x | 5.00x |" in table


def test_a_molecules_step_holds_each_methods_rows(grid_bound: ModuleType) -> None:
    """clip's step holds the pairs alone; sclip's the pairs and 32 unpaired rows, as gentle's."""
    rows = {m: {p.rows for p in grid_bound.recorded_products(20, m)} for m in ("clip", "sclip")}
    assert rows == {"clip": {20}, "sclip": {52}}
    with pytest.raises(SystemExit, match="oracle"):
        grid_bound.trained_spec("oracle")
    with pytest.raises(SystemExit, match="ridge"):
        grid_bound.trained_spec("ridge")


def _write_grid(path: Path, cells: list[tuple[str, int, float]]) -> None:
    for method, pairs, seconds in cells:
        where = {"suite": "molecules", "regime": "bags:8", "pairs": pairs, "seed": 0}
        row = {**where, "method": method, "status": "ok", "seconds": seconds}
        bench.append_result(path, row)


def test_main_times_the_grids_pair_counts_and_writes_the_record(
    grid_bound: ModuleType, tmp_path: Path
) -> None:
    grid = tmp_path / "grid.jsonl"
    _write_grid(grid, [("gentle", 10, 40.0), ("clip", 10, 8.0), ("cca", 10, 1.0)])
    argv = ["--steps", "2", "--repeats", "2", "--methods", "gentle,clip", "--grid", str(grid)]
    grid_bound.main([*argv, "--out", str(tmp_path), "--stem", "g"])
    record = json.loads((tmp_path / "g.json").read_text(encoding="utf-8"))
    assert [(s["method"], s["pairs"], s["rows"]) for s in record["steps"]] == [
        ("gentle", 10, 42),
        ("clip", 10, 10),
    ]
    assert record["seconds"] == {"gentle": 40.0, "clip": 8.0, "cca": 1.0}
    assert record["at_ideal_bound"]["cca"] == 1.0 and record["steps"][0]["optimizer"] > 0
    assert "| all | 49 |" in (tmp_path / "g.md").read_text(encoding="utf-8")


def test_main_refuses_a_grid_it_cannot_bound(grid_bound: ModuleType, tmp_path: Path) -> None:
    grid = tmp_path / "grid.jsonl"
    _write_grid(grid, [("gentle", 10, 40.0), ("sclip", 10, 8.0)])
    with pytest.raises(SystemExit):  # sclip trains in the grid but is not timed
        grid_bound.main(["--methods", "gentle", "--grid", str(grid)])
    with pytest.raises(SystemExit):
        grid_bound.main(["--methods", "gentle,ridge", "--grid", str(grid)])
    with pytest.raises(SystemExit):
        grid_bound.main(["--pairs", "1,x", "--grid", str(grid)])
    with pytest.raises(SystemExit):  # the grid's cells at 10 pairs would have no step
        grid_bound.main(["--pairs", "20", "--methods", "gentle,sclip", "--grid", str(grid)])
    with pytest.raises(SystemExit):
        grid_bound.main(["--grid", str(tmp_path / "missing.jsonl")])


def test_cells_too_few_pairs_to_train_need_no_step(grid_bound: ModuleType, tmp_path: Path) -> None:
    """clip's cells at 0 pairs are skipped rows: --pairs need not name 0 for them."""
    grid = tmp_path / "grid.jsonl"
    _write_grid(grid, [("clip", 0, 0.5), ("clip", 10, 8.0)])
    argv = ["--steps", "2", "--repeats", "2", "--pairs", "10", "--methods", "clip"]
    grid_bound.main([*argv, "--grid", str(grid), "--out", str(tmp_path)])
    record = json.loads((tmp_path / "grid-bound-molecules.json").read_text(encoding="utf-8"))
    assert [s["pairs"] for s in record["steps"]] == [10]
    assert record["at_ideal_bound"]["clip"] == pytest.approx(
        0.5 + 8.0 / record["steps"][0]["ideal_bound"]
    )


def test_sparse_counts_the_first_layers_non_zero_entries(
    grid_bound: ModuleType, tmp_path: Path
) -> None:
    """--sparse: side a's first layer leaves its 40 set bits a row by 512 outputs; the step
    beside it is the sparse one, the step bounded the dense one the grid ran."""
    found = grid_bound.recorded_products(20, "gentle", sparse=True)
    assert (52, 40, 512, False) in [tuple(p) for p in found]
    assert all(p.d_in != 2048 for p in found)
    grid = tmp_path / "grid.jsonl"
    _write_grid(grid, [("gentle", 10, 40.0)])
    argv = ["--steps", "2", "--repeats", "2", "--sparse", "--grid", str(grid)]
    grid_bound.main([*argv, "--methods", "gentle", "--out", str(tmp_path)])
    record = json.loads((tmp_path / "grid-bound-molecules-sparse.json").read_text("utf-8"))
    (step,) = record["steps"]
    assert step["sparse_step"] > 0 and step["macs"] < 2 * 42 * 2048 * 512
    text = (tmp_path / "grid-bound-molecules-sparse.md").read_text(encoding="utf-8")
    assert "| sparse step ms |" in text
