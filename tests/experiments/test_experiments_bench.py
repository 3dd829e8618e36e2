"""`gentleclip bench` end to end on a tiny synthetic suite, plus its splits and report."""

from __future__ import annotations

import copy
import functools
import heapq
import json
import math
import multiprocessing
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import gentleclip.baselines
import gentleclip.evaluation.run
from gentleclip.cli import bench as cli_bench
from gentleclip.cli.main import main
from gentleclip.data import split as splitting
from gentleclip.data.bag_means import with_bag_means
from gentleclip.data.datasets.domain import DomainData, LabelSet
from gentleclip.data.regimes import RegimeData
from gentleclip.data.sampler import bag_sizes
from gentleclip.errors import InputError
from gentleclip.experiments import bench, datasets, speed
from gentleclip.experiments.datasets import DatasetEntry
from gentleclip.experiments.demo import DemoSetting
from gentleclip.recipes import load_recipe
from gentleclip.training import config as training_config
from gentleclip.training.module import make_room_for_bags

N, TEST = 120, 30
ALPHAS = (0.01, 0.1, 1.0, 10.0, 100.0)


def tiny_domain() -> DomainData:
    """Two noisy views of 4 latent clusters; every row unique; natural groups of 6 rows."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=N)
    z = rng.normal(size=(4, 5))[labels] * 3 + rng.normal(size=(N, 5))
    a = (z @ rng.normal(size=(5, 12)) + 0.1 * rng.normal(size=(N, 12))).astype(np.float32)
    b = np.tanh(z @ rng.normal(size=(5, 7)) / 3).astype(np.float32)
    return DomainData(
        name="tiny",
        a=a,
        b=b,
        side_names=("x", "y"),
        label_sets=[LabelSet("cluster", labels.astype(np.int64), list("abcd"))],
        groups=np.arange(N) // 6,
    )


def ridge_map(a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    return np.linalg.solve(a64.T @ a64 + alpha * np.eye(a.shape[1]), a64.T @ b64)


class FakeRidge:
    """Stands in for gentleclip.baselines' ridge: map A onto B's space; records every fit."""

    defaults: dict[str, Any] = {"alpha": 1.0, "scale": True}  # noqa: RUF012
    kinds: dict[str, str] = {"alpha": "positive", "scale": "flag"}  # noqa: RUF012

    def __init__(self, calls: list[dict[str, Any]]) -> None:
        self.calls = calls

    def param_grid(self) -> list[dict[str, float]]:
        return [{"alpha": alpha} for alpha in ALPHAS]

    def fit(self, data: Any, params: dict[str, float], *, seed: int) -> Any:
        self.calls.append({"data": data, "params": params, "seed": seed})
        w = ridge_map(data.paired_a, data.paired_b, params["alpha"])
        return _Embedder(w)


class _Embedder:
    def __init__(self, w: np.ndarray) -> None:
        self.w = w

    def encode(self, side: str, x: np.ndarray) -> torch.Tensor:
        z = x.astype(np.float64) @ self.w if side == "a" else x.astype(np.float64)
        return torch.nn.functional.normalize(torch.from_numpy(z), dim=1)


@pytest.fixture
def tiny(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Register suite 'tiny' (mfeat recipes) and a fake ridge baseline; return its fit log."""
    domain, original = tiny_domain(), datasets.build
    setting = DemoSetting(dataset="tiny", test_size=TEST)
    monkeypatch.setitem(datasets.DATASETS, "tiny", DatasetEntry("-", "-", "-", setting, "-"))
    monkeypatch.setattr(datasets, "build", lambda n: domain if n == "tiny" else original(n))
    monkeypatch.setattr(bench, "load_recipe", lambda n: load_recipe(n.replace("tiny", "mfeat")))
    calls: list[dict[str, Any]] = []

    def get_baseline(name: str) -> FakeRidge:
        if name != "ridge":
            raise KeyError(name)
        return FakeRidge(calls)

    monkeypatch.setattr(gentleclip.baselines, "get_baseline", get_baseline, raising=False)
    # spawned workers would not see the patched suite: one in-process worker by default
    monkeypatch.setattr(cli_bench, "default_workers", lambda: 1)
    bench.load_domain.cache_clear()
    yield calls
    bench.load_domain.cache_clear()


