"""benchmarks/seed_check.py: recipe changes against the recipe on the test pairs, by seed set."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ScriptLoader = Callable[[str], ModuleType]


@pytest.fixture
def seed_script(bench_script: ScriptLoader) -> ModuleType:
    """benchmarks/seed_check.py (it imports the sibling script ablations.py)."""
    return bench_script("seed_check")


def _write(path: Path, scores: dict[int, float], *, pairs: int = 200) -> Path:
    rows = [
        {
            "suite": "molecules",
            "regime": "bags:128",
            "pairs": pairs,
            "seed": seed,
            "method": "gentle",
            "status": "ok",
            "value": score,
        }
        for seed, score in scores.items()
    ]
    rows.append({**rows[0], "method": "clip", "value": 0.0})  # another method: ignored
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


RECIPE = {0: 0.32, 1: 0.31, 2: 0.33, 3: 0.30, 4: 0.34, 5: 0.28, 6: 0.29, 7: 0.27, 8: 0.30, 9: 0.28}
CHANGE = {0: 0.30, 1: 0.29, 2: 0.31, 3: 0.30, 4: 0.30, 5: 0.30, 6: 0.31, 7: 0.29, 8: 0.30, 9: 0.31}


def _scores(seed_script: ModuleType, tmp_path: Path) -> dict:
    first = _write(tmp_path / "recipe-a.jsonl", {s: v for s, v in RECIPE.items() if s < 5})
    second = _write(tmp_path / "recipe-b.jsonl", {s: v for s, v in RECIPE.items() if s >= 5})
    change = _write(tmp_path / "change.jsonl", CHANGE)
    labelled = seed_script.parse_rows([f"recipe={first},{second}", f"change={change}"])
    return seed_script.load_scores(labelled, "gentle")


def test_check_summarises_each_seed_set_and_compares_the_last_seed_for_seed(
    seed_script: ModuleType, tmp_path: Path
) -> None:
    sets = [seed_script.parse_set(text) for text in ("0-4", "5-9", "0-9")]
    recipe, change = seed_script.check(_scores(seed_script, tmp_path), sets)
    assert recipe.label == "recipe" and recipe.verdict == "" and recipe.gap is None
    for line, scores in ((recipe, RECIPE), (change, CHANGE)):
        for summary, seeds in zip(line.summaries, (range(5), range(5, 10), range(10)), strict=True):
            values = [scores[s] for s in seeds]
            assert summary.mean == pytest.approx(np.mean(values))
            assert summary.std == pytest.approx(np.std(values)) and summary.n == len(values)
    assert change.gap == pytest.approx(
        np.mean(list(CHANGE.values())) - np.mean(list(RECIPE.values()))
    )
    higher = sum(CHANGE[s] > RECIPE[s] for s in range(10))
    lower = sum(CHANGE[s] < RECIPE[s] for s in range(10))
    assert (change.higher, change.lower) == (higher, lower) == (4, 4)
    assert change.verdict == "same"  # a gap of -0.001 inside a std of 0.022


def test_check_verdict_follows_the_tables_rule_over_the_last_set(
    seed_script: ModuleType, tmp_path: Path
) -> None:
    """Over seeds 0-4 alone the change is worse (gap -0.020 past a std of 0.014)."""
    sets = [seed_script.parse_set("0-4")]
    _, change = seed_script.check(_scores(seed_script, tmp_path), sets)
    assert change.gap == pytest.approx(-0.02)
    assert (change.higher, change.lower, change.verdict) == (0, 4, "worse")


def test_a_set_missing_a_seed_shows_nothing_and_gets_no_verdict(
    seed_script: ModuleType, tmp_path: Path
) -> None:
    sets = [seed_script.parse_set(text) for text in ("0-4", "0-10")]
    recipe, change = seed_script.check(_scores(seed_script, tmp_path), sets)
    assert recipe.summaries[1] is None and change.summaries[1] is None
    assert change.gap is None and change.verdict == ""
    text = seed_script.report([recipe, change], sets, "recipe")
    assert "| molecules | bags:128 | 200 | change | 0.300 ± 0.006 |  |  |  |  |" in text


def test_report_and_plot_are_written_by_main(
    seed_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = _write(tmp_path / "r.jsonl", RECIPE)
    change = _write(tmp_path / "c.jsonl", CHANGE)
    argv = ["seed_check.py", "--rows", f"recipe={recipe}", "--rows", f"w 0.3={change}"]
    monkeypatch.setattr("sys.argv", [*argv, "--out", str(tmp_path), "--stem", "s"])
    seed_script.main()
    text = (tmp_path / "s.md").read_text(encoding="utf-8")
    assert "| suite | regime | pairs | variant | seeds 0-4 | seeds 5-9 | seeds 0-9 |" in text
    assert "| molecules | bags:128 | 200 | w 0.3 |" in text and "| -0.001 | 4 / 4 | same |" in text
    assert (tmp_path / "s.png").stat().st_size > 0


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["recipe"], "LABEL=FILE"),
        (["=a.jsonl"], "LABEL=FILE"),
        (["a=x.jsonl@loss.w_sdd"], "LABEL=FILE"),
        (["a=x.jsonl", "a=y.jsonl"], "given twice"),
        (["a=x.jsonl", "b=y.jsonl@loss.w_sdd=0.35"], "not both"),
    ],
)
def test_parse_rows_rejects_bad_items(
    seed_script: ModuleType, items: list[str], message: str
) -> None:
    with pytest.raises(SystemExit, match=message):
        seed_script.parse_rows(items)


def test_parse_set_and_missing_files(seed_script: ModuleType, tmp_path: Path) -> None:
    assert seed_script.parse_set("5-9").seeds == (5, 6, 7, 8, 9)
    assert seed_script.parse_set("0,3").seeds == (0, 3)
    with pytest.raises(SystemExit, match="FIRST-LAST"):
        seed_script.parse_set("a-b")
    with pytest.raises(SystemExit, match="names no seed"):
        seed_script.parse_set("4-2")
    with pytest.raises(SystemExit, match="no such file"):
        seed_script.load_scores(seed_script.parse_rows([f"r={tmp_path / 'absent.jsonl'}"]), "g")


def test_plot_draws_only_whole_seed_sets(
    seed_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A label with seeds 0-4 only gets one set of dots, as its table row shows one set."""
    recipe = _write(tmp_path / "r.jsonl", RECIPE)
    short = _write(tmp_path / "c.jsonl", {s: v for s, v in CHANGE.items() if s < 5})
    scores = seed_script.load_scores(
        seed_script.parse_rows([f"r={recipe}", f"c={short}"]), "gentle"
    )
    figures = []
    monkeypatch.setattr(seed_script, "save_figure_atomic", lambda fig, path: figures.append(fig))
    sets = [seed_script.parse_set(text) for text in ("0-4", "5-9", "0-9")]
    seed_script.plot(scores, sets, tmp_path / "p.png")
    (ax,) = figures[0].axes
    sizes = sorted(len(c.get_offsets()) for c in ax.collections if len(c.get_offsets()) > 1)
    assert sizes == [5, 5, 5, 10]  # the recipe's three sets, the short label's seeds 0-4


