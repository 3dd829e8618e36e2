"""benchmarks/val_sweep.py: the table and plot of one option swept on validation splits."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from gentleclip.experiments import bench

# the fixture load_script (tests/conftest.py) returns such a loader
ScriptLoader = Callable[[str], ModuleType]


@pytest.fixture(scope="module")
def sweep_script(load_script: ScriptLoader) -> ModuleType:
    return load_script("val_sweep")


def _row(suite: str, pairs: int, seed: int, value: float, score: float) -> dict:
    return {
        "suite": suite,
        "regime": "bags:128",
        "pairs": pairs,
        "seed": seed,
        "fixed": {"sampler.unpaired_per_step": 128},
        "option": "loss.w_sdd",
        "value": value,
        "val_headline": "a_to_b_class_P@1",
        "a_to_b_class_P@1": score,
    }


# mfeat at 50 pairs: per value, the scores of seeds 0, 1, 2
SCORES = {0: [0.40, 0.50, 0.45], 0.7: [0.60, 0.55, 0.50], 2.8: [0.62, 0.54, 0.52]}


def _rows() -> list[dict]:
    return [
        _row("mfeat", 50, seed, value, score)
        for value, scores in SCORES.items()
        for seed, score in enumerate(scores)
    ]


def test_sweep_compares_each_value_seed_for_seed_with_the_reference(
    sweep_script: ModuleType,
) -> None:
    """Means and population stds per value; higher / lower count seeds against the reference in
    the same seed; the verdict is the tables' rule (gap beyond the larger std)."""
    lines = {line.value: line for line in sweep_script.sweep(_rows(), 0.7)}
    assert sorted(lines) == [0, 0.7, 2.8]
    for value, scores in SCORES.items():
        assert lines[value].summary.mean == pytest.approx(np.mean(scores))
        assert lines[value].summary.std == pytest.approx(np.std(scores))
        assert lines[value].summary.n == 3
    assert (lines[0].higher, lines[0].lower, lines[0].verdict) == (0, 3, "worse")
    assert (lines[2.8].higher, lines[2.8].lower, lines[2.8].verdict) == (2, 1, "same")
    assert lines[0.7].verdict == "" and lines[2.8].gap == pytest.approx(0.01)
    assert sweep_script.best_values(list(lines.values())) == {("mfeat", "bags:128", 50): 2.8}


def test_report_bolds_the_best_value_and_plot_writes_a_png(
    sweep_script: ModuleType, tmp_path: Path
) -> None:
    lines = sweep_script.sweep(_rows(), 0.7)
    text = sweep_script.report(lines, "loss.w_sdd", 0.7, {"sampler.unpaired_per_step": 128})
    assert "| mfeat | bags:128 | 50 | 2.8 | **0.560 ± 0.043** | 3 | +0.010 | 2 / 1 | same |" in text
    assert "| mfeat | bags:128 | 50 | 0 | 0.450 ± 0.041 | 3 | -0.100 | 0 / 3 | worse |" in text
    sweep_script.plot(lines, "loss.w_sdd", {"mfeat": "class P@1"}, tmp_path / "s.png")
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_refuses_rows_it_cannot_compare(sweep_script: ModuleType, tmp_path: Path) -> None:
    """A missing reference, a seed missing from one value, a repeated run, and files that sweep
    different options each stop with a message naming the problem."""
    with pytest.raises(SystemExit, match=r"no runs with the reference value 1\.4"):
        sweep_script.sweep(_rows(), 1.4)
    with pytest.raises(SystemExit, match=r"seeds \[0, 1\] != \[0, 1, 2\]"):
        sweep_script.sweep(_rows()[:-1], 0.7)
    with pytest.raises(SystemExit, match="appears twice"):
        sweep_script.sweep([*_rows(), _rows()[0]], 0.7)
    other = {**_rows()[0], "option": "loss.w_mmd"}
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [*_rows(), other]) + "\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="rows differ in option"):
        sweep_script.load_rows([path])


# session cd397af's sweeps at bags of 128 with whole-bag steps (docs/results.md, "SDD's weight and
# the step size with whole-bag steps")
ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "docs" / "bench"
SWEEPS = {
    "wsdd-wholebags128-val": ("wsdd-wholebags128-val-cd397af.jsonl", 0.7),
    "steps-wholebags128-val": ("steps-wholebags128-val-cd397af.jsonl", 128),
}


def _published(sweep_script: ModuleType, stem: str) -> tuple[list[dict], list]:
    name, reference = SWEEPS[stem]
    rows = sweep_script.load_rows([BENCH / name])
    return rows, sweep_script.sweep(rows, reference)


