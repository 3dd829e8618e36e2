"""Fault recovery: mid-epoch checkpoints, SIGKILL + ``--resume``, damaged checkpoints.

Every resumed run is compared with one uninterrupted run of the same recipe: the final
weights must be bit-identical (``torch.equal``) and the per-step loss log identical. The
recipe has dropout and the self-supervised term on, so per-step seeding is exercised too.
The dataset (unpaired regime, 55 rows a side, 2 per step) has 28 steps per epoch and the
checkpoint period is 5 steps, so no checkpoint before step 140 falls on an epoch boundary.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from safetensors.torch import load_file

from gentleclip.cli.main import main
from gentleclip.errors import InputError
from gentleclip.training import checkpoint as checkpoint_module
from gentleclip.training.checkpoint import (
    RUN_RECORD_KEY,
    load_checkpoint_file,
    save_checkpoint_file,
)
from gentleclip.training.config import config_from_dict
from gentleclip.training.fit import CHECKPOINT, train

STEPS = 120
EPOCH_STEPS = 28  # ceil(55 unpaired rows / 2 per step)
EVERY = 5
RECIPE = {
    "model": {
        "embed_dim": 8,
        "encoder_a_kwargs": {"hidden_dims": [16]},
        "encoder_b_kwargs": {"hidden_dims": [16]},
        "head_dropout": 0.2,
    },
    "loss": {"w_ssl": 0.5},
    "sampler": {"pairs_per_step": 4, "unpaired_per_step": 2},
    "trainer": {"progress": False, "checkpoint_every_steps": EVERY},
    "seed": 3,
}


def _write_recipe(path: Path) -> Path:
    path.write_text(yaml.safe_dump(RECIPE))
    return path


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """One intra-op thread here and in the subprocess: tiny models train many times faster
    on a busy machine, and both processes then run the very same kernels."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory, write_split: Callable[..., Path]
) -> dict[str, Path]:
    """Dataset (10 pairs, 55 + 55 unpaired rows), recipe and one uninterrupted run of ``STEPS``
    steps."""
    root = tmp_path_factory.mktemp("kill_resume")
    data = write_split(root, seed=0, split_args=["--regime", "unpaired"])
    paths = {"data": data, "recipe": _write_recipe(root / "recipe.yaml")}
    paths["run"] = root / "reference"
    argv = ["train", str(paths["data"]), "--out", str(paths["run"])]
    assert main([*argv, "--config", str(paths["recipe"]), "--steps", str(STEPS)]) == 0
    return paths


def _assert_same_run(run: Path, ref: Path) -> None:
    """Bit-identical final weights and identical per-step loss rows."""
    got = load_file(run / "model" / "model.safetensors")
    want = load_file(ref / "model" / "model.safetensors")
    assert got.keys() == want.keys()
    for key in want:
        assert torch.equal(got[key], want[key]), key
    rows = (run / "logs" / "metrics.csv").read_text().splitlines()
    assert rows == (ref / "logs" / "metrics.csv").read_text().splitlines()
    assert len(rows) == STEPS + 1


def _loader_position(path: Path) -> tuple[int, int, int]:
    """(global step, epoch, steps of that epoch already served) stored in a checkpoint."""
    ckpt = load_checkpoint_file(path)
    (state,) = ckpt["loops"]["fit_loop"]["state_dict"]["combined_loader"]
    return int(ckpt["global_step"]), int(state["epoch"]), int(state["served"])


def test_stopped_mid_epoch_then_resumed_is_bit_identical(
    reference: dict[str, Path], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    config = config_from_dict({**RECIPE, "optim": {"steps": 33}})  # epoch 1, 5 steps in
    train(reference["data"], run, config, verbose=False)
    assert _loader_position(run / CHECKPOINT) == (33, 1, 33 - EPOCH_STEPS)
    config.optim.steps = STEPS
    train(reference["data"], run, config, resume=True, verbose=False)
    _assert_same_run(run, reference["run"])


def _kill_after_first_checkpoint(cmd: list[str], run: Path) -> subprocess.Popen:
    """Start ``cmd``; SIGKILL it once a checkpoint exists and 3 more steps are logged."""
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "RANK", "WORLD_SIZE")}
    env["OMP_NUM_THREADS"] = "1"  # as in this process (see ``one_thread``)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    metrics, deadline = run / "logs" / "metrics.csv", time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        logged = len(metrics.read_text().splitlines()) - 1 if metrics.is_file() else 0
        if (run / CHECKPOINT).is_file() and logged >= EVERY + 3:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.005)
    proc.wait(timeout=60)
    return proc


