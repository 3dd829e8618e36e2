"""benchmarks/grid_change.py: one suite's grid before and after a recipe change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


def _rows(gentle: dict[tuple[str, int], tuple[float, float]], seconds: float) -> list[dict]:
    """Gentle at each (regime, pairs) with two seeds' values; ridge at 0.40 / 0.42 wherever
    there are pairs (std 0.01); gentle alone at 0 pairs (the baselines skip)."""
    rows = []
    for (regime, pairs), values in gentle.items():
        for seed, value in enumerate(values):
            cell = {"suite": "molecules", "regime": regime, "pairs": pairs, "seed": seed}
            rows.append(
                {**cell, "method": "gentle", "status": "ok", "value": value, "seconds": seconds}
            )
            if pairs:
                ridge = {"method": "ridge", "status": "ok", "value": 0.40 + 0.02 * seed}
                rows.append({**cell, **ridge, "seconds": 1.0})
            else:
                rows.append(
                    {
                        **cell,
                        "method": "ridge",
                        "status": "skipped",
                        "reason": "no pairs",
                        "seconds": 0.0,
                    }
                )
    return rows


BEFORE = {("bags:8", 0): (0.5, 0.5), ("bags:8", 10): (0.50, 0.52), ("unpaired", 10): (0.2, 0.2)}
AFTER = {("bags:8", 0): (0.6, 0.6), ("bags:8", 10): (0.40, 0.43), ("unpaired", 10): (0.5, 0.5)}


def test_moved_verdicts_counts_and_seconds(bench_script: Any) -> None:
    script = bench_script("grid_change")
    record = script.compare(_rows(BEFORE, 10.0), _rows(AFTER, 2.0))
    by = {(s["regime"], s["pairs"]): s for s in record["settings"]}
    # bags of 8, 10 pairs: +0.10 over ridge's 0.41 (noise 0.01) -> within it: tie
    assert (by[("bags:8", 10)]["before"], by[("bags:8", 10)]["after"]) == ("win", "tie")
    assert (by[("unpaired", 10)]["before"], by[("unpaired", 10)]["after"]) == ("lose", "win")
    assert by[("bags:8", 0)]["after"] == "only gentle" and "best_after" not in by[("bags:8", 0)]
    assert record["counts"] == {"before": {"win": 1, "lose": 1}, "after": {"tie": 1, "win": 1}}
    assert (record["better"], record["worse"], record["gentle_rose"]) == (1, 1, 1)
    assert record["seconds"]["before"] == {"gentle": 60.0, "ridge": 4.0}
    assert record["seconds"]["after"]["gentle"] == 12.0
    text = script.report(record)
    assert "| bags:8 | 10 | 0.510 ± 0.010 | 0.415 ± 0.015 | ridge 0.410 ± 0.010 |" in text
    assert "+0.005 / 0.015 | **win -> tie** |" in text
    assert "Verdicts better: 1, worse: 1; gentle's mean rose in 1 of 2 settings" in text


def test_refuses_grids_of_other_suites_or_settings(bench_script: Any, tmp_path: Path) -> None:
    script = bench_script("grid_change")
    other = [{**r, "suite": "emoji"} for r in _rows(BEFORE, 1.0)]
    with pytest.raises(script.InputError, match="different suites"):
        script.compare(other, _rows(AFTER, 1.0))
    more = _rows({**AFTER, ("bags:32", 10): (0.5, 0.5)}, 1.0)
    with pytest.raises(script.InputError, match=r"'bags:32', 10\) is in --after only"):
        script.compare(_rows(BEFORE, 1.0), more)
    fewer = _rows({("bags:8", 0): (0.5, 0.5), ("bags:8", 10): (0.5, 0.5)}, 1.0)
    with pytest.raises(script.InputError, match=r"'unpaired', 10\) is in --before only"):
        script.compare(_rows(BEFORE, 1.0), fewer)
    one_seed = [r for r in _rows(AFTER, 1.0) if r["seed"] == 0]  # no verdict: not counted
    record = script.compare(_rows(BEFORE, 1.0), one_seed)
    assert record["with_pairs"] == 0 and (record["better"], record["worse"]) == (0, 0)
    path = tmp_path / "two.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*other, *_rows(AFTER, 1.0)]))
    with pytest.raises(SystemExit, match="holds 2 suites"):
        script.main(["--before", str(path), "--after", str(path), "--out", str(tmp_path)])


def test_main_writes_table_record_and_plot(bench_script: Any, tmp_path: Path) -> None:
    script = bench_script("grid_change")
    files = {}
    for name, grid, seconds in (("before", BEFORE, 10.0), ("after", AFTER, 2.0)):
        files[name] = tmp_path / f"{name}.jsonl"
        rows = _rows(grid, seconds)
        files[name].write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = ["--before", str(files["before"]), "--after", str(files["after"])]
    script.main([*argv, "--out", str(tmp_path), "--stem", "change"])
    assert json.loads((tmp_path / "change.json").read_text())["worse"] == 1
    assert "| all | 64.0 | 16.0 |" in (tmp_path / "change.md").read_text()
    assert (tmp_path / "change.png").stat().st_size > 0
