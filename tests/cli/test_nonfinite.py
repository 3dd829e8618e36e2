"""A NaN/Inf loss stops the run naming step, term and last checkpoint, unless skipped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.torch import load_file

from gentleclip.cli.main import main
from gentleclip.training.objective import GentleObjective

NAN_FROM_STEP = 5


@pytest.fixture
def nan_after_step(monkeypatch: pytest.MonkeyPatch) -> None:
    original = GentleObjective.forward

    def forward(self, outputs, *, step=None):  # type: ignore[no-untyped-def]
        terms = original(self, outputs, step=step)
        if step is not None and step >= NAN_FROM_STEP:
            terms["sdd"] = terms["sdd"] * float("nan")
            terms["loss"] = terms["loss"] + terms["sdd"]
        return terms

    monkeypatch.setattr(GentleObjective, "forward", forward)


def _data(tmp_path: Path, full_npz: Path) -> Path:
    data = tmp_path / "data"
    argv = ["split", str(full_npz), "--out", str(data), "--pairs", "10", "--test-size", "40"]
    assert main([*argv, "--regime", "bags"]) == 0
    return data


def test_nonfinite_loss_stops_naming_step_term_and_checkpoint(
    tmp_path: Path, full_npz: Path, tiny_recipe: Path, nan_after_step: None, capsys
) -> None:
    data, run = _data(tmp_path, full_npz), tmp_path / "run"
    argv = ["train", str(data), "--out", str(run), "--config", str(tiny_recipe), "--steps", "12"]
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert f"non-finite loss at step {NAN_FROM_STEP}" in err[0] and "sdd" in err[0]
    assert f"last good checkpoint: {run / 'checkpoints' / 'last.ckpt'}" in err[0]
    assert not (run / "model").exists()  # no final model from a failed run


def test_skip_nonfinite_finishes_with_finite_weights(
    tmp_path: Path, full_npz: Path, tiny_recipe: Path, nan_after_step: None
) -> None:
    data, run = _data(tmp_path, full_npz), tmp_path / "run"
    argv = ["train", str(data), "--out", str(run), "--config", str(tiny_recipe), "--steps", "8"]
    assert main([*argv, "--skip-nonfinite"]) == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["skipped_nonfinite_steps"] == 8 - NAN_FROM_STEP
    weights = load_file(run / "model" / "model.safetensors")
    assert all(np.isfinite(w.numpy()).all() for w in weights.values())
