"""The run folder of a failed `gentleclip train`: a fresh run that fails before its first
checkpoint (or ends with a useless model) leaves nothing behind, so the same command can be
run again; a folder the user had is kept; a resumed run is never touched."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
import yaml

from gentleclip.cli.main import main
from gentleclip.errors import InputError
from gentleclip.training.config import config_from_dict
from gentleclip.training.fit import CHECKPOINT, train
from gentleclip.training.module import GentleCLIPModule

TINY = {
    "model": {
        "embed_dim": 4,
        "encoder_a_kwargs": {"hidden_dims": [8]},
        "encoder_b_kwargs": {"hidden_dims": [8]},
    },
    "sampler": {"pairs_per_step": 4, "unpaired_per_step": 4},
    "trainer": {"progress": False, "checkpoint_every_steps": 2},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, write_split: Callable[..., Path]) -> Path:
    return write_split(
        tmp_path_factory.mktemp("run_folder"), seed=0, split_args=["--regime", "bags"]
    )


def _recipe(path: Path, **sections: dict) -> Path:
    values = {**TINY, **sections}
    path.write_text(yaml.safe_dump(values))
    return path


def _train(data: Path, run: Path, recipe: Path, *extra: str) -> int:
    return main(["train", str(data), "--out", str(run), "--config", str(recipe), *extra])


def _one_error_line(capsys: pytest.CaptureFixture) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("gentleclip: error:"), err
    return err[0]


def _nan_from_step(first_bad: int) -> Callable[..., dict[str, torch.Tensor]]:
    """A ``step_terms`` whose loss is NaN from optimizer step ``first_bad`` on."""
    original = GentleCLIPModule.step_terms

    def step_terms(self: GentleCLIPModule, batch: dict, step: int) -> dict[str, torch.Tensor]:
        terms = original(self, batch, step)
        if step >= first_bad:
            terms["loss"] = terms["loss"] * float("nan")
        return terms

    return step_terms


@pytest.mark.parametrize(
    ("section", "needle"),
    [
        ({"optim": {"weight_decay": -1.0, "steps": 3}}, "optim.weight_decay"),
        ({"loss": {"sdd_spread": "bogus"}}, "loss.sdd_spread"),
        ({"loss": {"mmd_multipliers": []}}, "loss.mmd_multipliers"),
        ({"loss": {"mmd_bandwidths": [0.0]}}, "loss.mmd_bandwidths"),
    ],
)
def test_bad_option_fails_before_the_folder_exists(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture, section: dict, needle: str
) -> None:
    run = tmp_path / "run"
    assert _train(data, run, _recipe(tmp_path / "bad.yaml", **section), "--steps", "3") == 2
    assert needle in _one_error_line(capsys)
    assert not run.exists()


def test_nan_at_step_one_removes_the_run_and_the_command_can_be_rerun(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    run = tmp_path / "new" / "run"  # both folders are created by the call
    huge = _recipe(tmp_path / "huge.yaml", optim={"lr": 1.0e30})
    assert _train(data, run, huge, "--steps", "3") == 2
    line = _one_error_line(capsys)
    assert "non-finite loss at step" in line and "--resume" not in line, line
    assert not (tmp_path / "new").exists()
    _recipe(huge, optim={"lr": 1.0e-3})  # fixed recipe, same command
    assert _train(data, run, huge, "--steps", "3") == 0
    assert (run / "model" / "model.safetensors").is_file()


def test_users_empty_folder_is_kept_and_emptied(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = tmp_path / "mine"
    run.mkdir()
    monkeypatch.setattr(GentleCLIPModule, "step_terms", _nan_from_step(0))
    config = config_from_dict({**TINY, "optim": {"steps": 3}})
    with pytest.raises(InputError, match="non-finite loss at step 0"):
        train(data, run, config, verbose=False)
    assert run.is_dir() and list(run.iterdir()) == []


def test_interrupt_before_the_first_checkpoint_removes_the_run(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("lightning.Trainer.fit", interrupted)
    run = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        train(data, run, config_from_dict({**TINY, "optim": {"steps": 3}}), verbose=False)
    assert not run.exists()


def test_failure_after_a_checkpoint_keeps_the_run_for_resume(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(GentleCLIPModule, "step_terms", _nan_from_step(3))
    run, config = tmp_path / "run", config_from_dict({**TINY, "optim": {"steps": 6}})
    with pytest.raises(InputError, match=r"step 3 .*last good checkpoint"):
        train(data, run, config, verbose=False)
    assert (run / CHECKPOINT).is_file() and (run / "config.yaml").is_file()
    assert not (run / "model").exists()
    monkeypatch.undo()
    assert train(data, run, config, resume=True, verbose=False)["steps"] == 6


def test_failed_resume_deletes_nothing(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, config = tmp_path / "run", config_from_dict({**TINY, "optim": {"steps": 2}})
    train(data, run, config, verbose=False)
    before = sorted(p.relative_to(run) for p in run.rglob("*"))
    monkeypatch.setattr(GentleCLIPModule, "step_terms", _nan_from_step(0))
    config.optim.steps = 4
    with pytest.raises(InputError, match="non-finite loss at step 2"):
        train(data, run, config, resume=True, verbose=False)
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before


def test_every_step_skipped_is_an_error_and_leaves_no_model(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(GentleCLIPModule, "step_terms", _nan_from_step(0))
    run = tmp_path / "run"
    assert _train(data, run, _recipe(tmp_path / "r.yaml"), "--steps", "4", "--skip-nonfinite") == 2
    assert "all 4 steps had a non-finite loss" in _one_error_line(capsys)
    assert not run.exists()  # its checkpoints hold an untrained model: nothing to resume


def test_non_finite_weights_are_an_error_and_leave_no_model(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    recipe, run = _recipe(tmp_path / "r.yaml", optim={"lr": 1.0e200}), tmp_path / "run"
    assert _train(data, run, recipe, "--steps", "4", "--skip-nonfinite") == 2
    assert "weights are not finite" in _one_error_line(capsys)
    assert not run.exists()


def test_mostly_skipped_run_warns_with_the_count(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(GentleCLIPModule, "step_terms", _nan_from_step(1))
    run = tmp_path / "run"
    assert _train(data, run, _recipe(tmp_path / "r.yaml"), "--steps", "4", "--skip-nonfinite") == 0
    warnings = [x for x in capsys.readouterr().err.splitlines() if x.startswith("warning:")]
    assert warnings == [
        "warning: 3 of 4 steps had a non-finite loss and were skipped; "
        "the model is likely poor (lower optim.lr)"
    ]
    assert (run / "model" / "model.safetensors").is_file()
