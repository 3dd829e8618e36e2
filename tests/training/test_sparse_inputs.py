"""model.sparse_inputs: which sides it names, what train says, and runs that stay exact."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from gentleclip.cli.main import main
from gentleclip.data.regimes import RegimeData
from gentleclip.errors import InputError
from gentleclip.models import TwoTower
from gentleclip.training.config import TrainConfig, config_from_dict
from gentleclip.training.fit import (
    initial_model,
    input_density,
    sparse_inputs_line,
    sparse_sides,
    train,
)
from gentleclip.training.inprocess import train_in_process

MODEL = {"encoder_a": "identity", "encoder_b": "mlp", "normalize_inputs": False, "embed_dim": 8}


def _data(rows: int = 40, seed: int = 0) -> dict[str, np.ndarray]:
    """Side a: 64 bits, about 3% set (fingerprint-like); side b: 6 dense features."""
    rng = np.random.default_rng(seed)
    a = (rng.random((2 * rows, 64)) < 0.03).astype(np.float32)
    b = rng.normal(size=(2 * rows, 6)).astype(np.float32)
    return {
        "paired_a": a[:10],
        "paired_b": b[:10],
        "unpaired_a": a[rows:],
        "unpaired_b": b[rows:],
    }


def _config(sparse: str, steps: int = 10, **model: object) -> TrainConfig:
    return config_from_dict(
        {
            "method": "gentle",
            "seed": 1,
            "model": {**MODEL, "sparse_inputs": sparse, **model},
            "sampler": {"pairs_per_step": 4, "unpaired_per_step": 8},
            "optim": {"steps": steps},
            "trainer": {"progress": False, "checkpoint_every_steps": 3},
        }
    )


def test_sides_named_and_auto_reads_the_density() -> None:
    data = RegimeData.from_arrays(_data())
    density = input_density(data)
    assert 0.02 < density["a"] < 0.04 and density["b"] == 1.0
    residue = {"encoder_a": "residue_attention", "encoder_a_kwargs": {"channels": 4, "hidden": 8}}
    for sparse, model, sides in (
        ("none", {}, []),
        ("both", {}, ["a", "b"]),
        ("auto", {}, ["a"]),
        ("auto", {"normalize_inputs": True}, []),
        ("auto", residue, []),
    ):
        config = _config(sparse, **model)
        assert initial_model(config, data).sparse_sides() == sides, (sparse, model)
        assert sparse_sides(initial_model(config, data), config.model, data) == sides
    with pytest.raises(InputError, match=r"model\.sparse_inputs must be one of none, a, b"):
        _config("yes").validate()
    with pytest.raises(InputError, match="standardised"):
        initial_model(_config("a", normalize_inputs=True), data)


def test_the_line_train_prints() -> None:
    data = RegimeData.from_arrays(_data())
    share = f"side a ({input_density(data)['a']:.1%} non-zero)"
    for sparse, start in (
        ("a", f"sparse inputs: the first layer of {share} reads"),
        ("auto", f"sparse inputs: the first layer of {share} reads"),
        ("none", f"hint: the features of {share} are mostly zero; model.sparse_inputs: a "),
    ):
        config = _config(sparse)
        line = sparse_inputs_line(initial_model(config, data), data, config.model)
        assert line is not None and line.startswith(start), line
    config = _config("none", normalize_inputs=True)
    assert sparse_inputs_line(initial_model(config, data), data, config.model) is None


def test_first_gradients_equal_the_dense_model_s() -> None:
    """At the start of a run the sparse model is the dense one: same weights (the same random
    numbers drawn), the same loss and gradients up to the order of float sums."""
    data = RegimeData.from_arrays(_data())
    dense, sparse = (initial_model(_config(s), data) for s in ("none", "a"))
    assert dense.state_dict().keys() == sparse.state_dict().keys()
    for key, value in dense.state_dict().items():
        assert torch.equal(value, sparse.state_dict()[key]), key
    a = torch.from_numpy(data.train_arrays_a())
    b = torch.from_numpy(data.train_arrays_b())
    for model in (dense, sparse):
        out = model.eval()(a, b, n_pairs=10)
        (out["pair_a"] * out["pair_b"]).sum().backward()
    dense_grad = dense.towers["a"].head.projection.weight.grad
    sparse_grad = sparse.towers["a"].head.projection.weight_t.grad
    assert dense_grad is not None and sparse_grad is not None and dense_grad.abs().max() > 0
    torch.testing.assert_close(sparse_grad.t(), dense_grad, rtol=1e-5, atol=1e-7)


def test_lightning_run_and_its_resume_equal_the_in_process_run(tmp_path: Path) -> None:
    """Through train (Lightning), stopped at step 6 and resumed to 10, the weights equal an
    in-process run of 10 steps bit for bit, and both computed side a sparsely."""
    data = RegimeData.from_arrays(_data())
    config = _config("a", steps=6)
    train(tmp_path / "d", tmp_path / "run", config, verbose=False, loaded=data)
    config.optim.steps = 10
    train(tmp_path / "d", tmp_path / "run", config, resume=True, verbose=False, loaded=data)
    reference = train_in_process(data, _config("a"))
    assert reference.sparse_sides() == ["a"]
    saved = TwoTower.from_pretrained(tmp_path / "run" / "model").state_dict()
    for key, value in reference.state_dict().items():
        assert torch.equal(saved[key], value), key


def test_cli_train_says_which_side_is_sparse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for name, array in _data().items():
        np.save(data_dir / f"{name}.npy", array)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"model": {**MODEL, "sparse_inputs": "auto"}}))
    argv = ["train", str(data_dir), "--out", str(tmp_path / "run"), "--config", str(recipe)]
    assert main([*argv, "--steps", "3", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "sparse inputs: the first layer of side a (2.8% non-zero)" in out
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert saved["model"]["sparse_inputs"] == "auto"
