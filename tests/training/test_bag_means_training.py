"""``sampler.bag_means`` / ``gentleclip train --bag-means``: each bag's mean rows join the pairs,
in the Lightning run and in process alike, and as the bench's ``*-bagmeans`` methods do."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from gentleclip.cli.main import main
from gentleclip.data.bag_means import data_with_bag_means
from gentleclip.data.regimes import load_dataset_dir
from gentleclip.errors import InputError
from gentleclip.models import TwoTower
from gentleclip.training.config import TrainConfig, config_from_dict, load_config
from gentleclip.training.fit import train
from gentleclip.training.inprocess import train_in_process

SplitWriter = Callable[..., Path]
BAGS = ["--regime", "bags", "--bag-size", "4"]


def _config(method: str, bag_means: bool) -> TrainConfig:
    return config_from_dict(
        {
            "method": method,
            "seed": 2,
            "sampler": {"pairs_per_step": 8, "unpaired_per_step": 16, "bag_means": bag_means},
            "optim": {"steps": 10},
            "trainer": {"progress": False},
        }
    )


def _same_weights(x: TwoTower, y: TwoTower) -> bool:
    xs, ys = x.state_dict(), y.state_dict()
    return xs.keys() == ys.keys() and all(torch.equal(xs[k], ys[k]) for k in xs)


@pytest.mark.parametrize("method", ["gentle", "clip"])
def test_bag_means_train_on_the_data_with_the_means_appended(
    tmp_path: Path, write_split: SplitWriter, method: str
) -> None:
    """The option equals training without it on data_with_bag_means(data); it changes the
    model; the Lightning run and the in-process run agree; the summary counts the means."""
    data_dir = write_split(tmp_path, seed=0, split_args=BAGS)
    data = load_dataset_dir(data_dir)
    with_option = train_in_process(data, _config(method, True))
    by_hand = train_in_process(data_with_bag_means(data), _config(method, False))
    plain = train_in_process(data, _config(method, False))
    assert _same_weights(with_option, by_hand) and not _same_weights(with_option, plain)
    summary = train(data_dir, tmp_path / "run", _config(method, True), verbose=False)
    assert _same_weights(TwoTower.from_pretrained(tmp_path / "run" / "model"), with_option)
    assert summary["bag_mean_pairs"] == data.n_bags and summary["n_pairs"] == 10 + data.n_bags


def test_clip_with_bag_means_trains_without_true_pairs(
    tmp_path: Path, write_split: SplitWriter
) -> None:
    data = load_dataset_dir(write_split(tmp_path, seed=1, split_args=BAGS))
    no_pairs = replace(data, paired_a=data.paired_a[:0], paired_b=data.paired_b[:0])
    with pytest.raises(InputError, match="needs matched pairs"):
        train_in_process(no_pairs, _config("clip", False))
    assert train_in_process(no_pairs, _config("clip", True)) is not None


def test_cli_flag_recipe_key_and_refusals(
    tmp_path: Path, write_split: SplitWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = write_split(tmp_path, seed=0, split_args=BAGS)
    argv = ["train", str(data_dir), "--out", str(tmp_path / "run"), "--steps", "4"]
    assert main([*argv, "--bag-means", "--no-progress"]) == 0
    out = capsys.readouterr().out
    n_bags = load_dataset_dir(data_dir).n_bags
    assert f"bag means: the last {n_bags} pairs are the bags' mean rows" in out
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["bag_mean_pairs"] == n_bags
    assert load_config(str(tmp_path / "run" / "config.yaml")).sampler.bag_means is True
    (tmp_path / "d").mkdir()
    disjoint = write_split(tmp_path / "d", seed=0, split_args=["--regime", "unpaired"])
    argv = ["train", str(disjoint), "--out", str(tmp_path / "run2"), "--bag-means"]
    assert main(argv) == 2
    assert "bag means need bags" in capsys.readouterr().err
    assert not (tmp_path / "run2").exists()
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("sampler: {bag_means: 3}\n")
    with pytest.raises(InputError, match=r"sampler\.bag_means has a bad value 3"):
        load_config(str(recipe))
