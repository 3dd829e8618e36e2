"""The run's progress bar: one bar over all steps, even when every epoch is a single step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gentleclip.training.config import config_from_dict
from gentleclip.training.fit import train


@pytest.mark.parametrize(("length", "total"), [({"steps": 25}, 25), ({"epochs": 4}, 4)])
def test_one_bar_counts_every_step_of_the_run(
    tmp_path: Path, write_split, capsys, length: dict, total: int
) -> None:
    data = write_split(tmp_path, seed=0, split_args=["--regime", "bags", "--bag-size", "4"])
    # clip on 10 pairs with 64 pairs per step: one step per epoch
    config = config_from_dict(
        {"method": "clip", "seed": 0, "optim": {"steps": None, "epochs": None, **length}}
    )
    summary = train(data, tmp_path / "run", config, verbose=False)
    assert summary["steps"] == total
    err = capsys.readouterr().err
    counts = re.findall(r"training:\s+\d+%\S*\s+(\d+)/(\d+)", err)
    assert counts, err
    assert {int(t) for _, t in counts} == {total}  # a single bar, never one per epoch
    assert max(int(n) for n, _ in counts) == total
    assert "loss=" in err


def test_no_bar_without_progress(tmp_path: Path, write_split, capsys) -> None:
    data = write_split(tmp_path, seed=1, split_args=["--regime", "bags", "--bag-size", "4"])
    config = config_from_dict(
        {"method": "clip", "optim": {"steps": 5}, "trainer": {"progress": False}}
    )
    train(data, tmp_path / "run", config, verbose=False)
    assert "training:" not in capsys.readouterr().err