def _sweep_rows(path: Path, option: str, runs: dict[float, dict[int, float]]) -> Path:
    rows = [
        {
            "suite": "molecules",
            "regime": "bags:128",
            "pairs": 200,
            "seed": seed,
            "fixed": {"sampler.unpaired_per_step": 128},
            "option": option,
            "value": value,
            "val_headline": "a_to_b_class_P@1",
            "a_to_b_class_P@1": score,
        }
        for value, by_seed in runs.items()
        for seed, score in by_seed.items()
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_validation_sweep_rows_are_selected_by_option_and_value(
    seed_script: ModuleType, tmp_path: Path
) -> None:
    """The recipe's runs come from two sweeps of loss.w_sdd (seeds 0-4, then 5-9), the change's
    from a sweep of loss.w_mmd; the other values' runs are left out."""
    early = {s: v for s, v in RECIPE.items() if s < 5}
    late = {s: v for s, v in RECIPE.items() if s >= 5}
    first = _sweep_rows(tmp_path / "a.jsonl", "loss.w_sdd", {0.7: early, 0.35: CHANGE})
    second = _sweep_rows(tmp_path / "b.jsonl", "loss.w_sdd", {0.7: late})
    mmd = _sweep_rows(tmp_path / "m.jsonl", "loss.w_mmd", {0.8: CHANGE, 0.2: RECIPE})
    items = [f"recipe={first},{second}@loss.w_sdd=0.7", f"w_mmd 0.8={mmd}@loss.w_mmd=0.8"]
    scores = seed_script.load_scores(seed_script.parse_rows(items), "gentle")
    where = ("molecules", "bags:128", 200)
    assert scores == {"recipe": {where: RECIPE}, "w_mmd 0.8": {where: CHANGE}}
    with pytest.raises(SystemExit, match=r"sweeps loss\.w_mmd, not loss\.w_sdd"):
        seed_script.load_scores(seed_script.parse_rows([f"r={mmd}@loss.w_sdd=0.7"]), "gentle")


def test_main_names_validation_headlines_for_sweep_rows(
    seed_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = _sweep_rows(tmp_path / "a.jsonl", "loss.w_sdd", {0.7: RECIPE, 0.35: CHANGE})
    argv = [
        "seed_check.py",
        "--rows",
        f"r={rows}@loss.w_sdd=0.7",
        "--rows",
        f"c={rows}@loss.w_sdd=0.35",
    ]
    monkeypatch.setattr("sys.argv", [*argv, "--out", str(tmp_path), "--stem", "v"])
    seed_script.main()
    text = (tmp_path / "v.md").read_text(encoding="utf-8")
    assert text.startswith("Validation headline mean ± std per seed set")
    assert "| molecules | bags:128 | 200 | c | 0.300 ± 0.006 | 0.302 ± 0.007 |" in text


def test_only_suites_keeps_the_named_suites(seed_script: ModuleType, tmp_path: Path) -> None:
    scores = _scores(seed_script, tmp_path)
    assert seed_script.only_suites(scores, ["molecules"]) == scores
    with pytest.raises(SystemExit, match="no rows there"):
        seed_script.only_suites(scores, ["mfeat"])
