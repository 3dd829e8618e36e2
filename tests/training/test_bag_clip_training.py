"""``loss.w_bag``: the bag-level InfoNCE reaches training through the batch's bag ids."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from gentleclip.cli.main import main
from gentleclip.data.regimes import RegimeData, load_dataset_dir
from gentleclip.data.sampler import bag_sizes
from gentleclip.errors import InputError
from gentleclip.losses import bag_clip_loss
from gentleclip.models import TwoTower
from gentleclip.recipes import recipe_overrides
from gentleclip.training.config import TrainConfig, config_from_dict
from gentleclip.training.fit import build_model, train
from gentleclip.training.inprocess import train_in_process
from gentleclip.training.module import (
    GentleCLIPModule,
    StepDataset,
    check_method_data,
    drop_unusable_bag_term,
    make_room_for_bags,
    oversized_bags_notice,
    training_data,
)
from gentleclip.training.objective import GentleObjective

SplitWriter = Callable[..., Path]
BAGS = ["--regime", "bags", "--bag-size", "4"]


def _config(w_bag: float, steps: int = 8) -> TrainConfig:
    return config_from_dict(
        {
            "seed": 3,
            "loss": {"w_bag": w_bag, "bag_temperature": 0.2},
            "sampler": {"pairs_per_step": 8, "unpaired_per_step": 24},
            "optim": {"steps": steps},
            "trainer": {"progress": False},
        }
    )


def _same_weights(x: TwoTower, y: TwoTower) -> bool:
    xs, ys = x.state_dict(), y.state_dict()
    return xs.keys() == ys.keys() and all(torch.equal(xs[k], ys[k]) for k in xs)


def test_batches_carry_the_unpaired_rows_bag_ids(tmp_path: Path, write_split: SplitWriter) -> None:
    data = load_dataset_dir(write_split(tmp_path, seed=0, split_args=BAGS))
    module = GentleCLIPModule(build_model(_config(1.0).model, 12, 7), data, _config(1.0))
    steps = module.sampler.epoch(0)
    for step, batch in zip(steps, StepDataset(data, steps), strict=True):
        assert torch.equal(batch["bags_a"], torch.from_numpy(data.bags_a[step.a]))
        assert torch.equal(batch["bags_b"], torch.from_numpy(data.bags_b[step.b]))
        assert batch["a"].shape[0] == batch["n_pairs"] + len(step.a)


def test_objective_adds_the_weighted_bag_term() -> None:
    gen = torch.Generator().manual_seed(0)
    emb = torch.nn.functional.normalize(torch.randn(2, 9, 4, generator=gen), dim=2)
    bags_a, bags_b = torch.tensor([0, 0, 1, 2, 2, 1]), torch.tensor([2, 1, 0, 0, 1, 2])
    outputs = {"pair_a": emb[0, :3], "pair_b": emb[1, :3], "all_a": emb[0], "all_b": emb[1]}
    config = _config(0.5).loss
    terms = GentleObjective(config)({**outputs, "bags_a": bags_a, "bags_b": bags_b})
    want = bag_clip_loss(emb[0, 3:], emb[1, 3:], bags_a, bags_b, temperature=0.2)
    torch.testing.assert_close(terms["bag"], want)
    without = GentleObjective(_config(0.0).loss)(outputs)
    assert set(terms) == {*without, "bag"}
    torch.testing.assert_close(terms["loss"], without["loss"] + 0.5 * want)
    # absent without bag ids, and with fewer than 2 bags in the step
    assert "bag" not in GentleObjective(config)(outputs)
    one = torch.zeros(6, dtype=torch.long)
    assert "bag" not in GentleObjective(config)({**outputs, "bags_a": one, "bags_b": one})


def test_training_with_the_bag_term(tmp_path: Path, write_split: SplitWriter) -> None:
    """It changes the model; the Lightning run equals the in-process run."""
    data_dir = write_split(tmp_path, seed=0, split_args=BAGS)
    data = load_dataset_dir(data_dir)
    with_bag = train_in_process(data, _config(1.0))
    assert not _same_weights(with_bag, train_in_process(data, _config(0.0)))
    train(data_dir, tmp_path / "run", _config(1.0), verbose=False)
    assert _same_weights(TwoTower.from_pretrained(tmp_path / "run" / "model"), with_bag)
    header = (tmp_path / "run" / "logs" / "metrics.csv").read_text().splitlines()
    bag_column = header[0].split(",").index("bag")
    assert all(row.split(",")[bag_column] for row in header[1:])  # logged at every step


def test_bag_term_without_bags_is_refused(tmp_path: Path, write_split: SplitWriter) -> None:
    data = load_dataset_dir(write_split(tmp_path, seed=0, split_args=["--regime", "unpaired"]))
    with pytest.raises(InputError, match=r"loss.w_bag .* needs bags") as error:
        train_in_process(data, _config(1.0))
    assert "or set loss.bag_optional: true" in str(error.value)


def _optional(w_bag: float = 1.0) -> TrainConfig:
    config = _config(w_bag)
    config.loss.bag_optional = True
    return config


def test_an_optional_bag_term_is_dropped_where_it_cannot_apply(
    tmp_path: Path, write_split: SplitWriter
) -> None:
    """loss.bag_optional: disjoint sides train as gentle without the term (the same weights
    as w_bag 0), and the line says why; bags that fit 2 a step keep the term."""
    data = load_dataset_dir(write_split(tmp_path, seed=0, split_args=["--regime", "unpaired"]))
    notes: list[str] = []
    config = _optional()
    training_data(data, config, notes)
    assert config.loss.w_bag == 0.0
    assert notes == [
        "loss.bag_optional: the bag term needs bags, but the data has none, so the run "
        "trains without it (w_bag 0)"
    ]
    assert _same_weights(train_in_process(data, _optional()), train_in_process(data, _config(0)))
    config = _optional()  # 24 rows a step: bags of 13 cannot go 2 a step, bags of 12 can
    assert "cannot hold 2 of these bags" in drop_unusable_bag_term(_bags_data([13, 13]), config)
    assert config.loss.w_bag == 0.0
    config = _optional(0.5)
    assert drop_unusable_bag_term(_bags_data([12, 12, 16]), config) is None
    assert config.loss.w_bag == 0.5
    clip = _optional()
    clip.method = "clip"  # clip never reads loss.w_bag: nothing to drop or say
    assert drop_unusable_bag_term(_bags_data([6]), clip) is None and clip.loss.w_bag == 1.0


def test_train_says_when_it_drops_the_bag_term(
    tmp_path: Path, write_split: SplitWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    """`gentleclip train` prints the line, and the run's config.yaml holds w_bag 0."""
    data = write_split(tmp_path, seed=0, split_args=["--regime", "unpaired"])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("loss:\n  w_bag: 1.0\n  bag_optional: true\n", encoding="utf-8")
    run = tmp_path / "run"
    argv = ["train", str(data), "--out", str(run), "--steps", "2", "--no-progress"]
    assert main([*argv, "--config", str(recipe)]) == 0
    assert "loss.bag_optional: the bag term needs bags" in capsys.readouterr().out
    written = yaml.safe_load((run / "config.yaml").read_text())["loss"]
    assert (written["w_bag"], written["bag_optional"]) == (0.0, True)