def test_sigkill_mid_epoch_then_resume_matches_uninterrupted_run(
    reference: dict[str, Path], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    argv = ["train", str(reference["data"]), "--out", str(run), "--steps", str(STEPS)]
    argv += ["--config", str(reference["recipe"])]
    proc = _kill_after_first_checkpoint([sys.executable, "-m", "gentleclip", *argv], run)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    assert proc.returncode == -signal.SIGKILL, f"not killed mid-run ({proc.returncode}): {stderr}"
    assert not (run / "summary.json").exists() and not (run / "model").exists()
    step, epoch, served = _loader_position(run / CHECKPOINT)
    assert EVERY <= step < STEPS and step % EVERY == 0
    assert 0 < served < EPOCH_STEPS, "the checkpoint must lie inside an epoch"
    assert step == epoch * EPOCH_STEPS + served
    assert main([*argv, "--resume"]) == 0
    _assert_same_run(run, reference["run"])


@pytest.fixture(scope="module")
def short_run(reference: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 4-step run whose checkpoint the damage tests overwrite (copied per test)."""
    run = tmp_path_factory.mktemp("short") / "run"
    config = config_from_dict({**RECIPE, "optim": {"steps": 4}})
    train(reference["data"], run, config, verbose=False)
    return run


def _damaged(data: bytes, how: str) -> bytes:
    """``data`` (a safetensors file) truncated, or with bytes flipped in header or tensors."""
    header_end = 8 + int.from_bytes(data[:8], "little")
    if how == "truncated":
        return data[: len(data) // 2]
    where = 20 if how == "header" else (header_end + len(data)) // 2
    flipped = bytearray(data)
    for i in range(where, where + 4):
        flipped[i] ^= 0xFF
    return bytes(flipped)


@pytest.mark.parametrize("how", ["truncated", "header", "tensor-data"])
def test_damaged_checkpoint_on_resume_is_one_line_naming_the_file(
    reference: dict[str, Path], short_run: Path, tmp_path: Path, how: str, capsys
) -> None:
    run = tmp_path / "run"
    (run / CHECKPOINT.parent).mkdir(parents=True)
    (run / CHECKPOINT).write_bytes(_damaged((short_run / CHECKPOINT).read_bytes(), how))
    with pytest.raises(InputError, match=r"last\.ckpt is (truncated or )?corrupted"):
        load_checkpoint_file(run / CHECKPOINT)
    argv = ["train", str(reference["data"]), "--out", str(run), "--steps", "8", "--resume"]
    capsys.readouterr()
    assert main([*argv, "--config", str(reference["recipe"])]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(run / CHECKPOINT) in err[0] and "corrupted" in err[0], err
    assert not (run / "config.yaml").exists(), "nothing is written before the check"


def test_short_epochs_checkpoint_every_k_steps_and_at_the_end(
    reference: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    saved: list[int] = []
    original = checkpoint_module.save_checkpoint_file

    def spy(checkpoint: dict, path: str | Path) -> None:
        saved.append(int(checkpoint["global_step"]))
        original(checkpoint, path)

    monkeypatch.setattr(checkpoint_module, "save_checkpoint_file", spy)
    recipe = {**RECIPE, "method": "clip", "sampler": {"pairs_per_step": 16}}
    recipe["trainer"] = {"progress": False, "checkpoint_every_steps": 3}
    config = config_from_dict({**recipe, "optim": {"steps": 7}})  # 10 pairs: 1 step an epoch
    train(reference["data"], tmp_path / "run", config, verbose=False)
    assert saved == [3, 6, 7]
    assert _loader_position(tmp_path / "run" / CHECKPOINT)[0] == 7


def test_checkpoint_period_must_be_positive() -> None:
    with pytest.raises(InputError, match=r"trainer\.checkpoint_every_steps must be > 0"):
        config_from_dict({"trainer": {"checkpoint_every_steps": 0}})


def _copy_run(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


def _files(run: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in run.rglob("*") if p.is_file()}


def _resume_argv(data: Path, run: Path, recipe: Path, *extra: str) -> list[str]:
    argv = ["train", str(data), "--out", str(run), "--config", str(recipe), "--resume"]
    return [*argv, *extra]


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"model": {**RECIPE["model"], "embed_dim": 16}}, "model.embed_dim 8 -> 16"),
        ({"method": "clip"}, "method 'gentle' -> 'clip'"),
        ({"seed": 4}, "seed 3 -> 4"),
        ({"sampler": {"pairs_per_step": 5, "unpaired_per_step": 2}}, "sampler.pairs_per_step"),
        ({"loss": {"w_ssl": 0.25}}, "loss.w_ssl 0.5 -> 0.25"),
        ({"optim": {"lr": 0.1}}, "optim.lr"),
    ],
)
def test_resume_with_other_settings_is_refused_before_anything_is_written(
    reference: dict[str, Path], short_run: Path, tmp_path: Path, capsys, change: dict, needle: str
) -> None:
    run = _copy_run(short_run, tmp_path / "run")
    before = _files(run)
    recipe = tmp_path / "other.yaml"
    recipe.write_text(yaml.safe_dump({**RECIPE, **change}))
    capsys.readouterr()
    assert main(_resume_argv(reference["data"], run, recipe, "--steps", "8")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--resume:" in err[0] and needle in err[0], err
    assert _files(run) == before, "config.yaml and the checkpoint stay as they were"


def test_resume_with_other_data_is_refused(
    reference: dict[str, Path],
    short_run: Path,
    tmp_path: Path,
    write_split: Callable[..., Path],
    capsys,
) -> None:
    run = _copy_run(short_run, tmp_path / "run")
    before = _files(run)
    same_shape = write_split(tmp_path, seed=1, split_args=["--regime", "unpaired"])
    capsys.readouterr()
    assert main(_resume_argv(same_shape, run, reference["recipe"], "--steps", "8")) == 2
    assert "data.sha256 other training rows" in capsys.readouterr().err
    (tmp_path / "bags").mkdir()
    bags = write_split(tmp_path / "bags", seed=0, split_args=["--regime", "bags"])
    assert main(_resume_argv(bags, run, reference["recipe"], "--steps", "8")) == 2
    assert "data.regime 'unpaired' -> 'bags'" in capsys.readouterr().err
    assert _files(run) == before


def test_resume_with_data_of_another_width_is_one_line(
    reference: dict[str, Path], short_run: Path, tmp_path: Path, capsys
) -> None:
    run = _copy_run(short_run, tmp_path / "run")
    data = tmp_path / "wide"
    shutil.copytree(reference["data"], data)
    for path in data.glob("*_a.npy"):
        array = np.load(path)
        np.save(path, np.concatenate([array, array[:, :1]], axis=1))
    capsys.readouterr()
    assert main(_resume_argv(data, run, reference["recipe"], "--steps", "8")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "data.dim_a 12 -> 13" in err[0], err


def _strip_record(run: Path) -> None:
    """Make ``run``'s checkpoint look like one written before run records existed."""
    ckpt = load_checkpoint_file(run / CHECKPOINT)
    assert ckpt.pop(RUN_RECORD_KEY)["data"]["dim_a"] == 12
    save_checkpoint_file(ckpt, run / CHECKPOINT)


def test_resume_of_an_old_checkpoint_compares_config_yaml_and_shapes(
    reference: dict[str, Path], short_run: Path, tmp_path: Path
) -> None:
    run = _copy_run(short_run, tmp_path / "run")
    _strip_record(run)
    config = config_from_dict({**RECIPE, "optim": {"steps": 8}})
    config.model.embed_dim = 16
    with pytest.raises(InputError, match=r"model\.embed_dim 8 -> 16"):
        train(reference["data"], run, config, resume=True, verbose=False)
    (run / "config.yaml").unlink()
    with pytest.raises(InputError, match=r"model does not match the checkpoint .*last\.ckpt"):
        train(reference["data"], run, config, resume=True, verbose=False)
    assert not (run / "config.yaml").exists()


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--steps", "2"], "optim.steps 2 is below step 4 that the checkpoint reached"),
        (["--steps", "3"], "optim.steps 3 is below step 4"),
    ],
)
def test_resume_to_fewer_steps_than_the_checkpoint_is_refused(
    reference: dict[str, Path], short_run: Path, tmp_path: Path, capsys, flags: list, needle: str
) -> None:
    run = _copy_run(short_run, tmp_path / "run")
    before = _files(run)
    capsys.readouterr()
    assert main(_resume_argv(reference["data"], run, reference["recipe"], *flags)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert _files(run) == before


def test_resume_to_fewer_epochs_than_the_checkpoint_is_refused(
    reference: dict[str, Path], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    config = config_from_dict({**RECIPE, "optim": {"steps": EPOCH_STEPS + 2}})  # in epoch 2
    train(reference["data"], run, config, verbose=False)
    config.optim.steps, config.optim.epochs = None, 1
    with pytest.raises(InputError, match=r"optim\.epochs 1 is below epoch 2"):
        train(reference["data"], run, config, resume=True, verbose=False)


def test_resume_may_change_length_progress_period_and_skipping(
    reference: dict[str, Path], short_run: Path, tmp_path: Path
) -> None:
    run = _copy_run(short_run, tmp_path / "run")
    config = config_from_dict({**RECIPE, "optim": {"steps": 6}})
    config.trainer.checkpoint_every_steps, config.trainer.skip_nonfinite = 1, True
    assert train(reference["data"], run, config, resume=True, verbose=False)["steps"] == 6
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["optim"]["steps"] == 6 and saved["trainer"]["checkpoint_every_steps"] == 1
    assert _loader_position(run / CHECKPOINT)[0] == 6
