"""benchmarks/val_sweep.py: the table and plot of one option swept on validation splits."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

# the fixture bench_script (tests/conftest.py) returns such a loader
ScriptLoader = Callable[[str], ModuleType]


@pytest.fixture
def sweep_script(bench_script: ScriptLoader) -> ModuleType:
    """benchmarks/val_sweep.py (it imports the sibling script ablations.py)."""
    return bench_script("val_sweep")


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


def test_each_suite_is_compared_with_its_own_reference(sweep_script: ModuleType) -> None:
    """``--reference 1 --reference mfeat=0.1``: mfeat's lines against 0.1, emoji's against the
    default 1; the report names both and leaves each suite's own reference line blank."""
    mfeat = [  # mfeat: 0.1 is its recipe's value, so 1 is compared with it
        _row("mfeat", 50, seed, value, score)
        for value, scores in {0.1: [0.5, 0.6, 0.7], 1: [0.3, 0.4, 0.5]}.items()
        for seed, score in enumerate(scores)
    ]
    emoji = [
        _row("emoji", 50, seed, value, score)
        for value, scores in {0.1: [0.2, 0.3, 0.4], 1: [0.5, 0.6, 0.7]}.items()
        for seed, score in enumerate(scores)
    ]
    reference = sweep_script.parse_reference(["1", "mfeat=0.1"])
    assert reference == {"*": 1.0, "mfeat": 0.1}
    lines = {
        (line.where[0], line.value): line for line in sweep_script.sweep(mfeat + emoji, reference)
    }
    assert lines[("mfeat", 0.1)].verdict == "" and lines[("emoji", 1)].verdict == ""
    assert lines[("mfeat", 1)].verdict == "worse" and lines[("mfeat", 1)].lower == 3
    assert lines[("emoji", 0.1)].verdict == "worse" and lines[("emoji", 0.1)].gap == pytest.approx(
        -0.3
    )
    text = sweep_script.report(list(lines.values()), "loss.w_clip", reference, None)
    assert text.startswith("Validation sweep of `loss.w_clip` (reference 1; mfeat 0.1).")
    assert "| mfeat | bags:128 | 50 | 0.1 | **0.600 ± 0.082** | 3 |  |  |  |" in text
    assert "| emoji | bags:128 | 50 | 0.1 | 0.300 ± 0.082 | 3 | -0.300 | 0 / 3 | worse |" in text


def test_parse_reference_takes_one_default_and_one_value_per_suite(
    sweep_script: ModuleType,
) -> None:
    assert sweep_script.parse_reference(["0.7"]) == 0.7
    assert sweep_script.parse_reference(["mfeat=0.1"]) == {"mfeat": 0.1}
    assert sweep_script.describe({"*": 1.0, "mfeat": 0.1}) == "1; mfeat 0.1"
    assert sweep_script.describe(0.7) == "0.7"
    with pytest.raises(SystemExit, match="one value per suite and one default"):
        sweep_script.parse_reference(["1", "2"])
    with pytest.raises(SystemExit, match="VALUE or SUITE=VALUE"):
        sweep_script.parse_reference(["mfeat=high"])
    with pytest.raises(SystemExit, match="no value for suite emoji and no default"):
        sweep_script.sweep([_row("emoji", 50, 0, 1, 0.5)], {"mfeat": 0.1})