def _bags_data(sizes: list[int]) -> RegimeData:
    """4 pairs, then bags of ``sizes`` unpaired rows on both sides."""
    gen = np.random.default_rng(0)
    bags = np.repeat(np.arange(len(sizes)), sizes)
    return RegimeData.from_arrays(
        {
            "paired_a": gen.standard_normal((4, 5)).astype(np.float32),
            "paired_b": gen.standard_normal((4, 3)).astype(np.float32),
            "unpaired_a": gen.standard_normal((len(bags), 5)).astype(np.float32),
            "unpaired_b": gen.standard_normal((len(bags), 3)).astype(np.float32),
            "unpaired_a_bags": bags,
            "unpaired_b_bags": bags.copy(),
        }
    )


def test_bag_term_refuses_steps_that_cannot_hold_two_bags() -> None:
    config = _config(1.0)  # 24 unpaired rows a step
    check_method_data(_bags_data([12, 12, 16]), config)  # two bags of 12 fit in 24 rows
    with pytest.raises(InputError, match=r"unpaired_per_step=24 rows cannot hold 2") as error:
        check_method_data(_bags_data([13, 13, 16]), config)
    # 32 rows hold any 2 of these bags; 26 only the two of 13
    assert "to 32, which holds any 2" in str(error.value)
    assert "at least 26 holds 2 only where the smallest bags meet" in str(error.value)
    with pytest.raises(InputError, match=r"needs at least 2 bags, but the data has 1"):
        check_method_data(_bags_data([6]), config)
    config.loss.w_bag = 0.0  # gentle without the term trains on any bags
    check_method_data(_bags_data([13, 13, 16]), config)


