"""In-process training equals the Lightning run and its snapshots equal shorter runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from gentleclip.data.regimes import load_dataset_dir
from gentleclip.errors import InputError
from gentleclip.models import TwoTower
from gentleclip.training.config import TrainConfig, config_from_dict
from gentleclip.training.fit import train
from gentleclip.training.inprocess import InProcessRun, train_in_process
from gentleclip.training.module import reads_unpaired_rows

SplitWriter = Callable[..., Path]


def _config(method: str, steps: int, **loss: float) -> TrainConfig:
    return config_from_dict(
        {
            "method": method,
            "seed": 3,
            "loss": loss,
            "sampler": {"pairs_per_step": 8, "unpaired_per_step": 16},
            "optim": {"steps": steps},
            "trainer": {"progress": False, "checkpoint_every_steps": 5},
        }
    )


def _assert_same_weights(x: TwoTower, y: TwoTower) -> None:
    xs, ys = x.state_dict(), y.state_dict()
    assert xs.keys() == ys.keys()
    for name in xs:
        torch.testing.assert_close(xs[name], ys[name], rtol=0, atol=0, msg=name)


@pytest.mark.parametrize(
    ("method", "loss"),
    [("gentle", {"w_ssl": 0.2}), ("clip", {}), ("sclip", {})],
)
def test_equals_lightning_run(
    tmp_path: Path, write_split: SplitWriter, method: str, loss: dict[str, float]
) -> None:
    data_dir = write_split(tmp_path, seed=0, split_args=["--regime", "bags", "--bag-size", "4"])
    config = _config(method, 12, **loss)
    train(data_dir, tmp_path / "run", config, verbose=False)
    reference = TwoTower.from_pretrained(tmp_path / "run" / "model")
    model = train_in_process(load_dataset_dir(data_dir), config)
    assert not model.training
    _assert_same_weights(model, reference)


def test_use_unpaired_false_trains_on_the_pairs_alone(
    tmp_path: Path, write_split: SplitWriter
) -> None:
    """sampler.use_unpaired false on disjoint sides trains exactly what the same pairs train
    alone (the regime pairs of the same split), through Lightning and in process; with the
    unpaired rows it trains something else."""
    disjoint = load_dataset_dir(write_split(tmp_path, seed=2, split_args=["--regime", "unpaired"]))
    alone = disjoint.without_unpaired()
    assert alone.regime.value == "pairs" and alone.n_pairs == disjoint.n_pairs
    config = _config("gentle", 8)
    config.sampler.use_unpaired = False
    train(tmp_path / "d0", tmp_path / "run", config, verbose=False, loaded=disjoint)
    reference = train_in_process(alone, _config("gentle", 8))
    _assert_same_weights(TwoTower.from_pretrained(tmp_path / "run" / "model"), reference)
    _assert_same_weights(train_in_process(disjoint, config), reference)
    with_them = train_in_process(disjoint, _config("gentle", 8)).state_dict()
    assert any(not torch.equal(with_them[k], v) for k, v in reference.state_dict().items())
    one_pair = replace(disjoint, paired_a=disjoint.paired_a[:1], paired_b=disjoint.paired_b[:1])
    with pytest.raises(InputError, match="leaves the pairs alone, and 1 pair"):
        train_in_process(one_pair, config)


@pytest.mark.parametrize(
    ("method", "model", "reads"),
    [
        ("clip", {"normalize_inputs": False}, False),
        ("clip", {"normalize_inputs": False, "sparse_inputs": "auto"}, True),
        ("clip", {}, True),  # standardised on every training row
        ("gentle", {"normalize_inputs": False}, True),
        ("sclip", {"normalize_inputs": False}, True),
    ],
)
def test_runs_that_do_not_read_the_unpaired_rows_train_the_same_with_others(
    tmp_path: Path, write_split: SplitWriter, method: str, model: dict, reads: bool
) -> None:
    """reads_unpaired_rows says whether a run's model can depend on the unpaired rows: where
    it says no, other unpaired rows train the same weights bit for bit; where the rows enter
    the loss or the standardisation, they train others."""
    data = load_dataset_dir(write_split(tmp_path, seed=2, split_args=["--regime", "unpaired"]))
    config = _config(method, 6)
    config.model = replace(config.model, **model)
    assert reads_unpaired_rows(config) is reads
    other = replace(data, unpaired_a=data.unpaired_a[::2], unpaired_b=data.unpaired_b[1::2])
    with_them = train_in_process(data, config).state_dict()
    with_others = train_in_process(other, config).state_dict()
    same = all(torch.equal(with_them[k], v) for k, v in with_others.items())
    # sparse_inputs auto reads the rows' density, here dense either way: the same layer
    assert same is (not reads or "sparse_inputs" in model)
    assert not reads_unpaired_rows(
        replace(config, sampler=replace(config.sampler, use_unpaired=False))
    )
    assert reads_unpaired_rows(replace(config, sampler=replace(config.sampler, bag_means=True)))


def test_snapshots_equal_shorter_runs(tmp_path: Path, write_split: SplitWriter) -> None:
    data = load_dataset_dir(write_split(tmp_path, seed=1, split_args=["--regime", "unpaired"]))
    seen: dict[int, dict[str, torch.Tensor]] = {}

    def keep(step: int, model: TwoTower) -> None:
        assert not model.training
        seen[step] = {k: v.clone() for k, v in model.state_dict().items()}

    final = train_in_process(data, _config("gentle", 9), snapshots=[3, 9], on_snapshot=keep)
    assert sorted(seen) == [3, 9]
    short = train_in_process(data, _config("gentle", 3))
    for name, value in short.state_dict().items():
        torch.testing.assert_close(seen[3][name], value, rtol=0, atol=0)
        torch.testing.assert_close(seen[9][name], final.state_dict()[name], rtol=0, atol=0)
    assert any(not torch.equal(seen[3][k], seen[9][k]) for k in seen[3])  # it did train on


def test_run_advanced_in_pieces_equals_one_run(tmp_path: Path, write_split: SplitWriter) -> None:
    data = load_dataset_dir(write_split(tmp_path, seed=4, split_args=["--regime", "bags"]))
    run = InProcessRun(data, _config("gentle", 30))
    per_epoch = len(run.module.sampler.epoch(0))
    pieces = [3, per_epoch + 2, 30]  # the second piece crosses an epoch boundary
    assert pieces == sorted(pieces) and per_epoch + 2 < 30
    seen: list[int] = []
    for until in pieces:
        run.advance(until, snapshots=[until], on_snapshot=lambda step, _: seen.append(step))
    assert seen == pieces and run.step == 30
    _assert_same_weights(run.model, train_in_process(data, _config("gentle", 30)))
    with pytest.raises(InputError, match="at step 30 of 30"):
        run.advance(31)
    with pytest.raises(InputError, match="at step 30 of 30"):
        run.advance(10)


def test_continued_run_rejects_snapshots_already_passed(
    tmp_path: Path, write_split: SplitWriter
) -> None:
    data = load_dataset_dir(write_split(tmp_path, seed=5, split_args=["--regime", "bags"]))
    run = InProcessRun(data, _config("clip", 8))
    run.advance(4)
    with pytest.raises(InputError, match=r"snapshot steps \[2\] outside 5..8"):
        run.advance(8, snapshots=[2])


def test_bad_snapshot_and_trainer_options(tmp_path: Path, write_split: SplitWriter) -> None:
    data = load_dataset_dir(write_split(tmp_path, seed=2, split_args=["--regime", "bags"]))
    with pytest.raises(InputError, match=r"snapshot steps \[5\] outside 1..4"):
        train_in_process(data, _config("gentle", 4), snapshots=[5])
    config = _config("gentle", 4)
    config.trainer.devices = 2
    with pytest.raises(InputError, match="one CPU process"):
        train_in_process(data, config)


def test_clip_without_pairs_is_input_error(tmp_path: Path, write_split: SplitWriter) -> None:
    data = load_dataset_dir(write_split(tmp_path, seed=3, split_args=["--regime", "bags"]))
    empty = type(data).from_arrays({"unpaired_a": data.unpaired_a, "unpaired_b": data.unpaired_b})
    with pytest.raises(InputError, match="needs matched pairs"):
        train_in_process(empty, _config("clip", 4))


@pytest.mark.parametrize(
    ("method", "loss"),
    [("gentle", {}), ("gentle", {"w_ssl": 0.2, "w_nbr": 0.1}), ("clip", {}), ("sclip", {})],
)
def test_weights_turning_nan_stop_at_the_loss_check(
    tmp_path: Path,
    write_split: SplitWriter,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    loss: dict[str, float],
) -> None:
    """The step skips the inputs' NaN scans; a NaN embedding still stops the run, at the loss."""
    data = load_dataset_dir(write_split(tmp_path, seed=2, split_args=["--regime", "bags"]))
    original = torch.optim.AdamW.step

    def step_then_poison(self, closure=None):  # type: ignore[no-untyped-def]
        out = original(self, closure)
        with torch.no_grad():
            self.param_groups[0]["params"][0].fill_(float("nan"))
        return out

    monkeypatch.setattr(torch.optim.AdamW, "step", step_then_poison)
    with pytest.raises(InputError, match="non-finite loss at step 1 "):
        train_in_process(data, _config(method, 5, **loss))
