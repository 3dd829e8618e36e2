"""benchmarks/target_seeds.py: gentle against the best baseline over the tables' and more seeds."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

ScriptLoader = Callable[[str], ModuleType]
ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "docs" / "bench"


@pytest.fixture
def target_script(bench_script: ScriptLoader) -> ModuleType:
    """benchmarks/target_seeds.py (it imports published_tables.py and seed_check.py)."""
    return bench_script("target_seeds")


def _row(method: str, seed: int, value: float, pairs: int = 50) -> dict:
    return {
        "suite": "molecules",
        "regime": "bags:8",
        "pairs": pairs,
        "seed": seed,
        "method": method,
        "status": "ok",
        "value": value,
    }


GENTLE = [0.30, 0.32, 0.28, 0.31, 0.29, 0.25, 0.27, 0.26, 0.24, 0.28]
RELREP = [0.26, 0.27, 0.25, 0.28, 0.24, 0.26, 0.27, 0.25, 0.26, 0.26]
CCA = [0.20] * 10


def _rows() -> list[dict]:
    return [
        _row(method, seed, values[seed])
        for method, values in (("gentle", GENTLE), ("relrep", RELREP), ("cca", CCA))
        for seed in range(10)
    ]


def _sets(target_script: ModuleType) -> list:
    return [target_script.parse_set(text) for text in ("0-4", "5-9", "0-9")]


def test_findings_give_one_verdict_per_seed_set(target_script: ModuleType) -> None:
    found = target_script.findings(_rows(), _sets(target_script))
    assert [f.seeds.name for f in found] == ["0-4", "5-9", "0-9"]
    early, late, both = (f.verdict for f in found)
    assert early.best == late.best == both.best == "relrep"
    assert early.gentle.mean == pytest.approx(0.30) and early.baseline.mean == pytest.approx(0.26)
    assert early.outcome == "win"  # +0.04 against a noise line of 0.014
    assert late.gentle.mean == pytest.approx(0.26) and late.outcome == "tie"
    assert both.gentle.n == both.baseline.n == 10
    assert both.margin == pytest.approx(0.28 - 0.26)


def test_a_baseline_short_of_seeds_is_left_out_of_that_set(target_script: ModuleType) -> None:
    """relrep without seed 7: cca is the best baseline over seeds 5-9 and 0-9, relrep over 0-4."""
    rows = [r for r in _rows() if not (r["method"] == "relrep" and r["seed"] == 7)]
    found = {f.seeds.name: f.verdict for f in target_script.findings(rows, _sets(target_script))}
    assert found["0-4"].best == "relrep"
    assert found["5-9"].best == found["0-9"].best == "cca"
    assert found["0-9"].baseline.n == 10


def test_compared_keeps_gentle_and_the_baselines_of_the_cells_asked_a_later_row_winning(
    target_script: ModuleType,
) -> None:
    rows = [
        *_rows(),
        _row("oracle", 0, 0.9),
        _row("gentle", 0, 0.1, pairs=20),
        {**_row("gentle", 0, 0.35), "note": "rerun"},
    ]
    kept = target_script.compared(rows, {("molecules", "bags:8", 50)})
    assert {r["method"] for r in kept} == {"gentle", "relrep", "cca"}
    assert len(kept) == 30
    (first,) = [r for r in kept if r["method"] == "gentle" and r["seed"] == 0]
    assert first["value"] == 0.35


def test_report_and_plot(target_script: ModuleType, tmp_path: Path) -> None:
    found = target_script.findings(_rows(), _sets(target_script))
    text = target_script.report(found)
    line = "| molecules | bags:8 | 50 | 0-4 | 0.300 ± 0.014 | relrep 0.260 ± 0.014 | +0.040 |"
    assert line in text
    assert "| molecules | bags:8 | 50 | 5-9 | 0.260 ± 0.014 |" in text
    target_script.plot(found, tmp_path / "t.png")
    assert (tmp_path / "t.png").stat().st_size > 0


def test_published_rows_give_the_tables_target_1_verdicts_on_molecules(
    target_script: ModuleType,
) -> None:
    """Over seeds 0-4 the published rows give results.md's target 1 numbers on molecules at bags
    of 8: 0.311 / 0.305 / 0.307 against 0.221 / 0.249 / 0.268, three wins."""
    rows = target_script.published(BENCH, BENCH / "bench-sclip-sets-c68564f.jsonl", "mlp-molecules")
    wheres = {("molecules", "bags:8", p) for p in (10, 20, 50)}
    found = target_script.findings(target_script.compared(rows, wheres), _sets(target_script)[:1])
    got = [(f"{f.verdict.gentle.mean:.3f}", f"{f.verdict.baseline.mean:.3f}") for f in found]
    assert got == [("0.311", "0.221"), ("0.305", "0.249"), ("0.307", "0.268")]
    assert {f.verdict.outcome for f in found} == {"win"}


def test_zero_pairs_has_no_baseline_and_still_reports_and_plots(
    target_script: ModuleType, tmp_path: Path
) -> None:
    rows = [*_rows(), *(_row("gentle", seed, 0.5, pairs=0) for seed in range(10))]
    found = target_script.findings(rows, _sets(target_script))
    zero = [f for f in found if f.verdict.where[2] == 0]
    assert len(zero) == 3 and {f.verdict.outcome for f in zero} == {"only gentle"}
    text = target_script.report(found)
    assert "| molecules | bags:8 | 0 | 0-9 | 0.500 ± 0.000 | - | - | - | only gentle |" in text
    target_script.plot(found, tmp_path / "z.png")
    assert (tmp_path / "z.png").stat().st_size > 0


def test_near_line_keeps_margins_within_the_distance_either_side(target_script: ModuleType) -> None:
    """Over seeds 0-9 gentle is +0.02 against relrep with a noise line of 0.024: near at 0.01,
    not at 0.001; a row without baselines is never near."""
    rows = [*_rows(), *(_row("gentle", seed, 0.5, pairs=0) for seed in range(10))]
    verdicts = [f.verdict for f in target_script.findings(rows, _sets(target_script)[2:])]
    assert len(verdicts) == 2
    (near,) = target_script.near_line(verdicts, 0.01)
    assert near.where == ("molecules", "bags:8", 50) and near.outcome == "tie"
    assert target_script.near_line(verdicts, 0.001) == []
    text = target_script.near_report(verdicts, 0.01)
    assert text.startswith("1 of 1 published verdicts have a margin within 0.01")
    assert "| molecules | bags:8 | 50 | +0.020 | 0.024 | tie | relrep |" in text


def test_published_verdicts_near_the_noise_line_are_the_document_s(
    target_script: ModuleType,
) -> None:
    """docs/bench/near-noise-line.md is the list the published rows give: 16 of the 81 decided
    verdicts within 0.01 of the noise line, molecules' target row at 50 pairs among them."""
    rows = target_script.published(BENCH, BENCH / "bench-sclip-sets-c68564f.jsonl", "mlp-molecules")
    verdicts = target_script.bench.verdicts(rows, target_script.BASELINES)
    text = target_script.near_report(verdicts, 0.01)
    assert (BENCH / "near-noise-line.md").read_text(encoding="utf-8") == text
    assert text.startswith("16 of 81 published verdicts")
    assert "| molecules | bags:8 | 50 | +0.039 | 0.033 | win | relrep |" in text


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_base_rows_stand_in_for_the_published_tables(
    target_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--base-rows: seeds 0-4 come from those rows, not the tables (which are not read)."""
    rows = _rows()
    base = _write(tmp_path / "base.jsonl", [r for r in rows if r["seed"] < 5])
    more = _write(tmp_path / "more.jsonl", [r for r in rows if r["seed"] >= 5])
    argv = ["target_seeds.py", "--base-rows", str(base), "--rows", str(more)]
    monkeypatch.setattr("sys.argv", [*argv, "--out", str(tmp_path), "--stem", "b"])
    target_script.main()
    text = (tmp_path / "b.md").read_text(encoding="utf-8")
    assert "| molecules | bags:8 | 50 | 0-4 | 0.300 ± 0.014 | relrep 0.260 ± 0.014 |" in text
    assert "| molecules | bags:8 | 50 | 0-9 | 0.280 ± 0.024 |" in text
    assert (tmp_path / "b.png").stat().st_size > 0


def test_without_base_rows_or_the_tables_it_says_what_to_give(
    target_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.argv", ["target_seeds.py", "--near", "0.01", "--stem", "n"])
    with pytest.raises(SystemExit):
        target_script.main()


def test_seeds_made_with_other_overrides_are_refused(target_script: ModuleType) -> None:
    """A method's seeds made with another recipe (molecules' towers) beside the published ones
    would read as one method: refused, unless the new rows replace every seed."""
    towers = {"recipe_override": {"model": {"embed_dim": 512}}}
    more = [{**_row("gentle", seed, 0.4), **towers} for seed in range(5, 10)]
    where = {("molecules", "bags:8", 50)}
    with pytest.raises(SystemExit, match="different overrides for one method"):
        target_script.compared([*_rows(), *more], where)
    every = [{**_row("gentle", seed, 0.4), **towers} for seed in range(10)]
    kept = target_script.compared([*_rows(), *every], where)
    assert [r["value"] for r in kept if r["method"] == "gentle"] == [0.4] * 10


ITEMS = [0.36, 0.33, 0.35, 0.37, 0.34, 0.26, 0.28, 0.27, 0.25, 0.24]


def test_another_method_takes_gentle_s_place_with_gentle_beside_it(
    target_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--method gentle-items: its verdicts against the baselines, and against the tables'
    gentle on the same seeds; its seeds 0-4 come with --extra-rows and add no cells."""
    rows = _rows()
    items = [_row("gentle-items", seed, ITEMS[seed]) for seed in range(10)]
    base = _write(tmp_path / "base.jsonl", [r for r in rows if r["seed"] < 5])
    more = _write(tmp_path / "more.jsonl", [r for r in rows if r["seed"] >= 5])
    late = _write(tmp_path / "late.jsonl", items[5:])
    early = _write(tmp_path / "early.jsonl", [*items[:5], _row("gentle-items", 0, 0.9, pairs=20)])
    argv = ["target_seeds.py", "--base-rows", str(base), "--rows", str(more), str(late)]
    argv += ["--method", "gentle-items", "--extra-rows", str(early)]
    monkeypatch.setattr("sys.argv", [*argv, "--out", str(tmp_path), "--stem", "m"])
    target_script.main()
    text = (tmp_path / "m.md").read_text(encoding="utf-8")
    assert text.startswith("Gentle-items against the best of the issue's baselines")
    assert "| seeds | gentle-items | best baseline |" in text
    # seeds 0-4: 0.350 against relrep's 0.260 and against gentle's 0.300 (noise 0.014): wins
    early_line = "| molecules | bags:8 | 50 | 0-4 | 0.350 ± 0.014 | relrep 0.260 ± 0.014 | +0.090 |"
    assert early_line in text
    assert "| 0.300 ± 0.014 | win (+0.050) |" in text
    # seeds 5-9: 0.260 against gentle's 0.260: a tie
    assert "| molecules | bags:8 | 50 | 5-9 | 0.260 ± 0.014 |" in text
    assert "| 0.260 ± 0.014 | tie (+0.000) |" in text
    assert "| 20 |" not in text  # --extra-rows add no cells