def reference_metrics(za: np.ndarray, zb: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """a->b R@1 and class P@1 by brute force in float64."""
    sim = za @ zb.T
    top = np.argmax(sim, axis=1)  # first maximum = lower index, like the library
    return {
        "a_to_b_R@1": float(np.mean(top == np.arange(len(za)))),
        "a_to_b_class_P@1": float(np.mean(labels[top] == labels)),
    }


GRID = ["--suite", "tiny", "--pairs", "0,10", "--seeds", "1", "--tune-budget", "2", "--steps", "8"]
GRID += ["--reference-steps", "0"]  # untimed: timing is tested on its own
TRAINED = ["--regime", "bags:8", "--methods", "gentle,clip,ridge,oracle"]
RIDGE = ["--regime", "bags:8,unpaired", "--methods", "ridge"]


def _rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_bench_end_to_end_and_resume(tmp_path: Path, tiny: list, capsys) -> None:
    out = tmp_path / "bench"
    assert main(["bench", *GRID, *TRAINED, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ETA" in printed and "[1/8]" in printed
    assert main(["bench", *GRID, *RIDGE, "--out", str(out)]) == 0  # grows the grid
    assert "2 of 4 cells already" in capsys.readouterr().out
    rows = _rows(out)
    by_key = {(r["regime"], r["pairs"], r["method"]): r for r in rows}
    expected = {("bags:8", p, m) for p in (0, 10) for m in ("gentle", "clip", "ridge", "oracle")}
    assert len(by_key) == len(rows)
    assert set(by_key) == expected | {("unpaired", 0, "ridge"), ("unpaired", 10, "ridge")}

    for regime, method in (("bags:8", "clip"), ("bags:8", "ridge"), ("unpaired", "ridge")):
        skipped = by_key[(regime, 0, method)]
        assert skipped["status"] == "skipped" and "pairs" in skipped["reason"]
    for pairs in (0, 10):
        gentle = by_key[("bags:8", pairs, "gentle")]
        assert gentle["status"] == "ok" and gentle["headline"] == "a_to_b_class_P@1"
        assert 0.0 <= gentle["value"] <= 1.0 and len(gentle["candidates"]) == 2
        assert gentle["params"]["optim.steps"] in (8, 4) and gentle["train_pairs"] == pairs
        assert gentle["value"] == gentle["metrics"]["a_to_b_class_P@1"]
    assert by_key[("bags:8", 10, "clip")]["status"] == "ok"

    oracle = [r for r in rows if r["method"] == "oracle"]
    assert sum("shared_from" not in r for r in oracle) == 1
    assert len({json.dumps(r["metrics"], sort_keys=True) for r in oracle}) == 1
    assert all(r["train_pairs"] == N - TEST for r in oracle)

    _check_ridge(by_key, tiny)
    table = (out / "results.md").read_text()
    assert "| bags:8 | 10 |" in table and "**" in table and "± " in table
    for name in ("tiny-pairs-bags8.png", "tiny-pairs-unpaired.png", "tiny-bagsize-pairs10.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG", name

    before = (out / "results.jsonl").read_text()
    assert main(["bench", *GRID, *TRAINED, "--out", str(out)]) == 0
    assert (out / "results.jsonl").read_text() == before
    assert "running 0" in capsys.readouterr().out


def test_unavailable_method_is_reported_not_recorded(tmp_path: Path, tiny: list, monkeypatch):
    monkeypatch.setattr(training_config, "METHODS", ("gentle", "clip"))
    options = bench.BenchOptions(out=tmp_path, tune_budget=2, steps=8)
    cell = bench.Cell("tiny", "bags:8", 10, 0, "sclip")
    lines: list[str] = []
    assert bench.run_bench([cell], options, log=lines.append) == []
    assert not (tmp_path / "results.jsonl").exists()
    assert "unavailable" in lines[-1] and "sclip" in lines[-1]


def _check_ridge(by_key: dict, calls: list[dict[str, Any]]) -> None:
    """Tuning saw only training items; the test score matches a from-scratch reference."""
    domain = tiny_domain()
    held = {tuple(row) for row in domain.a[splitting.test_rows(N, test_size=TEST, seed=0)]}
    assert len(calls) == 2 * 3  # two cells with pairs, 2 candidates + 1 final fit each
    for call in calls:
        seen = np.vstack([call["data"].paired_a, call["data"].unpaired_a])
        assert not held & {tuple(row) for row in seen}
        assert call["data"].eval_a is None and call["seed"] == 0
    for regime, kind in (("bags:8", "bags"), ("unpaired", "unpaired")):
        row = by_key[(regime, 10, "ridge")]
        assert row["status"] == "ok"
        assert [c["params"]["alpha"] for c in row["candidates"]] == [ALPHAS[0], ALPHAS[-1]]
        best = max(row["candidates"], key=lambda c: c["val"])
        assert row["params"] == best["params"]
        assert all(c["train_seconds"] >= 0 for c in row["candidates"])
        split = splitting.split_full(
            domain.a, domain.b, domain.primary_labels, pairs=10, regime=kind, test_size=TEST
        )
        w = ridge_map(split["paired_a"], split["paired_b"], row["params"]["alpha"])
        za = split["eval_a"].astype(np.float64) @ w
        za /= np.linalg.norm(za, axis=1, keepdims=True)
        zb = split["eval_b"].astype(np.float64)
        zb /= np.linalg.norm(zb, axis=1, keepdims=True)
        ref = reference_metrics(za, zb, split["eval_labels"])
        for key, value in ref.items():
            assert row["metrics"][key] == pytest.approx(value, abs=1e-9), key


@pytest.mark.parametrize(
    "extra",
    [
        ["--methods", "gentle,bogus"],
        ["--suite", "nope"],
        ["--regime", "bags:x"],
        ["--regime", "bags:0,unpaired"],
        ["--pairs", "10,a"],
        ["--seeds", "0"],
        ["--workers", "0"],
        ["--tune-budget", "0"],
        ["--tune-budget", str(bench.MAX_TUNE_BUDGET + 1)],
        ["--steps", "0"],
        ["--plot-pairs", "7"],
        ["--search", "grid"],
        ["--reference-steps", "-1"],
        ["--allocator", "jemalloc"],
        ["--allocator", "tcmalloc"],  # one worker (the fixture's default): nowhere to preload
        ["--denormals", "zero"],
        ["--pairs", f"10,{N - TEST + 1}"],
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path: Path, tiny: list, capsys, extra) -> None:
    out = tmp_path / "bench"
    argv = ["bench", "--suite", "tiny", "--pairs", "10", "--regime", "bags:8", "--out", str(out)]
    assert main([*argv, "--methods", "ridge", *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gentleclip: error:")
    assert not out.exists()  # refused before the folder (and its bench.json) is made


def test_pair_counts_no_suite_can_hold_are_refused_naming_its_size(
    tmp_path: Path, tiny: list, capsys
) -> None:
    argv = ["bench", "--suite", "tiny", "--regime", "bags:8", "--seeds", "1", "--methods"]
    argv += ["ridge", "--out", str(tmp_path)]
    argv[1:1] = ["--reference-steps", "0"]
    assert main([*argv, "--pairs", f"{N - TEST + 1}"]) == 2
    assert f"more pairs than the training items of any suite (tiny {N - TEST})" in (
        capsys.readouterr().err
    )
    # the largest count that fits runs; with no row left for bags its cell is a skip, and a
    # report of nothing but skips has no plot
    assert main([*argv, "--pairs", f"{N - TEST}"]) == 0
    assert [r["status"] for r in _rows(tmp_path)] == ["skipped"]
    assert not list(tmp_path.glob("*.png"))


def test_damaged_results_folder_is_one_line_naming_the_file(tmp_path: Path, tiny: list, capsys):
    argv = ["bench", "--suite", "tiny", "--pairs", "10", "--regime", "bags:8", "--seeds", "1"]
    argv += ["--methods", "ridge", "--out", str(tmp_path)]
    argv[1:1] = ["--reference-steps", "0"]
    assert main(argv) == 0
    results = tmp_path / bench.RESULTS
    good = results.read_text()
    results.write_text(good + '{"suite": "tiny", "regi')  # torn last line: still fine
    assert main(argv) == 0
    capsys.readouterr()
    for bad, where in (("[1, 2]\n", "line 2"), ('{"a": 1}\n', "line 2"), ("garbage\n", "line 2")):
        results.write_text(good + bad + good)
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "results.jsonl" in err[0] and where in err[0], err
    results.write_text(good)
    (tmp_path / bench.SETTINGS).write_text("garbage")
    assert main(argv) == 2
    assert "bench.json" in capsys.readouterr().err
    file_out = tmp_path / "file"
    file_out.write_text("x")
    assert main([*argv[:-1], str(file_out)]) == 2
    assert "is a file" in capsys.readouterr().err


def test_every_method_has_the_largest_tune_budget_of_candidates() -> None:
    """A budget up to MAX_TUNE_BUDGET buys every method that many distinct candidates."""
    for name in gentleclip.baselines.BASELINES:
        grid = gentleclip.baselines.get_baseline(name).param_grid()
        assert len({repr(sorted(c.items())) for c in grid}) >= bench.MAX_TUNE_BUDGET, name
    assert len(set(bench.TRAINED_GRID)) == bench.MAX_TUNE_BUDGET


def test_default_workers_is_the_cpu_count_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_bench.os, "cpu_count", lambda: 2)
    assert cli_bench.default_workers() == 2
    monkeypatch.setattr(cli_bench.os, "cpu_count", lambda: 64)
    assert cli_bench.default_workers() == cli_bench.MAX_DEFAULT_WORKERS
    monkeypatch.setattr(cli_bench.os, "cpu_count", lambda: None)
    assert cli_bench.default_workers() == 1


def test_other_settings_in_same_out_dir_refused(tmp_path: Path, tiny: list, capsys) -> None:
    argv = ["bench", "--suite", "tiny", "--pairs", "10", "--regime", "bags:8", "--seeds", "1"]
    argv += ["--methods", "ridge", "--out", str(tmp_path), "--tune-budget", "2"]
    argv[1:1] = ["--reference-steps", "0"]
    assert main(argv) == 0
    assert len(_rows(tmp_path)) == 1
    assert json.loads((tmp_path / bench.SETTINGS).read_text())["search"] == "halving"
    assert main([*argv[:-1], "3"]) == 2
    err = capsys.readouterr().err
    assert "made with --tune-budget 2 (this run: --tune-budget 3)" in err
    assert "resume it with --tune-budget 2" in err
    assert main([*argv, "--search", "full"]) == 2
    assert "made with --search halving (this run: --search full)" in capsys.readouterr().err
    assert main([*argv, "--steps", "5"]) == 2
    assert "made with no --steps (this run: --steps 5)" in capsys.readouterr().err
    # a folder from before --search existed was made with the full search: it resumes
    # with --search full, and the default (halving) is refused naming that option
    settings = json.loads((tmp_path / bench.SETTINGS).read_text())
    del settings["search"]
    (tmp_path / bench.SETTINGS).write_text(json.dumps(settings))
    assert main([*argv, "--search", "full"]) == 0
    assert main(argv) == 2
    assert "resume it with --search full" in capsys.readouterr().err
    # --no-refit is a setting too; folders from before it were refit
    assert main([*argv, "--search", "full", "--no-refit"]) == 2
    err = capsys.readouterr().err
    assert "made with --refit (this run: --no-refit)" in err and "resume it with --refit" in err
    settings = json.loads((tmp_path / bench.SETTINGS).read_text())
    assert settings["refit"] is True
    del settings["refit"]
    (tmp_path / bench.SETTINGS).write_text(json.dumps(settings))
    assert main([*argv, "--search", "full", "--refit"]) == 0
    # folders from before --ties counted ties as hits: they resume with --ties optimistic
    assert main([*argv, "--search", "full", "--ties", "optimistic"]) == 2
    err = capsys.readouterr().err
    assert "made with --ties expected (this run: --ties optimistic)" in err
    del settings["ties"]
    (tmp_path / bench.SETTINGS).write_text(json.dumps(settings))
    assert main([*argv, "--search", "full"]) == 2
    assert "resume it with --ties optimistic" in capsys.readouterr().err
    assert main([*argv, "--search", "full", "--ties", "optimistic"]) == 0


QUICK_TINY = ["--quick", "--suite", "tiny", "--pairs", "10", "--steps", "8"]


def _counting_reference(monkeypatch: pytest.MonkeyPatch, *values: float) -> list[int]:
    """Record the steps of every reference timing; return ``values`` in turn, or time the
    real reference step when none are given."""
    calls: list[int] = []
    real, given = speed.reference_step_ms, iter(values)

    def reference_step_ms(steps: int = 200) -> float:
        calls.append(steps)
        return next(given) if values else real(steps)

    monkeypatch.setattr(speed, "reference_step_ms", reference_step_ms)
    return calls


def test_bench_records_its_timing_once_per_run_with_cells(
    tmp_path: Path, tiny: list, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    calls = _counting_reference(monkeypatch)
    out = tmp_path / "bench"
    argv = ["bench", *QUICK_TINY, "--methods", "gentle,ridge", "--out", str(out)]
    assert main([*argv, "--reference-steps", "2"]) == 0
    assert calls == [2, 2]  # before and after the grid
    printed = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("reference step: ") for line in printed) == 2
    rows = _rows(out)
    (record,) = speed.read_timing(out)
    assert record["cells"] == len(rows) == 2 and record["workers"] == 1
    assert record["allocator"] == "system"  # one worker: this process, its allocator
    assert record["worker_seconds"] == round(sum(r["seconds"] for r in rows), 1)
    assert set(record["reference_step_ms"]) == {"before", "after"}
    assert all(math.isfinite(ms) and ms > 0 for ms in record["reference_step_ms"].values())
    assert record["denormals"] == "flush"  # the default
    assert set(record) == {
        "allocator",
        "denormals",
        "finished",
        "cells",
        "workers",
        "wall_seconds",
        "worker_seconds",
        "reference_step_ms",
        "reference",
        "cpu",
        "cpu_capability",
        "cpu_count",
        "torch",
    }
    report = (out / bench.REPORT).read_text()
    assert "\n## Timing\n" in report and "2 cells on 1 workers" in report

    # nothing left to run: not timed, nothing recorded, the report still quotes the run
    timing = (out / speed.TIMING).read_text()
    assert main([*argv, "--reference-steps", "2"]) == 0
    assert calls == [2, 2] and "running 0" in capsys.readouterr().out
    assert (out / speed.TIMING).read_text() == timing
    assert "## Timing" in (out / bench.REPORT).read_text()

    # a grown grid adds a second record for its new cells only
    assert main([*argv[:-3], "gentle,ridge,clip", "--out", str(out), "--reference-steps", "2"]) == 0
    first, second = speed.read_timing(out)
    assert first == record and second["cells"] == 1
    new = [r for r in _rows(out) if r["method"] == "clip"]
    assert second["worker_seconds"] == round(sum(r["seconds"] for r in new), 1)
    assert (out / bench.REPORT).read_text().count("cells on 1 workers") == 2


def test_bench_with_zero_reference_steps_is_not_timed(
    tmp_path: Path, tiny: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting_reference(monkeypatch, 1.0, 1.0)
    argv = ["bench", *QUICK_TINY, "--methods", "ridge", "--out", str(tmp_path)]
    assert main([*argv, "--reference-steps", "0"]) == 0
    assert calls == [] and len(_rows(tmp_path)) == 1
    assert not (tmp_path / speed.TIMING).exists()
    assert "## Timing" not in (tmp_path / bench.REPORT).read_text()


def test_negative_reference_steps_are_refused_before_anything_runs(
    tmp_path: Path, tiny: list, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    calls = _counting_reference(monkeypatch, 1.0, 1.0)
    out = tmp_path / "bench"
    argv = ["bench", *QUICK_TINY, "--methods", "ridge", "--out", str(out)]
    assert main([*argv, "--reference-steps", "-1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--reference-steps must be >= 0, got -1" in err[0]
    assert calls == [] and not out.exists()


@pytest.mark.parametrize(("quick", "steps"), [(True, 50), (False, 200)])
def test_reference_steps_default_to_50_quick_and_200_otherwise(
    tmp_path: Path, tiny: list, monkeypatch: pytest.MonkeyPatch, quick: bool, steps: int
) -> None:
    calls = _counting_reference(monkeypatch, 4.12345, 6.5)
    argv = ["bench", "--suite", "tiny", "--pairs", "10", "--regime", "bags:8", "--seeds", "1"]
    argv += ["--methods", "ridge", "--tune-budget", "2", "--out", str(tmp_path)]
    assert main([*argv, "--quick"] if quick else argv) == 0
    assert calls == [steps, steps]
    (record,) = speed.read_timing(tmp_path)
    assert record["reference_step_ms"] == {"before": 4.123, "after": 6.5}
    assert "4.123 ms before, 6.5 ms after" in (tmp_path / bench.REPORT).read_text()


def test_validation_and_oracle_splits_hold_out_the_test_rows(tiny: list) -> None:
    domain = tiny_domain()
    test = splitting.test_rows(N, test_size=TEST, seed=3)
    held = {tuple(r) for r in domain.a[test]}
    for regime in ("bags:8", "unpaired", "natural"):
        data = bench.cell_data(domain, bench.Cell("tiny", regime, 10, 3, "gentle"), TEST, False)
        np.testing.assert_array_equal(data.test["eval_a"], domain.a[test])
        assert data.val_size == (N - TEST) // 4 and data.val_pairs == 10
        val_rows = np.vstack([data.val[k] for k in ("paired_a", "unpaired_a", "eval_a")])
        assert len(val_rows) <= N - TEST and not held & {tuple(r) for r in val_rows}
    bags = bench.cell_data(domain, bench.Cell("tiny", "natural", 10, 3, "gentle"), TEST, False)
    rows_of = {tuple(r): i for i, r in enumerate(domain.a)}
    groups = [domain.groups[rows_of[tuple(r)]] for r in bags.test["unpaired_a"]]
    ids = bags.test["unpaired_a_bags"]
    assert all(len({g for g, i in zip(groups, ids, strict=True) if i == b}) == 1 for b in ids)
    pairs = bench.cell_data(domain, bench.Cell("tiny", "pairs", 10, 3, "gentle"), TEST, False)
    data = bench.cell_data(domain, bench.Cell("tiny", "bags:8", 10, 3, "gentle"), TEST, False)
    for split in ("test", "val"):  # the bags split's pairs and eval pairs, nothing unpaired
        got = getattr(pairs, split)
        assert sorted(got) == ["eval_a", "eval_b", "eval_labels", "paired_a", "paired_b"]
        for key, values in got.items():
            np.testing.assert_array_equal(values, getattr(data, split)[key])
    with pytest.raises(bench.Skipped, match="needs pairs >= 1"):
        bench.cell_data(domain, bench.Cell("tiny", "pairs", 0, 3, "gentle"), TEST, False)
    options = bench.BenchOptions(out=Path("unused"), tune_budget=1, steps=2)
    for method in ("sclip", "sclip-legacy"):  # pseudo-labels need unpaired rows
        cell = bench.Cell("tiny", "pairs", 10, 3, method)
        with pytest.raises(bench.Skipped, match="the data has none \\(pairs only\\)"):
            bench.tuned_result(domain, cell, TEST, options)
    bench.tuned_result(domain, bench.Cell("tiny", "pairs", 10, 3, "clip"), TEST, options)
    oracle = bench.cell_data(domain, bench.Cell("tiny", "bags:8", 0, 3, "oracle"), TEST, True)
    assert len(oracle.test["paired_a"]) == N - TEST
    assert not held & {tuple(r) for r in oracle.test["paired_a"]}
    np.testing.assert_array_equal(oracle.test["eval_labels"], domain.primary_labels[test])


def test_candidates_and_parsing() -> None:
    config = bench.base_config("mfeat", bench.METHODS["gentle"], 100, seed=0)
    cands = bench.trained_candidates(config, 3)
    assert [c["optim.steps"] for c in cands] == [100, 50, 100]
    assert [c["optim.lr"] for c in cands] == pytest.approx([2e-3, 2e-3, 4e-3])
    assert bench.spread([{"i": i} for i in range(9)], 3) == [{"i": 0}, {"i": 4}, {"i": 8}]
    assert bench.spread([{"i": 0}], 4) == [{"i": 0}]
    assert bench.parse_regime("bags:32") == bench.Regime("bags", 32)
    assert bench.parse_regime(" pairs ") == bench.Regime("pairs")
    assert bench.parse_regime("pairs").order > bench.parse_regime("unpaired").order
    with pytest.raises(InputError, match="unpaired, natural or pairs"):
        bench.parse_regime("paired")
    assert bench.parse_seeds("3") == [0, 1, 2] and bench.parse_seeds("4,1") == [4, 1]
    ablation = bench.base_config("mfeat", bench.METHODS["gentle-no-sdd"], None, seed=2)
    assert ablation["loss"]["w_sdd"] == 0.0 and ablation["optim"]["steps"] == 2000
    items = bench.base_config("molecules", bench.METHODS["gentle-items"], None, seed=0)
    recipe = bench.base_config("molecules", bench.METHODS["gentle"], None, seed=0)
    assert (items["loss"]["w_clip"], items["sampler"]["pairs_per_step"]) == (0.0, 2)
    assert items["model"] == recipe["model"] and items["optim"] == recipe["optim"]
    both = bench.base_config("molecules", bench.METHODS["gentle-bagnce-items"], None, seed=0)
    assert (both["loss"]["w_clip"], both["loss"]["w_bag"]) == (0.0, 1.0)
    assert both["sampler"]["pairs_per_step"] == 2 and both["sampler"]["unpaired_per_step"] == 128
    assert both["model"] == recipe["model"] and both["optim"] == recipe["optim"]


def test_method_groups_expand_in_order_without_duplicates() -> None:
    compare = bench.parse_methods("compare")
    assert compare[:2] == ["gentle", "clip"] and "oracle" in compare
    assert not set(compare) & set(bench.ABLATIONS)
    assert bench.parse_methods("ablations,gentle") == ["gentle", *bench.ABLATIONS]
    rest = [m for m in bench.METHODS if m != "ridge"]
    assert bench.parse_methods("ridge,all") == ["ridge", *rest]
    assert not set(compare) & set(bench.DISJOINT)
    assert bench.parse_methods("disjoint") == ["gentle", "clip", *bench.DISJOINT]
    assert not set(compare) & set(bench.REFERENCE)
    assert bench.parse_methods("reference") == ["cca", "sclip", *bench.REFERENCE]
    assert {"cca-sklearn", "sclip-legacy", "sclip-code", "sclip-learned"} <= set(bench.REFERENCE)
    assert not set(compare) & set(bench.BAG_MEANS)
    assert bench.parse_methods("bagmeans") == [
        "gentle",
        "gentle-bagmeans",
        *bench.BAG_MEANS,
        *bench.BAG_LEVEL,
    ]
    for method in ("gentle-bagmeans", "gentle-bagnce", "gentle-items", "gentle-bagnce-items"):
        assert method not in (*bench.ABLATIONS, *bench.BAG_MEANS, *compare)
    assert bench.parse_methods("items") == ["gentle", "gentle-items", "gentle-bagnce-items"]
    groups = "compare,ablations,disjoint,reference,bagmeans,items"
    assert set(bench.parse_methods(groups)) == set(bench.METHODS)
    with pytest.raises(InputError, match="unknown method 'ablation'"):
        bench.parse_methods("ablation")


def test_markdown_mean_std_and_bold() -> None:
    rows = [_ok("gentle", 0, 0.5), _ok("gentle", 1, 0.7), _ok("clip", 0, 0.4), _ok("clip", 1, 0.6)]
    rows.append({**_ok("ridge", 0, 0.0), "status": "skipped", "reason": "ridge needs pairs"})
    rows.append({**_ok("relrep", 1, 0.0), "status": "skipped", "reason": "relrep needs pairs"})
    text = bench.render_markdown(rows)
    line = next(x for x in text.splitlines() if x.startswith("| bags:8 | 20 |"))
    assert line == "| bags:8 | 20 | **0.600 ± 0.100** | 0.500 ± 0.100 | skip | skip |"
    assert "- ridge, relrep: needs pairs" in text
    assert "mean ± std over seeds (population std, ddof=0)" in text


def test_a_single_seed_shows_its_mean_without_a_spread() -> None:
    rows = [_ok("gentle", 0, 0.5), _ok("clip", 0, 0.3), _ok("clip", 1, 0.5)]
    line = next(x for x in bench.render_markdown(rows).splitlines() if x.startswith("| bags:8"))
    assert line == "| bags:8 | 20 | **0.500 (n=1)** | 0.400 ± 0.100 |"
    verdict = bench.render_verdicts([_ok("gentle", 0, 0.7), _ok("ridge", 0, 0.6)])
    row = "| s | bags:8 | 20 | 0.700 | ridge 0.600 | +0.100 | - | ahead (1 seed) | 1 / 1 |"
    assert row in verdict


def _ok(method: str, seed: int, value: float, pairs: int = 20) -> dict[str, Any]:
    return {
        "suite": "s",
        "regime": "bags:8",
        "pairs": pairs,
        "seed": seed,
        "method": method,
        "status": "ok",
        "value": value,
        "headline": "a_to_b_R@10",
    }


def test_verdicts_compare_gentle_with_the_best_baseline_against_seed_noise() -> None:
    rows = [_ok("gentle", s, v) for s, v in enumerate((0.70, 0.80))]  # 0.75 ± 0.05
    rows += [_ok("ridge", s, v) for s, v in enumerate((0.60, 0.66))]  # 0.63 ± 0.03: win
    rows += [_ok("clip", s, v, pairs=20) for s, v in enumerate((0.20, 0.30))]
    rows += [_ok("oracle", 0, 0.99), _ok("gentle-no-sdd", 0, 0.98)]  # never baselines
    rows += [_ok("gentle", s, v, pairs=50) for s, v in enumerate((0.70, 0.80))]
    rows += [_ok("cca", s, v, pairs=50) for s, v in enumerate((0.68, 0.74))]  # 0.71 ± 0.03: tie
    rows += [_ok("gentle", s, v, pairs=100) for s, v in enumerate((0.3, 0.32))]
    rows += [_ok("relrep", s, v, pairs=100) for s, v in enumerate((0.5, 0.52))]  # lose
    rows += [_ok("gentle", 0, 0.9, pairs=200), _ok("ridge", 0, 0.1, pairs=200)]
    rows += [_ok("gentle", 0, 0.6, pairs=0)]
    found = {v.where[2]: v for v in bench.verdicts(rows)}
    assert found[20].best == "ridge" and found[20].outcome == "win"
    assert found[20].margin == pytest.approx(0.12) and found[20].noise == pytest.approx(0.05)
    assert (found[50].best, found[50].outcome) == ("cca", "tie")
    assert (found[100].best, found[100].outcome) == ("relrep", "lose")
    assert found[0].best is None and found[0].outcome == "only gentle"
    assert found[200].outcome == "ahead (1 seed)"  # one seed has no spread to beat
    text = bench.render_verdicts(rows)
    assert (
        "| s | bags:8 | 20 | 0.750 ± 0.050 | ridge 0.630 ± 0.030 | +0.120 | 3.00x | win | 2 / 2 |"
        in text
    )
    assert "## Gentle against the best baseline" in bench.render_markdown(rows)


def test_no_plot_for_a_regime_where_every_method_was_skipped(tmp_path: Path) -> None:
    rows = [_ok("gentle", 0, 0.5), _ok("clip", 0, 0.4)]
    skipped = {"regime": "natural", "status": "skipped", "reason": "no natural groups"}
    rows += [{**_ok(m, 0, 0.0), **skipped} for m in ("gentle", "clip")]
    names = {p.name for p in bench.write_plots(rows, tmp_path)}
    assert "s-pairs-bags8.png" in names and "s-pairs-natural.png" not in names
    assert not (tmp_path / "s-pairs-natural.png").exists()


def test_no_bag_size_plot_where_every_method_was_skipped(tmp_path: Path) -> None:
    skipped = {"status": "skipped", "reason": "split impossible"}
    rows = [{**_ok(m, 0, 0.0, pairs=9999), **skipped} for m in ("gentle", "clip")]
    assert bench.write_plots(rows, tmp_path, plot_pairs=9999) == []
    assert not list(tmp_path.glob("*.png"))


def _count_trained_steps(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(run's configured steps, steps trained) for each InProcessRun the bench makes."""
    from gentleclip.training import inprocess

    runs: list[tuple[int, int]] = []

    class Counted(inprocess.InProcessRun):
        def __init__(self, data: Any, config: Any) -> None:
            super().__init__(data, config)
            self.index = len(runs)
            runs.append((config.optim.steps, 0))

        def advance(self, until: int, **kwargs: Any) -> Any:
            runs[self.index] = (runs[self.index][0], until)
            return super().advance(until, **kwargs)

    monkeypatch.setattr(inprocess, "InProcessRun", Counted)
    return runs


def _without_seconds(metrics: dict[str, float] | None) -> dict[str, float] | None:
    return None if metrics is None else {k: v for k, v in metrics.items() if k != "train_seconds"}


def test_step_candidates_share_a_run_and_equal_separate_runs(
    tiny: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Budget 4 = 2 learning rates x 2 step counts: two runs, each candidate's metrics equal
    a run of its own."""
    cell = bench.Cell("tiny", "bags:8", 10, 0, "gentle")
    data = bench.cell_data(bench.load_domain("tiny"), cell, TEST, False)
    config = bench.base_config("tiny", bench.METHODS["gentle"], 12, 0)
    candidates = bench.trained_candidates(config, 4)
    runs = _count_trained_steps(monkeypatch)
    shared = bench.score_trained(config, candidates, data.val)
    assert runs == [(12, 12), (12, 12)]
    for params, metrics in zip(candidates, shared, strict=True):
        alone = bench.fit_trained(bench._with(config, params), data.val)
        assert _without_seconds(metrics) == _without_seconds(alone)
    assert shared[0] != shared[1]  # 12 and 6 steps differ


def test_halving_continues_only_the_best_learning_rate(
    tiny: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both learning rates train to the shortest step count (6); only the one scoring best
    there goes on to 12. Every candidate it scores equals the full search's; the other
    rate's 12-step candidate is pruned (None)."""
    cell = bench.Cell("tiny", "bags:8", 10, 0, "gentle")
    data = bench.cell_data(bench.load_domain("tiny"), cell, TEST, False)
    config = bench.base_config("tiny", bench.METHODS["gentle"], 12, 0)
    candidates = bench.trained_candidates(config, 4)  # (12, lr), (6, lr), (12, 2lr), (6, 2lr)
    key = "a_to_b_R@1"
    full = bench.score_trained(config, candidates, data.val)
    runs = _count_trained_steps(monkeypatch)
    halved = bench.score_trained(config, candidates, data.val, search="halving", key=key)
    winner = 0 if full[1][key] >= full[3][key] else 2  # first of equals
    loser = 2 - winner
    assert runs == [(12, 12 if winner == 0 else 6), (12, 12 if winner == 2 else 6)]
    assert halved[loser] is None
    for index in (winner, 1, 3):
        assert _without_seconds(halved[index]) == _without_seconds(full[index])
    params, scored = bench._tune(
        candidates,
        functools.partial(bench.score_trained, config, search="halving", key=key),
        data.val,
        key,
    )
    assert scored[loser] == {"params": candidates[loser], "val": None, "pruned": True}
    best = max(sorted((winner, 1, 3)), key=lambda i: full[i][key])  # first of equals
    assert params == candidates[best]


@pytest.mark.parametrize("budget", [3, 6])
def test_halving_scores_the_winner_and_everything_up_to_the_rung(tiny: list, budget: int) -> None:
    """Any budget: the best rate at the rung (the shortest step count) keeps all its
    candidates; other rates keep those up to the rung, and the rest are pruned, each equal
    to the full search's."""
    cell = bench.Cell("tiny", "bags:8", 10, 0, "gentle")
    data = bench.cell_data(bench.load_domain("tiny"), cell, TEST, False)
    config = bench.base_config("tiny", bench.METHODS["gentle"], 12, 0)
    candidates = bench.trained_candidates(config, budget)
    halved = bench.score_trained(config, candidates, data.val, search="halving")
    full = bench.score_trained(config, candidates, data.val)
    rung = min(c["optim.steps"] for c in candidates)
    lrs = {c["optim.lr"] for c in candidates}
    kept = {
        c["optim.lr"]
        for c, m in zip(candidates, halved, strict=True)
        if m is not None and c["optim.steps"] > rung
    }
    assert len(lrs) > 1 and len(kept) == 1
    for params, h, f in zip(candidates, halved, full, strict=True):
        if params["optim.steps"] <= rung or params["optim.lr"] in kept:
            assert _without_seconds(h) == _without_seconds(f)
        else:
            assert h is None


def test_halving_with_one_learning_rate_changes_nothing(tiny: list) -> None:
    """One learning rate (budget 2) is one run: halving changes nothing."""
    cell = bench.Cell("tiny", "bags:8", 10, 0, "clip")
    data = bench.cell_data(bench.load_domain("tiny"), cell, TEST, False)
    config = bench.base_config("tiny", bench.METHODS["clip"], 8, 0)
    candidates = bench.trained_candidates(config, 2)
    full = bench.score_trained(config, candidates, data.val)
    halved = bench.score_trained(config, candidates, data.val, search="halving")
    assert [_without_seconds(m) for m in halved] == [_without_seconds(m) for m in full]


def test_bench_with_halving_records_pruned_candidates(tmp_path: Path, tiny: list) -> None:
    options = bench.BenchOptions(out=tmp_path, tune_budget=4, steps=8, search="halving")
    cells = bench.plan(["tiny"], ["bags:8"], [10], [0], ["gentle", "ridge"])
    rows = {r["method"]: r for r in bench.run_bench(cells, options, log=lambda _: None)}
    pruned = [c for c in rows["gentle"]["candidates"] if c.get("pruned")]
    assert len(pruned) == 1 and pruned[0]["val"] is None
    assert pruned[0]["params"] != rows["gentle"]["params"]
    assert all("pruned" not in c for c in rows["ridge"]["candidates"])
    assert json.loads((tmp_path / bench.SETTINGS).read_text())["search"] == "halving"


def _assert_a_fresh_run_reproduces(tmp_path: Path, cell: bench.Cell, shared: dict) -> None:
    """``cell`` computed alone, in a new folder, gives the metrics of its shared row (but
    the training time)."""
    fresh = bench.BenchOptions(out=tmp_path / f"fresh-{cell.method}", tune_budget=2, steps=6)
    with bench.one_torch_thread():  # as run_bench computes (results depend on threads)
        alone = bench.run_cell((cell, fresh))
    assert "shared_from" not in alone
    expected = {**shared["metrics"], "train_seconds": alone["metrics"]["train_seconds"]}
    assert alone["metrics"] == expected


def test_bag_agnostic_methods_share_results_across_bag_sizes(tmp_path: Path, tiny: list) -> None:
    """clip and ridge ignore bag ids: bags of 8 and 24 hold the same rows, so the second
    regime reuses the first's result; recomputing it from scratch gives the same metrics.
    gentle reads the bags and is computed for each regime; the unpaired regime has other
    splits and is never shared."""
    options = bench.BenchOptions(out=tmp_path / "out", tune_budget=2, steps=6)
    cells = bench.plan(
        ["tiny"], ["bags:8", "bags:24", "unpaired"], [10], [0], ["gentle", "clip", "ridge"]
    )
    rows = {
        (r["regime"], r["method"]): r for r in bench.run_bench(cells, options, log=lambda _: None)
    }
    for method in ("clip", "ridge"):
        shared = rows[("bags:24", method)]
        assert shared["shared_from"] == "bags:8" and shared["status"] == "ok"
        assert shared["metrics"] == rows[("bags:8", method)]["metrics"]
        assert "shared_from" not in rows[("unpaired", method)]
        _assert_a_fresh_run_reproduces(
            tmp_path, bench.Cell("tiny", "bags:24", 10, 0, method), shared
        )
    assert not any("shared_from" in rows[(r, "gentle")] for r in ("bags:8", "bags:24", "unpaired"))


def test_clip_on_unstandardised_inputs_shares_its_result_with_disjoint_sides(
    tmp_path: Path, tiny: list
) -> None:
    """clip never samples the unpaired rows; with model.normalize_inputs false (molecules'
    recipe) it does not read them at all, so the disjoint regime, whose pairs and
    evaluation rows equal the bags regime's, reuses the bags' result, which a fresh run
    reproduces; the same clip with standardised inputs (the recipe here) computes both."""
    override = {"model": {"normalize_inputs": False}}
    options = bench.BenchOptions(
        out=tmp_path / "out", tune_budget=2, steps=6, recipe_override=override
    )
    cells = bench.plan(["tiny"], ["bags:8", "unpaired"], [10], [0], ["clip", "gentle"])
    assert [[c.regime for c in job] for job in bench.job_groups(cells, override)] == [
        ["bags:8", "unpaired"],  # clip: one job
        ["bags:8"],
        ["unpaired"],
    ]
    rows = {
        (r["regime"], r["method"]): r for r in bench.run_bench(cells, options, log=lambda _: None)
    }
    shared = rows[("unpaired", "clip")]
    assert shared["shared_from"] == "bags:8"
    assert shared["metrics"] == rows[("bags:8", "clip")]["metrics"]
    assert "shared_from" not in rows[("unpaired", "gentle")]
    fresh = bench.BenchOptions(
        out=tmp_path / "fresh", tune_budget=2, steps=6, recipe_override=override
    )
    with bench.one_torch_thread():
        alone = bench.run_cell((bench.Cell("tiny", "unpaired", 10, 0, "clip"), fresh))
    assert alone["metrics"] == {
        **shared["metrics"],
        "train_seconds": alone["metrics"]["train_seconds"],
    }
    standardised = bench.BenchOptions(out=tmp_path / "std", tune_budget=2, steps=6)
    clip = [c for c in cells if c.method == "clip"]
    rows = bench.run_bench(clip, standardised, log=lambda _: None)
    assert [r["regime"] for r in rows if "shared_from" not in r] == ["bags:8", "unpaired"]


def test_sclip_trains_on_a_bags_split_as_on_two_sets(tmp_path: Path, tiny: list) -> None:
    """S-CLIP has no notion of bags: in a bags regime the bench's sclip trains on the unpaired
    rows without their bag ids, in a canonical order, so bags of 8 and 24 give it identical
    arrays and the second regime reuses the first's result, which a fresh run reproduces.
    The unpaired regime keeps its rows as split and is computed."""
    assert bench.METHODS["sclip"].sees_bags is False
    assert all(bench.METHODS[m].sees_bags for m in ("gentle", "sclip-legacy", "sclip-code"))
    options = bench.BenchOptions(out=tmp_path / "out", tune_budget=2, steps=6)
    cells = bench.plan(["tiny"], ["bags:8", "bags:24", "unpaired"], [10], [0], ["sclip"])
    rows = {r["regime"]: r for r in bench.run_bench(cells, options, log=lambda _: None)}
    assert rows["bags:24"]["shared_from"] == "bags:8" and rows["bags:24"]["status"] == "ok"
    assert "shared_from" not in rows["bags:8"] and "shared_from" not in rows["unpaired"]
    cell = bench.Cell("tiny", "bags:24", 10, 0, "sclip")
    _assert_a_fresh_run_reproduces(tmp_path, cell, rows["bags:24"])


def test_as_sets_drops_bag_ids_and_orders_rows_by_value(tiny: list) -> None:
    domain = bench.load_domain("tiny")
    splits = {
        r: bench.cell_data(domain, bench.Cell("tiny", r, 10, 0, "sclip"), TEST, False).val
        for r in ("bags:8", "bags:24", "unpaired")
    }
    assert not np.array_equal(splits["bags:8"]["unpaired_a"], splits["bags:24"]["unpaired_a"])
    sets = {r: bench.as_sets(arrays) for r, arrays in splits.items()}
    assert set(sets["bags:8"]) == {k for k in splits["bags:8"] if not k.endswith("_bags")}
    for name, array in sets["bags:8"].items():
        assert np.array_equal(array, sets["bags:24"][name]), name
    for side in ("unpaired_a", "unpaired_b"):
        rows = sets["bags:8"][side]
        assert sorted(map(tuple, rows)) == list(map(tuple, rows))  # lexicographic
        assert sorted(map(tuple, splits["bags:8"][side])) == list(map(tuple, rows))  # same rows
        assert np.array_equal(sets["unpaired"][side], splits["unpaired"][side])  # kept as split
    assert sets["unpaired"] is splits["unpaired"]


def test_bag_reading_methods_share_results_only_for_identical_bags(
    tmp_path: Path, tiny: list
) -> None:
    """At 10 pairs the 80 unpaired rows form one bag at bag size 96 and at 128: gentle's
    splits are identical, so the second regime reuses the first's result, which a fresh run
    reproduces. Bags of 8 hold other bag ids and are computed."""
    options = bench.BenchOptions(out=tmp_path / "out", tune_budget=2, steps=6)
    cells = bench.plan(["tiny"], ["bags:96", "bags:128", "bags:8"], [10], [0], ["gentle"])
    rows = {r["regime"]: r for r in bench.run_bench(cells, options, log=lambda _: None)}
    assert rows["bags:128"]["shared_from"] == "bags:96"
    assert "shared_from" not in rows["bags:96"] and "shared_from" not in rows["bags:8"]
    computed = [{**rows[r]["metrics"], "train_seconds": 0} for r in ("bags:8", "bags:96")]
    assert computed[0] != computed[1]
    cell = bench.Cell("tiny", "bags:128", 10, 0, "gentle")
    _assert_a_fresh_run_reproduces(tmp_path, cell, rows["bags:128"])


def test_splits_fingerprint_of_bag_reading_methods_counts_bag_ids(tiny: list) -> None:
    domain = bench.load_domain("tiny")
    data = {
        regime: bench.cell_data(domain, bench.Cell("tiny", regime, 10, 0, "gentle"), TEST, False)
        for regime in ("bags:8", "bags:24", "bags:96", "bags:128")
    }
    prints = {r: bench.splits_fingerprint(d, reads_bags=True) for r, d in data.items()}
    assert prints["bags:96"] == prints["bags:128"]
    assert len({prints["bags:8"], prints["bags:24"], prints["bags:96"]}) == 3
    reordered = copy.deepcopy(data["bags:96"])
    reordered.test["unpaired_a"] = reordered.test["unpaired_a"][::-1].copy()
    assert bench.splits_fingerprint(reordered, reads_bags=True) != prints["bags:96"]
    assert bench.splits_fingerprint(reordered) == bench.splits_fingerprint(data["bags:96"])


def test_sequential_bench_runs_on_one_torch_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--workers 1 trains on one thread, as each worker of a pool does."""
    seen: list[int] = []

    def record(job: tuple) -> dict[str, Any]:
        seen.append(torch.get_num_threads())
        return {**bench.asdict(job[0]), "status": "unavailable", "reason": "-", "seconds": 0.0}

    monkeypatch.setattr(bench, "run_cell", record)
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        options = bench.BenchOptions(out=tmp_path / "out")
        cells = bench.plan(["tiny"], ["bags:8"], [10], [0, 1], ["clip"])
        bench.run_bench(cells, options, log=lambda _: None)
        assert seen == [1, 1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(saved)


def test_shared_result_paths_fingerprint_each_split_once(
    tmp_path: Path, tiny: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The closed-form cells of one split (and clip's, which sees the same arrays) name
    their results from one fingerprint of it, the one an unmemoised call computes; a method
    that reads the bags, other splits, other suite data under the same name and other test
    sizes are fingerprinted anew."""
    monkeypatch.setattr(bench, "_FINGERPRINTS", type(bench._FINGERPRINTS)())
    calls: list[str] = []
    real = bench.splits_fingerprint

    def counting(data: bench.CellData, **flags: bool) -> str:
        calls.append(str(flags))
        return real(data, **flags)

    monkeypatch.setattr(bench, "splits_fingerprint", counting)
    options = bench.BenchOptions(out=tmp_path)
    domain = bench.load_domain("tiny")

    def path(cell: bench.Cell, drawn_from: tuple = (domain, TEST)) -> Path:
        spec = bench.METHODS[cell.method]
        data = bench.cell_data(drawn_from[0], cell, drawn_from[1], False)
        return bench.shared_result_path(cell, spec, data, options, drawn_from)

    ridge = path(bench.Cell("tiny", "bags:8", 10, 0, "ridge"))
    assert path(bench.Cell("tiny", "bags:8", 10, 0, "relrep")).name == ridge.name.replace(
        "ridge", "relrep"
    )
    assert len(calls) == 1
    data = bench.cell_data(domain, bench.Cell("tiny", "bags:8", 10, 0, "ridge"), TEST, False)
    assert ridge.name.endswith(f"-{real(data)[:20]}.json")
    path(bench.Cell("tiny", "bags:8", 10, 0, "clip"))  # standardised: sees what ridge sees
    assert len(calls) == 1
    path(bench.Cell("tiny", "bags:8", 10, 0, "gentle"))  # reads the bags: another print
    path(bench.Cell("tiny", "bags:24", 10, 0, "ridge"))
    path(bench.Cell("tiny", "bags:8", 10, 0, "ridge"), (tiny_domain(), TEST))
    path(bench.Cell("tiny", "bags:8", 10, 0, "ridge"), (domain, TEST + 2))
    assert len(calls) == 5


def _row(cell: bench.Cell, seconds: float, status: str = "ok", **more: Any) -> dict:
    return {**bench.asdict(cell), "status": status, "seconds": seconds, **more}


def test_forecast_lays_the_jobs_left_out_on_the_workers_as_the_pool_runs_them() -> None:
    """Two workers; jobs in plan order: gentle (x3), clip at bags of 8 and 24 (x2, the second
    cell shared), a clip cell with too few pairs (never runs, costs 0) and a method seen in no
    result yet. Jobs start in order on the first worker free: gentle 0 and 1 at 0 s, gentle 2
    when gentle 0 ends (40 s), clip 0 when gentle 1 ends (45 s). At 50 s gentle costs 42.5 a
    job and clip, not seen yet, the mean over all methods' jobs (42.5): gentle 2 has 32.5 s
    left (free at 82.5), clip 0 37.5 (87.5); then clip 1 goes to the worker free at 82.5
    (125), the skipped job and the new method to the one free at 87.5 (87.5, 130): 80 s
    left. With clip 0 done at 60 s (15 s) the unseen method costs (40 + 45 + 15) / 3."""
    gentle = [[bench.Cell("tiny", "bags:8", 10, seed, "gentle")] for seed in range(3)]
    clip = [[bench.Cell("tiny", f"bags:{k}", 10, seed, "clip") for k in (8, 24)] for seed in (0, 1)]
    skipped = [[bench.Cell("tiny", "bags:8", 0, 0, "clip")]]  # too few pairs: never runs
    other = [[bench.Cell("tiny", "bags:8", 10, 0, "ridge")]]
    forecast = bench.Forecast(gentle + clip + skipped + other, workers=2)
    assert forecast.total == 9
    assert forecast.seconds_left(elapsed=2.0) == pytest.approx(2.0 / 1 * 9)  # nothing done yet
    forecast.add(_row(gentle[0][0], 40.0), elapsed=40.0)
    forecast.add(_row(gentle[1][0], 45.0), elapsed=45.0)
    assert forecast.seconds_left(elapsed=50.0) == pytest.approx(130.0 - 50.0)
    forecast.add(_row(clip[0][0], 15.0), elapsed=60.0)
    forecast.add(_row(clip[0][1], 0.0, shared_from="bags:8"), elapsed=60.0)
    # gentle 2 free at 82.5, clip 1 (started at 60, 15 s) at 75; skipped then ridge at 75
    assert forecast.done == 4
    assert forecast.seconds_left(elapsed=60.0) == pytest.approx(75.0 + 100 / 3 - 60.0)


def test_forecast_s_tail_is_the_longest_job_still_running() -> None:
    """With one job left on one of two workers the time left is what is left of that job,
    not half of it; a job running longer than its cost leaves nothing to wait for."""
    jobs = [[bench.Cell("tiny", "bags:8", 10, seed, "gentle")] for seed in range(3)]
    forecast = bench.Forecast(jobs, workers=2)
    forecast.add(_row(jobs[0][0], 40.0), elapsed=40.0)  # job 2 starts at 40
    forecast.add(_row(jobs[1][0], 60.0), elapsed=60.0)  # one worker idle from here
    assert forecast.seconds_left(elapsed=60.0) == pytest.approx(40.0 + 50.0 - 60.0)
    assert forecast.seconds_left(elapsed=100.0) == 0.0


def test_forecast_waits_for_no_overdue_job_but_for_the_ones_queued_behind_it() -> None:
    """One worker: a job running longer than its cost is taken as ending now, so the time
    left is the queued job's cost, never less."""
    jobs = [[bench.Cell("tiny", "bags:8", 10, seed, "gentle")] for seed in range(3)]
    forecast = bench.Forecast(jobs, workers=1)
    forecast.add(_row(jobs[0][0], 30.0), elapsed=30.0)  # job 1 starts at 30
    assert forecast.seconds_left(elapsed=40.0) == pytest.approx(20.0 + 30.0)
    assert forecast.seconds_left(elapsed=90.0) == pytest.approx(30.0)  # job 1 is overdue


def test_forecast_never_runs_more_jobs_than_workers_when_rows_come_out_of_order() -> None:
    """A job the pool model had not started yet (rows out of plan order) frees no worker:
    the model keeps at most ``workers`` jobs running and does not start the finished one."""
    jobs = [[bench.Cell("tiny", "bags:8", 10, seed, "gentle")] for seed in range(4)]
    forecast = bench.Forecast(jobs, workers=2)
    forecast.add(_row(jobs[2][0], 30.0), elapsed=10.0)  # not started in the model
    # jobs 0 and 1 (30 s each, from 0) end at 30; job 3 follows on one of them: 60
    assert forecast.seconds_left(elapsed=10.0) == pytest.approx(60.0 - 10.0)
    forecast.add(_row(jobs[0][0], 30.0), elapsed=30.0)  # frees a worker: job 3, not 2, starts
    assert forecast.seconds_left(elapsed=30.0) == pytest.approx(60.0 - 30.0)
    forecast.add(_row(jobs[3][0], 30.0), elapsed=60.0)  # job 1, overdue, is all that is left
    assert forecast.seconds_left(elapsed=60.0) == 0.0


def test_forecast_counts_an_unavailable_method_as_free() -> None:
    jobs = [
        [bench.Cell("tiny", "bags:8", 10, seed, m)]
        for seed in (0, 1)
        for m in ("gentle", "cca-sklearn")
    ]
    forecast = bench.Forecast(jobs, workers=1)
    forecast.add(_row(jobs[0][0], 30.0), elapsed=30.0)
    forecast.add(_row(jobs[1][0], 0.0, "unavailable", reason="no sklearn"), elapsed=30.0)
    assert forecast.seconds_left(elapsed=30.0) == pytest.approx(30.0)  # gentle left, cca free


def _pool_schedule(durations: list[float], workers: int) -> list[float]:
    """When each job ends when jobs start in order on the first of ``workers`` free."""
    free, ends = [0.0] * workers, []
    for seconds in durations:
        ends.append(heapq.heappop(free) + seconds)
        heapq.heappush(free, ends[-1])
    return ends


def test_forecast_on_molecules_grid_is_near_the_time_it_took() -> None:
    """Session e3f3a5a's molecules grid replayed as its pool ran it: each job (its cells'
    seconds) laid out in plan order (the default methods' order) on 2 workers, the last ends
    at its recorded wall time, 3,566.1 s (to 0.1 s), and the jobs end in nearly the order
    their rows were written. From a tenth to nine tenths of its cells the forecast stays
    within 20% of the time left (4% off on average); in the last tenth within 25 s, 13 s on
    average."""
    record = Path(__file__).parents[2] / "docs" / "bench" / "bench-molecules-sparse-e3f3a5a.jsonl"
    rows = bench.read_results(record)
    grid = bench.plan(
        ["molecules"],
        ["bags:8", "bags:32", "bags:128", "unpaired"],
        [0, 10, 20, 50, 100, 200],
        [0, 1, 2, 3, 4],
        list(bench.METHOD_GROUPS["compare"]),
    )
    by_key = {bench._row_key(r): r for r in rows}
    assert sorted(c.key for c in grid) == sorted(by_key)
    jobs = bench.job_groups(grid, {"model": {"sparse_inputs": "a"}})
    job_of = {cell.key: index for index, job in enumerate(jobs) for cell in job}
    ends = _pool_schedule([sum(by_key[c.key]["seconds"] for c in job) for job in jobs], 2)
    wall = max(ends)
    assert wall == pytest.approx(3566.1, abs=0.1)  # the timing record's wall_seconds
    order = sorted(range(len(jobs)), key=ends.__getitem__)
    written = list(dict.fromkeys(job_of[bench._row_key(r)] for r in rows))
    assert sum(a != b for a, b in zip(order, written, strict=True)) <= 4
    forecast, done, errors, tail = bench.Forecast(jobs, 2), 0, [], []
    for job in order:
        for cell in jobs[job]:
            forecast.add(by_key[cell.key], elapsed=ends[job])
            done += 1
            left = forecast.seconds_left(ends[job])
            if len(rows) // 10 <= done <= len(rows) * 9 // 10:
                errors.append(left / (wall - ends[job]) - 1)
            elif done > len(rows) * 9 // 10:
                tail.append(abs(left - (wall - ends[job])))
    assert max(map(abs, errors)) < 0.2 and np.mean(np.abs(errors)) < 0.05
    assert max(tail) < 25 and np.mean(tail) < 13


def test_splits_fingerprint_ignores_bag_ids_only(tiny: list) -> None:
    domain = bench.load_domain("tiny")
    small = bench.cell_data(domain, bench.Cell("tiny", "bags:8", 10, 0, "clip"), TEST, False)
    large = bench.cell_data(domain, bench.Cell("tiny", "bags:24", 10, 0, "clip"), TEST, False)
    assert not np.array_equal(small.test["unpaired_a_bags"], large.test["unpaired_a_bags"])
    assert bench.splits_fingerprint(small) == bench.splits_fingerprint(large)
    other_seed = bench.cell_data(domain, bench.Cell("tiny", "bags:8", 10, 1, "clip"), TEST, False)
    assert bench.splits_fingerprint(other_seed) != bench.splits_fingerprint(small)


def test_workers_start_with_one_blas_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    with bench.one_blas_thread_per_child():
        pool = multiprocessing.get_context("spawn").Pool(1)
    with pool:
        seen = pool.map(os.getenv, bench.BLAS_THREAD_VARIABLES)
    assert seen == ["1", "1", "1"]
    assert os.environ["OMP_NUM_THREADS"] == "4"
    assert "OPENBLAS_NUM_THREADS" not in os.environ


def test_clip_nbr_is_the_shipped_disjoint_recipe() -> None:
    from gentleclip.recipes import load_recipe

    spec = bench.METHODS["clip-nbr"]
    config = bench.base_config("mfeat", spec, None, seed=0)
    shipped = load_recipe("mfeat-disjoint").to_dict()
    shipped.update(seed=0)
    shipped["trainer"]["progress"] = False
    assert config == shipped


def test_sclip_uses_the_clip_temperature_as_sinkhorn_epsilon() -> None:
    """S-CLIP's code sets Sinkhorn's epsilon to 1 / logit_scale: every suite's temperature.
    Its 10 iterations, half-weight caption loss and undetached targets are the defaults too."""
    for suite in ("mfeat", "emoji", "molecules", "proteins"):
        config = bench.base_config(suite, bench.METHODS["sclip"], None, seed=0)
        loss = config["loss"]
        assert config["method"] == "sclip" and not loss["learnable_scale"]
        assert loss["pseudo_epsilon"] == loss["clip_temperature"]
        assert (loss["pseudo_iterations"], loss["w_pseudo"]) == (10, 0.5)
        assert not loss["pseudo_detach_targets"] and not loss["pseudo_extra_negatives"]
        legacy = bench.base_config(suite, bench.METHODS["sclip-legacy"], None, seed=0)
        changed = {
            "pseudo_epsilon": 0.1,
            "pseudo_iterations": 50,
            "w_pseudo": 1.0,
            "pseudo_detach_targets": True,
        }
        assert legacy == bench.merge_nested(config, {"loss": changed})
        detached = bench.base_config(suite, bench.METHODS["sclip-detached"], None, seed=0)
        assert detached == bench.merge_nested(config, {"loss": {"pseudo_detach_targets": True}})
        negatives = bench.base_config(suite, bench.METHODS["sclip-negatives"], None, seed=0)
        extra = {"pseudo_detach_targets": True, "pseudo_extra_negatives": True}
        assert negatives == bench.merge_nested(config, {"loss": extra})
        code = bench.base_config(suite, bench.METHODS["sclip-code"], None, seed=0)
        assert code == bench.merge_nested(config, {"loss": {"pseudo_extra_negatives": True}})
        learned = bench.base_config(suite, bench.METHODS["sclip-learned"], None, seed=0)
        tied = {"learnable_scale": True, "pseudo_epsilon_from_scale": True}
        assert learned == bench.merge_nested(config, {"loss": tied})
        clip = bench.base_config(suite, bench.METHODS["clip"], None, seed=0)
        clip_learned = bench.base_config(suite, bench.METHODS["clip-learned"], None, seed=0)
        assert clip_learned == bench.merge_nested(clip, {"loss": {"learnable_scale": True}})


def test_plot_styles_are_fixed_per_method_and_distinct_within_each_group() -> None:
    """Colours do not follow a method's position in METHODS (adding one recolours nothing):
    the published plots' colours are pinned, and no two methods of a group look alike."""
    pinned = {"gentle": 0, "clip": 1, "sclip": 2, "oracle": 12, "clip-nbr": 18}
    assert {name: bench.COLOURS[name] for name in pinned} == pinned
    for group in bench.METHOD_GROUPS.values():
        looks = [tuple(sorted(map(str, bench._style(m).items()))) for m in group]
        assert len(set(looks)) == len(group)
    assert bench._style("sclip-learned")["color"] == bench._style("sclip")["color"]
    assert bench._style("sclip-learned")["linestyle"] == ":"


def test_reference_methods_count_as_baselines_only_where_they_ran() -> None:
    rows = [_ok("gentle", s, v) for s, v in enumerate((0.70, 0.80))]
    rows += [_ok("cca", s, v) for s, v in enumerate((0.50, 0.52))]
    rows += [_ok("cca-sklearn", s, v) for s, v in enumerate((0.60, 0.62))]
    (found,) = bench.verdicts(rows)
    assert found.best == "cca-sklearn" and set(found.ran) == {"cca", "cca-sklearn"}
    assert "relrep, cca-sklearn. Seeds" in bench.render_verdicts(rows)
    without = bench.render_verdicts(rows[:4])
    assert "relrep. Seeds" in without and "cca-sklearn" not in without


def test_sclip_legacy_recipe_matches_the_bench_method() -> None:
    """``gentleclip train --config .../sclip-legacy.yaml`` trains what the bench measured."""
    recipe = load_recipe("sclip-legacy")
    overrides = bench.METHODS["sclip-legacy"].overrides
    assert recipe.method == overrides["method"] == "sclip"
    for key, value in overrides["loss"].items():
        assert getattr(recipe.loss, key) == value, key
    assert recipe.loss.pseudo_epsilon == 2 * recipe.loss.clip_temperature


def test_cells_that_can_share_a_result_run_as_one_job() -> None:
    """The closed-form cells of one split form one job (so that one process computes each
    side's SVD once, the cache of baselines.base), and so do a bag-agnostic trained
    method's cells of one pair count and seed (clip, sclip), every bag size in one job, so
    the larger bag sizes find the shared result instead of racing it on another worker;
    gentle's cells stay jobs of their own, and every cell runs once, in plan order within
    its job."""
    methods = ["gentle", "ridge", "clip", "cca", "sclip", "relrep"]
    regimes = ["bags:8", "bags:32", "unpaired"]
    cells = bench.plan(["tiny"], regimes, [10, 20], [0], methods)
    jobs = bench.job_groups(cells)
    assert [c for job in jobs for c in job] != cells  # regrouped ...
    assert sorted(c.key for job in jobs for c in job) == sorted(c.key for c in cells)  # ... kept
    assert [[(c.regime, c.method) for c in job] for job in jobs[:4]] == [
        [("bags:8", "gentle")],
        [(r, m) for r in ("bags:8", "bags:32") for m in ("ridge", "cca", "relrep")],
        [("bags:8", "clip"), ("bags:32", "clip")],
        [("bags:8", "sclip"), ("bags:32", "sclip")],
    ]
    for job in jobs:
        assert len({(bench.parse_regime(c.regime).kind, c.pairs, c.seed) for c in job}) == 1
        closed_form = [isinstance(bench.METHODS[c.method], bench.Baseline) for c in job]
        assert len(job) == 1 or all(closed_form) or len({c.method for c in job}) == 1
    gentle = 3 * 2  # 3 regimes x 2 pair counts
    shared = 3 * 2 * 2  # (closed-form, clip, sclip) x (bags, unpaired) x 2 pair counts
    assert len(jobs) == gentle + shared


@pytest.mark.parametrize("method", ["gentle", "ridge", "oracle"])
def test_no_refit_scores_the_chosen_model_of_the_validation_search(
    tmp_path: Path, tiny: list, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    """--no-refit trains nothing after the search: its test metrics are those of the chosen
    candidate fitted on the validation split's training rows, scored on the test pairs, and
    its row counts that split's pairs. With --refit the chosen candidate is trained again on
    the whole training part, which gives other metrics."""
    options = bench.BenchOptions(out=tmp_path / "no", tune_budget=4, steps=8, refit=False)
    cell = bench.Cell("tiny", "bags:8", 10, 0, method)
    with bench.one_torch_thread():
        row = bench.run_cell((cell, options))
        refit = bench.run_cell(
            (cell, bench.BenchOptions(out=tmp_path / "yes", tune_budget=4, steps=8))
        )
    assert row["status"] == "ok" and refit["status"] == "ok"
    assert row["params"] == refit["params"]  # the same search
    scores = [[(c["params"], c["val"]) for c in r["candidates"]] for r in (row, refit)]
    assert scores[0] == scores[1]
    data = bench.cell_data(bench.load_domain("tiny"), cell, TEST, method == "oracle")
    val_training = {k: v for k, v in data.val.items() if not k.startswith("eval_")}
    test_eval = {k: v for k, v in data.test.items() if k.startswith("eval_")}
    arrays = {**val_training, **test_eval}
    spec = bench.METHODS[method]
    with bench.one_torch_thread():
        if isinstance(spec, bench.Baseline):
            expected, _ = bench._fit_baseline(
                bench._baseline(spec.name), row["params"], arrays, cell.seed
            )
        else:
            config = bench.base_config("tiny", spec, 8, cell.seed)
            expected = bench.fit_trained(bench._with(config, row["params"]), arrays)
    assert _without_seconds(row["metrics"]) == _without_seconds(expected)
    assert _without_seconds(row["metrics"]) != _without_seconds(refit["metrics"])
    chosen = next(c for c in row["candidates"] if c["params"] == row["params"])
    assert row["metrics"]["train_seconds"] == chosen["train_seconds"]
    assert row["train_pairs"] == row["val_pairs"] == len(data.val["paired_a"])
    assert refit["train_pairs"] == len(data.test["paired_a"])


def test_no_refit_with_one_candidate_fits_it_on_the_validation_split(
    tmp_path: Path, tiny: list
) -> None:
    """Budget 1 has nothing to choose; --no-refit still fits that candidate once, on the
    validation split's training rows (scored there too), and scores it on the test pairs."""
    options = bench.BenchOptions(out=tmp_path, tune_budget=1, steps=8, refit=False)
    with bench.one_torch_thread():
        row = bench.run_cell((bench.Cell("tiny", "bags:8", 10, 0, "gentle"), options))
    assert row["status"] == "ok"
    [candidate] = row["candidates"]
    assert candidate["val"] is not None and candidate["params"] == row["params"]
    assert row["train_pairs"] == row["val_pairs"]


def test_report_names_the_settings_it_was_made_with(tmp_path: Path, tiny: list) -> None:
    options = bench.BenchOptions(out=tmp_path, tune_budget=2, steps=6, refit=False)
    cells = bench.plan(["tiny"], ["bags:8"], [10], [0], ["ridge"])
    bench.run_bench(cells, options, log=lambda _: None)
    text, _ = bench.write_report(tmp_path)
    line = "Made with --tune-budget 2, --steps 6, --search halving, --no-refit, --ties expected"
    assert line in text and line in (tmp_path / bench.REPORT).read_text()
    (tmp_path / bench.SETTINGS).write_text('{"tune_budget": 4, "steps": null}')  # an old one
    old = "--tune-budget 4, no --steps, --search full, --refit, --ties optimistic"
    assert old in bench.write_report(tmp_path)[0]
    (tmp_path / bench.SETTINGS).write_text("garbage")
    assert "## Settings" not in bench.write_report(tmp_path)[0]


class _Collapsed(_Embedder):
    """A map that puts every item of both sides on one point."""

    def encode(self, side: str, x: np.ndarray) -> torch.Tensor:
        return torch.ones(len(x), 3, dtype=torch.float64) / math.sqrt(3)


@pytest.mark.parametrize("ties", ["expected", "optimistic"])
def test_a_collapsed_map_scores_chance_under_expected_ties(
    tmp_path: Path, tiny: list, monkeypatch: pytest.MonkeyPatch, ties: str
) -> None:
    """The bench's --ties reaches the metrics of baselines and of trained towers alike, and
    each row names its rule. A map that collapses every item scores R@k = k / N under the
    expected rule, and a perfect 1.0 under the optimistic one."""
    monkeypatch.setattr(FakeRidge, "fit", lambda self, data, params, *, seed: _Collapsed(None))
    options = bench.BenchOptions(out=tmp_path, tune_budget=2, steps=6, ties=ties)
    row = bench.run_cell((bench.Cell("tiny", "bags:8", 10, 0, "ridge"), options))
    assert row["status"] == "ok" and row["ties"] == ties
    want = {"expected": (1 / TEST, 10 / TEST), "optimistic": (1.0, 1.0)}[ties]
    got = (row["metrics"]["a_to_b_R@1"], row["metrics"]["a_to_b_R@10"])
    assert got == pytest.approx(want)
    seen: list[str] = []
    real = gentleclip.evaluation.run.evaluate

    def spy(*args: Any, **kwargs: Any) -> dict[str, float]:
        seen.append(kwargs["ties"])
        return real(*args, **kwargs)

    monkeypatch.setattr(gentleclip.evaluation.run, "evaluate", spy)
    with bench.one_torch_thread():
        trained = bench.run_cell((bench.Cell("tiny", "bags:8", 10, 0, "clip"), options))
    assert trained["status"] == "ok" and trained["ties"] == ties
    assert seen and set(seen) == {ties}  # every candidate and the refit


def test_unknown_tie_rule_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown --ties 'random'"):
        bench.BenchOptions(out=tmp_path, ties="random").check()


def test_bag_mean_baselines_fit_on_the_pairs_plus_every_bags_means(
    tmp_path: Path, tiny: list
) -> None:
    """ridge-bagmeans fits (and is tuned) on each split's pairs followed by one pair per bag,
    the bag means; it runs with zero pairs, and its row counts the true pairs and the added
    ones. Without bags (unpaired regime) the cell is skipped, naming why."""
    options = bench.BenchOptions(out=tmp_path, tune_budget=2, steps=8)
    cell = bench.Cell("tiny", "bags:8", 0, 0, "ridge-bagmeans")
    row = bench.run_cell((cell, options))
    assert row["status"] == "ok"
    data = bench.cell_data(bench.load_domain("tiny"), cell, TEST, oracle=False)
    expected = [with_bag_means(data.val)["paired_a"]] * 2 + [with_bag_means(data.test)["paired_a"]]
    assert len(tiny) == 3  # two candidates on validation, the chosen one on the training part
    for call, paired_a in zip(tiny, expected, strict=True):
        np.testing.assert_array_equal(call["data"].paired_a, paired_a)
    n_bags = len(np.unique(data.test["unpaired_a_bags"]))
    assert row["train_pairs"] == 0 and row["bag_mean_pairs"] == n_bags > 1
    skipped = bench.run_cell((bench.Cell("tiny", "unpaired", 10, 0, "ridge-bagmeans"), options))
    assert skipped["status"] == "skipped" and "bag means need bags" in skipped["reason"]


def test_clip_with_bag_means_trains_without_true_pairs(tmp_path: Path, tiny: list) -> None:
    """CLIP alone needs 2 pairs; given each bag's means as pairs it trains at 0 pairs, and
    the bag-mean baselines count as rivals of gentle where they ran."""
    options = bench.BenchOptions(out=tmp_path, tune_budget=1, steps=8)
    with bench.one_torch_thread():
        rows = [
            bench.run_cell((bench.Cell("tiny", "bags:8", 0, 0, m), options))
            for m in ("gentle", "clip", "clip-bagmeans")
        ]
    assert [r["status"] for r in rows] == ["ok", "skipped", "ok"]
    (found,) = bench.verdicts(rows)
    assert found.ran == ("clip-bagmeans",) and found.best == "clip-bagmeans"
    assert "relrep, clip-bagmeans. Seeds" in bench.render_verdicts(rows)


def test_bench_bag_means_equal_the_training_option(
    tmp_path: Path, tiny: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gentle-bagmeans (the bench appends the bag means to both splits) scores exactly what
    gentle with ``sampler.bag_means`` (training appends them) scores, candidates included."""
    options = bench.BenchOptions(out=tmp_path, tune_budget=2, steps=8)
    option = bench.Trained("gentle", {"sampler": {"bag_means": True}})
    monkeypatch.setitem(bench.METHODS, "gentle-option", option)
    with bench.one_torch_thread():
        rows = [
            bench.run_cell((bench.Cell("tiny", "bags:8", 10, 0, m), options))
            for m in ("gentle-bagmeans", "gentle-option", "gentle")
        ]
    assert [r["status"] for r in rows] == ["ok"] * 3
    assert _without_seconds(rows[0]["metrics"]) == _without_seconds(rows[1]["metrics"])
    assert [c["val"] for c in rows[0]["candidates"]] == [c["val"] for c in rows[1]["candidates"]]
    assert _without_seconds(rows[0]["metrics"]) != _without_seconds(rows[2]["metrics"])


def test_recipe_override_merges_under_the_methods_own_overrides() -> None:
    wide = {"model": {"embed_dim": 256}, "loss": {"w_sdd": 0.5}}
    gentle = bench.base_config("mfeat", bench.METHODS["gentle"], None, 0, wide)
    assert gentle["model"]["embed_dim"] == 256 and gentle["loss"]["w_sdd"] == 0.5
    plain = bench.base_config("mfeat", bench.METHODS["gentle"], None, 0)
    assert {**plain["model"], "embed_dim": 256} == gentle["model"]
    ablation = bench.base_config("mfeat", bench.METHODS["gentle-no-sdd"], None, 0, wide)
    assert ablation["loss"]["w_sdd"] == 0.0  # the method's own override wins
    assert ablation["model"]["embed_dim"] == 256
    recipe = load_recipe("mfeat-gentle").to_dict()
    assert recipe["model"]["encoder_a_kwargs"], "the check needs a recipe with encoder options"
    linear = bench.with_recipe_override(recipe, {"model": {"encoder_a": "identity"}})
    assert linear["model"]["encoder_a_kwargs"] == {}  # the MLP's options left with the MLP
    assert linear["model"]["encoder_b_kwargs"] == recipe["model"]["encoder_b_kwargs"]
    kept = {"model": {"encoder_a": "mlp", "encoder_a_kwargs": {"hidden_dims": [8]}}}
    assert bench.with_recipe_override(recipe, kept)["model"]["encoder_a_kwargs"] == {
        "hidden_dims": [8]
    }
    assert bench.with_recipe_override(recipe, {}) is recipe


def test_gentle_bagnce_steps_hold_two_whole_bags() -> None:
    spec = bench.METHODS["gentle-bagnce"]
    config = bench.base_config("emoji", spec, None, 0)
    assert config["sampler"]["unpaired_per_step"] == 128  # recipe bag-nce
    rows = {
        regime: bench.with_bags_per_step(config, spec, regime)["sampler"]["unpaired_per_step"]
        for regime in ("bags:8", "bags:32", "bags:64", "bags:128", "natural", "unpaired")
    }
    assert rows == {
        "bags:8": 128,
        "bags:32": 128,
        "bags:64": 128,
        "bags:128": 256,
        "natural": 128,
        "unpaired": 128,
    }
    assert config["sampler"]["unpaired_per_step"] == 128  # the input is left alone
    gentle = bench.base_config("emoji", bench.METHODS["gentle"], None, 0)
    assert bench.with_bags_per_step(gentle, bench.METHODS["gentle"], "bags:128") is gentle


@pytest.mark.parametrize("bag_size", [8, 32, 100, 128])
@pytest.mark.parametrize(("items", "pairs"), [(700, 0), (620, 0), (585, 20), (460, 10)])
def test_bench_and_train_make_the_same_room_for_bags(bag_size: int, items: int, pairs: int) -> None:
    """The bench raises gentle-bagnce's step from the regime (2 x K rows for bags of K);
    ``gentleclip train --bag-nce`` from the data (2 x the largest bag where it does not fit).
    split_full cuts bags of K with only the last one smaller, so on every split with a whole
    bag the two give the same step (bags of 100 with a last bag of 20: 200 rows from both,
    where judging by the two smallest bags kept 128)."""
    gen = np.random.default_rng(items + pairs)
    a, b = gen.standard_normal((items, 6)), gen.standard_normal((items, 4))
    arrays = splitting.split_full(
        a, b, pairs=pairs, regime="bags", bag_size=bag_size, test_size=100, seed=1
    )
    sizes = bag_sizes(arrays["unpaired_a_bags"])
    assert len(sizes) >= 2 and sizes[-1] == bag_size
    assert (sizes == bag_size).sum() >= len(sizes) - 1  # only one bag is smaller
    spec = bench.METHODS["gentle-bagnce"]
    config = bench.base_config("emoji", spec, None, 0)
    bench_rows = bench.with_bags_per_step(config, spec, f"bags:{bag_size}")
    train_config = training_config.config_from_dict(copy.deepcopy(config))
    data = RegimeData.from_arrays({k: v for k, v in arrays.items() if not k.startswith("eval")})
    make_room_for_bags(data, train_config, bench.BAG_NCE_BAGS_PER_STEP)
    assert train_config.sampler.unpaired_per_step == bench_rows["sampler"]["unpaired_per_step"]


def test_recipe_override_of_a_field_the_method_sets_is_refused() -> None:
    cells = [bench.Cell("mfeat", "bags:8", 10, 0, m) for m in ("gentle", "gentle-bagnce")]
    wider = {"sampler": {"unpaired_per_step": 256}}
    bench.check_recipe_override(wider, cells[:1])  # gentle does not set it
    with pytest.raises(
        InputError, match=r"sets sampler.unpaired_per_step, which method gentle-bagnce"
    ):
        bench.check_recipe_override(wider, cells)
    bench.check_recipe_override({"sampler": {"pairs_per_step": 32}}, cells)


def test_recipe_override_parsing_and_checks() -> None:
    assert bench.parse_recipe_override(None) == {}
    assert bench.parse_recipe_override('{"model": {"embed_dim": 8}}') == {"model": {"embed_dim": 8}}
    with pytest.raises(InputError, match="not valid JSON"):
        bench.parse_recipe_override("{model")
    with pytest.raises(InputError, match="must be a JSON object"):
        bench.parse_recipe_override("[1]")
    cells = bench.plan(["mfeat"], ["bags:8"], [10], [0], ["ridge", "clip"])
    bench.check_recipe_override({"model": {"embed_dim": 8}}, cells)
    with pytest.raises(InputError, match=r"mfeat clip: unknown config key model\.embed_dimm"):
        bench.check_recipe_override({"model": {"embed_dimm": 8}}, cells)
    with pytest.raises(InputError, match="embed_dim"):
        bench.check_recipe_override({"model": {"embed_dim": -1}}, cells)
    bench.check_recipe_override({"model": {"embed_dimm": 8}}, cells[:1])  # ridge: no recipe


def test_bench_recipe_override_reaches_trained_methods_only(
    tmp_path: Path, tiny: list, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    seen: list[int] = []
    original = bench.score_trained

    def spy(config: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        seen.append(config["model"]["embed_dim"])
        return original(config, *args, **kwargs)

    monkeypatch.setattr(bench, "score_trained", spy)
    argv = [*QUICK_TINY, "--methods", "gentle,ridge", "--reference-steps", "0"]
    argv = ["bench", *argv, "--out", str(tmp_path)]
    override = ["--recipe-override", '{"model": {"embed_dim": 12}}']
    assert main([*argv, *override]) == 0
    assert seen and set(seen) == {12}
    rows = {r["method"]: r for r in _rows(tmp_path)}
    assert rows["gentle"]["recipe_override"] == {"model": {"embed_dim": 12}}
    assert "recipe_override" not in rows["ridge"]
    settings = json.loads((tmp_path / bench.SETTINGS).read_text())
    assert settings["recipe_override"] == {"model": {"embed_dim": 12}}
    report = (tmp_path / bench.REPORT).read_text()
    assert """--recipe-override '{"model": {"embed_dim": 12}}'""" in report
    assert main(argv) == 2  # resuming without it would mix results
    err = capsys.readouterr().err
    assert """resume it with --recipe-override '{"model": {"embed_dim": 12}}'""" in err
    other = tmp_path / "other"
    assert main([*argv[:-1], str(other), "--recipe-override", '{"model": {"x": 1}}']) == 2
    assert "unknown config key model.x" in capsys.readouterr().err
    assert not other.exists()  # refused before the folder is made
    seen.clear()
    assert main([*argv[:-1], str(other)]) == 0
    assert set(seen) == {load_recipe("mfeat-gentle").model.embed_dim}
    assert "recipe_override" not in json.loads((other / bench.SETTINGS).read_text())


def test_bench_baseline_override_reaches_every_baseline_candidate(
    tmp_path: Path, tiny: list, capsys
) -> None:
    argv = [*QUICK_TINY, "--methods", "ridge", "--reference-steps", "0", "--tune-budget", "3"]
    argv = ["bench", *argv, "--out", str(tmp_path)]
    assert main([*argv, "--baseline-override", '{"scale": false}']) == 0
    assert tiny and all(call["params"]["scale"] is False for call in tiny)
    assert len({call["params"]["alpha"] for call in tiny}) == 3  # the grid itself unchanged
    (row,) = _rows(tmp_path)
    assert row["baseline_override"] == {"scale": False}
    assert all(c["params"]["scale"] is False for c in row["candidates"])
    assert json.loads((tmp_path / bench.SETTINGS).read_text())["baseline_override"] == {
        "scale": False
    }
    assert main(argv) == 2
    assert "resume it with --baseline-override '{\"scale\": false}'" in capsys.readouterr().err
    other = str(tmp_path / "other")
    for bad, says in (
        ('{"scael": false}', "unknown ridge parameter 'scael'"),
        ('{"scale": 1}', "ridge parameter scale must be true or false"),
        ("[]", "--baseline-override must be a JSON object"),
    ):
        assert main([*argv[:-1], other, "--baseline-override", bad]) == 2
        assert says in capsys.readouterr().err
    assert not Path(other).exists()


def test_molecules_closed_form_candidates_read_centred_features(tmp_path: Path) -> None:
    """On molecules every closed-form candidate has scale False (its dataset's
    baseline_params), which --baseline-override still overrides; other suites keep the
    baselines' default."""

    def grid(suite: str, override: dict) -> list[dict]:
        cell = bench.Cell(suite, "bags:8", 10, 0, "ridge")
        options = bench.BenchOptions(out=tmp_path, baseline_override=override)
        candidates, _ = bench._fitter(cell, bench.METHODS["ridge"], options, "value")
        return candidates

    assert {c["scale"] for c in grid("molecules", {})} == {False}
    assert {c["scale"] for c in grid("molecules", {"scale": True})} == {True}
    assert all("scale" not in c for c in grid("mfeat", {}))  # the baseline's default, True
    assert len({c["alpha"] for c in grid("molecules", {})}) == 4


def test_baseline_override_check_leaves_unavailable_baselines_to_their_cells(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unavailable(name: str) -> Any:
        raise bench.Unavailable(f"baseline {name!r} not available")

    monkeypatch.setattr(bench, "_baseline", unavailable)
    cells = bench.plan(["mfeat"], ["bags:8"], [10], [0], ["cca-sklearn"])
    bench.check_baseline_override({"scale": False}, cells)  # no error: the cell records it
    bench.check_baseline_override({}, cells)


def test_a_folder_records_its_recipes_and_refuses_one_that_changed(
    tmp_path: Path, tiny: list, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """recipes.json holds a digest of every recipe and suite parameter set the rows start from;
    resuming after one changed is refused, naming it; other methods add theirs; a folder with
    rows and no record is resumed with a warning that it cannot be checked."""
    argv = [*QUICK_TINY, "--reference-steps", "0", "--out", str(tmp_path)]
    assert main(["bench", *argv, "--methods", "gentle,ridge"]) == 0
    record = json.loads((tmp_path / bench.RECIPES).read_text())
    assert set(record) == {"tiny-gentle", "tiny baseline_params"}
    rows = bench.read_results(tmp_path / bench.RESULTS)  # each row carries its own digests
    assert {r["method"]: r["recipes"] for r in rows} == {
        "gentle": {"tiny-gentle": record["tiny-gentle"]},
        "ridge": {"tiny baseline_params": record["tiny baseline_params"]},
    }
    assert main(["bench", *argv, "--methods", "gentle,clip"]) == 0  # resumes, adds clip
    assert set(json.loads((tmp_path / bench.RECIPES).read_text())) == {
        "tiny-gentle",
        "tiny-clip",
        "tiny baseline_params",
    }
    wider = load_recipe("mfeat-gentle").to_dict()
    wider["model"]["embed_dim"] += 1
    original = bench.load_recipe

    def changed(name: str) -> Any:
        return training_config.config_from_dict(wider) if name == "tiny-gentle" else original(name)

    monkeypatch.setattr(bench, "load_recipe", changed)
    capsys.readouterr()
    assert main(["bench", *argv, "--methods", "gentle"]) == 2
    assert "holds rows made with another tiny-gentle (changed since" in capsys.readouterr().err
    monkeypatch.setattr(bench, "load_recipe", original)
    (tmp_path / bench.RECIPES).unlink()
    assert main(["bench", *argv, "--methods", "gentle"]) == 0
    assert f"predates {bench.RECIPES}" in capsys.readouterr().err
    assert (tmp_path / bench.RECIPES).is_file()
    (tmp_path / bench.RECIPES).write_text("garbage")
    assert main(["bench", *argv, "--methods", "gentle"]) == 2
    assert "cannot read bench recipe record" in capsys.readouterr().err


def test_recipe_digests_cover_a_method_s_own_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    """A method that puts a shipped recipe's settings on the suite recipe (gentle-items:
    recipe pairs-as-items) records them too, so a change to that file refuses a resume."""
    cells = bench.plan(["mfeat"], ["bags:8"], [10], [0], ["gentle", "gentle-items"])
    digests = bench.recipe_digests(cells)
    assert set(digests) == {"mfeat-gentle", "gentle-items overrides"}
    spec = bench.METHODS["gentle-items"]
    other = replace(spec, overrides={**spec.overrides, "sampler": {"pairs_per_step": 3}})
    monkeypatch.setitem(bench.METHODS, "gentle-items", other)
    changed = bench.recipe_digests(cells)
    assert changed["gentle-items overrides"] != digests["gentle-items overrides"]
    assert changed["mfeat-gentle"] == digests["mfeat-gentle"]
