"""Lightning DDP with 2 CPU processes (gloo) trains exactly like 1 process on the same steps.

``gentleclip train --strategy ddp --devices 2`` is run for real (Lightning's launcher starts
the second rank by re-running the command); each global step of the sampler is split
between the ranks, the losses gather their rows across ranks, and DDP averages gradients.
With every dropout at 0 and the self-supervised term off (augmentations draw per-rank
random numbers), the weights after 3 steps must match a single-process run to 1e-5.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
import torch.distributed as dist
import yaml
from safetensors.torch import load_file

from gentleclip.cli.main import main
from gentleclip.training.config import config_from_dict
from gentleclip.training.fit import build_model

pytestmark = pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="needs torch.distributed gloo"
)

STEPS = 3
RECIPE = {
    "model": {
        "embed_dim": 8,
        "encoder_a_kwargs": {"hidden_dims": [16], "dropout": 0.0},
        "encoder_b_kwargs": {"hidden_dims": [16], "dropout": 0.0},
        "head_dropout": 0.0,
    },
    "loss": {"w_ssl": 0.0, "gather_distributed": True},
    "sampler": {"pairs_per_step": 6, "unpaired_per_step": 24},
    "optim": {"lr": 0.01},
    "trainer": {"progress": False, "accelerator": "cpu"},
    "seed": 5,
}


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """One intra-op thread, as in the DDP ranks (fast on a busy machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _losses(run: Path, terms: tuple[str, ...] = ("loss", "clip", "sdd", "mmd")) -> np.ndarray:
    with (run / "logs" / "metrics.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return np.array([[float(r[k]) for k in terms] for r in rows])


def _train_ddp(data: Path, run: Path, recipe: Path) -> None:
    """Two ranks through Lightning's DDP launcher, in a fresh process (clean environment)."""
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "RANK", "WORLD_SIZE")}
    env.pop("MASTER_PORT", None)
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "gentleclip", "train", str(data), "--out", str(run)]
    cmd += ["--config", str(recipe), "--steps", str(STEPS), "--strategy", "ddp", "--devices", "2"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.mark.parametrize("w_bag", [0.0, 1.0])
def test_two_process_ddp_matches_one_process(
    tmp_path: Path, write_split: Callable[..., Path], w_bag: float
) -> None:
    """With ``w_bag`` the bag-level InfoNCE is on too (its bags' rows gathered by id)."""
    # 10 pairs, 28 bags of about 4 rows a side
    data = write_split(tmp_path, seed=1, split_args=["--regime", "bags", "--bag-size", "4"])
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({**RECIPE, "loss": {**RECIPE["loss"], "w_bag": w_bag}}))
    terms = ("loss", "clip", "sdd", "mmd", *(("bag",) if w_bag else ()))
    _train_ddp(data, tmp_path / "ddp", recipe)
    argv = ["train", str(data), "--out", str(tmp_path / "single"), "--config", str(recipe)]
    assert main([*argv, "--steps", str(STEPS)]) == 0

    single = load_file(tmp_path / "single" / "model" / "model.safetensors")
    ddp = load_file(tmp_path / "ddp" / "model" / "model.safetensors")
    assert single.keys() == ddp.keys()
    for key in single:
        torch.testing.assert_close(
            ddp[key].double(), single[key].double(), rtol=0, atol=1e-5, msg=key
        )
    # the rank-0 log holds the global loss of every step (gathered rows): same as 1 process
    np.testing.assert_allclose(
        _losses(tmp_path / "ddp", terms), _losses(tmp_path / "single", terms), rtol=1e-5
    )
    assert len(_losses(tmp_path / "ddp")) == STEPS

    # the comparison is meaningful: training moved the weights far more than the tolerance
    L.seed_everything(RECIPE["seed"], verbose=False)
    initial = build_model(config_from_dict(RECIPE).model, 12, 7).state_dict()
    moved = max((single[k].double() - initial[k].double()).abs().max().item() for k in initial)
    assert moved > 1e-3
