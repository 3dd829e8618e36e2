"""`gentleclip train --pairs-as-items`: recipe pairs-as-items on top, refused where it cannot
train (method clip; no unpaired rows, as any gentle config without the CLIP term is)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml

from gentleclip.cli.main import main
from gentleclip.data.regimes import load_dataset_dir
from gentleclip.experiments import bench
from gentleclip.recipes import recipe_overrides
from gentleclip.training.config import config_from_dict
from gentleclip.training.inprocess import train_in_process

SplitWriter = Callable[..., Path]


def test_train_cli_pairs_as_items_sets_the_recipe(
    tmp_path: Path, write_split: SplitWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_split(tmp_path, seed=0, split_args=["--regime", "bags", "--bag-size", "4"])
    argv = ["train", str(data), "--steps", "3", "--no-progress", "--pairs-as-items"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    written = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    settings = recipe_overrides("pairs-as-items")
    assert written["loss"]["w_clip"] == settings["loss"]["w_clip"] == 0.0
    assert written["sampler"]["pairs_per_step"] == settings["sampler"]["pairs_per_step"] == 2
    assert written["loss"]["w_sdd"] > 0 and written["method"] == "gentle"
    assert main([*argv, "--out", str(tmp_path / "r1"), "--pairs-per-step", "5"]) == 0
    assert (
        yaml.safe_load((tmp_path / "r1" / "config.yaml").read_text())["sampler"]["pairs_per_step"]
        == 5
    )  # the user's own step size wins
    capsys.readouterr()
    assert main([*argv, "--out", str(tmp_path / "r2"), "--method", "clip"]) != 0
    assert "--pairs-as-items is a setting of method gentle, not clip" in capsys.readouterr().err


def test_train_cli_pairs_as_items_needs_unpaired_rows(
    tmp_path: Path, write_split: SplitWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_split(tmp_path, seed=0, split_args=["--regime", "bags", "--bag-size", "4"])
    pairs_only = tmp_path / "pairs-only"
    pairs_only.mkdir()
    for name in ("paired_a", "paired_b", "eval_a", "eval_b"):
        (pairs_only / f"{name}.npy").write_bytes((data / f"{name}.npy").read_bytes())
    run = tmp_path / "run"
    assert main(["train", str(pairs_only), "--out", str(run), "--pairs-as-items"]) != 0
    assert "--pairs-as-items needs unpaired rows" in capsys.readouterr().err
    assert not run.exists()
    recipe = tmp_path / "no-clip.yaml"  # the same check for a recipe of one's own
    recipe.write_text("loss: {w_clip: 0.0}\n")
    assert main(["train", str(pairs_only), "--out", str(run), "--config", str(recipe)]) != 0
    assert "loss.w_clip 0 needs unpaired rows on both sides" in capsys.readouterr().err
    assert not run.exists()


def test_train_cli_bag_nce_and_pairs_as_items_combine_as_the_bench_s_method(
    tmp_path: Path, write_split: SplitWriter
) -> None:
    """`--bag-nce --pairs-as-items` writes the settings of the bench's gentle-bagnce-items:
    both recipes' loss and sampler fields on gentle's."""
    data = write_split(tmp_path, seed=0, split_args=["--regime", "bags", "--bag-size", "4"])
    argv = ["train", str(data), "--steps", "3", "--no-progress", "--bag-nce", "--pairs-as-items"]
    assert main([*argv, "--out", str(tmp_path / "run")]) == 0
    written = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    method = bench.METHODS["gentle-bagnce-items"].overrides
    for section in ("loss", "sampler"):
        for name, value in method[section].items():
            assert written[section][name] == value, (section, name)
    assert (written["loss"]["w_clip"], written["loss"]["w_bag"]) == (0.0, 1.0)


def test_with_no_pairs_the_pairs_as_items_settings_change_nothing(
    tmp_path: Path, write_split: SplitWriter
) -> None:
    """At 0 pairs there is no CLIP term to drop and no pair to put in a step: gentle with
    `--bag-nce --pairs-as-items` trains the weights of `--bag-nce` alone, bit for bit, so the
    bench's gentle-bagnce-items at 0 pairs is gentle-bagnce (docs/results.md)."""
    args = ["--regime", "bags", "--bag-size", "4", "--pairs", "0"]
    data = load_dataset_dir(write_split(tmp_path, seed=2, split_args=args))
    assert len(data.paired_a) == 0
    base = {"method": "gentle", "seed": 1, "optim": {"steps": 15}, "trainer": {"progress": False}}
    bag_nce = bench.merge_nested(base, recipe_overrides("bag-nce"))
    both = bench.merge_nested(bag_nce, recipe_overrides("pairs-as-items"))
    configs = config_from_dict(bag_nce), config_from_dict(both)
    assert configs[0].loss.w_clip > 0 and configs[1].loss.w_clip == 0
    one, other = (train_in_process(data, config) for config in configs)
    for name, value in one.state_dict().items():
        torch.testing.assert_close(value, other.state_dict()[name], rtol=0, atol=0, msg=name)
