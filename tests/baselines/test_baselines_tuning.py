"""`gentleclip fit --tune`: parameters chosen on a directory alone, held-out rows never fitted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from gentleclip.baselines import get_baseline
from gentleclip.baselines.tuning import (
    AUTO_METHODS,
    MIN_VALIDATION_PAIRS,
    auto_folds,
    cross_folds,
    first_best,
    holdout,
    score_candidates,
    spread,
    tune,
    tune_methods,
)
from gentleclip.cli.main import main
from gentleclip.data.bag_means import bag_mean_rows
from gentleclip.data.regimes import RegimeData
from gentleclip.data.split import write_dataset_dir
from gentleclip.errors import InputError

W = np.random.default_rng(99).normal(size=(6, 5))  # B = A @ W + noise


def _data(n_pairs: int = 20, n_bags: int = 30, bag: int = 4, seed: int = 0) -> RegimeData:
    """B is a noisy linear map of A; unpaired rows in bags, each row unique."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n_pairs + n_bags * bag, 6)).astype(np.float32)
    b = (a @ W + 0.1 * rng.normal(size=(len(a), 5))).astype(np.float32)
    bags = np.repeat(np.arange(n_bags) + 100, bag)
    order = rng.permutation(n_bags * bag)  # B rows of a bag in another order
    return RegimeData.from_arrays(
        {
            "paired_a": a[:n_pairs],
            "paired_b": b[:n_pairs],
            "unpaired_a": a[n_pairs:],
            "unpaired_b": b[n_pairs:][order],
            "unpaired_a_bags": bags,
            "unpaired_b_bags": bags[order],
        }
    )


def _rows(x: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in x}


def test_held_out_rows_never_enter_the_fit_and_bag_means_are_the_validation_pairs() -> None:
    data = _data()
    split = holdout(data, share=0.2, bag_means=True, seed=3)
    assert (split.held_pairs, split.held_bags) == (4, 6)
    assert len(split.val_a) == len(split.val_b) == 4 + 6
    held_pairs = _rows(split.val_a[:4])
    assert held_pairs <= _rows(data.paired_a) and not held_pairs & _rows(split.train.paired_a)
    kept_bags = set(split.train.bags_a.tolist())
    held_bags = set(data.bags_a.tolist()) - kept_bags
    assert len(held_bags) == 6 and set(split.train.bags_b.tolist()) == kept_bags
    held_rows = _rows(data.unpaired_a[np.isin(data.bags_a, list(held_bags))])
    assert not held_rows & _rows(split.train.unpaired_a)
    # the validation bag means are the held-out bags' means; the kept bags' means are pairs
    mask_a, mask_b = np.isin(data.bags_a, list(held_bags)), np.isin(data.bags_b, list(held_bags))
    want_a, want_b = bag_mean_rows(
        data.unpaired_a[mask_a], data.bags_a[mask_a], data.unpaired_b[mask_b], data.bags_b[mask_b]
    )
    np.testing.assert_array_equal(split.val_a[4:], want_a)
    np.testing.assert_array_equal(split.val_b[4:], want_b)
    assert split.train.n_pairs == 16 + len(kept_bags)