@pytest.mark.parametrize("stem", sorted(SWEEPS))
def test_published_sweep_tables_are_made_from_their_rows(
    sweep_script: ModuleType, stem: str
) -> None:
    """docs/bench/STEM.md is what val_sweep.py makes of its rows: 5 seeds (0-4) for every value
    at 50 and 200 pairs on mfeat, emoji and molecules and at 50 on proteins."""
    rows, lines = _published(sweep_script, stem)
    wheres = {line.where for line in lines}
    assert wheres == {
        *((s, "bags:128", p) for s in ("mfeat", "emoji", "molecules") for p in (50, 200)),
        ("proteins", "bags:128", 50),
    }
    assert all(line.summary.n == 5 for line in lines)
    assert {r["seed"] for r in rows} == set(range(5))
    text = sweep_script.report(lines, rows[0]["option"], SWEEPS[stem][1], rows[0].get("fixed"))
    assert (BENCH / f"{stem}.md").read_text(encoding="utf-8") == text


def test_step_sweep_reruns_the_weight_sweeps_recipe_runs_bit_for_bit(
    sweep_script: ModuleType,
) -> None:
    """The step sweep's 128-row runs are the weight sweep's w_sdd 0.7 runs (the same recipe,
    another process): every metric is equal, training time aside."""
    weights, _ = _published(sweep_script, "wsdd-wholebags128-val")
    steps, _ = _published(sweep_script, "steps-wholebags128-val")
    recipe = {(r["suite"], r["pairs"], r["seed"]): r for r in weights if r["value"] == 0.7}
    again = [r for r in steps if r["value"] == 128]
    assert len(again) == len(recipe) == 35
    for row in again:
        old = recipe[(row["suite"], row["pairs"], row["seed"])]
        metrics = [k for k in old if k.startswith(("a_to_b", "b_to_a")) or k == "modality_gap"]
        assert len(metrics) >= 11  # proteins has no class labels
        assert all(row[k] == old[k] for k in metrics), (row["suite"], row["pairs"], row["seed"])


def _results_flat() -> str:
    return " ".join((ROOT / "docs" / "results.md").read_text(encoding="utf-8").split())


def test_results_quotes_the_weight_sweep_from_its_rows(sweep_script: ModuleType) -> None:
    """results.md's verdict counts against w_sdd 0.7 (24 same, 3 better, 1 worse) and its
    molecules quotes are the sweep's; every better verdict is on molecules."""
    _, lines = _published(sweep_script, "wsdd-wholebags128-val")
    verdicts = [line.verdict for line in lines if line.verdict]
    assert (verdicts.count("same"), verdicts.count("better"), verdicts.count("worse")) == (24, 3, 1)
    assert {line.where[0] for line in lines if line.verdict == "better"} == {"molecules"}
    flat = _results_flat()
    assert "24 of 28 (cell, value) comparisons are the same, 3 better, 1 worse" in flat
    at = {(line.where[0], line.where[2], line.value): line for line in lines}
    for pairs in (50, 200):
        line = at[("molecules", pairs, 0.35)]
        assert line.higher == 5 and line.verdict == "better"
        for value in (0.35, 0.7):
            summary = at[("molecules", pairs, value)].summary
            assert f"{summary.mean:.3f} ± {summary.std:.3f}" in flat


def test_results_quotes_the_molecules_test_check_from_its_rows() -> None:
    """The bench rows of gentle at w_sdd 0.35 and 0.7 (whole-bag steps, molecules): the quoted
    means and stds, better at 50 pairs and worse at 200 by the tables' rule."""
    flat = _results_flat()
    summaries = {}
    for tag in ("035", "07"):
        path = BENCH / f"bench-molecules-wholebags128-wsdd{tag}-cd397af.jsonl"
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        assert {r["method"] for r in rows} == {"gentle"} and len(rows) == 10
        for pairs in (50, 200):
            values = [r["value"] for r in rows if r["pairs"] == pairs and r["status"] == "ok"]
            summaries[(tag, pairs)] = bench.Summary(
                float(np.mean(values)), float(np.std(values)), len(values)
            )
            text = f"**{np.mean(values):.3f} ± {np.std(values):.3f}**"
            assert text in flat, text
    outcomes = [
        bench.Verdict(("", "", 0), summaries[("035", p)], "r", summaries[("07", p)], None).outcome
        for p in (50, 200)
    ]
    assert outcomes == ["win", "lose"]
