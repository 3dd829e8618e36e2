"""benchmarks/recipe_probes.py: candidate recipes against the recipe on validation probes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REF = {"model.sparse_inputs": "a"}
CHEAP = {"optim.steps": 300}
CHEAPER = {"optim.steps": 200}


def _row(override: dict, regime: str, pairs: int, seed: int, val: float, seconds: float) -> dict:
    return {
        "suite": "molecules",
        "method": "gentle",
        "override": override,
        "regime": regime,
        "pairs": pairs,
        "seed": seed,
        "val": val,
        "seconds": seconds,
    }


def _rows() -> list[dict[str, Any]]:
    """The recipe at 2 settings x 2 seeds (10 s a probe); CHEAP above it at one setting and
    below at the other (2 s); CHEAPER 0.0025 below CHEAP on average (1 s); a partial one."""
    rows = []
    for setting, ref, cheap, cheaper in (
        (("bags:8", 10), (0.40, 0.42), (0.50, 0.52), (0.49, 0.52)),
        (("unpaired", 10), (0.30, 0.30), (0.28, 0.26), (0.26, 0.28)),
    ):
        for seed in (0, 1):
            rows.append(_row(REF, *setting, seed, ref[seed], 10.0))
            rows.append(_row(CHEAP, *setting, seed, cheap[seed], 2.0))
            rows.append(_row(CHEAPER, *setting, seed, cheaper[seed], 1.0))
    rows.append(_row({"optim.steps": 100}, "bags:8", 10, 0, 0.9, 1.0))  # seed 1 missing
    for seed in (0, 1):  # the best mean and cheapest, but on one setting of the recipe's two
        rows.append(_row({"optim.steps": 50}, "bags:8", 10, seed, 0.95, 0.5))
        rows.append(_row({"optim.steps": 50}, "bags:8", 20, seed, 0.10, 9.0))  # not the recipe's
    return rows


def test_candidates_are_measured_on_the_recipe_s_settings_and_seeds(bench_script: Any) -> None:
    script = bench_script("recipe_probes")
    ref, candidates = script.compare(_rows(), "gentle", REF)
    assert ref == {"bags:8 / 10": pytest.approx(0.41), "unpaired / 10": pytest.approx(0.30)}
    by_steps = {c.override["optim.steps"]: c for c in candidates}
    assert 100 not in by_steps  # not on both of the recipe's seeds anywhere
    cheap = by_steps[300]
    assert cheap.settings == 2 and cheap.above == 1
    assert cheap.mean == pytest.approx((0.51 + 0.27) / 2)
    assert cheap.reference_mean == pytest.approx((0.41 + 0.30) / 2)
    assert cheap.cost == pytest.approx(0.2)
    assert by_steps[200].cost == pytest.approx(0.1)
    partial = by_steps[50]  # measured on the recipe's settings only: mean 0.95, time 0.05x
    assert (partial.settings, partial.mean, partial.cost) == (1, 0.95, pytest.approx(0.05))
    # equal within the tolerance: the cheaper; a tight tolerance: the better; a low cap: none
    assert script.choose(candidates, 2, 0.25, 0.005).override == CHEAPER
    assert script.choose(candidates, 2, 0.25, 0.0).override == CHEAP
    assert script.choose(candidates, 2, 0.05, 0.005) is None


def test_refuses_a_probe_given_twice_and_a_missing_reference(
    bench_script: Any, tmp_path: Path
) -> None:
    script = bench_script("recipe_probes")
    rows = _rows()
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [*rows, rows[0]]), encoding="utf-8")
    with pytest.raises(SystemExit, match="probe given twice"):
        script.main(["--rows", str(path), "--reference", json.dumps(REF), "--out", str(tmp_path)])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(SystemExit, match="no probe rows of the reference"):
        script.main(["--rows", str(path), "--out", str(tmp_path)])  # reference {}: none


def test_main_writes_the_table_record_and_plot(bench_script: Any, tmp_path: Path) -> None:
    script = bench_script("recipe_probes")
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _rows()), encoding="utf-8")
    argv = ["--rows", str(path), "--reference", json.dumps(REF), "--out", str(tmp_path)]
    script.main([*argv, "--stem", "probes"])
    record = json.loads((tmp_path / "probes.json").read_text())
    assert record["chosen"] == 'gentle {"optim.steps": 200}'
    assert [c["override"] for c in record["full"]] == [CHEAP, CHEAPER]
    text = (tmp_path / "probes.md").read_text()
    assert '| gentle {"optim.steps": 200} **(chosen)** | 2 | 0.3875 | 0.3550 | 1 of 2 |' in text
    assert "| bags:8 / 10 | 0.410 | 0.510 | 0.505 |" in text
    assert (tmp_path / "probes.png").stat().st_size > 0