def test_without_bag_means_only_pairs_are_held_out() -> None:
    split = holdout(_data(n_pairs=30), share=0.2, bag_means=False, seed=0)
    assert (split.held_pairs, split.held_bags, split.train.n_pairs) == (6, 0, 24)
    assert split.train.n_unpaired_a == 120


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"share": 0.0, "bag_means": True}, "between 0 and 1"),
        (
            {"share": 0.2, "bag_means": False},
            f"leaves 2 validation pairs; .* {MIN_VALIDATION_PAIRS}",
        ),
    ],
)
def test_holdout_refuses_what_cannot_validate(kwargs: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        holdout(_data(n_pairs=10), seed=0, **kwargs)


def test_no_bags_with_bag_means_is_refused() -> None:
    data = _data()
    plain = RegimeData.from_arrays(
        {
            "paired_a": data.paired_a,
            "paired_b": data.paired_b,
            "unpaired_a": data.unpaired_a,
            "unpaired_b": data.unpaired_b,
        }
    )
    with pytest.raises(InputError, match="needs bags"):
        holdout(plain, share=0.2, bag_means=True, seed=0)


class _Scripted:
    """A baseline whose candidates differ in ``quality``: A rows map to ``quality`` times
    their true B-space image plus fixed noise, so a larger quality retrieves better."""

    def __init__(self) -> None:
        self.fitted_on: list[RegimeData] = []

    def param_grid(self) -> list[dict[str, Any]]:
        return [{"quality": q} for q in (0.0, 3.0, 1.0, 3.0, 2.0, 0.5)]

    def fit(self, data: RegimeData, params: dict[str, Any], *, seed: int = 0) -> Any:
        self.fitted_on.append(data)
        return _Embed(params["quality"])


class _Embed:
    def __init__(self, quality: float) -> None:
        self.quality = quality

    def encode(self, side: str, x: np.ndarray) -> torch.Tensor:
        if side == "b":
            return torch.from_numpy(np.asarray(x, dtype=np.float64))
        image = torch.from_numpy(np.asarray(x, dtype=np.float64) @ W)
        noise = torch.from_numpy(np.random.default_rng(0).normal(size=image.shape))
        return image * self.quality + 8 * noise


def test_tune_scores_the_spread_candidates_and_takes_the_first_best() -> None:
    baseline = _Scripted()
    data = _data()
    params, scored, split = tune(baseline, data, budget=4, share=0.2, bag_means=True, seed=1)
    assert [s["params"] for s in scored] == spread(baseline.param_grid(), 4)
    best = max(s["val"] for s in scored)
    assert params == next(s["params"] for s in scored if s["val"] == best)
    assert [s["params"]["quality"] for s in scored] == [0.0, 1.0, 3.0, 0.5]
    assert params == {"quality": 3.0}
    assert all(fitted is split.train for fitted in baseline.fitted_on)


def _write_dir(path: Path, **kwargs: int) -> None:
    """:func:`_data` as a dataset directory."""
    data = _data(**kwargs)
    arrays = {
        "paired_a": data.paired_a,
        "paired_b": data.paired_b,
        "unpaired_a": data.unpaired_a,
        "unpaired_b": data.unpaired_b,
        "unpaired_a_bags": data.bags_a,
        "unpaired_b_bags": data.bags_b,
    }
    write_dataset_dir(arrays, path)


def test_fit_cli_tunes_and_records_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _write_dir(tmp_path / "data")
    run = tmp_path / "run"
    argv = ["fit", str(tmp_path / "data"), "--method", "ridge", "--out", str(run)]
    assert main([*argv, "--bag-means", "--tune", "--holdout", "0.2"]) == 0
    assert "tuning on 10 validation pairs (4 held-out pairs, 6 held-out bags' means)" in (
        capsys.readouterr().out
    )
    summary = json.loads((run / "fit.json").read_text())
    tuned = summary["tuned"]
    assert summary["params"] == {**get_baseline("ridge").defaults, **tuned["params"]}
    assert len(tuned["candidates"]) == 4 and tuned["validation_pairs"] >= MIN_VALIDATION_PAIRS
    assert tuned["folds"] == 1
    assert main([*argv[:-1], str(tmp_path / "other"), "--tune", "--param", "alpha=1"]) == 2
    assert main([*argv[:-1], str(tmp_path / "third"), "--tune", "--budget", "0"]) == 2


class _Fixed(_Scripted):
    """A scripted baseline with a single candidate of the given quality."""

    def __init__(self, quality: float) -> None:
        super().__init__()
        self.quality = quality

    def param_grid(self) -> list[dict[str, Any]]:
        return [{"quality": self.quality}]


def test_tune_methods_takes_the_method_with_the_best_validation_score(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    qualities = {"first": 0.5, "second": 3.0, "third": 3.0, "fourth": 0.0}
    monkeypatch.setattr("gentleclip.baselines.get_baseline", lambda name: _Fixed(qualities[name]))
    method, params, scored, split = tune_methods(
        list(qualities), _data(), budget=4, share=0.2, bag_means=True, seed=1
    )
    assert [s["method"] for s in scored] == list(qualities)
    best = max(s["val"] for s in scored)
    assert method == next(s["method"] for s in scored if s["val"] == best)
    assert method in ("second", "third") and params == {"quality": 3.0}
    assert len(split.val_a) == 10  # one holdout for all methods


def test_fit_cli_method_auto_needs_tune_and_saves_the_chosen_method(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _write_dir(tmp_path / "data")
    argv = ["fit", str(tmp_path / "data"), "--method", "auto", "--bag-means"]
    assert main([*argv, "--out", str(tmp_path / "plain")]) == 2
    assert "--method auto chooses on held-out data: add --tune" in capsys.readouterr().err
    assert main([*argv, "--tune", "--out", str(tmp_path / "run")]) == 0
    summary = json.loads((tmp_path / "run" / "fit.json").read_text())
    scored = summary["tuned"]["candidates"]
    assert {s["method"] for s in scored} == set(AUTO_METHODS)
    best = max(s["val"] for s in scored)
    chosen = next(s for s in scored if s["val"] == best)
    assert summary["method"] == chosen["method"]
    assert summary["params"] == {**get_baseline(chosen["method"]).defaults, **chosen["params"]}
    assert (
        json.loads((tmp_path / "run" / "model" / "config.json").read_text())["method"]
        == (chosen["method"])
    )


def test_cross_folds_hold_every_pair_out_once_and_never_fit_it() -> None:
    data = _data(n_pairs=22)
    splits = cross_folds(data, folds=5, seed=1)
    assert [s.held_pairs for s in splits] == [5, 5, 4, 4, 4]
    held = [_rows(s.val_a) for s in splits]
    assert set().union(*held) == _rows(data.paired_a) and sum(map(len, held)) == 22
    for split, rows in zip(splits, held, strict=True):
        assert not rows & _rows(split.train.paired_a)
        assert len(split.train.unpaired_a) == len(data.unpaired_a)  # unpaired rows all kept
    assert (auto_folds(7), auto_folds(8), auto_folds(19), auto_folds(20), auto_folds(99)) == (
        0,
        2,
        4,
        5,
        5,
    )
    # with bag means each fold holds n_pairs // K pairs and n_bags // K bags' means
    assert (auto_folds(3, 5), auto_folds(3, 6), auto_folds(0, 19), auto_folds(12, 6)) == (
        0,
        2,
        4,
        4,
    )
    with pytest.raises(InputError, match="--folds 5: the pairs make folds of 3 validation"):
        cross_folds(_data(n_pairs=19), folds=5, seed=0)
    with pytest.raises(InputError, match="--folds must be at least 2"):
        cross_folds(data, folds=1, seed=0)


def test_tune_methods_by_folds_scores_the_mean_over_the_folds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each candidate's score is the mean of its scores on the folds, and the record holds every
    pair as a validation pair."""
    data = _data(n_pairs=20)
    method, params, scored, split = tune_methods(
        ["ridge", "relrep"], data, budget=2, share=0.2, bag_means=False, folds=4
    )
    per_fold = [
        score_candidates(get_baseline(name), fold, budget=2)
        for fold in cross_folds(data, folds=4, seed=0)
        for name in ["ridge", "relrep"]
    ]
    means = [np.mean([f[i]["val"] for f in per_fold[k::2]]) for k in (0, 1) for i in (0, 1)]
    assert [s["val"] for s in scored] == pytest.approx(means, abs=1e-12)
    assert (split.folds, len(split.val_a), split.held_pairs) == (4, 20, 20)
    assert method in ("ridge", "relrep") and params == first_best(scored)["params"]


def test_cross_folds_with_bag_means_hold_every_bag_out_once() -> None:
    """Each fold's validation pairs are its held pairs, then its held bags' means; the bags'
    rows never enter that fold's fit, whose pairs end with the other bags' means."""
    data = _data(n_pairs=10, n_bags=30)
    splits = cross_folds(data, folds=5, seed=2, bag_means=True)
    assert [(s.held_pairs, s.held_bags) for s in splits] == [(2, 6)] * 5
    for split in splits:
        assert len(split.val_a) == 2 + 6 and split.train.n_pairs == 8 + 24
        held_a = _rows(data.unpaired_a) - _rows(split.train.unpaired_a)
        assert len(held_a) == 6 * 4 and not held_a & _rows(split.train.paired_a)
    held = set().union(*(_rows(s.val_a[2:]) for s in splits))
    assert len(held) == 30  # every bag's mean once
    with pytest.raises(InputError, match="the pairs and bags make folds of 3 validation"):
        cross_folds(_data(n_pairs=5, n_bags=7), folds=3, seed=0, bag_means=True)
    _, _, _, pooled = tune_methods(["ridge"], data, budget=1, share=0.2, bag_means=True, folds=5)
    assert (pooled.folds, pooled.held_pairs, pooled.held_bags, len(pooled.val_a)) == (5, 10, 30, 40)


def test_fit_cli_folds(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _write_dir(tmp_path / "data")
    argv = ["fit", str(tmp_path / "data"), "--method", "auto"]
    assert main([*argv, "--folds", "2", "--out", str(tmp_path / "a")]) == 2
    assert "--method auto chooses on held-out data: add --tune" in capsys.readouterr().err
    assert main([*argv, "--tune", "--folds", "2", "--out", str(tmp_path / "b")]) == 0
    assert "tuning by 2-fold cross-validation on 20 pairs" in capsys.readouterr().out
    assert json.loads((tmp_path / "b" / "fit.json").read_text())["tuned"]["folds"] == 2
    assert main([*argv, "--tune", "--folds", "2", "--bag-means", "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "tuning by 2-fold cross-validation on 20 pairs and 30 bags' means" in out
    ridge = ["fit", str(tmp_path / "data"), "--method", "ridge", "--folds", "2"]
    assert main([*ridge, "--out", str(tmp_path / "d")]) == 2
    assert "--folds says how --tune chooses: add --tune" in capsys.readouterr().err


def test_fit_cli_tune_cross_validates_by_default(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """--tune alone takes as many folds as the pairs (and, with --bag-means, the bags) allow,
    up to 5, and chooses what --folds K with that K chooses; too few pairs are named."""
    _write_dir(tmp_path / "data", n_pairs=12, n_bags=6)
    argv = ["fit", str(tmp_path / "data"), "--method", "auto", "--tune"]
    cases = {
        "a": [],
        "b": ["--folds", "3"],
        "c": ["--bag-means"],
        "d": ["--bag-means", "--folds", "4"],
    }
    for name, extra in cases.items():
        assert main([*argv, *extra, "--out", str(tmp_path / name)]) == 0
    out = capsys.readouterr().out
    assert out.count("tuning by 3-fold cross-validation on 12 pairs (") == 2  # 12 // 3 = 4
    assert out.count("4-fold cross-validation on 12 pairs and 6 bags' means") == 2  # 3 + 1
    tuned = {k: json.loads((tmp_path / k / "fit.json").read_text())["tuned"] for k in cases}
    assert tuned["a"] == tuned["b"] and tuned["c"] == tuned["d"]
    _write_dir(tmp_path / "few", n_pairs=7, n_bags=1)
    few = ["fit", str(tmp_path / "few"), "--method", "ridge", "--tune"]
    assert main([*few, "--out", str(tmp_path / "e")]) == 2
    err = capsys.readouterr().err
    assert "the pairs (add --bag-means if you have bags) make fewer than 2 folds of 4" in err
    assert "--holdout SHARE" in err
    assert main([*few, "--holdout", "0.6", "--out", str(tmp_path / "f")]) == 0
    assert main([*few, "--holdout", "0.6", "--folds", "2", "--out", str(tmp_path / "g")]) == 2
    assert "--folds and --holdout are two ways to hold pairs out: give one" in (
        capsys.readouterr().err
    )
    assert main([*few, "--holdout", "1.5", "--out", str(tmp_path / "i")]) == 2
    assert "--holdout is a share of the pairs: between 0 and 1, got 1.5" in capsys.readouterr().err
    assert main([*few, "--folds", "1", "--out", str(tmp_path / "h")]) == 2
    assert "cross-validation needs at least 2 folds, got 1" in capsys.readouterr().err
