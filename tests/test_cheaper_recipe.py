"""benchmarks/cheaper_recipe.py: narrower towers and fewer gentle steps on molecules' grid."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

MS = {
    "gentle": {"512": [10.0, 20.0], "256": [5.0, 12.0]},
    "clip": {"512": [4.0, 8.0], "256": [3.0, 4.0]},
    "sclip": {"512": [6.0, 6.0], "256": [3.0, 3.0]},
}


def test_each_trained_method_scales_by_its_step_and_gentle_by_its_steps(bench_script: Any) -> None:
    script = bench_script("cheaper_recipe")
    spent = {"gentle": 1000.0, "clip": 100.0, "sclip": 200.0, "oracle": 40.0, "ridge": 30.0}
    same = script.estimate(spent, MS, 512, 2000)
    assert same == {**spent, "grid": 1370.0}
    est = script.estimate(spent, MS, 256, 1000)
    assert est["gentle"] == pytest.approx(1000 * 0.55 * 0.5)  # mean of 0.5 and 0.6, half the steps
    assert est["clip"] == pytest.approx(100 * 0.625)  # mean of 0.75 and 0.5
    assert est["oracle"] == pytest.approx(40 * 0.625)  # stepped as clip
    assert est["sclip"] == pytest.approx(100.0) and est["ridge"] == 30.0
    assert est["grid"] == pytest.approx(275 + 62.5 + 25 + 100 + 30)
    probed = script.estimate(spent, MS, 256, 1000, gentle_time=0.4)
    assert probed["gentle"] == pytest.approx(400.0) and probed["clip"] == est["clip"]
    wide = script.estimate(spent, MS, 256, 1000, baselines_narrowed=False)
    assert wide["gentle"] == est["gentle"] and wide["clip"] == 100.0 and wide["oracle"] == 40.0


def test_a_grid_with_a_trained_method_no_step_is_timed_for_is_refused(
    bench_script: Any, tmp_path: Path
) -> None:
    grid = tmp_path / "g.jsonl"
    row = {"suite": "molecules", "regime": "bags:8", "pairs": 20, "seed": 0, "status": "ok"}
    grid.write_text(json.dumps({**row, "method": "gentle-ssl", "seconds": 9.0}) + "\n")
    with pytest.raises(SystemExit, match="gentle-ssl trains towers"):
        bench_script("cheaper_recipe").grid_by_method(grid)


def _probe(
    pairs: int, seed: int, val: float, seconds: float = 10.0, **override: Any
) -> dict[str, Any]:
    return {
        "suite": "molecules",
        "method": "gentle",
        "regime": "bags:8",
        "pairs": pairs,
        "seed": seed,
        "val": val,
        "seconds": seconds,
        "override": override,
    }


def test_validation_compares_each_variant_with_the_recipe_cell_by_cell(bench_script: Any) -> None:
    cheap = {"model.embed_dim": 256, "optim.steps": 1000}
    rows = [
        _probe(10, 0, 0.40, 10.0, **{"model.sparse_inputs": "a"}),
        _probe(10, 1, 0.50, 20.0),
        _probe(20, 0, 0.30),
        _probe(10, 0, 0.35, 4.0, **cheap),
        _probe(10, 1, 0.52, 10.0, **cheap),
        _probe(50, 0, 0.90, 1.0, **cheap),  # no recipe cell to compare with
    ]
    val = bench_script("cheaper_recipe").validation(rows)
    assert val["512:2000"]["val_by_pairs"] == {"10": pytest.approx(0.45), "20": 0.30}
    assert val["512:2000"]["diff"] == [0.0, 0.0, 0.0] and val["512:2000"]["cells"] == 3
    cheap_val = val["256:1000"]
    assert cheap_val["cells"] == 2
    assert cheap_val["diff"] == pytest.approx([-0.015, -0.05, 0.02])
    assert cheap_val["time"] == pytest.approx((0.4 + 0.5) / 2)
    assert cheap_val["val_by_pairs"] == {"10": pytest.approx(0.435), "50": 0.90}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([_probe(10, 0, 0.4), _probe(10, 0, 0.5)], "probed twice"),
        ([_probe(10, 0, 0.4), {**_probe(10, 1, 0.5), "regime": "unpaired"}], "more than one"),
        ([_probe(10, 0, 0.4, **{"optim.lr": 0.004})], "optim.lr"),
    ],
)
def test_probe_rows_that_would_mix_cells_are_refused(
    bench_script: Any, rows: list[dict[str, Any]], message: str
) -> None:
    with pytest.raises(SystemExit, match=message):
        bench_script("cheaper_recipe").validation(rows)


def _record() -> dict[str, Any]:
    estimates = {
        "512:2000": {
            "gentle": 5000.0,
            "clip": 400.0,
            "sclip": 1000.0,
            "oracle": 100.0,
            "ridge": 300.0,
            "grid": 6800.0,
        },
        "256:1000": {
            "gentle": 1400.0,
            "clip": 250.0,
            "sclip": 500.0,
            "oracle": 60.0,
            "ridge": 300.0,
            "grid": 2510.0,
        },
    }
    return {
        "cpu": "some CPU",
        "torch": "2.13.0",
        "grid": "g.jsonl",
        "steps": 5,
        "ms": MS,
        "estimates": estimates,
        "estimates_baselines_at_recipe": {"256:1000": {"grid": 3600.0}},
        "estimates_gentle_probe_time": {"256:1000": {"grid": 2700.0}},
        "validation": {
            "512:2000": {
                "val_by_pairs": {"10": 0.42},
                "diff": [0.0, 0.0, 0.0],
                "cells": 3,
                "time": 1.0,
            },
            "256:1000": {
                "val_by_pairs": {"10": 0.40},
                "diff": [-0.02, -0.05, 0.01],
                "cells": 3,
                "time": 0.3,
            },
        },
    }


def test_the_tables_give_the_steps_the_estimates_and_the_validation_cost(
    bench_script: Any,
) -> None:
    text = bench_script("cheaper_recipe").report(_record())
    assert "| ms a step | width 512 | width 256 |" in text
    assert "| gentle, 20 pairs | 10.00 | 5.00 |" in text
    assert "| sclip, 200 pairs | 6.00 | 3.00 |" in text
    recipe = (
        "| 512:2000 | 5,000 | 1,500 | 300 | 6,800 | 1.89x |  |  | +0.0000 (+0.0000, +0.0000; 3) |"
    )
    assert recipe in text
    cheap = (
        "| 256:1000 | 1,400 | 810 | 300 | 2,510 | 0.70x | 0.75x | 1.00x "
        "| -0.0200 (-0.0500, +0.0100; 3) |"
    )
    assert cheap in text
    assert "| mean validation headline, width:gentle steps | 10 pairs |" in text
    assert "| 256:1000 | 0.4000 |" in text


def test_a_short_run_writes_its_tables_record_and_plot(bench_script: Any, tmp_path: Path) -> None:
    grid, probes = tmp_path / "g.jsonl", tmp_path / "p.jsonl"
    cells = [("gentle", 20, 40.0), ("clip", 20, 10.0), ("ridge", 20, 1.0)]
    grid.write_text(
        "".join(
            json.dumps(
                {
                    "suite": "molecules",
                    "regime": "bags:8",
                    "pairs": p,
                    "seed": 0,
                    "method": m,
                    "status": "ok",
                    "seconds": s,
                }
            )
            + "\n"
            for m, p, s in cells
        )
    )
    rows = [_probe(10, 0, 0.4), _probe(10, 0, 0.3, **{"model.embed_dim": 256})]
    probes.write_text("".join(json.dumps(r) + "\n" for r in rows))
    script = bench_script("cheaper_recipe")
    script.main(
        [
            "--grid",
            str(grid),
            "--probes",
            str(probes),
            "--widths",
            "256",
            "--steps",
            "2",
            "--out",
            str(tmp_path),
            "--stem",
            "c",
        ]
    )
    record = json.loads((tmp_path / "c.json").read_text(encoding="utf-8"))
    assert set(record["ms"]) == {"gentle", "clip", "sclip"}
    assert all(min(v) > 0 for by in record["ms"].values() for v in by.values())
    assert record["estimates"]["512:2000"]["grid"] == pytest.approx(51.0)
    assert record["validation"]["256:2000"]["diff"] == pytest.approx([-0.1, -0.1, -0.1])
    assert (tmp_path / "c.md").read_text(encoding="utf-8") == script.report(record)
    assert (tmp_path / "c.png").stat().st_size > 0


def test_a_missing_probe_file_is_named(bench_script: Any, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no such file"):
        bench_script("cheaper_recipe").main(["--probes", str(tmp_path / "none.jsonl")])