def test_compared_renames_the_method_and_gentle(target_script: ModuleType) -> None:
    rows = [*_rows(), _row("gentle-items", 0, 0.5), _row("gentle-bagnce", 0, 0.6)]
    kept = target_script.compared(rows, {("molecules", "bags:8", 50)}, "gentle-items")
    assert {r["method"] for r in kept} == {"gentle", target_script.RECIPE, "relrep", "cca"}
    assert [r["value"] for r in kept if r["method"] == "gentle"] == [0.5]
    found = target_script.findings(kept, _sets(target_script)[:1])
    assert found == []  # gentle-items has one seed of 0-4: no verdict
    assert target_script.findings(_rows(), _sets(target_script))[0].recipe is None


def test_bag_means_count_among_the_baselines_their_ties_rescored(
    target_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--bag-means: ridge-bagmeans (seeds 0-4 from --extra-rows, a tie of seed 0 rescored by
    --rescored) beats relrep and is the best baseline; without it relrep is."""
    rows = _rows()
    bags = [_row("ridge-bagmeans", seed, 0.29) for seed in range(10)]
    base = _write(tmp_path / "base.jsonl", [r for r in rows if r["seed"] < 5])
    more = _write(tmp_path / "more.jsonl", [*(r for r in rows if r["seed"] >= 5), *bags[5:]])
    early = _write(tmp_path / "early.jsonl", [{**bags[0], "value": 0.1}, *bags[1:5]])
    ties = _write(tmp_path / "ties.jsonl", [{**bags[0], "ties": "expected"}])
    argv = ["target_seeds.py", "--base-rows", str(base), "--rows", str(more)]
    argv += ["--extra-rows", str(early), "--rescored", str(ties), "--out", str(tmp_path)]
    monkeypatch.setattr("sys.argv", [*argv, "--bag-means", "--stem", "bm"])
    target_script.main()
    text = (tmp_path / "bm.md").read_text(encoding="utf-8")
    assert text.startswith("Gentle against the best of these baselines (clip, sclip,")
    assert "| 0-4 | 0.300 ± 0.014 | ridge-bagmeans 0.290 ± 0.000 | +0.010 |" in text
    monkeypatch.setattr("sys.argv", [*argv, "--stem", "plain"])
    target_script.main()
    assert "ridge-bagmeans" not in (tmp_path / "plain.md").read_text(encoding="utf-8")


def test_suites_keep_only_those_suites_cells(
    target_script: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [*_rows(), *({**r, "suite": "emoji"} for r in _rows())]
    base = _write(tmp_path / "base.jsonl", [r for r in rows if r["seed"] < 5])
    more = _write(tmp_path / "more.jsonl", [r for r in rows if r["seed"] >= 5])
    argv = ["target_seeds.py", "--base-rows", str(base), "--rows", str(more), "--suites", "emoji"]
    monkeypatch.setattr("sys.argv", [*argv, "--out", str(tmp_path), "--stem", "s"])
    target_script.main()
    text = (tmp_path / "s.md").read_text(encoding="utf-8")
    assert "| emoji | bags:8 | 50 | 0-9 |" in text and "| molecules |" not in text