def test_notice_names_bags_larger_than_a_step() -> None:
    """gentle on bags larger than ``sampler.unpaired_per_step`` gets a line naming the largest
    bag and the step size that holds it; none when every bag fits, or for clip."""
    config = _config(0.0)  # 24 unpaired rows a step
    assert oversized_bags_notice(_bags_data([12, 24, 16]), config) is None
    notice = oversized_bags_notice(_bags_data([12, 40, 16]), config)
    assert notice is not None
    assert "largest bag holds 40 rows, more than a step's sampler.unpaired_per_step=24" in notice
    assert "Set sampler.unpaired_per_step to at least 40" in notice
    config.sampler.unpaired_per_step = 40
    assert oversized_bags_notice(_bags_data([12, 40, 16]), config) is None
    config.method = "clip"
    assert oversized_bags_notice(_bags_data([12, 80, 16]), config) is None


def test_train_prints_the_oversized_bags_notice(
    tmp_path: Path, write_split: SplitWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_split(tmp_path, seed=0, split_args=["--regime", "bags", "--bag-size", "32"])
    argv = ["train", str(data), "--out", str(tmp_path / "run"), "--steps", "2", "--no-progress"]
    assert main(argv) == 0  # the default step holds 32 unpaired rows
    assert "largest bag holds" not in capsys.readouterr().out
    small = tmp_path / "small.yaml"
    small.write_text("sampler:\n  unpaired_per_step: 16\n", encoding="utf-8")
    assert main([*argv[:2], "--out", str(tmp_path / "r2"), *argv[4:], "--config", str(small)]) == 0
    out = capsys.readouterr().out
    assert "the largest bag holds 32 rows" in out and "--unpaired-per-step 32" in out
    # the flag wins over the recipe file, and a step that holds the bag silences the line
    run = tmp_path / "r3"
    flags = ["--config", str(small), "--unpaired-per-step", "32", "--pairs-per-step", "4"]
    assert main([*argv[:2], "--out", str(run), *argv[4:], *flags]) == 0
    assert "largest bag holds" not in capsys.readouterr().out
    written = yaml.safe_load((run / "config.yaml").read_text())["sampler"]
    assert (written["unpaired_per_step"], written["pairs_per_step"]) == (32, 4)
    assert main([*argv[:2], "--out", str(tmp_path / "r4"), "--unpaired-per-step", "0"]) != 0
    assert "unpaired_per_step" in capsys.readouterr().err
    assert not (tmp_path / "r4").exists()


def test_model_rejects_bag_ids_of_the_wrong_length() -> None:
    model = build_model(_config(1.0).model, 12, 7)
    a, b = torch.randn(5, 12), torch.randn(5, 7)
    out = model(a, b, n_pairs=2, bags_a=torch.tensor([0, 1, 1]), bags_b=torch.tensor([1, 0, 1]))
    assert out["bags_a"].tolist() == [0, 1, 1]
    wrong_length = r"bags_b must have shape \(3,\) \(one bag id per unpaired row\)"
    with pytest.raises(InputError, match=wrong_length):
        model(a, b, n_pairs=2, bags_a=torch.tensor([0, 1, 1]), bags_b=torch.tensor([0, 1]))
    with pytest.raises(InputError, match=r"bags_a must hold integer bag ids"):
        model(a, b, n_pairs=2, bags_a=torch.tensor([True, False, True]), bags_b=None)


def test_train_cli_bag_nce_sets_the_recipe(
    tmp_path: Path, write_split: SplitWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--bag-nce`` puts recipe bag-nce's settings on top; refused for clip and without bags."""
    data = write_split(tmp_path, seed=0, split_args=BAGS)
    run = tmp_path / "run"
    argv = ["train", str(data), "--out", str(run), "--steps", "3", "--no-progress", "--bag-nce"]
    assert main(argv) == 0
    written = yaml.safe_load((run / "config.yaml").read_text())
    settings = recipe_overrides("bag-nce")
    assert written["loss"]["w_bag"] == settings["loss"]["w_bag"] == 1.0
    assert written["sampler"]["unpaired_per_step"] == settings["sampler"]["unpaired_per_step"]
    wider = tmp_path / "wider"
    assert main([*argv[:2], "--out", str(wider), *argv[4:], "--unpaired-per-step", "64"]) == 0
    assert yaml.safe_load((wider / "config.yaml").read_text())["sampler"]["unpaired_per_step"] == 64
    capsys.readouterr()
    assert main([*argv[:-1], "--method", "clip", "--bag-nce"]) != 0
    assert "--bag-nce is a setting of method gentle, not clip" in capsys.readouterr().err
    (tmp_path / "d").mkdir()
    disjoint = write_split(tmp_path / "d", seed=0, split_args=["--regime", "unpaired"])
    assert main(["train", str(disjoint), "--out", str(tmp_path / "r2"), "--bag-nce"]) != 0
    assert "loss.w_bag (bag-level InfoNCE) needs bags" in capsys.readouterr().err
    assert not (tmp_path / "r2").exists()


def test_room_for_bags_raises_the_step_only_where_two_bags_cannot_fit() -> None:
    """Twice the largest bag where two of the largest do not fit (bags of 13 and 16 in 24
    rows), even where the two smallest would (bags of 4 and 16); unchanged where any two fit,
    and without bags."""
    config = _config(1.0)  # 24 unpaired rows a step
    assert make_room_for_bags(_bags_data([12, 12, 10]), config, 2) is None
    assert config.sampler.unpaired_per_step == 24
    assert make_room_for_bags(_bags_data([4, 16, 16]), config, 2) is not None
    assert config.sampler.unpaired_per_step == 32
    config.sampler.unpaired_per_step = 24
    note = make_room_for_bags(_bags_data([13, 13, 16]), config, 2)
    assert config.sampler.unpaired_per_step == 32
    assert note is not None and "24 rows cannot hold 2" in note and "is 32" in note
    check_method_data(_bags_data([13, 13, 16]), config)  # the bag term's check now passes
    assert oversized_bags_notice(_bags_data([13, 13, 16]), config) is None
    config.sampler.unpaired_per_step = 24
    assert make_room_for_bags(_bags_data([13, 13, 16]), config, 1) is None  # 1 bag fits


def _write_large_bags(root: Path, bag_size: int) -> Path:
    """400 items (4 classes) split into 10 pairs, 40 test pairs and bags of ``bag_size``."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=400)
    z = rng.normal(size=(4, 5))[labels] * 3 + rng.normal(size=(400, 5))
    a = (z @ rng.normal(size=(5, 12))).astype(np.float32)
    b = np.tanh(z @ rng.normal(size=(5, 7)) / 3).astype(np.float32)
    np.savez(root / "full.npz", a=a, b=b, labels=labels)
    argv = ["split", str(root / "full.npz"), "--out", str(root / "data"), "--pairs", "10"]
    assert main([*argv, "--test-size", "40", "--regime", "bags", "--bag-size", str(bag_size)]) == 0
    return root / "data"


def test_train_cli_bag_nce_makes_room_for_two_large_bags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bags of 100 do not fit twice in recipe bag-nce's 128 rows: ``--bag-nce`` trains with
    200 (said, written, kept on resume); a step size of the user's is kept, and refused."""
    data = _write_large_bags(tmp_path, 100)
    sizes = bag_sizes(load_dataset_dir(data).bags_a)
    assert sizes[-1] == 100 and sizes[0] + sizes[1] > 128
    run = tmp_path / "run"
    argv = ["train", str(data), "--out", str(run), "--steps", "2", "--no-progress", "--bag-nce"]
    assert main(argv) == 0
    assert "128 rows cannot hold 2 of these (the largest holds 100)" in capsys.readouterr().out
    written = yaml.safe_load((run / "config.yaml").read_text())
    assert (written["sampler"]["unpaired_per_step"], written["loss"]["w_bag"]) == (200, 1.0)
    assert main([*argv[:4], "--steps", "3", "--no-progress", "--bag-nce", "--resume"]) == 0
    assert yaml.safe_load((run / "summary.json").read_text())["steps"] == 3
    capsys.readouterr()
    mine = [*argv[:2], "--out", str(tmp_path / "r2"), *argv[4:], "--unpaired-per-step", "128"]
    assert main(mine) != 0
    refusal = capsys.readouterr().err
    assert "unpaired_per_step=128 rows cannot hold 2" in refusal and "to 200," in refusal
    assert not (tmp_path / "r2").exists()


def test_bag_nce_asked_for_stays_strict_on_an_optional_recipe(
    tmp_path: Path, write_split: SplitWriter, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--bag-nce` on top of a recipe with loss.bag_optional (molecules-gentle) still refuses
    disjoint sides: the term was asked for. The recipe alone trains there without it."""
    data = write_split(tmp_path, seed=0, split_args=["--regime", "unpaired"])
    assert recipe_overrides("molecules-gentle")["loss"]["bag_optional"] is True
    base = ["train", str(data), "--steps", "2", "--no-progress", "--config", "molecules-gentle"]
    assert main([*base, "--out", str(tmp_path / "asked"), "--bag-nce"]) != 0
    assert "needs bags, but the data has none" in capsys.readouterr().err
    assert not (tmp_path / "asked").exists()
    assert main([*base, "--out", str(tmp_path / "recipe")]) == 0
    assert "loss.bag_optional: the bag term needs bags" in capsys.readouterr().out
